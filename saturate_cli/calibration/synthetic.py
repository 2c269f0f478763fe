"""Synthetic calibration data built from the model's input specs.

Floats: N(0, 1) (`normal`, Xavier's own assumption), U(-1, 1) (`uniform`) or zeros, in the
input's dtype (float16 and bfloat16 included).  Integers: token ids drawn from [0, vocab) when the
model's embedding table tells the vocabulary, or from --int-range; inputs named like attention
masks get ones (optionally trailing zero padding per row), token type / segment ids zeros,
position ids 0..n-1.  Booleans: random, except masks (all valid).
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

import numpy as np

from saturate_cli.calibration.dtypes import numpy_dtype
from saturate_cli.calibration.plan import Plan, is_named, make_plan
from saturate_cli.calibration.source import Batch
from saturate_cli.errors import CalibrationError, ResourceError, size_text
from saturate_cli.types import InputSpec
from saturate_cli.settings import SYNTHETIC_SAMPLES, Settings

KINDS = ("normal", "uniform", "zeros")
_MAX_DIM = 1 << 20
_FALLBACK_INT_RANGE = (0, 2)


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """'name=1x3x32x32' -> ('name', (1, 3, 32, 32))."""
    match = re.fullmatch(r"\s*([^=\s]+)\s*=\s*(\d+(?:\s*[x,]\s*\d+)*)\s*", text)
    if not match:
        raise CalibrationError(f"--input-shape '{text}': expected NAME=DIMxDIMx... "
                               "(e.g. x=1x3x224x224)")
    dims = tuple(int(d) for d in re.split(r"\s*[x,]\s*", match.group(2)))
    return match.group(1), dims


def _spatial_axes(spec: InputSpec) -> tuple[int, ...]:
    """The H, W axes of an image-like input: rank 4 with 1 or 3 channels first (NCHW) or last
    (NHWC). Symbolic sizes there get the image size, not the small generic default."""
    shape = spec.shape
    if len(shape) != 4 or not np.issubdtype(np.dtype(_dtype_name(spec)), np.floating):
        return ()
    if shape[1] in (1, 3):
        return (2, 3)
    if shape[3] in (1, 3):
        return (1, 2)
    return ()


def _dtype_name(spec: InputSpec) -> str:
    return spec.dtype if spec.dtype not in ("unknown", "object", "str", "bfloat16") else "float32"


def resolve_shape(spec: InputSpec, given: dict, batch_size: int, default_dim: int,
                  image_size: int = 224) -> tuple:
    """Per-batch shape: explicit shape first, else model dims, symbolic batch = batch_size,
    symbolic image height/width = image_size, other symbolic dims = default_dim."""
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
    spatial = _spatial_axes(spec)
    for i, d in enumerate(spec.shape):
        if isinstance(d, int) and d > 0:
            dims.append(d)
        else:
            dims.append(batch_size if i == 0 else image_size if i in spatial else default_dim)
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
        raise ResourceError(f"synthetic inputs of shapes {shapes} need {size_text(total)} per "
                            f"batch, over a quarter of the memory budget ({size_text(budget)}); "
                            "lower --batch-size or give --input-shape")


def _dtype(spec: InputSpec) -> np.dtype:
    if spec.dtype in ("unknown", "object", "str"):
        raise CalibrationError(f"input '{spec.name}' has type {spec.dtype}: synthetic data cannot "
                               "be made; give --calibration")
    return numpy_dtype(spec.dtype, spec.name)


def role(spec: InputSpec) -> str:
    """What an input looks like by its name and dtype: mask, token_type, position, ids, bool,
    float."""
    dtype, lname = _dtype(spec), spec.name.lower()
    integral = dtype == np.bool_ or np.issubdtype(dtype, np.integer)
    if integral and "mask" in lname:
        return "mask"
    if dtype == np.bool_:
        return "bool"
    if not np.issubdtype(dtype, np.integer):
        return "float"
    if "token_type" in lname or "segment" in lname:
        return "token_type"
    if "position" in lname:
        return "position"
    return "ids"


def describe(spec: InputSpec, int_range, mask_padding: bool) -> str | None:
    """The report note saying what synthetic values a non-float input gets."""
    what = {
        "mask": "ones" + (" with trailing zero padding per row" if mask_padding else "")
                + " (an attention mask)",
        "token_type": "zeros (token type ids)",
        "position": "0, 1, ... along the last axis (position ids)",
        "bool": "random booleans",
        "float": None,
    }.get(role(spec))
    if what is None and role(spec) == "ids":
        lo, hi = _int_range(spec, int_range)
        source = "--int-range" if int_range else "the embedding table" if spec.vocab else \
            "no vocabulary known; give --int-range"
        what = f"integers in [{lo}, {hi}) ({source})"
    return f"input '{spec.name}': {what}" if what else None


def _int_range(spec: InputSpec, int_range) -> tuple[int, int]:
    return int_range or ((0, spec.vocab) if spec.vocab else _FALLBACK_INT_RANGE)


def _values(spec: InputSpec, shape, kind: str, rng: np.random.Generator,
            int_range, mask_padding: bool) -> np.ndarray:
    dtype, what = _dtype(spec), role(spec)
    if what == "mask":
        mask = np.ones(shape, np.int64)
        if mask_padding and len(shape) == 2 and shape[1] > 1:
            keep = rng.integers(max(1, shape[1] // 2), shape[1] + 1, size=shape[0])
            keep[0] = shape[1]  # one full row
            mask[np.arange(shape[1]) >= keep[:, None]] = 0
        inverted = "padding" in spec.name.lower() and dtype == np.bool_  # True marks padding
        return (mask == 0 if inverted else mask).astype(dtype)
    if what == "bool":
        return rng.random(shape) < 0.5
    if what == "token_type":
        return np.zeros(shape, dtype)
    if what == "position":
        return np.broadcast_to(np.arange(shape[-1] if shape else 1, dtype=dtype), shape).copy()
    if what == "ids":
        lo, hi = _int_range(spec, int_range)
        return rng.integers(lo, hi, size=shape, dtype=np.int64).astype(dtype)
    if kind == "zeros":
        return np.zeros(shape, dtype)
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
    return rng.standard_normal(size=shape).astype(dtype)


def synthetic_batches(specs: list[InputSpec], settings: Settings,
                      note: Callable[[str], None] = lambda _: None) -> Iterator[Batch]:
    """Batches of synthetic data, the last one partial, drawn reproducibly from the seed."""
    return (batch for batch, _ in synthetic_feeds(specs, settings, note)[0])


def synthetic_feeds(specs: list[InputSpec], settings: Settings,
                    note: Callable[[str], None] = lambda _: None
                    ) -> tuple[Iterator[tuple[Batch, int]], int]:
    """(batch, its samples) of synthetic data, and how many batches there will be. Fixed inputs
    (see plan.py) get their own shape, drawn once; batched ones `--batch-size` rows."""
    kind, given = settings.synthetic, settings.input_shapes
    if kind not in KINDS:
        raise CalibrationError(f"--synthetic '{kind}': choose one of {', '.join(KINDS)}")
    unknown = set(given) - {s.name for s in specs}
    if unknown:
        raise CalibrationError(f"--input-shape names unknown input(s) {sorted(unknown)}; the "
                               f"model's inputs are {[s.name for s in specs]}")
    plan = make_plan("synthetic data", specs, None, given)
    size = plan.batch or settings.batch_size
    shapes = {s.name: resolve_shape(s, given, size, settings.default_dim, settings.image_size)
              for s in specs}
    shapes = _share_named_dims(specs, shapes, given)
    check_budget(shapes, {s.name: _dtype(s) for s in specs}, settings.memory_budget)
    for spec in specs:
        text = describe(spec, settings.int_range, settings.mask_padding)
        if text:
            note(text)
    for text in plan.notes(shapes, "synthetic draw"):
        note(text)
    samples = SYNTHETIC_SAMPLES if settings.samples is None else settings.samples
    per = plan.samples(shapes)
    return _stream(specs, shapes, settings, plan, samples), -(-samples // per)


def _share_named_dims(specs: list[InputSpec], shapes: dict, given: dict) -> dict:
    """A named symbolic dim in several inputs ('seq') takes the size given for one of them;
    anonymous dims ('?', unnamed) are never shared."""
    sizes: dict = {}
    for spec in specs:
        if spec.name in given:
            for dim, size in zip(spec.shape[1:], shapes[spec.name][1:]):
                if is_named(dim):
                    sizes.setdefault(dim, size)
    out = {}
    for spec in specs:
        dims = list(shapes[spec.name])
        if spec.name not in given:
            for i, dim in enumerate(spec.shape[1:], start=1):
                if is_named(dim) and dim in sizes:
                    dims[i] = sizes[dim]
        out[spec.name] = tuple(dims)
    return out


def _stream(specs: list[InputSpec], shapes: dict, settings: Settings, plan: Plan,
            samples: int) -> Iterator[tuple[Batch, int]]:
    rng = np.random.default_rng(settings.seed)
    draw = {s.name: (lambda shape, s=s: np.asarray(_values(  # rank 0 comes back as a scalar
        s, shape, settings.synthetic, rng, settings.int_range, settings.mask_padding)))
        for s in specs}
    fixed = {} if plan.whole else {n: draw[n](shapes[n]) for n in plan.fixed}
    per_batch, done = plan.samples(shapes), 0
    while done < samples:
        n = per_batch if plan.batch or plan.whole else min(per_batch, samples - done)
        yield {s.name: fixed[s.name] if s.name in fixed else draw[s.name](
            shapes[s.name] if plan.whole else (n,) + tuple(shapes[s.name][1:])) for s in specs}, n
        done += n
