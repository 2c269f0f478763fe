"""GitHub Actions workflow commands: one ::error/::warning/::notice line per finding, and an
::error line for a model not inspected or inspected only in part (interrupted).

Escaping as in actions/toolkit (packages/core/src/command.ts): the message escapes % CR LF; the
properties (file, title) also escape : and ,.
"""

from __future__ import annotations

from saturate_cli.paths import relative_to_cwd
from saturate_cli.report.model import Report

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(severity: str, file: str, title: str, message: str) -> str:
    props = f"file={escape_property(file)},line=1,title={escape_property(title)}"
    return f"::{COMMAND[severity]} {props}::{escape_data(message)}"


def render(reports: list[Report]) -> str:
    lines = []
    for r in reports:
        path = relative_to_cwd(r.model["path"])
        if r.problem is not None:  # unreadable or partial: the verdict is not a full one
            lines.append(annotation("error", path, "saturate", r.problem))
        for f in r.findings:
            lines.append(annotation(f.severity, path, f"{f.code} {f.site}",
                                    f.sited_message))
    return "".join(line + "\n" for line in lines)
