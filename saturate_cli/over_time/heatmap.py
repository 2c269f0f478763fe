"""A site's histograms over the points on one display grid: value bins x points, log counts.

Each report's histogram is the fixed grid's counts merged into a few display bins whose edges
are grid edges (report/build.py). Across points those bins differ, so each is spread over a
common grid, uniform in the fixed grid's own coordinate u = asinh(x / SCALE), in proportion to
the overlap in u (the fixed grid is uniform in u, so this is exact where bins nest).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from saturate_cli.over_time.points import Point
from saturate_cli.stats.histogram import SCALE

ROWS = 40  # display bins


def _u(x) -> np.ndarray:
    return np.arcsinh(np.asarray(x, dtype=np.float64) / SCALE)


def _histogram(site: Optional[dict]) -> tuple[np.ndarray, np.ndarray]:
    h = (site or {}).get("histogram") or {}
    edges, counts = h.get("edges") or [], h.get("counts") or []
    if len(edges) != len(counts) + 1 or not counts:
        return np.zeros(0), np.zeros(0)
    return _u(edges), np.asarray(counts, dtype=np.float64)


def spread(edges_u: np.ndarray, counts: np.ndarray, grid_u: np.ndarray) -> np.ndarray:
    """Counts of bins [edges_u[i], edges_u[i+1]) moved onto the grid by overlap in u."""
    out = np.zeros(len(grid_u) - 1)
    for lo, hi, c in zip(edges_u[:-1], edges_u[1:], counts):
        if c == 0 or hi <= lo:
            continue
        overlap = np.clip(np.minimum(grid_u[1:], hi) - np.maximum(grid_u[:-1], lo), 0, None)
        out += c * overlap / (hi - lo)
    return out


def heatmap(name: str, points: list[Point], rows: int = ROWS) -> Optional[dict]:
    """{"edges": x-space edges (rows + 1), "counts": [point][row], "log_counts": log10(1 + c),
    "low"/"high": the tails at the last point} for one site; None without histograms."""
    hists = [_histogram(p.sites.get(name)) for p in points]
    spans = [(e[0], e[-1]) for e, _ in hists if len(e)]
    if not spans:
        return None
    lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
    if hi <= lo:
        hi = lo + 1e-9
    grid = np.linspace(lo, hi, rows + 1)
    counts = [spread(e, c, grid) if len(e) else np.zeros(rows) for e, c in hists]
    sat = next(((p.sites.get(name) or {}).get("saturation") or {} for p in reversed(points)
                if p.sites.get(name)), {})
    def at(x) -> Optional[float]:  # a value's place on the grid, 0 (bottom) to 1 (top)
        if not isinstance(x, (int, float)) or not math.isfinite(x):
            return None
        where = (float(_u(x)) - lo) / (hi - lo)
        return where if 0.0 <= where <= 1.0 else None

    logs = [[float(np.log10(1.0 + v)) for v in c] for c in counts]
    return {"edges": [float(SCALE * math.sinh(u)) for u in grid],
            "counts": [[float(v) for v in c] for c in counts], "log_counts": logs,
            "log_max": max((v for c in logs for v in c), default=0.0),
            "low": sat.get("low"), "high": sat.get("high"),
            "low_at": at(sat.get("low")), "high_at": at(sat.get("high")), "zero_at": at(0.0)}
