"""Where the weights of a model read from disk can be found again: the files' stamps at read
time and, per top-level initializer, the file, offset and length of its bytes.

Staging (onnx/session.py) then hands onnxruntime a hollow copy whose initializers point at
those bytes instead of serialising them again. The record belongs to the one ModelProto that
`read_model` returned (by identity) and holds while no file's stamp (size, times, inode) has
changed; the inline bytes' offsets are read from the model file's wire format when first asked.
"""

from __future__ import annotations

import mmap
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from saturate_cli.model.onnx.wire import initializer_spans

_KEEP = 16  # records of the most recently read paths


def stamp_of(path) -> Optional[tuple]:
    """What changes when a file is written or replaced (None when it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _stamp(st)


def stamp_of_open(fh) -> tuple:
    """The stamp of an open file (the one read, whatever its path names now)."""
    return _stamp(os.fstat(fh.fileno()))


def _stamp(st: os.stat_result) -> tuple:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


@dataclass(frozen=True)
class Ref:
    """An initializer's bytes on disk: `location` relative to the origin's folder."""

    location: str
    offset: int
    length: int
    data_type: int
    dims: tuple


def plain_location(location: str) -> bool:
    """A relative path onnxruntime resolves as onnx does: no '.', '..', empty or absolute part."""
    parts = location.split("/")
    return bool(location) and not os.path.isabs(location) and "\\" not in location \
        and "\0" not in location and all(p not in ("", ".", "..") for p in parts)


class Origin:
    """The files one model was read from, as they were then."""

    def __init__(self, path: Path, model_id: int, stamp: tuple, names: tuple,
                 external: dict, stamps: dict):
        self.shown = str(path)  # as the user named it, for messages
        self.model_id = model_id
        self._real = path.resolve()
        self._stamp = stamp
        self._names = names  # the file's top-level initializers, in the parser's order
        self._external = external  # name -> Ref, for initializers that were external data
        self._stamps = {str(self._real): stamp, **stamps}
        # onnxruntime resolves every location against one folder: the model's, as onnx does
        # for external data; through a symbolic link, the real file's when nothing is external
        self.folder = os.path.abspath(path.parent) if external else str(self._real.parent)
        self._inline: Optional[dict] = None

    def unchanged(self) -> bool:
        return all(stamp_of(p) == s for p, s in self._stamps.items())

    def refs(self) -> dict:
        """name -> Ref of every initializer whose bytes were located (read once, lazily)."""
        if self._inline is None:
            self._inline = self._scan()
        return {**self._inline, **self._external}

    def _scan(self) -> dict:
        if Path(self.folder).resolve() != self._real.parent:
            return {}  # the model file lies outside the folder the external data needs
        try:
            with open(self._real, "rb") as fh:
                if stamp_of_open(fh) != self._stamp:
                    return {}
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                    spans = initializer_spans(buf)
        except (OSError, ValueError):
            return {}
        if spans is None or tuple(s.name for s in spans) != self._names:
            return {}  # not the wire format this reader follows: the parser saw otherwise
        once = {n for n, k in Counter(self._names).items() if k == 1}
        return {s.name: Ref(self._real.name, s.offset, s.length, s.data_type, s.dims)
                for s in spans if s.plain and s.name in once}


_RECENT: dict[str, Origin] = {}


def remember(path: Path, model, stamp: Optional[tuple], names: tuple, external: dict,
             stamps: dict) -> None:
    """Record where `model` (just read from `path`) came from, if no file changed meanwhile."""
    key = os.path.abspath(path)
    _RECENT.pop(key, None)
    if stamp is None or stamp_of(path) != stamp or any(
            stamp_of(p) != s for p, s in stamps.items()):
        return
    _RECENT[key] = Origin(path, id(model), stamp, names, external, stamps)
    while len(_RECENT) > _KEEP:
        _RECENT.pop(next(iter(_RECENT)), None)


def origin_of(path: str, model) -> Optional[Origin]:
    """The record of `model` if it is the model last read from `path` (else None)."""
    found = _RECENT.get(os.path.abspath(path))
    return found if found is not None and found.model_id == id(model) else None
