"""Calibration paths -> records, in a stable order, read one file (or file set) at a time.

Order: files sorted naturally (shard_2 before shard_10), a folder's own files before its
subfolders.  Files of one folder form ONE record (a file set) when they are per-input files:
every stem is an input name or input_K (the ONNX test-data layout: input_0.pb, input_1.pb ...).
Otherwise each file is a shard of its own.  output_*.pb files (ONNX expected outputs) and hidden
files are skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

from saturate_cli.calibration.readers import ARRAY_SUFFIXES, IMAGE_SUFFIXES, Record, read_records
from saturate_cli.errors import CalibrationError
from saturate_cli.types import input_position as position

def natural_key(path: Path) -> list:
    """Sort key: digit runs compare as numbers."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]



def tree(folder: Path, suffixes: tuple[str, ...]) -> Iterator[list[Path]]:
    """Per folder (depth first, natural order): its files with one of `suffixes`."""
    try:
        entries = sorted(folder.iterdir(), key=natural_key)
    except OSError as exc:
        raise CalibrationError(f"{folder}: cannot list the folder ({exc.strerror})") from None
    visible = [e for e in entries if not e.name.startswith(".")]
    files = [e for e in visible if e.is_file() and e.suffix.lower() in suffixes
             and not (e.suffix.lower() == ".pb" and e.name.startswith("output_"))]
    if files:
        yield files
    for sub in visible:
        if sub.is_dir():
            yield from tree(sub, suffixes)


def kind_of(paths: list[Path]) -> str:
    """'images' or 'arrays': what the calibration paths hold (mixing them is an error)."""
    kinds = set()
    for path in paths:
        if not path.exists():
            raise CalibrationError(f"{path}: no such calibration file or folder")
        kinds.add(_kind(path))
    if len(kinds) > 1:
        raise CalibrationError(f"calibration paths {[str(p) for p in paths]} mix images and "
                               "arrays; give one kind")
    return kinds.pop()


def _kind(path: Path) -> str:
    if path.is_file():
        return "images" if path.suffix.lower() in IMAGE_SUFFIXES else "arrays"
    for _, _, names in os.walk(path):
        for name in sorted(names):
            suffix = os.path.splitext(name)[1].lower()
            if suffix in IMAGE_SUFFIXES:
                return "images"
            if suffix in ARRAY_SUFFIXES:
                return "arrays"
    raise CalibrationError(f"{path}: no calibration files in the folder (looked for "
                           f"{', '.join(ARRAY_SUFFIXES + IMAGE_SUFFIXES)})")


def image_files(paths: list[Path]) -> Iterator[Path]:
    """Every image file under the paths, in the stable order."""
    for path in paths:
        if path.is_file():
            yield path
        else:
            for files in tree(path, IMAGE_SUFFIXES):
                yield from files


def records(paths: list[Path], names: list[str],
            budget: int | None = None) -> Iterator[tuple[str, Record]]:
    """(where, record) for every record under the paths, read lazily in the stable order."""
    if len(paths) > 1 and all(p.is_file() for p in paths) and _is_file_set(paths, names):
        yield _read_set(paths, names, budget)
        return
    for path in paths:
        groups = [[path]] if path.is_file() else tree(path, ARRAY_SUFFIXES)
        for files in groups:
            if len(files) > 1 and _is_file_set(files, names):
                yield _read_set(files, names, budget)
                continue
            for file in files:
                for record in read_records(file, names, budget):
                    yield str(file), record
                    del record  # not held while the next file is read


def _is_file_set(files: list[Path], names: list[str]) -> bool:
    if len(files) > len(names) or any(f.suffix.lower() not in (".npy", ".pb") for f in files):
        return False
    stems = [f.stem for f in files]
    return len(set(stems)) == len(stems) and all(
        s in names or (position(s) is not None and position(s) < len(names)) for s in stems)


def _read_set(files: list[Path], names: list[str], budget: int | None) -> tuple[str, Record]:
    where = str(files[0].parent) if len({f.parent for f in files}) == 1 else str(files[0])
    merged: Record = {}
    for file in files:
        for key, array in next(read_records(file, names, budget)).items():
            if key in merged:
                raise CalibrationError(f"{file}: a second array for '{key}' in the file set "
                                       f"{where}")
            merged[key] = array
    return where, merged
