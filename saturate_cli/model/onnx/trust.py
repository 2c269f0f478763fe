"""The float64 sums of a site's values from the graph's shifted float32 sums, or None where the
batch cannot be trusted and must be measured exactly from the raw tensor.

The graph (onnx/sums.py) sums d = x - c in float32 runs along one axis, c being the mean of the
histogram subsample, and hands back the count n, c, sum(d), sum(d^2), min, max and the tensor's
shape. A batch is untrusted when a sum is not finite (NaN/Inf in the data, or a float32 run
overflowed), a run is longer than RUN_CAP, d sits off-centre after all (|mean(d)| >
OFF_CENTRE std: its squares would cancel), or the spread is too small for float32 squares. A
constant tensor is exact from its min.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from saturate_cli.model.onnx.sums import RUN_CAP
from saturate_cli.stats.reductions import OFF_CENTRE

TINY = 2.0**-40  # a spread below this leaves float32 squares of d to underflow


@dataclass(frozen=True)
class Shifted:
    """One batch's shifted sums as the graph returns them."""

    n: int
    shift: float
    total: float  # sum of d
    total_sq: float  # sum of d^2
    low: float  # min and max of the values (not shifted)
    high: float
    unit_sum: Optional[np.ndarray] = None  # sum of d per unit
    shape: Optional[tuple] = None
    runs: tuple = ()  # axes of `shape` the float32 runs go along


def unshifted(s: Shifted) -> Optional[tuple[float, float, float, Optional[np.ndarray]]]:
    """(sum, sum of squares, sum of squared deviations, per-unit sums) of the values in
    float64, or None (untrusted). The squared deviations come straight from the shifted sums
    (the sum of squares about zero would cancel far off-centre)."""
    n = s.n
    if n == 0:
        return 0.0, 0.0, 0.0, s.unit_sum
    if not all(math.isfinite(v) for v in (s.shift, s.total, s.total_sq, s.low, s.high)):
        return None
    per_unit = n // s.unit_sum.size if s.unit_sum is not None and s.unit_sum.size else 0
    if s.low == s.high:  # every value the same: exact
        total = n * s.low
        unit = None if s.unit_sum is None else np.full(s.unit_sum.shape, per_unit * s.low)
        return total, total * s.low, 0.0, unit
    if s.shape is not None and any(int(s.shape[a]) > RUN_CAP for a in s.runs):
        return None
    if s.high - s.low < TINY:
        return None
    c2 = OFF_CENTRE ** 2
    if (c2 + 1.0) * s.total * s.total > c2 * n * s.total_sq:
        return None
    m2 = max(s.total_sq - s.total * (s.total / n), 0.0)
    total = s.total + n * s.shift
    unit = None if s.unit_sum is None else np.asarray(s.unit_sum, np.float64) + per_unit * s.shift
    return total, m2 + total * (total / n), m2, unit
