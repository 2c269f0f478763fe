"""Reduce one activation input to a few numbers on its own device, and keep per-site totals.

The same per-batch quantities as the ONNX in-graph instrumentation (onnx_instrument.py): count,
float64 sum and sum of squares, min, max, per-unit tail counts, a strided subsample for the
histogram, softmax rows / collapsed rows / a row sample. Only those small results leave the
device; a batch with NaN/Inf is measured exactly with the numpy path instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from saturate_cli.activations import get_kind
from saturate_cli.model.handle import Site
from saturate_cli.stats.reductions import Reductions, sample_step, stats_from_reductions
from saturate_cli.stats.site_stats import ROWS_PER_BATCH, SiteStats, stats_of_array

_MEASURED = (torch.float32, torch.float64)


@dataclass(frozen=True)
class Plan:
    """How one site is measured: tails and axes."""

    low: Optional[float]
    high: Optional[float]
    unit_axis: Optional[int]
    softmax_axis: Optional[int]


def plan_for(site: Site, tau: float) -> Plan:
    tails = get_kind(site.kind).tails(site.params, tau)
    axis = site.softmax_axes[0] if site.softmax_axes else None
    return Plan(tails.low, tails.high, site.unit_axis, axis)


def _host(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


def _unit_count(mask: torch.Tensor, axis: Optional[int]) -> np.ndarray:
    if axis is None or mask.dim() == 0:
        return np.asarray(int(torch.count_nonzero(mask)), np.int64)
    others = tuple(a for a in range(mask.dim()) if a != axis)
    counts = torch.count_nonzero(mask, dim=others) if others else mask.to(torch.int64)
    return counts.to("cpu", torch.int64).numpy()


def reduce_tensor(x: torch.Tensor, plan: Plan, softmax_tau: float) -> Reductions:
    """The per-batch reductions of one tensor, computed where it lives."""
    x = x.detach()
    if x.dtype not in _MEASURED:
        x = x.float()
    size = x.numel()
    if size == 0:
        return Reductions(0, 0.0, 0.0, float("inf"), float("-inf"), np.zeros(0))
    xd = x.to(torch.float64)
    flat = xd.reshape(-1)
    lo, hi = torch.aminmax(xd)
    scalars = torch.stack([flat.sum(), torch.dot(flat, flat), lo, hi]).tolist()
    r = Reductions(size, *scalars, sample=_host(x.reshape(-1)[:: sample_step(size)]))
    if plan.unit_axis is not None and xd.dim() >= 2:
        r.unit_sum = _host(xd.sum(dim=[a for a in range(xd.dim()) if a != plan.unit_axis]))
    if plan.low is not None:
        r.unit_low = _unit_count(xd <= plan.low, plan.unit_axis)
    if plan.high is not None:
        r.unit_high = _unit_count(xd >= plan.high, plan.unit_axis)
    if plan.softmax_axis is not None and x.dim() >= 1:
        top = x.amax(dim=plan.softmax_axis, keepdim=True)
        mass = torch.exp(x - top).sum(dim=plan.softmax_axis)
        limit = torch.tensor(1.0 / (1.0 - softmax_tau), dtype=x.dtype, device=x.device)
        r.rows, r.collapsed = int(mass.numel()), int((mass < limit).sum())
        rows = x.movedim(plan.softmax_axis, -1).reshape(-1, x.shape[plan.softmax_axis])
        r.row_sample = _host(rows[:ROWS_PER_BATCH])
    return r


def batch_stats(x: torch.Tensor, plan: Plan, softmax_tau: float) -> SiteStats:
    """One batch's statistics; exact numpy statistics when NaN/Inf appeared."""
    stats = stats_from_reductions(reduce_tensor(x, plan, softmax_tau))
    if stats is not None:
        return stats
    return stats_of_array(_host(x), plan.low, plan.high, plan.unit_axis, plan.softmax_axis,
                          softmax_tau, sample_step(x.numel()))
