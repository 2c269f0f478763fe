"""Markdown: a summary table and the findings, for PR comments and $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from saturate_cli.paths import relative_to_cwd
from saturate_cli.report.model import MultiReport, Report, plural

STATUS = {"clean": "✅ clean", "info": "ℹ️ info", "warning": "⚠️ warning", "error": "❌ error"}


def cell(text: str) -> str:
    """Table-cell safe: no pipes, no line breaks, no stray HTML or backticks."""
    return (" ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")
            .replace("<", "&lt;").replace(">", "&gt;").replace("`", "'"))


def _row(values) -> str:
    return "| " + " | ".join(values) + " |"


def summary_table(reports: list[Report]) -> list[str]:
    lines = [_row(["model", "sites", "flagged", "errors", "warnings", "info", "baselined",
                   "status"]),
             _row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---"])]
    for r in reports:
        s = r.summary()
        n = s["findings"]
        lines.append(_row([cell(relative_to_cwd(r.model["path"])), str(s["sites"]),
                           str(s["flagged"]), str(n["error"]), str(n["warning"]), str(n["info"]),
                           str(s["suppressed"]), STATUS[s["status"]]]))
    return lines


def findings_table(reports: list[Report]) -> list[str]:
    rows = [_row([f.severity, f.code, cell(relative_to_cwd(r.model["path"])), cell(f.site),
                  cell(f.message)])
            for r in reports for f in r.findings]
    if not rows:
        return ["No findings."]
    return [_row(["severity", "rule", "model", "site", "message"]),
            _row(["---", "---", "---", "---", "---"])] + rows


def render(reports: list[Report]) -> str:
    verdict = "fails" if MultiReport(tuple(reports)).exit_code else "passes"
    if any(r.partial for r in reports):
        verdict = "is partial (interrupted)"
    lines = ["## saturate", "", f"{plural(len(reports), 'model')}; the check {verdict}.", ""]
    lines += summary_table(reports) + ["", "### Findings", ""] + findings_table(reports)
    notes = [f"- {cell(relative_to_cwd(r.model['path']))}: {cell(n)}" for r in reports
             for n in r.notes]
    if notes:
        lines += ["", "### Notes", ""] + notes
    return "\n".join(lines) + "\n"
