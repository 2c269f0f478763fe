"""Dead-unit recycling (ReDo) on plain arrays: re-drawn incoming rows, zeroed outgoing columns.

A recycled unit's incoming weights are drawn afresh from its layer's initial distribution
(normal with the Xavier or He std) and its bias set to 0, so it receives signal again; its
outgoing weights are set to 0, so what it now emits does not reach the next layer: the
network computes what it computed before (exactly, when the unit was exactly dead), while the
unit and its outgoing weights are trainable again.
"""

from __future__ import annotations

import numpy as np


def _index(array: np.ndarray, axis: int, positions) -> tuple:
    index = [slice(None)] * array.ndim
    index[axis % array.ndim] = np.asarray(positions, dtype=np.int64)
    return tuple(index)


def redraw(weight: np.ndarray, units, axis: int, std: float, rng: np.random.Generator
           ) -> np.ndarray:
    """A copy of `weight` whose slices `units` along `axis` (the output units) are N(0, std)."""
    out = np.array(weight, dtype=np.float64, copy=True)
    where = _index(out, axis, units)
    out[where] = rng.normal(0.0, std, out[where].shape)
    return out.astype(weight.dtype)


def set_units(values: np.ndarray, units, value: float, axis: int = 0) -> np.ndarray:
    """A copy of a per-unit vector (bias, norm parameter) with `units` set to `value`."""
    out = np.array(values, copy=True)
    flat = out.reshape(-1) if axis == 0 and out.ndim > 1 and max(out.shape) == out.size \
        else out
    flat[_index(flat, axis, units)] = value
    return flat.reshape(out.shape)


def columns(units, per_unit: int) -> list[int]:
    """The input positions of a consumer that unit u feeds: u*per_unit ... (flattened maps)."""
    return [u * per_unit + j for u in units for j in range(per_unit)]


def zero_inputs(weight: np.ndarray, units, axis: int, per_unit: int = 1) -> np.ndarray:
    """A copy of a consumer's weight with the inputs fed by `units` set to 0."""
    out = np.array(weight, copy=True)
    out[_index(out, axis, columns(units, per_unit))] = 0
    return out
