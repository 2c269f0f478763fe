"""Site-by-site change between two reports of one model, matched by site name.

A site *worsens* by the growth of the share it is judged by (saturated values, dead units or
collapsed rows; points.share); a site only the newer report has worsens by its whole share.
Worsening beyond `max_worsening` is a regression (exit 1): old debt that did not grow is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from saturate_cli.errors import UsageError
from saturate_cli.over_time.points import report_document, share
from saturate_cli.settings import OVER_TIME

# A site regresses when its judged share grows by more than this (0.05 = 5 percentage points).
# The same tolerance as a baselined finding's (settings.Thresholds/Settings.baseline_tolerance).
MAX_WORSENING = OVER_TIME.max_worsening  # default: settings.py
FIGURES = ("share", "mean_gain", "mean", "std", "dead_units")


def figures(site: Optional[dict]) -> dict:
    """The figures a diff compares, from one report's site dict (None where absent)."""
    if site is None:
        return {k: None for k in FIGURES}
    stats, sat = site.get("stats") or {}, site.get("saturation") or {}
    return {"share": share(site), "mean_gain": sat.get("mean_gain"), "mean": stats.get("mean"),
            "std": stats.get("std"), "dead_units": sat.get("dead_units")}


def _codes(site: Optional[dict]) -> dict:
    return {} if site is None else {f["code"]: f.get("severity") for f in site.get("findings", ())}


@dataclass(frozen=True)
class SiteChange:
    name: str
    presence: str  # "both", "new" (only in B) or "gone" (only in A)
    before: dict
    after: dict
    new_findings: tuple = ()  # (code, severity) in B, not in A
    gone_findings: tuple = ()

    @property
    def worsening(self) -> float:
        """Growth of the judged share (0 when it shrank or cannot be told)."""
        a, b = self.before["share"], self.after["share"]
        if b is None or self.presence == "gone":
            return 0.0
        return max(0.0, b - (a or 0.0))

    def to_dict(self) -> dict:
        delta = {k: (self.after[k] - self.before[k]) if None not in (self.after[k],
                                                                        self.before[k]) else None
                 for k in FIGURES}
        return {"name": self.name, "presence": self.presence, "before": self.before,
                "after": self.after, "change": delta, "worsening": self.worsening,
                "new_findings": [{"code": c, "severity": s} for c, s in self.new_findings],
                "gone_findings": [{"code": c, "severity": s} for c, s in self.gone_findings]}


@dataclass(frozen=True)
class Diff:
    before: str
    after: str
    sites: tuple
    max_worsening: float = MAX_WORSENING
    notes: tuple = field(default_factory=tuple)

    @property
    def regressions(self) -> list[SiteChange]:
        return [s for s in self.sites if s.worsening > self.max_worsening]

    @property
    def exit_code(self) -> int:
        return int(bool(self.regressions))

    def to_dict(self) -> dict:
        from saturate_cli.report.model import jsonable

        return jsonable({"before": self.before, "after": self.after,
                         "max_worsening": self.max_worsening,
                         "regressions": [s.name for s in self.regressions],
                         "exit_code": self.exit_code, "notes": list(self.notes),
                         "sites": [s.to_dict() for s in self.sites]})


def diff_reports(a: dict, b: dict, a_name: str, b_name: str,
                 max_worsening: float = MAX_WORSENING) -> Diff:
    """Compare two report documents (refused when they share no site: other models)."""
    sites_a = {s["name"]: s for s in a["sites"]}
    sites_b = {s["name"]: s for s in b["sites"]}
    if sites_a and sites_b and not set(sites_a) & set(sites_b):
        raise UsageError(f"{a_name} and {b_name} share no site name: they are not reports of "
                         "the same model")
    order = list(sites_a) + [n for n in sites_b if n not in sites_a]
    changes = []
    for name in order:
        sa, sb = sites_a.get(name), sites_b.get(name)
        ca, cb = _codes(sa), _codes(sb)
        presence = "both" if sa and sb else ("gone" if sa else "new")
        changes.append(SiteChange(
            name, presence, figures(sa), figures(sb),
            tuple((c, s) for c, s in cb.items() if c not in ca),
            tuple((c, s) for c, s in ca.items() if c not in cb)))
    notes = []
    ma, mb = a.get("model") or {}, b.get("model") or {}
    if ma.get("format") != mb.get("format"):
        notes.append(f"the models' formats differ ({ma.get('format')} / {mb.get('format')})")
    ta, tb = (a.get("settings") or {}).get("tau"), (b.get("settings") or {}).get("tau")
    if ta != tb:
        notes.append(f"measured with different tau ({ta} / {tb}): shares are not comparable")
    return Diff(a_name, b_name, tuple(changes), max_worsening, tuple(notes))


def diff_files(a: Path, b: Path, max_worsening: float = MAX_WORSENING) -> Diff:
    return diff_reports(report_document(a), report_document(b), str(a), str(b), max_worsening)
