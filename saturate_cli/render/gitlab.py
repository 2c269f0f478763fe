"""GitLab Code Quality: a JSON array of issues with unique fingerprints.

Format: https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format
"""

from __future__ import annotations

import hashlib
import json

from saturate_cli.paths import relative_to_cwd
from saturate_cli.report.model import Report

SEVERITY = {"error": "major", "warning": "minor", "info": "info"}


def issue_fingerprint(code: str, path: str, site: str) -> str:
    """sha256 of rule, model path and site: stable across runs, unique per finding."""
    return hashlib.sha256("\0".join((code, path, site)).encode()).hexdigest()


def issues(reports: list[Report]) -> list[dict]:
    out, seen = [], set()

    def add(check: str, site: str, severity: str, description: str, path: str) -> None:
        fp = issue_fingerprint(check, path, site)
        while fp in seen:  # the same model listed twice: keep GitLab from hiding one
            fp = hashlib.sha256(fp.encode()).hexdigest()
        seen.add(fp)
        out.append({"description": description, "check_name": check, "fingerprint": fp,
                    "severity": severity, "location": {"path": path, "lines": {"begin": 1}}})

    for r in reports:
        path = relative_to_cwd(r.model["path"])
        if r.problem is not None:  # unreadable or partial (interrupted)
            add("saturate", "", "blocker" if r.error else "major", r.problem, path)
        for f in r.findings:
            add(f.code, f.site, SEVERITY[f.severity], f.sited_message, path)
    return out


def render(reports: list[Report]) -> str:
    return json.dumps(issues(reports), indent=2) + "\n"
