"""Per-unit mean, variance and extremes of a site's input, exact in float64 over batches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class UnitMoments:
    """Running per-unit count, sum, sum of squared deviations (Chan) and maximum."""

    count: int = 0
    mean: Optional[np.ndarray] = None
    m2: Optional[np.ndarray] = None
    max: Optional[np.ndarray] = None
    rank: int = 0  # of the arrays seen

    def add(self, x: np.ndarray, axis: int) -> None:
        """Fold one batch in; `axis` is the unit axis."""
        x = np.asarray(x, dtype=np.float64)
        self.rank = x.ndim
        x = np.moveaxis(x, axis % x.ndim, -1)
        x = x.reshape(-1, x.shape[-1])
        n, mean = x.shape[0], x.mean(axis=0)
        m2, top = ((x - mean) ** 2).sum(axis=0), x.max(axis=0)
        if self.mean is None:
            self.count, self.mean, self.m2, self.max = n, mean, m2, top
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * n / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * n / total
        self.max = np.maximum(self.max, top)
        self.count = total

    @property
    def var(self) -> np.ndarray:
        return self.m2 / max(self.count, 1)


def unit_moments(values: Iterable[np.ndarray], axis: int) -> UnitMoments:
    """The moments of every unit over all the arrays."""
    out = UnitMoments()
    for x in values:
        out.add(x, axis)
    return out
