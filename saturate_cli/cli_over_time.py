"""`saturate diff` and `saturate trend`: the same sites compared over training."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from saturate_cli.cli_options import (BatchSizeOpt, CalibrationOpt, DebugOpt, DeviceOpt,
                                      FactoryArgOpt, InputShapeOpt, OutputOpt, SamplesOpt,
                                      SeedOpt, TauOpt, TrustPickleOpt)
from saturate_cli.settings import DEFAULTS

MAX_WORSENING = 0.05  # kept equal to over_time.diff.MAX_WORSENING (checked by a test)


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class TrendFormat(str, Enum):
    text = "text"
    json = "json"
    html = "html"


def _write(text: str, output: Optional[Path]) -> None:
    import sys

    from saturate_cli.cli_io import write_atomic

    if output is not None:
        write_atomic(output, text)
    else:
        sys.stdout.write(text)


def diff(
    before: Annotated[Path, typer.Argument(help="The older report (saturate inspect -f json).",
                                           dir_okay=False, show_default=False)],
    after: Annotated[Path, typer.Argument(help="The newer report.", dir_okay=False,
                                          show_default=False)],
    format: Annotated[DiffFormat, typer.Option("--format", "-f",
                                               help="Output format.")] = DiffFormat.text,
    output: OutputOpt = None,
    max_worsening: Annotated[float, typer.Option(
        "--max-worsening", min=0.0, max=1.0,
        help="Exit 1 when a site's saturated share (dead units, collapsed rows) grows by more "
             "than this (0.05 = 5 points).")] = MAX_WORSENING,
    debug: DebugOpt = False,
) -> None:
    """Site-by-site change between two JSON reports; exit 1 on a regression beyond
    --max-worsening, not on old debt."""
    from saturate_cli.cli_guard import guarded

    guarded(lambda: _diff(before, after, format.value, output, max_worsening), debug)


def _diff(before: Path, after: Path, fmt: str, output: Optional[Path], max_worsening: float
          ) -> int:
    from saturate_cli.over_time.diff import diff_files
    from saturate_cli.over_time.diff_render import RENDERERS

    result = diff_files(before, after, max_worsening)
    _write(RENDERERS[fmt](result), output)
    return result.exit_code
