"""Which remedy each flagged site gets, in execution order.

A dead-unit finding is recycled under --recycle; a site whose findings suggest a normalisation
gets one under --norm; otherwise the finding's first rescale or bias shift is applied (with the
shift a rescale says follows it).
"""

from __future__ import annotations

from typing import Optional

from saturate_cli.activations import get_kind
from saturate_cli.remedies.options import NORM_REMEDIES, PARAMETER_REMEDIES, FixOptions
from saturate_cli.report.model import Report, SiteReport

DEAD_UNITS = "SAT101"


def next_fix(report: Report, done: set, options: FixOptions
             ) -> Optional[tuple[SiteReport, list[dict]]]:
    """The next site to change and its remedies (applied in order), or None."""
    for site in report.sites:
        if site.name in done:
            continue
        remedies = remedies_for(site, options)
        if remedies:
            return site, remedies
    return None


def remedies_for(site: SiteReport, options: FixOptions) -> list[dict]:
    """The remedies this run applies to one site ([] when none applies)."""
    flagged = [f for f in site.findings if f.severity != "info"]
    units = site.saturation.get("dead_unit_indices") or []
    if options.recycle and units and any(f.code == DEAD_UNITS for f in flagged):
        return [{"kind": "recycle", "units": list(units), "codes": [DEAD_UNITS]}]
    if options.norm:
        for f in flagged:
            tip = next((t for t in f.suggestions if t["kind"] in NORM_REMEDIES), None)
            if tip is not None:
                return [dict(tip, mode=options.norm, codes=sorted({g.code for g in flagged}))]
    candidates = [(f.code, _parameter_remedy(f.suggestions)) for f in flagged]
    candidates = [(c, r) for c, r in candidates if r]
    if not candidates:
        return []
    _, best = max(candidates, key=lambda c: len(c[1]))  # rescale-then-shift answers both
    codes = sorted({c for c, _ in candidates})
    return [dict(t, codes=codes) for t in best]


def _parameter_remedy(tips) -> list[dict]:
    """A finding's first rescale or shift, and the shift that follows a rescale (if any)."""
    for i, tip in enumerate(tips):
        if tip["kind"] in PARAMETER_REMEDIES:
            then = [t for t in tips[i + 1:] if t.get("after_factor") is not None
                    and t["kind"] in PARAMETER_REMEDIES]
            return [tip] + then[:1]
    return []


def preserving(tip: dict) -> bool:
    """Remedies that must leave the model's outputs unchanged."""
    return tip["kind"] == "recycle" or tip.get("mode") == "preserve"


def targeted(site: SiteReport, tip: dict) -> set:
    """The (site, code) findings a remedy is meant to remove (none for a preserving norm)."""
    if tip.get("mode") == "preserve":
        return set()
    return {(site.name, c) for c in tip.get("codes", ())}


def tensors_of(site: SiteReport, tip: dict) -> list[str]:
    """The parameters a rescale or shift changes (the norm's, when one precedes the site)."""
    p = site.producer or {}
    if p.get("norm"):  # PyTorch norms are modules: their parameters are <path>.weight / .bias
        both = [p.get("norm_scale") or f"{p['norm']}.weight",
                p.get("norm_bias") or f"{p['norm']}.bias"]
        names = both if tip["kind"] != "shift_bias" else both[1:]
    else:
        names = [p.get("weight"), p.get("bias")] if tip["kind"] != "shift_bias" else \
            [p.get("bias")]
    return [n for n in names if n]


def numbers_of(tip: dict) -> dict:
    """The figures of a remedy for the plan."""
    keys = ("factor", "amount", "units", "amounts", "current_std", "recommended_std",
            "after_factor", "temperature", "channels", "layer")
    return {k: tip[k] for k in keys if tip.get(k) is not None}


def init_std(site: SiteReport) -> float:
    """The std a recycled unit's incoming weights are drawn with: He or Xavier (with the
    kind's gain), as the kind wants."""
    producer = site.producer or {}
    scheme = get_kind(site.kind).init
    return float(producer.get("he_std" if scheme == "he" else "xavier_std") or 0.0)
