"""Baselines: a previous --format json report whose findings are accepted for now.

A finding matches the baseline by fingerprint (rule + site) and, when several models are
involved, by model path too; never by numbers that drift with retraining. A matched finding is
suppressed (kept in the report, not counted) unless it got worse: its severity rose, or its
measured fraction grew by more than the tolerance.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from saturate_cli.errors import UsageError
from saturate_cli.paths import relative_to_cwd
from saturate_cli.report.model import SEVERITY_RANK, FindingReport, Report

BASELINE_REASON = "suppressed"


@dataclass(frozen=True)
class Accepted:
    """What the baseline recorded for one finding."""

    severity: str
    metric: Optional[float]


@dataclass(frozen=True)
class Baseline:
    path: str
    models: tuple[str, ...]
    accepted: dict  # (model path, fingerprint) -> Accepted

    def lookup(self, model: str, fp: str, by_fingerprint_only: bool) -> Optional[Accepted]:
        if by_fingerprint_only:
            return next((a for (_, f), a in self.accepted.items() if f == fp), None)
        return self.accepted.get((model, fp))


def site_metric(code: str, saturation: Optional[dict]) -> Optional[float]:
    """The fraction a rule is about: dead units, collapsed rows, or saturated values."""
    sat = saturation or {}
    if code == "SAT101":
        return _ratio(sat.get("dead_units"), sat.get("units"))
    if code == "SAT201":
        return _ratio(sat.get("collapsed_rows"), sat.get("rows"))
    value = sat.get("fraction")
    return float(value) if isinstance(value, (int, float)) else None


def _ratio(part, whole) -> Optional[float]:
    if not isinstance(part, (int, float)) or not isinstance(whole, (int, float)) or not whole:
        return None
    return part / whole


def model_key(path: str) -> str:
    return os.path.normpath(relative_to_cwd(path))


def load_baseline(path: str) -> Baseline:
    """Read a --format json report (one model or several); bad or missing files are UsageErrors."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"baseline '{path}': no such file (create it with --update-baseline)"
                         ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"baseline '{path}': not readable JSON ({exc})") from None
    reports = doc.get("reports", [doc]) if isinstance(doc, dict) else None
    if not isinstance(reports, list) or not all(_is_report(r) for r in reports):
        raise UsageError(f"baseline '{path}': not a saturate --format json report")
    accepted, models = {}, []
    for r in reports:
        model = model_key(str(r["model"]["path"]))
        models.append(model)
        for fp, entry in _findings_of(r, path):
            accepted[(model, fp)] = entry
    return Baseline(path=path, models=tuple(models), accepted=accepted)


def _is_report(r) -> bool:
    return (isinstance(r, dict) and r.get("schema_version") == "1"
            and isinstance(r.get("model"), dict) and isinstance(r["model"].get("path"), str)
            and isinstance(r.get("sites"), list))


def _findings_of(report: dict, path: str):
    """(fingerprint, Accepted) for every finding of a JSON report, suppressed ones included."""
    saturation = {s.get("name"): s.get("saturation") for s in report["sites"]
                  if isinstance(s, dict)}
    located = [(s.get("name"), f) for s in report["sites"] if isinstance(s, dict)
               for f in _as_list(s.get("findings", []))]
    for key in ("model_findings", "suppressed"):
        extra = report.get(key, [])
        if not isinstance(extra, list):
            raise UsageError(f"baseline '{path}': '{key}' is not a list")
        located += [(f.get("site") if isinstance(f, dict) else None, f) for f in extra]
    for site, f in located:
        if not isinstance(f, dict) or not isinstance(f.get("fingerprint"), str) \
                or f.get("severity") not in SEVERITY_RANK:
            raise UsageError(f"baseline '{path}': a finding without fingerprint or severity")
        yield f["fingerprint"], Accepted(f["severity"], site_metric(f.get("code", ""),
                                                                    saturation.get(site)))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def judge(f: FindingReport, accepted: Optional[Accepted], metric: Optional[float],
          tolerance: float) -> Optional[str]:
    """None when the baseline accepts the finding, else why it counts: "new" or "worse: ..."."""
    if accepted is None:
        return "new"
    if SEVERITY_RANK[f.severity] > SEVERITY_RANK[accepted.severity]:
        return f"worse: severity {accepted.severity} -> {f.severity}"
    if metric is not None and accepted.metric is not None \
            and metric - accepted.metric > tolerance:
        return f"worse: {accepted.metric:.3g} -> {metric:.3g} (tolerance {tolerance:g})"
    return None


def apply_baseline(reports: list[Report], baseline: Baseline, tolerance: float) -> list[Report]:
    """Each report with its accepted findings moved to `suppressed` and the rest marked."""
    by_fingerprint_only = len(reports) == 1 and len(baseline.models) == 1
    return [_apply_one(r, baseline, tolerance, by_fingerprint_only) for r in reports]


def _apply_one(report: Report, baseline: Baseline, tolerance: float, fp_only: bool) -> Report:
    model = model_key(report.model["path"])
    suppressed: list[FindingReport] = []

    def split(findings, saturation):
        kept = []
        for f in findings:
            verdict = judge(f, baseline.lookup(model, f.fingerprint, fp_only),
                            site_metric(f.code, saturation), tolerance)
            if verdict is None:
                suppressed.append(replace(f, baseline=BASELINE_REASON))
            else:
                kept.append(replace(f, baseline=verdict))
        return tuple(kept)

    sites = tuple(replace(s, findings=split(s.findings, s.saturation)) for s in report.sites)
    model_findings = split(report.model_findings, None)
    note = f"baseline {baseline.path}: {len(suppressed)} known finding(s) suppressed"
    return replace(report, sites=sites, model_findings=model_findings,
                   suppressed=report.suppressed + tuple(suppressed), notes=report.notes + (note,))
