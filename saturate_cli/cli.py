"""The `saturate` command line. Thin: parse options, call the pipeline, render, exit.

Heavy libraries (numpy, onnx, onnxruntime, torch) are imported inside the commands only, so
`saturate --help` stays fast.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from saturate_cli import __version__
from saturate_cli.cli_guard import fail, guarded
from saturate_cli.cli_settings import configure, given_options
from saturate_cli.cli_io import emit, progress, say, write_atomic
from saturate_cli.cli_options import (
    DATA, ENGINE, INPUTS, MEASURE, PYTORCH, RULES, RUN, ExitZeroOpt, FailOn, FailOnOpt, Format,
    FormatOpt, OutputOpt, path_option, takes)

app = typer.Typer(
    name="saturate",
    help="Find saturated activations and dead units in neural networks (ONNX and PyTorch).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"saturate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
) -> None:
    """Find saturated activations and dead units in neural networks (ONNX and PyTorch)."""


@app.command()
@takes(DATA, INPUTS, MEASURE, PYTORCH, ENGINE, RULES, RUN)
def inspect(
    ctx: typer.Context,
    models: Annotated[List[str], typer.Argument(
        help="Model files (.onnx, .pt2, TorchScript) or module:factory targets "
             "(with --weights for a state dict).", show_default=False)],
    format: FormatOpt = Format.text,
    output: OutputOpt = None,
    fail_on: FailOnOpt = FailOn.error,
    exit_zero: ExitZeroOpt = False,
    baseline: Annotated[Optional[str], typer.Option(
        "--baseline", help="A previous --format json report: its findings are suppressed; only "
                           "new or worse ones count.", show_default=False)] = None,
    update_baseline: Annotated[bool, typer.Option(
        "--update-baseline", help="Write this run's report to the --baseline file.")] = False,
    step_summary: Annotated[Optional[Path], path_option(
        "--step-summary", help="Also append a markdown summary to this file (e.g. "
                               "$GITHUB_STEP_SUMMARY).", dir_okay=False,
        show_default=False)] = None,
    **options,
) -> None:
    """Measure the inputs of every activation on calibration data and flag saturation."""
    guarded(lambda: _inspect(ctx.params, configure(ctx, options["verbose"]),
                             "batch_size" in given_options(ctx)), options["debug"])


def _inspect(params: dict, run, batch_given: bool = False) -> int:
    """Inspect every model, then write the output; returns the exit code."""
    from saturate_cli.cli_settings import settings_from
    from saturate_cli.report.model import MultiReport

    settings = settings_from(params, run)
    batch_given = batch_given or "batch_size" in run.overrides
    if settings.shard:  # a partial report for `saturate merge` (cli_merge.py)
        from saturate_cli.cli_merge import write_shard

        return write_shard(params, settings, batch_given)
    known = _load_baseline(run)  # a bad baseline stops the run before the analysis
    bar, factory = progress(params["quiet"])
    if bar is not None:
        bar.start()
    try:
        if settings.workers or settings.scheduler:  # shards on Dask (shard/dask_engine.py)
            from saturate_cli.cli_merge import on_engine

            reports = on_engine(params, settings, batch_given)
        else:
            reports = _inspect_all(params["models"], settings, factory, batch_given)
    finally:
        if bar is not None:
            bar.stop()
    for r in reports:
        if r.partial:
            say(f"interrupted: {r.model['path']}: {r.problem}")
    reports = _baselined(reports, run, known, settings)
    emit(reports, run.format, params["output"], params["step_summary"], params["verbose"])
    return MultiReport(tuple(reports)).exit_code


def _inspect_all(models: list[str], settings, factory, batch_given: bool) -> list:
    """Each model's report. With several models, one that cannot be inspected is one line on
    stderr and an unreadable record (exit 2), and the others still run; Ctrl-C stops the run."""
    from saturate_cli.errors import SaturateError
    from saturate_cli.pipeline import inspect_model
    from saturate_cli.report.model import Report

    reports = []
    for target in models:
        if any(r.partial for r in reports):  # interrupted: the models after it are not started
            reports.append(Report.unreadable(target, "interrupted (Ctrl-C) before this model",
                                             settings.fail_on))
            continue
        try:
            reports.append(inspect_model(target, settings, factory, batch_given))
        except SaturateError as exc:
            if len(models) == 1:
                raise
            message = " ".join(str(exc).split())
            say(f"error: {message}")
            reports.append(Report.unreadable(target, message, settings.fail_on))
    return reports


def _baselined(reports, run, known, settings):
    """--update-baseline writes this run's report; --baseline suppresses known findings."""
    from saturate_cli.render import renderer

    if run.update_baseline:
        write_atomic(Path(run.baseline), renderer("json")(reports))
        known = _load_baseline(run, written=True)
    if known is None:
        return reports
    from saturate_cli.baseline import apply_baseline

    return apply_baseline(reports, known, settings.baseline_tolerance)


