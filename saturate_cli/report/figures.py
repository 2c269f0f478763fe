"""Plot-ready data from a Report: what the HTML and terminal pictures draw, computed once.

Renderers draw these figures and compute nothing. Every figure is made from the report alone
(the JSON contract), so a report read back from a file draws the same pictures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from saturate_cli.activations import get_kind
from saturate_cli.report.model import Report, SiteReport

CURVE_POINTS = 161  # samples of f(x) across a picture's window
_SEPARATORS = "/.:"


@dataclass(frozen=True)
class Bar:
    """One histogram bin inside the window: its share of the sampled values and its height
    (that share relative to the tallest bin's, 0..1). The report's bins are equal in asinh(x),
    so they widen away from zero: a height reads as a share of values, not as a density."""

    x0: float
    x1: float
    share: float
    height: float


@dataclass(frozen=True)
class Tail:
    """A saturated tail as drawn: from the window's edge to the threshold."""

    side: str  # "low" or "high"
    threshold: float  # where saturation starts (the kind's tail threshold for the report's tau)
    edge: float  # the window's edge on that side
    share: float  # share of all values in this tail


@dataclass(frozen=True)
class CurveFigure:
    """f(x) over the input histogram, for kinds judged by their tails or dead units."""

    x_lo: float
    x_hi: float
    curve: tuple  # ((x, y), ...) with y = f(x) scaled to 0..1 over the window
    f_lo: float  # f at the bottom and top of the plot (for the axis labels)
    f_hi: float
    bars: tuple  # Bar, ...
    tails: tuple  # Tail, ...
    sweet: tuple  # (lo, hi): the sweet range, clipped to the window
    beyond_low: float  # share of sampled values left of / right of the window
    beyond_high: float


@dataclass(frozen=True)
class RowsFigure:
    """Softmax: the share of collapsed rows and, when recorded, the row maxima's distribution."""

    collapse_at: float  # a row collapses when its max probability exceeds this (1 - tau')
    collapsed: float  # share of the judged rows
    collapsed_rows: int
    judged_rows: int
    masked_rows: int
    bars: tuple  # Bar, ... over max probability in [0, 1]; empty when not recorded


@dataclass(frozen=True)
class UnitStrip:
    """Per-unit verdict along the unit axis: runs of dead units, [start, stop)."""

    units: int
    dead: int
    runs: tuple  # ((start, stop), ...)


@dataclass(frozen=True)
class DepthRow:
    index: int
    site: str
    kind: str
    saturated: Optional[float]  # share of values in tails (rows for softmax)
    mean_gain: Optional[float]
    passed: Optional[float]  # product of mean gains from this site to the output
    worst: Optional[str]


@dataclass(frozen=True)
class SiteFigure:
    index: int
    site: SiteReport
    label: str  # the name without the prefix all sites share
    saturated: Optional[float]
    curve: Optional[CurveFigure]
    rows: Optional[RowsFigure]
    strip: Optional[UnitStrip]
    remedies: tuple  # ((finding, suggestion, code or None), ...)


def shared_prefix(names: list[str]) -> str:
    """The leading part all names share, cut after a separator ('/', '.', ':'); '' for one name
    or when only a lone separator is shared."""
    if len(names) < 2:
        return ""
    common = names[0]
    for n in names[1:]:
        while not n.startswith(common):
            common = common[:-1]
    # a path cuts at '/' ("/blocks/block.3/act" keeps "block.3"), else at '.' or ':'
    cut = (common.rfind("/") if "/" in common else max(common.rfind(c) for c in _SEPARATORS)) + 1
    prefix = common[:cut]
    keep = len(prefix) > 1 and all(len(n) > len(prefix) for n in names)  # not just a "/"
    return prefix if keep else ""


def labels(report: Report) -> list[str]:
    """Site names without their shared prefix (full names stay in the report)."""
    names = [s.name for s in report.sites]
    cut = len(shared_prefix(names))
    return [n[cut:] for n in names]


def saturated_share(site: SiteReport) -> Optional[float]:
    """The share the kind is judged by as a fraction: values in tails, or rows for softmax."""
    sat = site.saturation
    if sat.get("metric") == "rows":
        return sat["fraction"] if sat.get("rows") else None
    return sat["fraction"] if site.stats.get("count") else None


def window(site: SiteReport) -> tuple[float, float]:
    """The x range a picture shows: the bulk of the data (p1..p99) and both thresholds."""
    st, sat = site.stats, site.saturation
    points = [v for v in (st.get("p01"), st.get("p99"), sat.get("low"), sat.get("high"))
              if v is not None and math.isfinite(v)]
    if not points:
        return -5.0, 5.0
    lo, hi = min(points), max(points)
    if hi - lo < 2.0:  # a narrow cloud still shows the curve around it
        mid = (lo + hi) / 2
        lo, hi = mid - 1.0, mid + 1.0
    pad = 0.08 * (hi - lo)
    return lo - pad, hi + pad


def histogram_bars(edges: list, counts: list, lo: float, hi: float) -> tuple[tuple, float, float]:
    """Bins clipped to [lo, hi], heights from their shares; the shares of the values outside."""
    total = float(sum(counts))
    if not counts or total == 0:
        return (), 0.0, 0.0
    e, c = np.asarray(edges, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    below = float(c[e[1:] <= lo].sum() / total)
    above = float(c[e[:-1] >= hi].sum() / total)
    inside = (e[1:] > lo) & (e[:-1] < hi) & (c > 0)
    top = c[inside].max() if inside.any() else 1.0
    bars = tuple(Bar(float(max(e[i], lo)), float(min(e[i + 1], hi)), float(c[i] / total),
                     float(c[i] / top)) for i in np.nonzero(inside)[0])
    return bars, below, above


def _bends(y: np.ndarray, tolerance: float = 0.003) -> np.ndarray:
    """Indices of the points a polyline needs: each chord stays within `tolerance` (of the
    plot's height) of the points it skips, so straight and flat stretches cost no points."""
    keep, i, n = [0], 0, len(y)
    while i < n - 1:
        j = i + 2
        while j < n:
            chord = np.linspace(y[i], y[j], j - i + 1)
            if np.abs(chord - y[i:j + 1]).max() > tolerance:
                break
            j += 1
        i = j - 1
        keep.append(i)
    return np.asarray(keep)


def _tidy(v: float, span: float) -> float:
    """0 for a value that is 0 at the picture's resolution (sigmoid(-20) is not 2e-9 on an axis)."""
    return 0.0 if abs(v) < 1e-4 * (span or 1.0) else v


def curve_figure(site: SiteReport, span: Optional[tuple] = None) -> CurveFigure:
    """The curve-and-cloud picture of one site (over `span` when given, else its window)."""
    kind = get_kind(site.kind)
    params = kind.params(site.params)
    lo, hi = span or window(site)
    xs = np.linspace(lo, hi, CURVE_POINTS)
    ys = kind.f(xs, **params)
    f_lo, f_hi = _tidy(float(np.min(ys)), float(np.ptp(ys))), _tidy(float(np.max(ys)),
                                                                     float(np.ptp(ys)))
    scaled = (ys - f_lo) / ((f_hi - f_lo) or 1.0)
    bars, below, above = histogram_bars(site.histogram.get("edges", []),
                                        site.histogram.get("counts", []), lo, hi)
    sat = site.saturation
    tails = []
    if sat.get("low") is not None and sat["low"] > lo:
        tails.append(Tail("low", sat["low"], lo, sat.get("fraction_low", 0.0)))
    if sat.get("high") is not None and sat["high"] < hi:
        tails.append(Tail("high", sat["high"], hi, sat.get("fraction_high", 0.0)))
    sweet = (max(lo, sat["low"]) if sat.get("low") is not None else lo,
             min(hi, sat["high"]) if sat.get("high") is not None else hi)
    keep = _bends(scaled)
    return CurveFigure(lo, hi, tuple(zip(xs[keep].tolist(), scaled[keep].tolist())), f_lo, f_hi,
                       bars,
                       tuple(tails), sweet, below, above)


def rows_figure(site: SiteReport, softmax_tau: float) -> RowsFigure:
    sat = site.saturation
    judged = sat.get("judged_rows", sat.get("rows", 0))
    recorded = sat.get("row_max_histogram") or {}
    bars, _, _ = histogram_bars(recorded.get("edges", []), recorded.get("counts", []), 0.0, 1.0)
    return RowsFigure(1.0 - softmax_tau, sat["collapsed_rows"] / judged if judged else 0.0,
                      sat.get("collapsed_rows", 0), judged, sat.get("masked_rows", 0), bars)


def unit_strip(site: SiteReport) -> Optional[UnitStrip]:
    units = site.saturation.get("units") or 0
    if not units:
        return None
    dead = sorted(site.saturation.get("dead_unit_indices") or [])
    runs = []
    for i in dead:
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return UnitStrip(units, len(dead), tuple((a, b) for a, b in runs))


def depth_rows(report: Report) -> list[DepthRow]:
    """The depth profile: one row per site in execution order."""
    profile = {r["site"]: r for r in report.depth_profile}
    return [DepthRow(i, name, s.kind, saturated_share(s), s.saturation.get("mean_gain"),
                     profile.get(s.name, {}).get("cumulative_gain"), s.worst)
            for i, (s, name) in enumerate(zip(report.sites, labels(report)))]


def _handles(p: dict, names: list) -> tuple[str, list[str]]:
    """How the code reaches the parameters: through the layer's module path when the report
    knows it (exporters rename a folded bias `onnx::Conv_501`), else by parameter name."""
    if p.get("layer") and not p.get("norm"):
        roles = {p.get("weight"): "weight", p.get("bias"): "bias"}
        if all(roles.get(n) for n in names if n):
            return (f"layer = model.get_submodule({p['layer']!r})",
                    [f"layer.{roles[n]}" for n in names if n])
    return "params = dict(model.named_parameters())", [f"params[{n!r}]" for n in names if n]


def remedy_code(suggestion: dict, producer: Optional[dict]) -> Optional[str]:
    """PyTorch code that applies a suggestion to the model the report was made from."""
    kind = suggestion.get("kind", "")
    p = producer or {}
    if kind.endswith("_rescale") or kind == "scale_logits":
        if suggestion.get("factor") is None or not suggestion.get("target"):
            return None
        bias = p.get("norm_bias") if p.get("norm") else p.get("bias")
        head, refs = _handles(p, [suggestion["target"], bias])
        k = f"{suggestion['factor']:.4g}"
        lines = [head, "with torch.no_grad():", *(f"    {r}.mul_({k})" for r in refs)]
        if suggestion.get("init_call"):
            lines.append(f"# or when building the model: {suggestion['init_call']}")
        return "\n".join(lines)
    if kind == "shift_bias" and suggestion.get("target"):
        head, (ref,) = _handles(p, [suggestion["target"]])
        if suggestion.get("units"):
            idx = ", ".join(str(u) for u in suggestion["units"])
            amounts = ", ".join(f"{a:.4g}" for a in suggestion["amounts"])
            body = f"    {ref}[[{idx}]] += torch.tensor([{amounts}])"
        else:
            body = f"    {ref}.add_({suggestion['amount']:.4g})"
        return "\n".join([head, "with torch.no_grad():", body])
    if kind.startswith("insert_") and suggestion.get("layer"):
        return (f"# after {suggestion.get('target')}, before the activation:\n"
                f"layer = nn.Sequential(layer, {suggestion['layer']})")
    return None


def remedies(site: SiteReport) -> tuple:
    return tuple((f, tip, remedy_code(tip, site.producer)) for f in site.findings
                 for tip in f.suggestions)


def site_figure(i: int, s: SiteReport, label: str, softmax_tau: float,
                span: Optional[tuple] = None) -> SiteFigure:
    rows = s.saturation.get("metric") == "rows"
    measured = bool(s.stats.get("count")) and bool(s.histogram.get("counts"))
    return SiteFigure(i, s, label, saturated_share(s),
                      curve_figure(s, span) if measured and not rows else None,
                      rows_figure(s, softmax_tau) if rows and s.saturation.get("rows") else None,
                      unit_strip(s), remedies(s))


def _softmax_tau(report: Report) -> float:
    return report.settings.get("softmax_tau", 0.01)


def site_figures(report: Report) -> list[SiteFigure]:
    """Every site's pictures, in execution order."""
    tau = _softmax_tau(report)
    return [site_figure(i, s, label, tau)
            for i, (s, label) in enumerate(zip(report.sites, labels(report)))]


def _changed(a: SiteReport, b: SiteReport) -> bool:
    keys = ("mean", "std", "min", "max")
    return ([f.code for f in a.findings] != [f.code for f in b.findings]
            or any(not _close(a.stats.get(k), b.stats.get(k)) for k in keys))


def _close(x, y) -> bool:
    if x is None or y is None:
        return x is y
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)


def compared_sites(before: Report, after: Report) -> list[tuple[SiteFigure, SiteFigure]]:
    """The sites a fix changed (same name in both), each pair drawn over one shared window."""
    later = {s.name: s for s in after.sites}
    cut = labels(before)
    out = []
    for i, s in enumerate(before.sites):
        t = later.get(s.name)
        if t is None or not _changed(s, t):
            continue
        (lo0, hi0), (lo1, hi1) = window(s), window(t)
        span = (min(lo0, lo1), max(hi0, hi1))
        out.append((site_figure(i, s, cut[i], _softmax_tau(before), span),
                    site_figure(i, t, cut[i], _softmax_tau(after), span)))
    return out


def worst_first(report: Report) -> list[SiteFigure]:
    """Sites ordered by severity, then by saturated share (the list `saturate show` prints)."""
    rank = {"error": 3, "warning": 2, "info": 1, None: 0}
    return sorted(site_figures(report),
                  key=lambda f: (-rank[f.site.worst], -(f.saturated or 0.0), f.index))
