"""Synthetic calibration data built from the model's input specs."""

from __future__ import annotations

import re
from typing import Iterator

import numpy as np

from saturate_cli.calibration.source import Batch
from saturate_cli.errors import CalibrationError, ResourceError
from saturate_cli.model.handle import InputSpec

KINDS = ("normal", "uniform", "zeros")
_MAX_DIM = 1 << 20


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """'name=1x3x32x32' -> ('name', (1, 3, 32, 32))."""
    match = re.fullmatch(r"\s*([^=\s]+)\s*=\s*(\d+(?:\s*[x,]\s*\d+)*)\s*", text)
    if not match:
        raise CalibrationError(f"--input-shape '{text}': expected NAME=DIMxDIMx... "
                               "(e.g. x=1x3x224x224)")
    dims = tuple(int(d) for d in re.split(r"\s*[x,]\s*", match.group(2)))
    return match.group(1), dims


def resolve_shape(spec: InputSpec, given: dict, batch_size: int, default_dim: int) -> tuple:
    """Per-batch shape: explicit shape first, else model dims, symbolic batch = batch_size."""
    if spec.name in given:
        dims = list(given[spec.name])
        if dims and (not spec.shape or not isinstance(spec.shape[0], int)):
            dims[0] = batch_size
        if spec.shape and len(dims) != len(spec.shape):
            raise CalibrationError(
                f"--input-shape {spec.name}: rank {len(dims)} given, the model's input has rank "
                f"{len(spec.shape)} {_show(spec.shape)}")
        return tuple(dims)
    dims = []
    for i, d in enumerate(spec.shape):
        if isinstance(d, int) and d > 0:
            dims.append(d)
        else:
            dims.append(batch_size if i == 0 else default_dim)
    return tuple(dims)


def _show(shape) -> str:
    return "[" + ", ".join(str(d) if d is not None else "?" for d in shape) + "]"


def check_budget(shapes: dict, dtypes: dict, budget: int) -> None:
    """Refuse absurd shapes before allocating anything."""
    total = 0
    for name, shape in shapes.items():
        if any(d > _MAX_DIM or d < 0 for d in shape):
            raise ResourceError(f"input '{name}': shape {list(shape)} has a dimension over "
                                f"{_MAX_DIM}; give --input-shape")
        total += int(np.prod(shape, dtype=np.float64)) * np.dtype(dtypes[name]).itemsize
    if total > budget / 4:
        raise ResourceError(f"synthetic inputs of shapes {shapes} need {total / 2**20:.0f} MiB per "
                            "batch, over a quarter of the memory budget; lower --batch-size or "
                            "give --input-shape")


def _dtype(spec: InputSpec) -> np.dtype:
    if spec.dtype in ("unknown", "object", "str"):
        raise CalibrationError(f"input '{spec.name}' has type {spec.dtype}: synthetic data cannot "
                               "be made; give --calibration")
    return np.dtype(spec.dtype)


def _values(spec: InputSpec, shape, kind: str, rng: np.random.Generator,
            int_range: tuple[int, int] | None) -> np.ndarray:
    dtype = _dtype(spec)
    lname = spec.name.lower()
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        if "mask" in lname:
            return np.ones(shape, dtype)
        if "type" in lname or "segment" in lname:
            return np.zeros(shape, dtype)
        if "position" in lname and len(shape) >= 1:
            return np.broadcast_to(np.arange(shape[-1], dtype=dtype), shape).copy()
        lo, hi = int_range or (0, spec.vocab or 2)
        return rng.integers(lo, hi, size=shape, dtype=np.int64).astype(dtype)
    if kind == "zeros":
        return np.zeros(shape, dtype)
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
    return rng.standard_normal(size=shape).astype(dtype)


def synthetic_batches(specs: list[InputSpec], kind: str, samples: int, batch_size: int,
                      seed: int, given_shapes: dict, default_dim: int, budget: int,
                      int_range: tuple[int, int] | None = None) -> Iterator[Batch]:
    """Batches of synthetic data, the last one partial, drawn reproducibly from `seed`."""
    if kind not in KINDS:
        raise CalibrationError(f"--synthetic '{kind}': choose one of {', '.join(KINDS)}")
    unknown = set(given_shapes) - {s.name for s in specs}
    if unknown:
        raise CalibrationError(f"--input-shape names unknown input(s) {sorted(unknown)}; the model's "
                               f"inputs are {[s.name for s in specs]}")
    shapes = {s.name: resolve_shape(s, given_shapes, batch_size, default_dim) for s in specs}
    check_budget(shapes, {s.name: _dtype(s) for s in specs}, budget)
    rng = np.random.default_rng(seed)
    per_batch = min(shape[0] if shape else 1 for shape in shapes.values()) if shapes else 1
    done = 0
    while done < samples:
        n = min(per_batch, samples - done)
        batch = {}
        for spec in specs:
            shape = shapes[spec.name]
            if shape and shape[0] == per_batch and n < per_batch and not isinstance(
                    spec.shape[0] if spec.shape else None, int):
                shape = (n,) + tuple(shape[1:])
            batch[spec.name] = _values(spec, shape, kind, rng, int_range)
        yield batch
        done += n if per_batch else samples
