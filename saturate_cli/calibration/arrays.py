"""Calibration data from .npy / .npz files, checked against the model's inputs."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from saturate_cli.calibration.source import Batch, CalibrationInfo
from saturate_cli.errors import CalibrationError
from saturate_cli.model.handle import InputSpec

_SAFE_CASTS = {("float64", "float32"), ("float32", "float16"), ("float64", "float16"),
               ("int32", "int64"), ("int64", "int32"), ("uint8", "float32"), ("int8", "float32"),
               ("float16", "float32"), ("bool", "int64"), ("int64", "bool")}


def load_arrays(path: Path, specs: list[InputSpec]) -> dict[str, np.ndarray]:
    """Arrays keyed by input name from one .npy or .npz file (pickles are never loaded)."""
    try:
        if path.suffix == ".npz" or zipfile.is_zipfile(path):
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        else:
            arrays = {"": np.load(path, allow_pickle=False)}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CalibrationError(f"{path}: not a readable .npy/.npz file ({str(exc)[:200]})") from None
    if not arrays:
        raise CalibrationError(f"{path}: the file holds no arrays")
    return _match_names(path, arrays, specs)


def _match_names(path: Path, arrays: dict, specs: list[InputSpec]) -> dict[str, np.ndarray]:
    names = [s.name for s in specs]
    if len(specs) == 1 and len(arrays) == 1:
        return {names[0]: next(iter(arrays.values()))}
    unknown = [k for k in arrays if k not in names]
    missing = [n for n in names if n not in arrays]
    if unknown or missing:
        raise CalibrationError(
            f"{path}: arrays {sorted(arrays)} do not match the model's inputs {names}"
            + (f" (missing {missing})" if missing else ""))
    return {n: arrays[n] for n in names}


def conform(path: Path, arrays: dict[str, np.ndarray], specs: list[InputSpec],
            info: CalibrationInfo) -> dict[str, np.ndarray]:
    """Check shapes and dtypes; apply safe casts (noted in the report), refuse unsafe ones."""
    out = {}
    counts = set()
    for spec in specs:
        a = arrays[spec.name]
        if a.size == 0:
            raise CalibrationError(f"{path}: array for input '{spec.name}' is empty")
        if spec.shape and a.ndim != len(spec.shape):
            raise CalibrationError(
                f"{path}: input '{spec.name}' expects rank {len(spec.shape)} {_fmt(spec.shape)}, "
                f"the data has shape {list(a.shape)}")
        for i, (want, got) in enumerate(zip(spec.shape, a.shape)):
            if i > 0 and isinstance(want, int) and want > 0 and want != got:
                raise CalibrationError(
                    f"{path}: input '{spec.name}' expects shape {_fmt(spec.shape)}, the data has "
                    f"shape {list(a.shape)} (dim {i}: {want} vs {got})")
        out[spec.name] = _cast(path, a, spec, info)
        counts.add(a.shape[0] if a.ndim else 1)
    if len(counts) > 1:
        raise CalibrationError(f"{path}: inputs have different sample counts {sorted(counts)}")
    return out


def _cast(path: Path, a: np.ndarray, spec: InputSpec, info: CalibrationInfo) -> np.ndarray:
    want = spec.dtype
    if a.dtype.name == want or want == "unknown":
        return a
    if (a.dtype.name, want) in _SAFE_CASTS:
        info.notes.append(f"input '{spec.name}': {a.dtype.name} data cast to {want}")
        return a.astype(want)
    raise CalibrationError(f"{path}: input '{spec.name}' expects {want}, the data is "
                           f"{a.dtype.name}; refusing an unsafe cast")


def _fmt(shape) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else (d or "?") for d in shape) + "]"


def array_batches(arrays: dict[str, np.ndarray], samples: int, batch_size: int) -> Iterator[Batch]:
    """Split arrays along the first axis into batches (the last one partial)."""
    total = min(next(iter(arrays.values())).shape[0], samples) if samples else next(
        iter(arrays.values())).shape[0]
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        yield {k: np.ascontiguousarray(v[start:stop]) for k, v in arrays.items()}
