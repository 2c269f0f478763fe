"""JSON: one report object for one model, {"reports": [...]} for several."""

from __future__ import annotations

import json

from saturate_cli.report.model import SCHEMA_VERSION, Report


def document(reports: list[Report]) -> dict:
    """The JSON document: a report, or a list of reports under one schema version."""
    if len(reports) == 1:
        return reports[0].to_dict()
    return {"schema_version": SCHEMA_VERSION, "reports": [r.to_dict() for r in reports],
            "exit_code": max(r.exit_code for r in reports)}


def render(reports: list[Report]) -> str:
    return json.dumps(document(reports), indent=2, allow_nan=False) + "\n"
