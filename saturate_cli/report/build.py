"""Assemble the Report from a model's sites, their statistics and the diagnosis."""

from __future__ import annotations

from dataclasses import asdict
from typing import Optional

import numpy as np

from saturate_cli import __version__
from saturate_cli.activations import TailBook, get_kind
from saturate_cli.diagnose.findings import Measure, diagnose_site, measure
from saturate_cli.diagnose.gain import depth_profile, mean_gain
from saturate_cli.diagnose.model_findings import model_findings
from saturate_cli.diagnose.temperature import row_max_histogram
from saturate_cli.diagnose.suggest import init_stds
from saturate_cli.types import Site
from saturate_cli.report.model import Report, SiteReport
from saturate_cli.settings import Settings
from saturate_cli.stats import histogram as hist
from saturate_cli.stats.site_stats import SiteStats


def _stats_dict(s: SiteStats) -> dict:
    c = s.histogram
    has = s.finite > 0
    return {
        "count": s.count, "mean": s.mean if has else None, "std": s.std if has else None,
        "min": s.min if has else None, "max": s.max if has else None,
        "nan": s.nan, "inf": s.inf, "masked": s.masked,
        "p01": _clamp(hist.quantile(c, 0.01), s), "p50": _clamp(hist.quantile(c, 0.50), s),
        "p99": _clamp(hist.quantile(c, 0.99), s),
    }


def _clamp(value: float, s: SiteStats) -> Optional[float]:
    if not np.isfinite(value):
        return None
    return float(min(max(value, s.min), s.max))


def _histogram_dict(s: SiteStats) -> dict:
    edges, counts = hist.coarsen(s.histogram, s.min, s.max)
    return {"edges": edges, "counts": counts, "sample_every": s.sample_every,
            "sampled": int(s.histogram.sum())}


def _saturation_dict(site: Site, s: SiteStats, m: Measure, gain: Optional[float],
                     softmax_tau: float) -> dict:
    return {
        "low": m.low, "high": m.high, "fraction": m.fraction, "fraction_low": m.fraction_low,
        "fraction_high": m.fraction_high, "mean_gain": gain, "units": m.units,
        "unit_axis": site.unit_axis, "dead_units": len(m.dead_units),
        "dead_unit_indices": m.dead_units, "rows": s.rows, "collapsed_rows": s.collapsed_rows,
        "masked_rows": s.masked_rows, "judged_rows": s.judged_rows,
        "metric": get_kind(site.kind).metric,
        **({"row_max_histogram": row_max_histogram(s.row_sample, softmax_tau)}
           if get_kind(site.kind).metric == "rows" else {}),
    }


def _producer_dict(site: Site) -> Optional[dict]:
    p = site.producer
    if p is None:
        return None
    out = asdict(p)
    out.update(init_stds(get_kind(site.kind), site.params, p))
    return out


def site_report(site: Site, stats: SiteStats, settings: Settings, book: TailBook
                ) -> tuple[SiteReport, Optional[float]]:
    m = measure(site, stats, book.of(site), settings)
    gain = mean_gain(site, stats)
    findings = tuple(diagnose_site(site, stats, m, settings))
    return SiteReport(
        name=site.name, input=site.input, op=site.op, kind=site.kind, params=dict(site.params),
        producer=_producer_dict(site), stats=_stats_dict(stats), histogram=_histogram_dict(stats),
        saturation=_saturation_dict(site, stats, m, gain, settings.softmax_tau), findings=findings,
    ), gain


def build_report(handle, stats: dict[str, SiteStats], settings: Settings, calibration: dict,
                 notes: tuple = (), book: Optional[TailBook] = None) -> Report:
    """The report of one model."""
    book = book or TailBook(settings.tau)
    site_reports, gains = [], []
    for site in handle.sites:
        rep, gain = site_report(site, stats.get(site.name, SiteStats()), settings, book)
        site_reports.append(rep)
        gains.append(gain)
    uncovered = tuple({"name": u.name, "op": u.op, "reason": u.reason} for u in handle.not_covered)
    found = model_findings(list(handle.sites), list(handle.not_covered), stats, calibration)
    extra = list(notes)
    if not handle.sites:
        extra.append("the model has no activation that saturate can measure")
    return Report(
        tool={"name": "saturate", "version": __version__},
        model={"path": handle.path, "format": handle.format, "sha256": handle.sha256,
               "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype}
                          for i in handle.inputs]},
        calibration=calibration,
        settings=settings.echo(),
        sites=tuple(site_reports),
        not_covered=uncovered,
        model_findings=tuple(found),
        depth_profile=tuple(depth_profile(list(handle.sites), gains)),
        notes=tuple(extra),
        fail_on=settings.fail_on,
    )
