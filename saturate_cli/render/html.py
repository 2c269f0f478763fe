"""The HTML report: one self-contained offline page (inline SVG, no script, no network)."""

from __future__ import annotations

from html import escape

from saturate_cli.report.model import Report


def render(reports: list[Report]) -> str:
    """A standalone HTML document for one or several models."""
    body = "".join(f"<section><h2>{escape(str(r.model['path']))}</h2>"
                   f"<p>status {escape(r.status)}</p></section>" for r in reports)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>saturate report</title></head><body>" + body + "</body></html>\n")
