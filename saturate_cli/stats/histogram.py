"""One fixed histogram grid for every site, so partial histograms always merge.

Bins are uniform in u = asinh(x / SCALE): about 0.002 wide near zero, about 4% relative for
large |x|, and the grid reaches past the float32 range (BERT masks put -3.4e38 into softmax).
Only finite values are binned; values beyond the grid land in the end bins.
"""

from __future__ import annotations

import numpy as np

SCALE = 0.05
U_MAX = 93.0  # SCALE * sinh(93) ~ 6.1e38 > float32 max
BIN_WIDTH = 0.04
BINS = int(round(2 * U_MAX / BIN_WIDTH))


def bin_index(values: np.ndarray) -> np.ndarray:
    """Bin index of each finite value."""
    u = np.arcsinh(np.asarray(values, dtype=np.float64) / SCALE)
    idx = np.floor((u + U_MAX) / BIN_WIDTH)
    return np.clip(idx, 0, BINS - 1).astype(np.int64)


def histogram(values: np.ndarray) -> np.ndarray:
    """Counts of the finite values on the fixed grid."""
    values = np.asarray(values).ravel()
    finite = values[np.isfinite(values)]
    return np.bincount(bin_index(finite), minlength=BINS).astype(np.int64)


def edge_to_x(u_edge: np.ndarray) -> np.ndarray:
    """Map u-space positions back to x."""
    return SCALE * np.sinh(np.asarray(u_edge, dtype=np.float64))


def bin_edges(lo: int = 0, hi: int = BINS) -> np.ndarray:
    """x-space edges of bins lo..hi-1 (hi - lo + 1 values)."""
    return edge_to_x(-U_MAX + BIN_WIDTH * np.arange(lo, hi + 1))


def bin_centers() -> np.ndarray:
    """x-space centre of every bin (midpoint in u)."""
    return edge_to_x(-U_MAX + BIN_WIDTH * (np.arange(BINS) + 0.5))


def quantile(counts: np.ndarray, q: float) -> float:
    """Approximate q-quantile (0..1) from grid counts, interpolating inside the bin in u."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    cum = np.cumsum(counts)
    target = q * total
    i = int(np.searchsorted(cum, target, side="left"))
    i = min(i, BINS - 1)
    before = cum[i - 1] if i > 0 else 0
    inside = (target - before) / counts[i] if counts[i] else 0.0
    u = -U_MAX + BIN_WIDTH * (i + min(max(inside, 0.0), 1.0))
    return float(edge_to_x(u))


def coarsen(counts: np.ndarray, lo_x: float, hi_x: float, groups: int = 16) -> tuple[list, list]:
    """A display histogram: the fine bins covering [lo_x, hi_x] merged into about `groups` bins.

    Returns (edges, counts) in x-space, edges one longer than counts.
    """
    nonzero = np.nonzero(counts)[0]
    if len(nonzero) == 0 or not (np.isfinite(lo_x) and np.isfinite(hi_x)):
        return [], []
    first = int(min(nonzero[0], bin_index(np.array([lo_x]))[0]))
    last = int(max(nonzero[-1], bin_index(np.array([hi_x]))[0]))
    span = last - first + 1
    step = max(1, -(-span // groups))
    starts = np.arange(first, last + 1, step)
    merged = np.add.reduceat(counts[first : last + 1], starts - first)
    edges = bin_edges(first, first + len(starts) * step)[::step]
    return [float(e) for e in edges], [int(c) for c in merged]
