"""`saturate trend`: one calibration set through every checkpoint, a series per site, and
where the drift starts (drift.py). Also reads the training monitor's log (points.read_log)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

from saturate_cli.errors import UsageError
from saturate_cli.over_time.drift import SiteDrift, attribute, flagged, onset
from saturate_cli.over_time.heatmap import heatmap
from saturate_cli.over_time.points import Point, point_of_report, share, site_order

SERIES = ("share", "mean_gain", "mean", "std")


@dataclass(frozen=True)
class Trend:
    """The result of a trend: labels, per-site series and heat maps, drift attribution."""

    source: str  # "checkpoints" or "log"
    labels: tuple
    series: tuple  # per site: {"site", "kind", "producer", "share": [...], ...}
    drift: tuple  # SiteDrift per site
    onset: Optional[SiteDrift]
    heatmaps: dict  # site -> heatmap.heatmap()
    notes: tuple = ()

    @property
    def drifted(self) -> list[SiteDrift]:
        """Sites whose share grew into a finding over the points."""
        return [d for d, s in zip(self.drift, self.series) if d.grew and s["flagged"]]

    @property
    def exit_code(self) -> int:
        return int(bool(self.drifted))

    def to_dict(self) -> dict:
        from saturate_cli.report.model import jsonable

        return jsonable({
            "schema": "saturate-trend-1", "source": self.source, "points": list(self.labels),
            "onset": self.onset.to_dict() if self.onset else None,
            "drifted": [d.site for d in self.drifted], "exit_code": self.exit_code,
            "sites": [dict(s, drift=d.to_dict(), heatmap=self.heatmaps.get(s["site"]))
                      for s, d in zip(self.series, self.drift)],
            "notes": list(self.notes)})


def _series(name: str, points: list[Point]) -> dict:
    sites = [p.sites.get(name) for p in points]
    known = next(s for s in reversed(sites) if s)
    producer = (known.get("producer") or {}).get("weight")

    def of(site, key):
        if site is None:
            return None
        if key == "share":
            return share(site)
        if key == "mean_gain":
            return (site.get("saturation") or {}).get("mean_gain")
        return (site.get("stats") or {}).get(key)

    out = {"site": name, "kind": known.get("kind"), "producer": producer,
           "flagged": flagged(sites[-1])}
    out.update({key: [of(s, key) for s in sites] for key in SERIES})
    out["change"] = [p.changes.get(producer) if producer else None for p in points]
    return out


def trend_of(points: list[Point], source: str, notes: tuple = ()) -> Trend:
    if len(points) < 2:
        raise UsageError("a trend needs at least two points: give two or more checkpoints, or "
                         "a monitor log with two or more records")
    names = site_order(points)
    drift = attribute(points)
    return Trend(source, tuple(p.label for p in points),
                 tuple(_series(n, points) for n in names), tuple(drift), onset(drift, points),
                 {n: heatmap(n, points) for n in names}, tuple(notes))


def ordered(paths: list[str], sort: bool) -> list[str]:
    """The checkpoints in the order given, or sorted naturally (ckpt_2 before ckpt_10)."""
    from saturate_cli.calibration.walk import natural_key

    return sorted(paths, key=lambda p: natural_key(Path(p))) if sort else list(paths)


Inspect = Callable[[str, object], object]  # (target, settings) -> Report


def measure_checkpoints(targets: list[str], settings, weights: list[str],
                        inspect: Optional[Inspect] = None, say=None) -> list[Point]:
    """Each checkpoint measured on the same calibration data, with its producers' parameter
    change since the first checkpoint. `weights`: several state dicts of one factory target."""
    from saturate_cli.over_time.params import (
        producer_names,
        read_parameters,
        relative_change,
    )

    if inspect is None:
        from saturate_cli.pipeline import inspect_model as inspect
    runs = [(targets[0], w, Path(w).name) for w in weights] if weights else \
        [(t, None, Path(t).name) for t in targets]
    points, first = [], None
    for number, (target, weight, label) in enumerate(runs, 1):
        if say:
            say(f"trend: {number}/{len(runs)}: {label}")
        report = inspect(target, replace(settings, weights=weight) if weight else settings)
        doc = report.to_dict()
        names = producer_names({s["name"]: s for s in doc["sites"]})
        wanted = {n for pair in names.values() for n in pair if n}
        tensors = read_parameters(target, settings, wanted, weight)
        first = tensors if first is None else first
        changes = {w: relative_change(tensors, first, w, b) for w, b in names.values()}
        points.append(point_of_report(doc, label, {k: v for k, v in changes.items()
                                                   if v is not None}))
    return points


def trend_of_checkpoints(targets: list[str], settings, weights: list[str], sort: bool,
                         say=None) -> Trend:
    if weights and len(targets) != 1:
        raise UsageError("with --weights give one module:factory target; the state dicts are "
                         "its checkpoints")
    weights, targets = ordered(weights, sort), ordered(targets, sort)
    notes = () if settings.calibration else (
        "no --calibration: every checkpoint saw the same synthetic data (seeded); a trained "
        "model's drift shows best on real data",)
    return trend_of(measure_checkpoints(targets, settings, weights, say=say), "checkpoints",
                    notes)
