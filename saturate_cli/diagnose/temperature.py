"""The softmax temperature that un-collapses the sampled rows of logits, and what it achieves."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from saturate_cli.settings import MASKED_GAP
from saturate_cli.stats.softmax_rows import mask_floor

_COVER = 0.95  # bring this share of the fixable rows under the threshold


def max_probability(rows: np.ndarray, temperature: np.ndarray) -> np.ndarray:
    """Max softmax probability of each row of logits divided by its temperature."""
    z = rows / temperature[:, None]
    z = z - z.max(axis=1, keepdims=True)
    return 1.0 / np.exp(z).sum(axis=1)


def judged(rows: Optional[np.ndarray]) -> np.ndarray:
    """The sampled rows the collapse count judges, masked logits set to -inf.

    Masks (softmax_rows.py) stay masked at any temperature: the temperature is applied to the
    logits before the mask is added (scale the producing weights). Rows with at most one unmasked
    logit and rows holding NaN or +inf are left out.
    """
    if rows is None or rows.ndim != 2 or rows.shape[1] < 2:
        return np.zeros((0, 2))
    rows = np.asarray(rows, np.float64)
    with np.errstate(invalid="ignore"):
        top = np.max(np.where(np.isfinite(rows), rows, -np.inf), axis=1, keepdims=True)
        masked = (rows <= top - MASKED_GAP) | (rows <= mask_floor(np.float32)) | (rows == -np.inf)
    ok = ~np.isnan(rows).any(axis=1) & ~(rows == np.inf).any(axis=1) & ((~masked).sum(axis=1) > 1)
    return np.where(masked, -np.inf, rows)[ok]


def collapsed_share(rows: np.ndarray, temperature: float, tau: float) -> float:
    """Share of judged rows whose max probability still exceeds 1 - tau at this temperature."""
    if len(rows) == 0:
        return 0.0
    p = max_probability(rows, np.full(len(rows), temperature))
    return float((p > 1.0 - tau).mean())


def required_temperature(rows: Optional[np.ndarray], tau: float) -> float:
    """Smallest T (>= 1) bringing max probability <= 1 - tau for 95% of the fixable rows.

    A row is fixable when some temperature brings it under the threshold (not when its logits tie
    for too few entries). Returns inf when nothing is known or nothing is fixable.
    """
    rows = judged(rows)
    limit = 1.0 - tau
    if rows.shape[0] == 0:
        return math.inf
    lo = np.zeros(len(rows))  # log T
    hi = np.full(len(rows), math.log(1e12))
    fixable = max_probability(rows, np.exp(hi)) <= limit
    rows, lo, hi = rows[fixable], lo[fixable], hi[fixable]
    if len(rows) == 0:
        return math.inf
    for _ in range(45):  # log T to ~1e-12: far below what the report prints
        mid = 0.5 * (lo + hi)
        ok = max_probability(rows, np.exp(mid)) <= limit
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return float(max(1.0, linear_quantile(np.exp(hi), _COVER)))


def row_max_histogram(rows: Optional[np.ndarray], softmax_tau: float, bins: int = 20) -> dict:
    """Counts of the sampled rows' max probability over [0, 1] in equal bins, with an edge at
    the collapse line 1 - softmax_tau (rows right of it are collapsed)."""
    kept = judged(rows)
    top = max_probability(kept, np.ones(len(kept))) if len(kept) else np.zeros(0)
    edges = sorted_union(np.linspace(0.0, 1.0, bins + 1), [1.0 - softmax_tau])
    counts, _ = np.histogram(np.clip(top, 0.0, 1.0), bins=edges)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "rows": int(counts.sum()), "collapse": 1.0 - softmax_tau}


# np.union1d and np.quantile call np.unique, which imports numpy.ma (~15 ms) in every run with
# a softmax: the two below compute the same values without it.

def sorted_union(a, b) -> np.ndarray:
    """np.union1d(a, b): the sorted distinct values of both."""
    values = np.sort(np.concatenate([np.ravel(a), np.ravel(b)]))
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def linear_quantile(values: np.ndarray, q: float) -> float:
    """np.quantile(values, q) of a non-empty array without NaN (its default, linear method, and
    its interpolation, from the nearer neighbour)."""
    ordered = np.sort(np.ravel(values))
    at = (len(ordered) - 1) * q
    if at >= len(ordered) - 1:
        return float(ordered[-1])
    low = math.floor(at)
    a, b, t = ordered[low], ordered[low + 1], at - low
    return float(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)
