"""SiteStats <-> plain JSON values, bit for bit.

Finite floats are JSON numbers (Python writes the shortest repr that reads back to the same
float64); NaN and infinities are the strings "nan", "inf", "-inf". Arrays are their raw
little-endian bytes in base64 with dtype and shape; the histogram is sparse (bin, count).
"""

from __future__ import annotations

import base64
import math
from dataclasses import fields
from typing import Any, Optional

import numpy as np

from saturate_cli.errors import SaturateError
from saturate_cli.stats import histogram as hist
from saturate_cli.stats.site_stats import SiteStats

_NUMERIC_KINDS = "biuf"  # no object or string arrays from a file
_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_ARRAYS = ("unit_saturated", "row_sample", "unit_sum")
_FLOATS = ("mean", "m2", "min", "max")


EMPTY_HISTOGRAM = np.zeros(hist.BINS, np.int64)  # shared by every empty histogram: read-only
EMPTY_HISTOGRAM.flags.writeable = False


class PartialError(SaturateError):
    """A partial report that cannot be read or does not fit the others."""


def encode_float(x: float) -> Any:
    """A float64 as a JSON value that reads back to the same bits."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def decode_float(value: Any) -> float:
    if isinstance(value, str) and value in _SPECIAL:
        return _SPECIAL[value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise PartialError(f"expected a number, got {value!r}")


def encode_array(a: Optional[np.ndarray]) -> Optional[dict]:
    if a is None:
        return None
    a = np.asarray(a)
    little = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return {"dtype": a.dtype.str.lstrip("<>=|"), "shape": list(a.shape),
            "data": base64.b64encode(np.ascontiguousarray(little).tobytes()).decode("ascii")}


def decode_array(value: Optional[dict]) -> Optional[np.ndarray]:
    if value is None:
        return None
    try:
        dtype = np.dtype(value["dtype"])
        shape = tuple(int(d) for d in value["shape"])
        raw = base64.b64decode(value["data"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise PartialError(f"unreadable array: {exc}") from None
    if dtype.kind not in _NUMERIC_KINDS:
        raise PartialError(f"unexpected array type {dtype}")
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise PartialError(f"array of shape {list(shape)} has {len(raw)} bytes")
    return np.frombuffer(raw, dtype.newbyteorder("<")).astype(dtype).reshape(shape)


def encode_stats(s: SiteStats) -> dict:
    """Every field of a SiteStats, exactly."""
    out: dict = {}
    for f in fields(SiteStats):
        value = getattr(s, f.name)
        if f.name == "histogram":
            nz = np.nonzero(value)[0]
            out[f.name] = {"bins": nz.tolist(), "counts": value[nz].tolist()}
        elif f.name in _ARRAYS:
            out[f.name] = encode_array(value)
        elif f.name in _FLOATS:
            out[f.name] = encode_float(value)
        else:
            out[f.name] = int(value)
    return out


def decode_stats(d: dict) -> SiteStats:
    """The SiteStats `encode_stats` wrote (PartialError when the value is not one)."""
    try:
        values = {}
        for f in fields(SiteStats):
            raw = d[f.name]
            if f.name == "histogram":
                values[f.name] = _histogram(raw["bins"], raw["counts"])
            elif f.name in _ARRAYS:
                values[f.name] = decode_array(raw)
            elif f.name in _FLOATS:
                values[f.name] = decode_float(raw)
            elif isinstance(raw, int) and not isinstance(raw, bool):
                values[f.name] = raw
            else:
                raise PartialError(f"{f.name}: expected an integer, got {raw!r}")
        return SiteStats(**values)
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise PartialError(f"unreadable site statistics ({type(exc).__name__}: {exc})") from None


def _histogram(bins: list, counts: list) -> np.ndarray:
    if not bins:
        return EMPTY_HISTOGRAM
    index = np.asarray(bins, np.int64)
    if index.min() < 0 or index.max() >= hist.BINS or len(index) != len(counts):
        raise PartialError("histogram bins off the grid")
    out = np.zeros(hist.BINS, np.int64)
    out[index] = np.asarray(counts, np.int64)
    return out
