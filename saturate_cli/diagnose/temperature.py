"""The softmax temperature that un-collapses the sampled rows of logits."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

_COVER = 0.95  # bring this share of the fixable rows under the threshold


def max_probability(rows: np.ndarray, temperature: np.ndarray) -> np.ndarray:
    """Max softmax probability of each row of logits divided by its temperature."""
    z = rows / temperature[:, None]
    z = z - z.max(axis=1, keepdims=True)
    return 1.0 / np.exp(z).sum(axis=1)


def required_temperature(rows: Optional[np.ndarray], tau: float) -> float:
    """Smallest T (>= 1) bringing max probability <= 1 - tau for 95% of the fixable rows.

    A row is fixable when its logits are finite and not all equal to the max of a single entry
    (a fully masked row stays one-hot at any temperature). Returns inf when nothing is known.
    """
    if rows is None or rows.size == 0 or rows.shape[1] < 2:
        return math.inf
    rows = np.asarray(rows, np.float64)
    rows = rows[np.isfinite(rows).all(axis=1)]
    limit = 1.0 - tau
    if rows.shape[0] == 0 or limit <= 1.0 / rows.shape[1]:
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
    return float(max(1.0, np.quantile(np.exp(hi), _COVER)))
