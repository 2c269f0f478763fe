"""The proof of a fix: how far every model output moved on held-out data, how each changed
site's saturated share moved, and whether the targeted findings are gone."""

from __future__ import annotations

import numpy as np

from saturate_cli.report.model import Report

FLAGGED = ("warning", "error")


def flatten_outputs(value, name: str = "output") -> dict:
    """Named float64 arrays from whatever a model returns (arrays, tuples, dicts)."""
    if isinstance(value, dict) or hasattr(value, "items") and callable(value.items):
        return {k: v for key, item in value.items()
                for k, v in flatten_outputs(item, f"{name}.{key}").items()}
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return flatten_outputs(value[0], name)
        return {k: v for i, item in enumerate(value)
                for k, v in flatten_outputs(item, f"{name}.{i}").items()}
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    return {name: array.astype(np.float64)} if array.dtype.kind in "fiub" else {}


def deviations(before: list[dict], after: list[dict]) -> list[dict]:
    """Per output over all batches: max |after - before|, and that over max |before|."""
    out = {}
    for b, a in zip(before, after):
        for name, x in b.items():
            y = a.get(name)
            diff = np.inf if y is None or y.shape != x.shape else \
                float(np.max(np.abs(y - x), initial=0.0))
            scale = float(np.max(np.abs(x), initial=0.0))
            d, s = out.get(name, (0.0, 0.0))
            out[name] = (max(d, diff), max(s, scale))
    return [{"output": name, "max_abs": d, "max_rel": d / s if s > 0 else (0.0 if d == 0
                                                                            else np.inf)}
            for name, (d, s) in out.items()]


def within(devs: list[dict], tolerance: float) -> bool:
    """True when every output moved at most `tolerance` (relative to max(1, max |before|))."""
    return all(d["max_abs"] <= tolerance or d["max_rel"] <= tolerance for d in devs)


def _flagged(report: Report, sites: set) -> set:
    return {(s.name, f.code) for s in report.sites if s.name in sites
            for f in s.findings if f.severity in FLAGGED}


def site_changes(before: Report, after: Report, sites: list, renamed: dict) -> list[dict]:
    """Per changed site: saturated share and dead units before and after, findings left."""
    now = {s.name: s for s in after.sites}
    out = []
    for site in before.sites:
        if site.name not in sites:
            continue
        later = now.get(renamed.get(site.name, site.name))
        out.append({
            "site": site.name, "saturated_before": site.saturation.get("fraction"),
            "saturated_after": None if later is None else later.saturation.get("fraction"),
            "dead_units_before": site.saturation.get("dead_units"),
            "dead_units_after": None if later is None else later.saturation.get("dead_units"),
            "findings_before": sorted({f.code for f in site.findings if f.severity in FLAGGED}),
            "findings_after": [] if later is None else sorted(
                {f.code for f in later.findings if f.severity in FLAGGED})})
    return out


def targets_gone(before: Report, after: Report, targeted: set, renamed: dict) -> list:
    """The targeted (site, code) findings still flagged after the fix (empty: all gone)."""
    left = _flagged(after, {renamed.get(s, s) for s, _ in targeted})
    back = {v: k for k, v in renamed.items()}
    return sorted((back.get(s, s), c) for s, c in left if (back.get(s, s), c) in targeted)
