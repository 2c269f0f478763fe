"""SiteStats from the small per-batch reductions a runtime computes next to the tensor.

Both instrumented paths (ONNX in-graph nodes, PyTorch on-device reductions) hand back the same
quantities per site and batch; this module turns them into a SiteStats in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from saturate_cli.stats import histogram as hist
from saturate_cli.stats.site_stats import SiteStats, cap_rows, moments

SAMPLE_TARGET = 4096  # subsample about this many values per site and batch for the histogram
# |mean| / std beyond which a float32 sum of squares about its centre loses digits to
# cancellation: the PyTorch path then takes the squares about the mean; the ONNX path, whose
# squares are about the subsample's mean already, measures the batch again from the raw tensor
OFF_CENTRE = 4.0


def sample_step(size: int) -> int:
    """Stride of the histogram subsample: odd, about SAMPLE_TARGET values out of `size`."""
    return 2 * (size // (2 * SAMPLE_TARGET)) + 1


@dataclass
class Reductions:
    """One batch of one site, reduced: what the runtime returns instead of the tensor."""

    size: int
    total: float  # float64 sum
    total_sq: float  # float64 sum of squares
    min: float
    max: float
    sample: np.ndarray  # every sample_step(size)-th value of the flattened tensor
    unit_low: Optional[np.ndarray] = None  # values in the low tail, per unit (or a scalar)
    unit_high: Optional[np.ndarray] = None
    rows: Optional[int] = None  # softmax rows
    collapsed: Optional[int] = None
    row_sample: Optional[np.ndarray] = None
    unit_sum: Optional[np.ndarray] = None  # float64 sum of the values of each unit
    masked_rows: Optional[int] = None  # softmax: rows with at most one unmasked logit
    masked: Optional[int] = None  # softmax: masked logits (left out of size and the sums)
    m2: Optional[float] = None  # the sum of squared deviations, where measured about a shift


def stats_from_reductions(r: Reductions) -> Optional[SiteStats]:
    """One batch's SiteStats; None when non-finite values appeared (measure exactly instead)."""
    if not (math.isfinite(r.total) and math.isfinite(r.total_sq)):
        return None
    if r.size == 0 and not r.rows:
        return SiteStats()
    mean, m2 = moments(r.total, r.total_sq, r.size)
    if r.m2 is not None:  # total_sq about zero would cancel far off-centre: m2 as measured
        m2 = r.m2
    unit_low = None if r.unit_low is None else np.asarray(r.unit_low, np.int64)
    unit_high = None if r.unit_high is None else np.asarray(r.unit_high, np.int64)
    parts = [u for u in (unit_low, unit_high) if u is not None]
    unit_sat = sum(parts) if parts else None
    if unit_sat is not None and unit_sat.ndim == 0:
        unit_sat = None
    units = unit_sat.shape[0] if unit_sat is not None else 0
    return SiteStats(
        count=r.size, finite=r.size, mean=mean, m2=m2, min=float(r.min), max=float(r.max),
        low=int(unit_low.sum()) if unit_low is not None else 0,
        high=int(unit_high.sum()) if unit_high is not None else 0,
        unit_saturated=unit_sat, per_unit=r.size // units if units else 0,
        rows=int(r.rows) if r.rows is not None else 0,
        collapsed_rows=int(r.collapsed) if r.collapsed is not None else 0,
        masked_rows=int(r.masked_rows) if r.masked_rows is not None else 0,
        masked=int(r.masked) if r.masked is not None else 0,
        histogram=hist.histogram(r.sample), sample_every=sample_step(r.size), batches=1,
        row_sample=None if r.row_sample is None else cap_rows(np.asarray(r.row_sample,
                                                                          np.float64)),
        unit_sum=None if r.unit_sum is None or np.ndim(r.unit_sum) == 0 else np.asarray(
            r.unit_sum, np.float64),
    )
