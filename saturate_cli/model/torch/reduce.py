"""Reduce one activation input to a few numbers on its own device, and keep per-site totals.

The same per-batch quantities as the ONNX in-graph instrumentation (onnx/instrument.py): count,
sum and (shifted) sum of squares, min, max, per-unit tail counts, a strided subsample for the
histogram, softmax rows / collapsed rows / a row sample. Softmax inputs leave their masked
logits out (stats/softmax_rows.py defines them: MASKED_GAP below the row maximum, or at or below
half the dtype's minimum) and count the rows with at most one unmasked logit apart. Only those
small results leave the device; a batch with NaN/Inf is measured exactly with the numpy path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from saturate_cli.activations import Tails
from saturate_cli.types import Site
from saturate_cli.settings import MASKED_GAP
from saturate_cli.stats.reductions import (OFF_CENTRE, Reductions, sample_step,
                                           stats_from_reductions)
from saturate_cli.stats.site_stats import ROWS_PER_BATCH, SiteStats, stats_of_array

_MEASURED = (torch.float32, torch.float64)


@dataclass(frozen=True)
class Plan:
    """How one site is measured: tails and axes."""

    low: Optional[float]
    high: Optional[float]
    unit_axis: Optional[int]
    softmax_axis: Optional[int]
    log_probs: bool = False  # the call's output is log-probabilities (log_softmax)


def plan_for(site: Site, tails: Tails) -> Plan:
    axis = site.softmax_axes[0] if site.softmax_axes else None
    return Plan(tails.low, tails.high, site.unit_axis, axis, site.kind == "log_softmax")


def _host(t: torch.Tensor) -> np.ndarray:
    """The tensor in numpy, in its own dtype (the mask floor depends on it); bfloat16 as
    float32, numpy having none."""
    t = t.detach().cpu()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


@dataclass
class Masks:
    """A softmax input's masked logits, counted per row, and the rows' maxima."""

    masked: torch.Tensor  # boolean, x's shape
    per_row: torch.Tensor  # masked logits per row (the softmax axis reduced)
    top: torch.Tensor  # row maxima, the axis kept
    row_len: int


def masked_logits(x: torch.Tensor, axis: int, dtype: torch.dtype) -> Masks:
    """Softmax logits masked out: MASKED_GAP or more below the row's maximum where that gap is
    representable, or at or below half of `dtype`'s minimum. One comparison of x with a
    per-row threshold (the larger of the two where the gap applies)."""
    top = x.amax(dim=axis, keepdim=True)
    cutoff = top - MASKED_GAP
    floor = torch.full_like(top, 0.5 * torch.finfo(dtype).min)
    limit = torch.where(cutoff < top, torch.maximum(cutoff, floor), floor)
    masked = x <= limit
    per_row = masked.sum(dim=axis, dtype=torch.int32 if x.numel() < 2**31 else torch.int64)
    return Masks(masked, per_row, top, x.shape[axis])


def _extremes(x: torch.Tensor, m: Optional[Masks]) -> tuple[float, float, int]:
    """(min, max) of the values measured and how many are masked: one host transfer. The
    maximum of the unmasked logits is that of the row maxima of rows that keep any."""
    if m is None:
        lo, hi = torch.aminmax(x)
        return float(lo), float(hi), 0
    lo = x.masked_fill(m.masked, math.inf).amin()
    row_top = m.top.reshape(m.per_row.shape)
    hi = torch.where(m.per_row < m.row_len, row_top, torch.full_like(row_top, -math.inf)).amax()
    got = torch.stack([lo.double(), hi.double(), m.per_row.sum().double()]).tolist()
    return got[0], got[1], int(got[2])


# Above this magnitude float32 sums of squares may overflow (BERT masks put -3.4e38 into
# softmax inputs): such a tensor is scaled by a power of two first (exact for all but values
# below ~1e-24 of the largest, which cannot move its sums), the sums scaled back in float64.
_SAFE_EXPONENT = 46
_TINY_EXPONENT = -40  # below, float32 squares underflow: such tensors are scaled up alike


_CHUNK = 2**16  # values per BLAS dot: one dot over 6 M values drifts by ~5e-6, chunks by ~1e-8


def _squares(w: torch.Tensor, total: torch.Tensor, size: int,
             masked: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Sum of (w - mean)^2 in float64, ~1e-7 relative.

    Float32 dots over chunks of _CHUNK values, accumulated in float64 (one read, no copy);
    when the values sit off-centre (|mean| > OFF_CENTRE std: the dots would cancel) the
    squares are taken about the mean instead (torch's cascade sum; a subtraction and a copy).
    `masked` values (zeros in w) are left out.
    """
    flat = w.reshape(-1)
    dots = torch.stack([torch.dot(c, c) for c in flat.split(_CHUNK)])
    about_zero = dots.sum(dtype=torch.float64)
    t, q = float(total), float(about_zero)
    c2 = OFF_CENTRE ** 2
    if (c2 + 1.0) * t * t <= c2 * size * q:
        return about_zero - total.double() * (total.double() / size)
    d = w - (total / size).to(w.dtype)
    if masked is not None:
        d.masked_fill_(masked, 0.0)
    return d.mul_(d).sum(dtype=torch.float64)


def _counts(mask: torch.Tensor, others: list, size: int) -> torch.Tensor:
    """Per-unit count of a mask (an int64 sum of bools over dims is ~10x slower than int32)."""
    if not others:
        return mask
    return mask.sum(dim=others, dtype=torch.int32 if size < 2**31 else torch.int64)


