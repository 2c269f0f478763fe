"""Streaming, mergeable statistics of one activation site's inputs.

Exact parts (counts, moments, extremes, saturated and per-unit counts) merge exactly with
Chan's parallel formulas in float64. The histogram (and what is derived from it: percentiles,
mean gain) may come from a deterministic strided subsample; `sample_every` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from saturate_cli.stats import histogram as hist
from saturate_cli.stats.softmax_rows import softmax_rows


ROW_SAMPLE = 1024  # softmax rows kept for the temperature estimate
ROWS_PER_BATCH = 64
ROW_ELEMENTS = 1 << 20  # and at most this many logits in all (large vocabularies)


def cap_rows(rows: Optional[np.ndarray], have: int = 0) -> Optional[np.ndarray]:
    """The rows that still fit the sample after `have` rows are kept."""
    if rows is None or rows.ndim != 2:
        return rows
    room = min(ROW_SAMPLE, max(1, ROW_ELEMENTS // max(rows.shape[1], 1))) - have
    return rows[: max(room, 0)]


@dataclass(frozen=True)
class SiteStats:
    """Statistics over every value a site has seen. Combine with `merge`."""

    count: int = 0  # all values, finite or not
    finite: int = 0
    mean: float = 0.0  # over finite values
    m2: float = 0.0  # sum of squared deviations from the mean, finite values
    min: float = math.inf
    max: float = -math.inf
    nan: int = 0
    inf: int = 0
    low: int = 0  # values in the low tail (x <= low threshold)
    high: int = 0  # values in the high tail (x >= high threshold)
    unit_saturated: Optional[np.ndarray] = None  # per unit: saturated values (low + high)
    per_unit: int = 0  # values per unit
    rows: int = 0  # softmax rows
    collapsed_rows: int = 0  # softmax rows whose max probability exceeds 1 - tau' (of the judged)
    masked_rows: int = 0  # softmax rows with at most one unmasked logit: one-hot by construction
    masked: int = 0  # softmax logits masked out (see settings.MASKED_GAP); not in the moments
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(hist.BINS, np.int64))
    sample_every: int = 1
    batches: int = 0
    row_sample: Optional[np.ndarray] = None  # softmax: the first ROW_SAMPLE rows of logits
    unit_sum: Optional[np.ndarray] = None  # per unit: sum of its finite values (unit means)

    @property
    def std(self) -> float:
        """Population standard deviation of the finite values."""
        return math.sqrt(self.m2 / self.finite) if self.finite else float("nan")

    @property
    def unit_means(self) -> Optional[np.ndarray]:
        """Mean input of each unit (None when not measured)."""
        if self.unit_sum is None or not self.per_unit:
            return None
        return self.unit_sum / self.per_unit

    @property
    def judged_rows(self) -> int:
        """Softmax rows the collapse count is about: all rows but the masked ones."""
        return self.rows - self.masked_rows

    @property
    def units(self) -> int:
        return 0 if self.unit_saturated is None else int(self.unit_saturated.shape[0])

    def merge(self, other: "SiteStats") -> "SiteStats":
        """Statistics of the concatenation of both data sets."""
        if other.count == 0 and not other.rows:
            return self
        if self.count == 0 and not self.rows:
            return other
        n = self.finite + other.finite
        if n:
            delta = other.mean - self.mean
            mean = self.mean + delta * other.finite / n
            m2 = self.m2 + other.m2 + delta * delta * self.finite * other.finite / n
        else:
            mean, m2 = 0.0, 0.0
        return replace(
            self,
            count=self.count + other.count,
            finite=n,
            mean=mean,
            m2=m2,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            nan=self.nan + other.nan,
            inf=self.inf + other.inf,
            low=self.low + other.low,
            high=self.high + other.high,
            unit_saturated=_merge_units(self.unit_saturated, other.unit_saturated),
            per_unit=self.per_unit + other.per_unit,
            rows=self.rows + other.rows,
            collapsed_rows=self.collapsed_rows + other.collapsed_rows,
            masked_rows=self.masked_rows + other.masked_rows,
            masked=self.masked + other.masked,
            histogram=self.histogram + other.histogram,
            sample_every=max(self.sample_every, other.sample_every),
            batches=self.batches + other.batches,
            row_sample=_merge_rows(self.row_sample, other.row_sample),
            unit_sum=_merge_units(self.unit_sum, other.unit_sum),
        )


def _merge_units(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> Optional[np.ndarray]:
    if a is None:
        return b
    if b is None:
        return a
    if a.shape != b.shape:
        raise ValueError(f"unit count changed between batches: {a.shape[0]} vs {b.shape[0]}")
    return a + b


def _merge_rows(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """Keep the first ROW_SAMPLE rows seen (deterministic, bounded memory)."""
    if b is None:
        return a
    if a is None:
        return b
    if a.shape[1:] != b.shape[1:]:
        return a
    more = cap_rows(b, len(a))
    return a if more is None or not len(more) else np.concatenate([a, more])


def moments(total: float, total_sq: float, n: int) -> tuple[float, float]:
    """(mean, m2) from a sum and a sum of squares, both accumulated in float64."""
    if n == 0:
        return 0.0, 0.0
    mean = total / n
    return mean, max(total_sq - total * mean, 0.0)


def stats_of_array(
    x: np.ndarray,
    low: Optional[float],
    high: Optional[float],
    unit_axis: Optional[int],
    softmax_axis: Optional[int] = None,
    softmax_tau: float = 0.01,
    sample_every: int = 1,
    low_where: Optional[np.ndarray] = None,
) -> SiteStats:
    """Exact statistics of one batch held in memory (the numpy path). `low_where` (broadcast
    to x) limits the low tail to where it is true (a PRelu's flat slopes). Softmax inputs
    leave their masked logits out of every statistic (softmax_rows.py)."""
    x = np.asarray(x)
    xd = x.astype(np.float64, copy=False)
    counted = None  # softmax: the logits that are not masked
    row_counts = None
    if softmax_axis is not None and xd.ndim >= 1 and xd.size:
        row_counts = softmax_rows(xd, softmax_axis, softmax_tau, x.dtype)
        counted = ~row_counts.masked
    finite_mask = np.isfinite(xd) if counted is None else np.isfinite(xd) & counted
    finite_vals = xd[finite_mask]
    n = int(finite_vals.size)
    mean = float(finite_vals.mean()) if n else 0.0
    m2 = float(((finite_vals - mean) ** 2).sum()) if n else 0.0
    sat_low = xd <= low if low is not None else np.zeros(xd.shape, bool)
    if low_where is not None:
        sat_low = sat_low & np.broadcast_to(low_where, xd.shape)
    sat_high = xd >= high if high is not None else np.zeros(xd.shape, bool)
    unit_sat, per_unit, unit_sum = None, 0, None
    if unit_axis is not None and xd.ndim >= 1:
        axis = unit_axis % xd.ndim
        others = tuple(a for a in range(xd.ndim) if a != axis)
        unit_sat = (sat_low | sat_high).sum(axis=others).astype(np.int64)
        unit_sum = np.where(finite_mask, xd, 0.0).sum(axis=others)
        per_unit = int(xd.size // max(xd.shape[axis], 1))
    row_sample, masked = None, 0
    if row_counts is not None:
        flat = np.moveaxis(xd, softmax_axis, -1).reshape(-1, xd.shape[softmax_axis])
        row_sample = cap_rows(flat[:ROWS_PER_BATCH]).copy()
        masked = int(row_counts.masked.sum())
    shown = xd if counted is None else np.where(counted, xd, np.nan)  # histogram: unmasked
    inf = np.isinf(xd) if counted is None else np.isinf(xd) & counted
    return SiteStats(
        count=int(xd.size) - masked,
        finite=n,
        mean=mean,
        m2=m2,
        min=float(finite_vals.min()) if n else math.inf,
        max=float(finite_vals.max()) if n else -math.inf,
        nan=int(np.isnan(xd).sum()),
        inf=int(inf.sum()),
        low=int(sat_low.sum()),
        high=int(sat_high.sum()),
        unit_saturated=unit_sat,
        per_unit=per_unit,
        rows=row_counts.rows if row_counts else 0,
        collapsed_rows=row_counts.collapsed if row_counts else 0,
        masked_rows=row_counts.masked_rows if row_counts else 0,
        masked=masked,
        histogram=hist.histogram(shown.reshape(-1)[::sample_every]),
        sample_every=sample_every,
        batches=1,
        row_sample=row_sample,
        unit_sum=unit_sum,
    )


def fold(totals: dict, name: str, part: SiteStats) -> None:
    """Merge `part` into `totals[name]` (in call order: the batch order of every caller)."""
    known = totals.get(name)
    if known is not None:
        totals[name] = known.merge(part)
    else:  # what SiteStats().merge(part) gives, without building an empty grid per call
        totals[name] = part if part.count or part.rows else SiteStats()
