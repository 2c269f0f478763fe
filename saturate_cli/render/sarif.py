"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One run for all models. A model file is binary, so each result points at line 1 of it and carries
its own stable primaryLocationLineHash built from rule + site. The invocation records the exit
code; a model not inspected or inspected only in part (interrupted) is an error notification.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from saturate_cli import __version__
from saturate_cli.diagnose.rules import RULES, Rule
from saturate_cli.paths import relative_to_cwd
from saturate_cli.report.model import FindingReport, MultiReport, Report, fingerprint

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/saturate-cli/"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "info": "recommendation"}


def rule_descriptor(r: Rule) -> dict:
    return {
        "id": r.code,
        "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.explanation},
        "help": {"text": f"{r.explanation}\n\nRemedy: {r.remedy}",
                 "markdown": f"{r.explanation}\n\n**Remedy:** {r.remedy}"},
        "defaultConfiguration": {"level": LEVEL[r.severity]},
        "properties": {"tags": ["ml", "activation"], "precision": "high",
                       "problem.severity": PROBLEM_SEVERITY[r.severity]},
    }


def artifact_location(model_path: str) -> dict:
    """Relative to the checkout (%SRCROOT%) when the model lies under the working directory."""
    rel = relative_to_cwd(model_path)
    if rel.startswith("/"):
        return {"uri": "file://" + quote(rel)}
    return {"uri": quote(rel), "uriBaseId": "%SRCROOT%"}


def line_hash(f: FindingReport) -> str:
    return f"{fingerprint(f.code, f.site)}:1"


def result(f: FindingReport, model_path: str, rule_index: dict, suppressed: bool) -> dict:
    out = {
        "ruleId": f.code,
        "ruleIndex": rule_index[f.code],
        "level": LEVEL[f.severity],
        "message": {"text": f.sited_message},
        "locations": [{
            "physicalLocation": {"artifactLocation": artifact_location(model_path),
                                 "region": {"startLine": 1}},
            "logicalLocations": [{"fullyQualifiedName": f.site, "kind": "function"}],
        }],
        "partialFingerprints": {"primaryLocationLineHash": line_hash(f)},
        "properties": {"site": f.site, "severity": f.severity,
                       "suggestions": [s.get("rationale") for s in f.suggestions]},
    }
    if suppressed:
        out["suppressions"] = [{"kind": "external", "justification": "in the saturate baseline"}]
    return out


def invocation(reports: list[Report]) -> dict:
    """Whether the run completed, its exit code, and one notification per incomplete model."""
    notes = [{"level": "error", "message": {"text": r.problem},
              "locations": [{"physicalLocation": {
                  "artifactLocation": artifact_location(r.model["path"])}}]}
             for r in reports if r.problem is not None]
    return {"executionSuccessful": not notes,
            "exitCode": MultiReport(tuple(reports)).exit_code,
            "toolExecutionNotifications": notes}


def document(reports: list[Report]) -> dict:
    rule_index = {code: i for i, code in enumerate(RULES)}
    results = [result(f, r.model["path"], rule_index, False) for r in reports for f in r.findings]
    results += [result(f, r.model["path"], rule_index, True)
                for r in reports for f in r.suppressed]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "saturate", "version": __version__,
                                "informationUri": INFORMATION_URI,
                                "rules": [rule_descriptor(r) for r in RULES.values()]}},
            "invocations": [invocation(reports)],
            "automationDetails": {"id": "saturate/"},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def render(reports: list[Report]) -> str:
    return json.dumps(document(reports), indent=2) + "\n"
