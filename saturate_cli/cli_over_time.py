"""`saturate diff` and `saturate trend`: the same sites compared over training."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from saturate_cli.cli_options import (
    CODE, DATA, MEASURE, RUN, DebugOpt, OutputOpt, path_argument, path_option, takes)
from saturate_cli.settings import OVER_TIME

MAX_WORSENING = OVER_TIME.max_worsening


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
    before: Annotated[Path, path_argument(help="The older report (saturate inspect -f json).",
                                          dir_okay=False, show_default=False)],
    after: Annotated[Path, path_argument(help="The newer report.", dir_okay=False,
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


@takes(DATA, MEASURE, CODE, RUN)
def trend(
    ctx: typer.Context,
    checkpoints: Annotated[List[str], typer.Argument(
        help="Checkpoints of one model (.onnx, .pt2, TorchScript), one module:factory target "
             "with several --weights, or a monitor log (.jsonl).", show_default=False)],
    format: Annotated[TrendFormat, typer.Option("--format", "-f",
                                                help="Output format.")] = TrendFormat.text,
    output: OutputOpt = None,
    checkpoint_weights: Annotated[Optional[List[Path]], path_option(
        "--weights", help="State dicts of the module:factory target, one per checkpoint; "
                          "repeatable.", dir_okay=False, show_default=False)] = None,
    sort: Annotated[bool, typer.Option(
        "--sort", help="Sort the checkpoints naturally (ckpt_2 before ckpt_10) instead of "
                       "keeping the order given.")] = False,
    **options,
) -> None:
    """One calibration set through every checkpoint: a series per site, and where saturation
    drift starts (shift or scale, own layer or inherited) with its remedy. Exit 1 when a site's
    saturation grew into a finding."""
    from saturate_cli.cli_guard import guarded

    def body() -> int:
        from saturate_cli.cli_settings import configure

        return _trend(ctx.params, configure(ctx, options["verbose"]), format.value)

    guarded(body, options["debug"])


def _trend(params: dict, run, fmt: str) -> int:
    from saturate_cli.cli_io import say
    from saturate_cli.cli_settings import settings_from
    from saturate_cli.over_time.points import LOG_SUFFIXES, read_log
    from saturate_cli.over_time.trend import trend_of, trend_of_checkpoints

    targets = params["checkpoints"]
    weights = [str(w) for w in params.get("checkpoint_weights") or ()]
    if any(t.endswith(LOG_SUFFIXES) for t in targets):
        if len(targets) != 1 or weights:
            from saturate_cli.errors import UsageError

            raise UsageError("a monitor log is read alone: `saturate trend runs/sat.jsonl`")
        result = trend_of(read_log(Path(targets[0])), "log")
    else:
        settings = settings_from(params, run)
        result = trend_of_checkpoints(targets, settings, weights, params["sort"],
                                      None if params["quiet"] else say)
    _write(_render(result, fmt), params["output"])
    return result.exit_code


def _render(result, fmt: str) -> str:
    if fmt == "html":
        from saturate_cli.over_time.trend_html import render

        return render(result)
    from saturate_cli.over_time.trend_text import render_json, render_text

    return (render_json if fmt == "json" else render_text)(result)
