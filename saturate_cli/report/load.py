"""Read a `--format json` report back into Report objects (the inverse of Report.to_dict)."""

from __future__ import annotations

import json
from pathlib import Path

from saturate_cli.errors import SaturateError
from saturate_cli.report.model import FindingReport, Report, SiteReport


class ReportFileError(SaturateError):
    """A file that is not a saturate JSON report."""


def _finding(d: dict, site: str) -> FindingReport:
    return FindingReport(code=d["code"], name=d.get("name", ""), severity=d["severity"],
                         message=d.get("message", ""), site=d.get("site", site),
                         cause=d.get("cause"), suggestions=tuple(d.get("suggestions", ())),
                         baseline=d.get("baseline"))


def _site(d: dict) -> SiteReport:
    return SiteReport(name=d["name"], input=d.get("input", ""), op=d.get("op", ""),
                      kind=d["kind"], params=dict(d.get("params") or {}),
                      producer=d.get("producer"), stats=dict(d["stats"]),
                      histogram=dict(d.get("histogram") or {"edges": [], "counts": []}),
                      saturation=dict(d["saturation"]),
                      findings=tuple(_finding(f, d["name"]) for f in d.get("findings", ())))


def report_from_dict(d: dict) -> Report:
    """One model's report from its JSON object (`Report.to_dict()`)."""
    summary = d.get("summary", {})
    settings = dict(d.get("settings") or {})
    model_findings = tuple(_finding(f, f.get("site", "model")) for f in d.get("model_findings", ()))
    return Report(tool=dict(d.get("tool") or {}), model=dict(d["model"]),
                  calibration=dict(d.get("calibration") or {}), settings=settings,
                  sites=tuple(_site(s) for s in d.get("sites", ())),
                  not_covered=tuple(d.get("not_covered", ())), model_findings=model_findings,
                  depth_profile=tuple(d.get("depth_profile", ())), notes=tuple(d.get("notes", ())),
                  fail_on=settings.get("fail_on", summary.get("fail_on", "error")),
                  suppressed=tuple(_finding(f, f.get("site", "")) for f in d.get("suppressed", ())),
                  error=d.get("error"))


def reports_from_json(doc: dict) -> list[Report]:
    """A JSON document of one report or of several ({"reports": [...]})."""
    if not isinstance(doc, dict):
        raise ReportFileError("not a saturate JSON report (expected an object)")
    docs = doc["reports"] if "reports" in doc else [doc]
    try:
        return [report_from_dict(r) for r in docs]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ReportFileError(f"not a saturate JSON report (missing or malformed {exc})") from None


def load_reports(path: Path) -> list[Report]:
    """Reports from a JSON file written by `saturate inspect -f json`."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReportFileError(f"{path}: cannot read the report: {exc}") from None
    try:
        return reports_from_json(doc)
    except ReportFileError as exc:
        raise ReportFileError(f"{path}: {exc}") from None
