"""NDJSON: one JSON record per line, each with "type" and "schema_version".

Per model, in order: one "site" record per activation site, one "finding" record per finding,
one "suppressed" record per finding the baseline accepted, one "note" record per note, and a
closing "summary" record (with "partial": true when the run was interrupted). A model that could
not be inspected has an "error" record, its note and its summary (exit_code 2).
"""

from __future__ import annotations

import json

from saturate_cli.report.model import SCHEMA_VERSION, Report, jsonable


def _record(kind: str, model: str, body: dict) -> str:
    doc = {"type": kind, "schema_version": SCHEMA_VERSION, "model": model, **body}
    return json.dumps(jsonable(doc), allow_nan=False, separators=(",", ":"))


def records(report: Report) -> list[str]:
    """The lines of one model's report."""
    model = report.model["path"]
    lines = [] if report.error is None else [_record("error", model, {"error": report.error})]
    lines += [_record("site", model, s.to_dict()) for s in report.sites]
    lines += [_record("finding", model, dict(f.to_dict(), site=f.site)) for f in report.findings]
    lines += [_record("suppressed", model, dict(f.to_dict(), site=f.site))
              for f in report.suppressed]
    lines += [_record("note", model, {"note": n}) for n in report.notes]
    lines.append(_record("summary", model, report.summary()))
    return lines


def render(reports: list[Report]) -> str:
    return "".join(line + "\n" for r in reports for line in records(r))
