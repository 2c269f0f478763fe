"""Derive an activation's saturated tails numerically from its derivative.

A value x is in the low tail when |f'(t)| < tau * max|f'| for every t <= x (and symmetrically
for the high tail). Interior low-gradient points (the minimum of GELU or SiLU) are not tails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

Derivative = Callable[..., np.ndarray]

_REACH = 64.0  # |x| beyond which every registered kind's derivative has settled
_STEP = 1e-3


@dataclass(frozen=True)
class Tails:
    """Tail thresholds: saturated when x <= low or x >= high (None: no such tail)."""

    low: Optional[float]
    high: Optional[float]
    max_gain: float  # max |f'(x)| over the real line (the normaliser of 'gain')


def max_abs_derivative(fprime: Derivative, params: dict) -> float:
    """max |f'| over the real line: a coarse grid, then a fine one around the best point."""
    grid = np.arange(-_REACH, _REACH + _STEP, _STEP * 10)
    values = np.abs(fprime(grid, **params))
    best = grid[int(np.argmax(values))]
    fine = np.linspace(best - 0.02, best + 0.02, 4001)
    return float(max(values.max(), np.abs(fprime(fine, **params)).max()))


def _crossing(fprime: Derivative, params: dict, lo: float, hi: float, limit: float) -> float:
    """Bisect [lo, hi] where |f'(lo)| < limit <= |f'(hi)|, returning the last 'below' point."""
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if abs(float(fprime(np.array([mid]), **params)[0])) < limit:
            lo = mid
        else:
            hi = mid
    return lo


def derive_tails(fprime: Derivative, params: dict, tau: float) -> Tails:
    """Find the saturated tails of f for tolerance tau (fraction of max |f'|)."""
    peak = max_abs_derivative(fprime, params)
    limit = tau * peak
    grid = np.arange(-_REACH, _REACH + _STEP, _STEP)
    below = np.abs(fprime(grid, **params)) < limit
    low = high = None
    if below[0]:
        first_above = int(np.argmin(below))  # below is False somewhere unless f' ~ 0 everywhere
        if below.all():
            raise ValueError("derivative is flat everywhere")
        low = _crossing(fprime, params, grid[first_above - 1], grid[first_above], limit)
    if below[-1]:
        last_above = len(below) - 1 - int(np.argmin(below[::-1]))
        neg = _crossing(
            lambda x, **p: fprime(-x, **p), params, -grid[last_above + 1], -grid[last_above], limit
        )
        high = -neg
    return Tails(
        low=None if low is None else float(low),
        high=None if high is None else float(high),
        max_gain=peak,
    )
