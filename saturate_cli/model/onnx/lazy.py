"""Weights left in the file: parse an ONNX model without the bytes of its large initializers,
and read those bytes from the file only where they are needed.

`onnx.load` copies every weight into fresh memory (58-392 ms on the benchmark models, and the
model's size in RSS) although saturate needs few of them: shape inference and the checker see
dims only (`load.weightless`), onnxruntime reads the weights from the file itself
(onnx/hollow.py), the producers' weight spread reads them through a memory map. Such a model's
large initializers are standard external data (location = the model file's name, offset,
length), and the model carries, in one metadata entry, the file's real path and its stamp when
it was read: copies of the model keep what they need to find the bytes, and
a file changed since is refused in one line. `materialise` puts the bytes back into the proto
for the paths that need a whole model (fallback runtimes, sessions other than the instrumented
one, `saturate fix`).
"""

from __future__ import annotations

import functools
import json
import math
import mmap
import os
from collections import Counter
from pathlib import Path
from typing import Optional

import numpy as np
import onnx
from onnx import TensorProto

from saturate_cli.errors import ModelLoadError
from saturate_cli.model.onnx.load import SMALL_TENSOR, all_tensors
from saturate_cli.model.onnx.origin import stamp_of, stamp_of_open
from saturate_cli.model.onnx.wire import initializer_spans, without_raw

MARK = "saturate.weights_left_in"  # metadata key: {"file": ..., "stamp": [...]}
_ISSUED: set = set()  # the entries parse_light wrote in this process (no other is believed)
# types whose raw bytes numpy reads as they are (little-endian, one value per item)
_DIRECT = {TensorProto.FLOAT: "<f4", TensorProto.DOUBLE: "<f8", TensorProto.FLOAT16: "<f2",
           TensorProto.INT8: "i1", TensorProto.UINT8: "u1", TensorProto.INT16: "<i2",
           TensorProto.UINT16: "<u2", TensorProto.INT32: "<i4", TensorProto.UINT32: "<u4",
           TensorProto.INT64: "<i8", TensorProto.UINT64: "<u8", TensorProto.BOOL: "?"}


def parse_light(fh, path: Path, stamp: tuple) -> Optional[onnx.ModelProto]:
    """The model in the open file `fh` (stamped `stamp` before it was opened) with the bytes of
    its large plain initializers (SMALL_TENSOR values or more, the ones `load.weightless`
    leaves out too) left in the file; None where the file is not one this reader follows or
    nothing is left out (the caller then parses it whole)."""
    real = Path(os.path.realpath(path))
    try:
        real.name.encode("utf-8")  # the reference is a protobuf string
        if stamp_of_open(fh) != stamp:
            return None  # replaced since it was stamped: the whole parse reads what is there
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            spans = initializer_spans(buf)
            if spans is None:
                return None
            once = {n for n, k in Counter(s.name for s in spans).items() if k == 1}
            left = {i for i, s in enumerate(spans) if _leavable(s, once)}
            data = without_raw(buf, left) if left else None
    except (OSError, ValueError):  # an empty or unmappable file, a name that is not UTF-8
        return None
    if data is None:
        return None
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:  # noqa: BLE001 - protobuf raises many types; the whole parse says why
        return None
    inits = model.graph.initializer
    if [t.name for t in inits] != [s.name for s in spans] or any(
            (inits[i].data_type, tuple(inits[i].dims)) != (spans[i].data_type, spans[i].dims)
            or inits[i].HasField("raw_data") for i in left):
        return None  # the parser merged the file otherwise than the scanner did
    if any(t.data_location == TensorProto.EXTERNAL for t in all_tensors(model.graph)):
        return None  # external data of its own: read_model loads it (and the rest) whole
    for i in left:
        _point(inits[i], real.name, spans[i].offset, spans[i].length)
    unmark(model)
    entry = model.metadata_props.add()
    entry.key, entry.value = MARK, json.dumps({"file": str(real), "stamp": list(stamp)})
    _ISSUED.add(entry.value)
    return model


def _leavable(span, once: set) -> bool:
    return (span.plain and span.name in once and span.data_type in _DIRECT
            and min(span.dims, default=0) >= 0 and math.prod(span.dims) >= SMALL_TENSOR
            and span.length == math.prod(span.dims) * np.dtype(_DIRECT[span.data_type]).itemsize)