def reduce_tensor(x: torch.Tensor, plan: Plan, softmax_tau: float,
                  probs: Optional[torch.Tensor] = None) -> Reductions:
    """The per-batch reductions of one tensor, computed where it lives.

    Float32 tensors are reduced in float32 with cascade sums and chunked dots (`_squares`), the
    sum of squares handed over as `m2 + total^2/n` in float64, so the moments keep ~1e-7
    relative accuracy; counts, min and max are exact. Two host transfers:
    min/max first (a non-finite batch stops there and is measured exactly by the numpy path),
    then every other result in one concatenated float64 vector.
    """
    x, dtype = x.detach(), x.dtype
    if x.dtype not in _MEASURED:
        x = x.float()
    numel = x.numel()
    if numel == 0:
        return Reductions(0, 0.0, 0.0, float("inf"), float("-inf"), np.zeros(0))
    softmax = plan.softmax_axis is not None and x.dim() >= 1
    masks = masked_logits(x, plan.softmax_axis, dtype) if softmax else None
    masked = masks.masked if masks is not None else None
    lo, hi, hidden = _extremes(x, masks)
    size = numel - hidden  # the values measured
    if not (size and math.isfinite(lo) and math.isfinite(hi)):
        return Reductions(numel, math.nan, math.nan, lo, hi, np.zeros(0))
    w = x if masked is None else x.masked_fill(masked, 0.0)
    scale = 1.0
    peak = max(-lo, hi)
    exponent = math.frexp(peak)[1]
    if x.dtype == torch.float32 and peak > 0 and not \
            _TINY_EXPONENT <= exponent <= _SAFE_EXPONENT:
        scale = math.ldexp(1.0, _SAFE_EXPONENT - exponent)
        w = w * scale
    unit = plan.unit_axis % x.dim() if plan.unit_axis is not None and x.dim() >= 1 else None
    others = [a for a in range(x.dim()) if a != unit]
    if unit is not None:
        unit_sum = w.sum(dim=others) if others else w
        total = unit_sum.sum(dtype=torch.float64)
        unit_sum = unit_sum.double() / scale if scale != 1.0 else unit_sum
    else:
        total = w.sum(dtype=torch.float64) if w.dtype == torch.float64 else w.sum().double()
    squares = _squares(w, total, size, masked)
    if scale != 1.0:
        total, squares = total.double() / scale, squares.double() / (scale * scale)
    scalars = [total, squares.double()]
    step = sample_step(numel)
    sample = x.reshape(-1)[::step]
    if masked is not None:  # masked logits are not binned: NaN in the (small) sample
        sample = sample.masked_fill(masked.reshape(-1)[::step], math.nan)
    vectors = [sample.double()]
    if unit is not None:
        vectors.append(unit_sum.double())
    for limit, below in ((plan.low, True), (plan.high, False)):
        if limit is None:
            continue
        mask = x <= limit if below else x >= limit
        if unit is None:
            scalars.append(torch.count_nonzero(mask).double())
        else:
            vectors.append(_counts(mask, others, size).double())
    if softmax:
        axis = plan.softmax_axis
        # max probability > 1 - tau' (the numpy path: sum of exp(x - max) < 1 / (1 - tau'))
        if probs is not None and probs.shape == x.shape:  # the call's own output: no recompute
            top = probs.detach().amax(dim=axis)
            limit = math.log1p(-softmax_tau) if plan.log_probs else 1.0 - softmax_tau
        else:
            top, limit = torch.softmax(x, dim=axis).amax(dim=axis), 1.0 - softmax_tau
        lonely = masks.row_len - masks.per_row <= 1  # masked rows: one-hot by construction
        scalars += [torch.count_nonzero((top > limit) & ~lonely).double(),
                    torch.count_nonzero(lonely).double()]
        rows = x.movedim(axis, -1).reshape(-1, x.shape[axis])[:ROWS_PER_BATCH]
        vectors.append(rows.reshape(-1).double())
    host = torch.cat([torch.stack(scalars)] + vectors).cpu().numpy()
    total_f, squares_f = float(host[0]), float(host[1])
    r = Reductions(size, total_f, squares_f + total_f * (total_f / size), lo, hi, sample=None)
    at, k = len(scalars), 2
    r.sample, at = _take(host, at, len(vectors[0])), at + len(vectors[0])
    units = x.shape[unit] if unit is not None else 0
    if unit is not None:
        r.unit_sum, at = _take(host, at, units), at + units
    for limit, field in ((plan.low, "unit_low"), (plan.high, "unit_high")):
        if limit is None:
            continue
        if unit is None:
            setattr(r, field, np.asarray(int(host[k]), np.int64))
            k += 1
        else:
            setattr(r, field, host[at:at + units].astype(np.int64))
            at += units
    if softmax:
        r.rows, r.collapsed = numel // x.shape[plan.softmax_axis], int(host[k])
        r.masked_rows, r.masked = int(host[k + 1]), hidden
        r.row_sample = host[at:].reshape(-1, x.shape[plan.softmax_axis])
    return r


def _take(host: np.ndarray, at: int, n: int) -> np.ndarray:
    return host[at:at + n]


def batch_stats(x: torch.Tensor, plan: Plan, softmax_tau: float,
                probs: Optional[torch.Tensor] = None) -> SiteStats:
    """One batch's statistics; exact numpy statistics when NaN/Inf appeared. `probs`: the
    softmax / log_softmax call's output, read instead of recomputing it."""
    stats = stats_from_reductions(reduce_tensor(x, plan, softmax_tau, probs))
    if stats is not None:
        return stats
    return stats_of_array(_host(x), plan.low, plan.high, plan.unit_axis, plan.softmax_axis,
                          softmax_tau, sample_step(x.numel()))
