"""One batch of an ONNX model measured: from in-graph reductions, or from the site inputs
themselves (exposed as graph outputs) with the exact numpy path.

The in-graph path is the fast one. The exposed-tensor path is exact too and serves where the
statistics nodes cannot run (opsets below GRAPH_STATS_OPSET, the reference evaluator, a
runtime that refuses them) and for batches that bring NaN/Inf to a site.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from saturate_cli.model.handle import Site
from saturate_cli.model.onnx.builder import host_extreme
from saturate_cli.model.onnx.instrument import SiteOutputs
from saturate_cli.model.onnx.sums import fold_count, fold_moments
from saturate_cli.model.onnx.trust import Shifted, unshifted
from saturate_cli.stats.reductions import Reductions, sample_step, stats_from_reductions
from saturate_cli.stats.site_stats import SiteStats, stats_of_array
from saturate_cli.stats.softmax_rows import tally_rows

GRAPH_STATS_OPSET = 9  # below it the statistics nodes are not built: exposed tensors instead


@dataclass
class Plan:
    """One site with the thresholds it is judged by (low/high None: no such tail)."""

    site: Site
    low: Optional[float]
    high: Optional[float]


@dataclass
class Observed:
    """Run-time thresholds seen per site over the batches (Clip bounds, PRelu slopes)."""

    values: dict = field(default_factory=dict)  # site name -> {param: [values per batch]}

    def add(self, site: str, param: str, value) -> None:
        if value is None:
            return
        self.values.setdefault(site, {}).setdefault(param, []).append(float(value))

    def apply(self, sites: list[Site], notes: list[str]) -> list[Site]:
        """Sites whose params hold what was seen (the last batch's value), with a note where
        the value changed between batches."""
        out = []
        for site in sites:
            seen = self.values.get(site.name)
            if not seen:
                out.append(site)
                continue
            params = dict(site.params)
            for param, values in seen.items():
                params[param] = values[-1]
                if min(values) != max(values):
                    notes.append(f"{site.name}: {param} read at run time varied between batches "
                                 f"({min(values):.6g} to {max(values):.6g}); each batch was "
                                 "judged by its own, the report shows the last")
            out.append(replace(site, params=params))
        return out


def graph_batch(values: dict, plan: Plan, so: SiteOutputs,
                observed: Observed) -> Optional[SiteStats]:
    """One site's batch from the graph's reduction outputs; None when NaN/Inf appeared or the
    shifted sums cannot be trusted (onnx/trust.py): the caller measures it exactly then."""
    def opt(name):
        return values[name] if name else None

    size, lo = int(values[so.size]), host_extreme(values[so.min], "ReduceMin")
    n_rows = collapsed = masked_rows = masked = None
    if so.row_kept:  # softmax: the rows tallied here, the statistics of unmasked logits
        kept = np.asarray(values[so.row_kept])
        n_rows, collapsed, masked_rows = tally_rows(kept, values[so.row_peaked])
        count = int(kept.sum())
        masked, size = size - count, count
        tops = np.reshape(values[so.row_top], kept.shape)[kept > 0]
        hi = float(np.max(tops)) if tops.size else -np.inf
    else:
        hi = host_extreme(values[so.max], "ReduceMax")
    lay = so.layout
    if lay:  # float32 runs: accumulated in float64 here
        total, total_sq, unit_sum = fold_moments(values[so.total], values[so.total_sq], lay)
    else:
        total, total_sq = float(values[so.total]), float(values[so.total_sq])
        unit_sum = opt(so.unit_sum)
    sums = (total, total_sq, None, unit_sum)
    if so.shift:  # the fast path's sums are of x - shift: checked, then moved back
        unit = sums[3]
        sums = unshifted(Shifted(
            size, float(values[so.shift]), sums[0], sums[1], lo, hi,
            None if unit is None or np.ndim(unit) == 0 else np.asarray(unit),
            tuple(values[so.shape]) if so.shape else None, tuple(lay.runs())))
        if sums is None:
            return None
    stats = stats_from_reductions(Reductions(
        size=size, total=sums[0], total_sq=sums[1], min=lo, max=hi,
        sample=np.ravel(values[so.sample]), unit_low=_count(values, so.unit_low, lay),
        unit_high=_count(values, so.unit_high, lay), rows=n_rows, collapsed=collapsed,
        row_sample=opt(so.row_sample), unit_sum=sums[3],
        masked_rows=masked_rows, masked=masked, m2=sums[2],
    ))
    if stats is not None:
        _observe(observed, plan.site, opt(so.low_value), opt(so.high_value), opt(so.slope_min))
    return stats


def _count(values: dict, name: Optional[str], lay):
    """A tail count per unit: folded from the per-run counts on the fast path."""
    if not name:
        return None
    return fold_count(values[name], lay) if lay else values[name]


def exposed_names(sites: list[Site]) -> list[str]:
    """The tensors the exposed-tensor path needs: site inputs and run-time thresholds."""
    return list(dict.fromkeys(t for s in sites for t in (s.input, *s.dynamic)))


def array_batch(raw: dict, plan: Plan, softmax_tau: float, tau: float,
                observed: Observed, constant=lambda name: None) -> SiteStats:
    """One site's batch, exactly, from the exposed tensors (`raw`: name -> array)."""
    site, low, high = plan.site, plan.low, plan.high
    x = raw[site.input]
    value = {t: raw.get(t) if raw.get(t) is not None else constant(t) for t in site.dynamic}
    low_value = _scalar(value.get(site.low_from))
    high_value = _scalar(value.get(site.high_from))
    low = low_value if site.low_from and low_value is not None else low
    high = high_value if site.high_from and high_value is not None else high
    where, slope_min = None, None
    if site.slope_from and value.get(site.slope_from) is not None:
        slope = _channel_slope(np.abs(np.asarray(value[site.slope_from], np.float64)), x)
        where, slope_min, low = slope < tau, float(slope.min()) if slope.size else None, 0.0
    _observe(observed, site, low_value, high_value, slope_min)
    axes = site.softmax_axes
    step = sample_step(np.size(x))
    if axes is not None and len(axes) > 1:  # opset < 13: softmax over the flattened tail
        x_rows = np.reshape(x, np.shape(x)[: axes[0]] + (-1,))  # same values, same order
        return stats_of_array(x_rows, low, high, None, -1, softmax_tau, step)
    return stats_of_array(x, low, high, site.unit_axis, axes[0] if axes else None, softmax_tau,
                          step, where)


def _channel_slope(slope: np.ndarray, x) -> np.ndarray:
    """A slope shaped to broadcast against x: a 1-D slope that numpy cannot broadcast is one
    per channel (axis 1), as PRelu before opset 7 applied it."""
    try:
        np.broadcast_shapes(slope.shape, np.shape(x))
        return slope
    except ValueError:
        if slope.ndim == 1 and np.ndim(x) >= 2 and slope.shape[0] == np.shape(x)[1]:
            return slope.reshape((-1,) + (1,) * (np.ndim(x) - 2))
        raise


def _scalar(value) -> Optional[float]:
    if value is None or np.size(value) != 1:
        return None
    v = float(np.asarray(value, np.float64).reshape(-1)[0])
    return v if not math.isnan(v) else None


def _observe(observed: Observed, site: Site, low, high, slope_min) -> None:
    if site.low_from:
        observed.add(site.name, "min", _scalar(low))
    if site.high_from:
        observed.add(site.name, "max", _scalar(high))
    if site.slope_from:
        observed.add(site.name, "alpha", _scalar(slope_min))