def _point(t: TensorProto, location: str, offset: int, length: int) -> None:
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)),
                       ("length", str(length))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value


def carry_mark(source: onnx.ModelProto, target: onnx.ModelProto) -> None:
    """Give `target` (a rewritten `source`, e.g. with its functions inlined) the entry that
    says where `source`'s weights were left, if it lost it."""
    if _mark(target) is None:
        target.metadata_props.extend(e for e in source.metadata_props if e.key == MARK)


def unmark(model: onnx.ModelProto) -> None:
    """Drop the metadata entry that says weights were left in a file (only the entries
    `parse_light` wrote in this process are ever believed; `materialise` drops ours)."""
    if any(e.key == MARK for e in model.metadata_props):
        kept = [e for e in model.metadata_props if e.key != MARK]
        del model.metadata_props[:]
        model.metadata_props.extend(kept)


def values(model: onnx.ModelProto, t: TensorProto) -> Optional[np.ndarray]:
    """The values of initializer `t` where they were left in the file (a read-only memory
    map); None where `t` is not such an initializer."""
    mark = _mark(model)
    where = None if mark is None else _where(mark, t)
    if where is None:
        return None
    file, stamp = mark
    try:
        fh = open(file, "rb")
    except OSError:
        _changed(file)  # removed or unreadable since it was read
    with fh:  # the file checked is the file mapped
        if stamp_of_open(fh) != stamp or stamp[0] < where[0] + where[1]:
            _changed(file)
        return np.memmap(fh, dtype=_DIRECT[t.data_type], mode="r", offset=where[0],
                         shape=tuple(t.dims))


def left_in_file(model: onnx.ModelProto, folder: str) -> Optional[list[TensorProto]]:
    """The initializers whose bytes were left in the file, where that file lies in `folder`
    (the one a session resolves external data against); None where it lies elsewhere."""
    mark = _mark(model)
    if mark is None:
        return []
    if os.path.dirname(mark[0]) != folder:
        return None
    _check(mark)
    return [t for t in model.graph.initializer if _where(mark, t) is not None]


def materialise(model: onnx.ModelProto) -> onnx.ModelProto:
    """Put the bytes left in the file back into `model` (in place); it is returned."""
    mark = _mark(model)
    if mark is None:
        return model
    _check(mark)
    found = [(t, _where(mark, t)) for t in model.graph.initializer]
    found = [(t, where) for t, where in found if where is not None]
    if found:
        with open(mark[0], "rb") as fh, mmap.mmap(fh.fileno(), 0,
                                                  access=mmap.ACCESS_READ) as buf:
            for t, (offset, length) in found:
                t.raw_data = buf[offset:offset + length]
                del t.external_data[:]
                t.ClearField("data_location")
        _check(mark)
    unmark(model)
    return model


def _where(mark: tuple, t: TensorProto) -> Optional[tuple[int, int]]:
    """(offset, length) of a left initializer's bytes in the marked file (the callers check
    the file unchanged)."""
    if t.data_location != TensorProto.EXTERNAL or t.HasField("raw_data") \
            or t.data_type not in _DIRECT:
        return None
    info = {e.key: e.value for e in t.external_data}
    if info.get("location") != os.path.basename(mark[0]):
        return None
    try:
        return int(info.get("offset", 0)), int(info.get("length", 0))
    except ValueError:
        return None


def _check(mark: tuple) -> None:
    if stamp_of(mark[0]) != mark[1]:
        _changed(mark[0])


def _changed(file: str) -> None:
    raise ModelLoadError(f"{file}: the model file changed on disk while it was being measured "
                         "(its weights are read there); run again once it is written")


def _mark(model: onnx.ModelProto) -> Optional[tuple]:
    for e in model.metadata_props:
        if e.key == MARK and e.value in _ISSUED:
            return _decoded(e.value)
    return None


@functools.lru_cache(maxsize=64)
def _decoded(value: str) -> Optional[tuple]:
    try:
        found = json.loads(value)
        return str(found["file"]), tuple(found["stamp"])
    except (ValueError, KeyError, TypeError):
        return None
