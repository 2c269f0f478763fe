"""`saturate merge PART.json...`, and inspect's shard and engine branches (--shard, --workers,
--scheduler). Imports only the option types (and typer) at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

from saturate_cli.cli_options import (
    DebugOpt, Format, FormatOpt, OutputOpt, path_argument, path_option)


def merge(
    parts: Annotated[List[Path], path_argument(
        help="Partial reports written by `saturate inspect --shard K/N -o PART.json`, one per "
             "shard (any order).", show_default=False, dir_okay=False)],
    format: FormatOpt = Format.text,
    output: OutputOpt = None,
    step_summary: Annotated[Optional[Path], path_option(
        "--step-summary", help="Also append a markdown summary to this file.",
        dir_okay=False, show_default=False)] = None,
    debug: DebugOpt = False,
) -> None:
    """Fold the shards' partial reports into the full report (same numbers, findings and exit
    code as one run over all the batches)."""
    from saturate_cli.cli_guard import guarded

    guarded(lambda: _merge(parts, format.value, output, step_summary), debug)


def _merge(parts: list, fmt: str, output: Optional[Path], step_summary: Optional[Path]) -> int:
    from saturate_cli.cli_io import emit
    from saturate_cli.shard.merge import merge_partials
    from saturate_cli.shard.partial import read_partial

    report = merge_partials([read_partial(str(p)) for p in parts])
    emit([report], fmt, output, step_summary)
    return report.exit_code


def write_shard(params: dict, settings, batch_given: bool) -> int:
    """inspect --shard K/N: measure that shard and write its partial report (JSON)."""
    import sys

    from saturate_cli.cli_io import write_atomic
    from saturate_cli.pipeline import inspect_model
    from saturate_cli.shard.partial import Recorder, to_text
    from saturate_cli.shard.select import parse_shard

    target = _one_model(params, "--shard")
    shard = parse_shard(settings.shard)
    recorder = Recorder(shard.keeps, shard)
    inspect_model(target, settings, None, batch_given, recorder=recorder)
    if recorder.partial["interrupted"]:  # a shard that cannot be merged is not written
        raise KeyboardInterrupt
    text = to_text(recorder.partial)
    if params.get("output") is not None:
        write_atomic(params["output"], text)
    else:
        sys.stdout.write(text)
    return 0


def on_engine(params: dict, settings, batch_given: bool) -> list:
    """inspect --workers N / --scheduler ADDRESS: the report, its shards run on Dask."""
    from saturate_cli.shard.dask_engine import inspect_on_dask

    return [inspect_on_dask(_one_model(params, "--workers/--scheduler"), settings, batch_given)]


def _one_model(params: dict, option: str) -> str:
    from saturate_cli.errors import UsageError

    if len(params["models"]) != 1:
        raise UsageError(f"{option} takes one model at a time ({len(params['models'])} given)")
    if params.get("baseline") and option == "--shard":
        raise UsageError(f"{option} does not take --baseline; compare the merged JSON report "
                         "with `saturate diff`")
    if params.get("shard") and (params.get("workers") or params.get("scheduler")):
        raise UsageError("--shard is one shard run by hand; --workers/--scheduler run them all: "
                         "choose one")
    return params["models"][0]