def _load_baseline(run, written: bool = False):
    """The baseline to compare with (None without one, or before --update-baseline wrote it)."""
    if not run.baseline or (run.update_baseline and not written):
        return None
    from saturate_cli.baseline import load_baseline

    return load_baseline(run.baseline)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the --format json report."""
    from importlib.resources import files

    sys.stdout.write(files("saturate_cli.schemas").joinpath("report-v1.schema.json").read_text())


@app.command()
def rules(code: Annotated[Optional[str], typer.Argument(help="A rule code, e.g. SAT001.")] = None
          ) -> None:
    """List the rule codes, or explain one."""
    from saturate_cli.diagnose.rules import RULES

    if code is None:
        for r in RULES.values():
            typer.echo(f"{r.code}  {r.name:<20} {r.severity:<8} {r.summary}")
        return
    r = RULES.get(code.upper())
    if r is None:
        raise fail(f"unknown rule '{code}'; `saturate rules` lists them")
    typer.echo(f"{r.code} ({r.name}), default severity {r.severity}\n\n{r.summary}.\n\n"
               f"{r.explanation}\n\nRemedy: {r.remedy}")


# Commands in their own modules: (module, function). Each module imports only typer and the
# option types at import time, so `saturate --help` stays fast.
COMMANDS = (("saturate_cli.cli_fix", "fix"), ("saturate_cli.cli_over_time", "diff"),
            ("saturate_cli.cli_over_time", "trend"), ("saturate_cli.cli_show", "show"),
            ("saturate_cli.cli_merge", "merge"))
for _module, _name in COMMANDS:
    app.command()(getattr(importlib.import_module(_module), _name))


def main() -> None:
    """The command line, ending in SystemExit (run() below is what the process starts)."""
    app()


def run() -> None:
    """The process's entry point (console script, `python -m saturate_cli`): main(), then an
    exit that skips the interpreter's teardown. Freeing the modules and objects of numpy, onnx,
    onnxruntime and typer one by one costs 0.1-0.2 s at the end of every run, and the
    operating system takes the memory back at once anyway. What an exit must do is still done:
    threads still running are waited for (a plain exit then, as for codes outside 0-255 and
    messages, which os._exit cannot give), exit handlers run (atexit, which cleans up
    temporary folders too), stdout and stderr are flushed (a plain exit when that fails, so its
    errors read as before), and so is what C code buffered in C's stdio."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
    if not isinstance(code, int) or not 0 <= code <= 255 or _threads_running():
        raise SystemExit(code)
    atexit._run_exitfuncs()  # what the interpreter's exit runs once threads are done
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None
    _flush_c_stdio()
    os._exit(code)


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers (printf from C extensions into a pipe or file), which exit()
    would flush and os._exit does not. Only when ctypes is loaded: numpy, onnx, onnxruntime and
    torch, the C code that could have written, all import it (`--help` does not pay for it)."""
    ctypes = sys.modules.get("ctypes")
    if ctypes is None or os.name != "posix":
        return
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to open: nothing buffered to lose
        pass


def _threads_running() -> bool:
    """Threads an exit would wait for (non-daemon ones besides this)."""
    return any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread())
