"""Renderers: each turns reports into one output format, and computes nothing."""

from __future__ import annotations

import importlib
from typing import Callable

from saturate_cli.report.model import Report, percent, plural

__all__ = ["FORMATS", "percent", "plural", "renderer"]  # wording helpers for every renderer

# format name -> module in this package exposing render(reports) -> str
FORMATS = {"text": "text", "json": "json_", "ndjson": "ndjson", "sarif": "sarif",
           "github": "github", "gitlab": "gitlab", "junit": "junit", "markdown": "markdown",
           "html": "html"}


def renderer(fmt: str) -> Callable[[list[Report]], str]:
    """The render function of a format."""
    return importlib.import_module(f"saturate_cli.render.{FORMATS[fmt]}").render
