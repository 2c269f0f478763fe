"""The `saturate` command line. Thin: parse options, call the pipeline, render, exit.

Heavy libraries (numpy, onnx, onnxruntime, torch) are imported inside the commands only, so
`saturate --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from saturate_cli import __version__
from saturate_cli.cli_fix import fix
from saturate_cli.cli_guard import fail, guarded
from saturate_cli.settings import DEFAULTS, SYNTHETIC_SAMPLES

app = typer.Typer(
    name="saturate",
    help="Find saturated activations and dead units in neural networks (ONNX and PyTorch).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    text = "text"
    json = "json"
    ndjson = "ndjson"
    sarif = "sarif"
    github = "github"
    gitlab = "gitlab"
    junit = "junit"
    markdown = "markdown"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


class Synthetic(str, Enum):
    normal = "normal"
    uniform = "uniform"
    zeros = "zeros"


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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_atomic(path: Path, text: str) -> None:
    """Write the whole output or nothing: a temp file in the same folder, then a rename. The
    file gets the permissions of any new file (0666 less the umask), not mkstemp's 0600."""
    import tempfile

    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _progress(quiet: bool):
    """A transient progress bar on stderr (rich hides it when stderr is not a terminal)."""
    if quiet:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:  # rich's own detection (honours TTY_* and CI variables)
        return None, None
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   console=console, transient=True)

    def factory(target: str, total: Optional[int]):
        task = bar.add_task(f"inspecting {Path(target).name}", total=total)
        return lambda n: bar.advance(task, n)

    return bar, factory


@app.command()
def inspect(
    ctx: typer.Context,
    models: Annotated[List[str], typer.Argument(
        help="Model files (.onnx, .pt2, TorchScript) or module:factory targets "
             "(with --weights for a state dict).", show_default=False)],
    format: Annotated[Format, typer.Option(
        "--format", "-f", envvar="SATURATE_FORMAT", help="Output format.")] = Format.text,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write the report here (only after the analysis succeeded).",
        dir_okay=False)] = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="Exit 1 when a finding is at or above this severity.")] = FailOn.error,
    exit_zero: Annotated[bool, typer.Option(
        "--exit-zero", help="Exit 0 even with findings (2 still means bad input).")] = False,
    calibration: Annotated[Optional[List[Path]], typer.Option(
        "--calibration", "-c", help="Calibration data: .npy, .npz, .pt/.pth, ONNX .pb, a folder "
                                    "of them (streamed) or of PNG/JPEG images; repeatable.")] = None,
    synthetic: Annotated[Synthetic, typer.Option(
        "--synthetic", help="Synthetic data when no --calibration is given.")] = Synthetic.normal,
    input_shape: Annotated[Optional[List[str]], typer.Option(
        "--input-shape", help="Shape of a dynamic input, e.g. x=1x3x224x224; repeatable.")] = None,
    samples: Annotated[Optional[int], typer.Option(
        "--samples", "-n", min=1, help="At most this many calibration samples (default: all of "
                                       f"the data given; {SYNTHETIC_SAMPLES} synthetic).",
        show_default=False)] = DEFAULTS.samples,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1,
                                            help="Samples per batch.")] = DEFAULTS.batch_size,
    seed: Annotated[int, typer.Option("--seed", help="Seed for synthetic data.")] = DEFAULTS.seed,
    int_range: Annotated[Optional[str], typer.Option(
        "--int-range", help="Synthetic integer inputs from [LO, HI), e.g. 0,30522 (default: the "
                            "embedding table's rows).", show_default=False)] = None,
    mask_padding: Annotated[bool, typer.Option(
        "--mask-padding", help="Synthetic attention masks get trailing zero padding per row."
    )] = False,
    mean: Annotated[Optional[str], typer.Option(
        "--mean", help="Image folders: per-channel mean (default: ImageNet 0.485,0.456,0.406).",
        show_default=False)] = None,
    std: Annotated[Optional[str], typer.Option(
        "--std", help="Image folders: per-channel std (default: ImageNet 0.229,0.224,0.225).",
        show_default=False)] = None,
    layout: Annotated[Optional[str], typer.Option(
        "--layout", help="Image folders: auto (from the input shape), nchw or nhwc.",
        show_default=False)] = None,
    tau: Annotated[float, typer.Option(
        "--tau", min=1e-6, max=0.5,
        help="Saturated where |f'| < tau * max|f'| (everywhere beyond).")] = DEFAULTS.tau,
    softmax_tau: Annotated[float, typer.Option(
        "--softmax-tau", min=1e-6, max=0.5,
        help="Softmax row collapsed when max probability > 1 - this.")] = DEFAULTS.softmax_tau,
    threads: Annotated[int, typer.Option("--threads", min=0,
                                         help="Intra-op threads (0: runtime default).")] = 0,
    device: Annotated[Optional[str], typer.Option(
        "--device", help="cpu or cuda (default: cpu).")] = None,
    memory_budget: Annotated[Optional[str], typer.Option(
        "--memory-budget", help="Refuse models/inputs needing more (default: half of RAM).")] = None,
    trust_pickle: Annotated[bool, typer.Option(
        "--trust-pickle", help="Allow loading pickled PyTorch modules: this RUNS CODE from the "
                               "file. Only for files you trust.")] = False,
    weights: Annotated[Optional[Path], typer.Option(
        "--weights", help="State dict (.pt/.pth/.safetensors) for a module:factory target.",
        dir_okay=False, show_default=False)] = None,
    factory_arg: Annotated[Optional[List[str]], typer.Option(
        "--arg", help="Keyword argument of a module:factory target, KEY=VALUE (Python literal "
                      "or text); repeatable.", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bar; the report, errors and -v's messages are "
                              "unchanged.")] = False,
    select: Annotated[Optional[List[str]], typer.Option(
        "--select", help="Only these rules: codes or prefixes (SAT1 = SAT1xx), comma-separated "
                         "or repeated.", show_default=False)] = None,
    ignore: Annotated[Optional[List[str]], typer.Option(
        "--ignore", help="Turn off these rules: codes or prefixes.", show_default=False)] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="Use this config file (saturate.toml or a pyproject.toml with "
                         "[tool.saturate]) instead of searching upward from the current folder.",
        dir_okay=False, show_default=False)] = None,
    baseline: Annotated[Optional[str], typer.Option(
        "--baseline", help="A previous --format json report: its findings are suppressed; only "
                           "new or worse ones count.", show_default=False)] = None,
    update_baseline: Annotated[bool, typer.Option(
        "--update-baseline", help="Write this run's report to the --baseline file.")] = False,
    step_summary: Annotated[Optional[Path], typer.Option(
        "--step-summary", help="Also append a markdown summary to this file (e.g. "
                               "$GITHUB_STEP_SUMMARY).", dir_okay=False,
        show_default=False)] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Say which config file is used (on stderr).")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """Measure the inputs of every activation on calibration data and flag saturation."""
    guarded(lambda: _inspect(ctx.params, _configure(ctx, verbose),
                             "batch_size" in _given(ctx)), debug)


def _inspect(params: dict, run, batch_given: bool = False) -> int:
    """Inspect every model, then write the output; returns the exit code."""
    from saturate_cli.cli_settings import settings_from
    from saturate_cli.report.model import MultiReport

    settings = settings_from(params, run)
    known = _load_baseline(run)  # a bad baseline stops the run before the analysis
    bar, factory = _progress(params["quiet"])
    if bar is not None:
        bar.start()
    try:
        reports = _inspect_all(params["models"], settings, factory,
                               batch_given or "batch_size" in run.overrides)
    finally:
        if bar is not None:
            bar.stop()
    for r in reports:
        if r.partial:
            _say(f"interrupted: {r.model['path']}: {r.problem}")
    reports = _baselined(reports, run, known, settings)
    _emit(reports, run.format, params["output"], params["step_summary"])
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
            _say(f"error: {message}")
            reports.append(Report.unreadable(target, message, settings.fail_on))
    return reports


def _baselined(reports, run, known, settings):
    """--update-baseline writes this run's report; --baseline suppresses known findings."""
    from saturate_cli.render import renderer

    if run.update_baseline:
        _write_atomic(Path(run.baseline), renderer("json")(reports))
        known = _load_baseline(run, written=True)
    if known is None:
        return reports
    from saturate_cli.baseline import apply_baseline

    return apply_baseline(reports, known, settings.baseline_tolerance)


def _emit(reports, fmt: str, output: Optional[Path], step_summary: Optional[Path]) -> None:
    """The report to -o (atomically) or stdout, and the markdown summary if asked."""
    from saturate_cli.render import renderer

    if output is not None:
        _write_atomic(output, renderer(fmt)(reports))
    elif fmt == "text":
        from rich.console import Console

        from saturate_cli.render.text import print_reports

        print_reports(reports, Console())
    else:
        sys.stdout.write(renderer(fmt)(reports))
    if step_summary is not None:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(renderer("markdown")(reports))


def _configure(ctx: typer.Context, verbose: bool):
    """CLI values the user gave > the config file > defaults (see saturate_cli/config.py)."""
    from saturate_cli.config import resolve

    run = resolve(ctx.params, _given(ctx), Path.cwd(), ctx.params.get("config"))
    if verbose:
        _say(f"config: {run.config_path}" if run.config_path else
             "config: none found (searched upward from the current folder)")
    return run


def _given(ctx: typer.Context) -> set:
    """The options the user gave (command line or environment), not defaults."""
    return {name for name in ctx.params  # by name: typer may vendor its own click
            if getattr(ctx.get_parameter_source(name), "name", "") in ("COMMANDLINE",
                                                                        "ENVIRONMENT")}


def _load_baseline(run, written: bool = False):
    """The baseline to compare with (None without one, or before --update-baseline wrote it)."""
    if not run.baseline or (run.update_baseline and not written):
        return None
    from saturate_cli.baseline import load_baseline

    return load_baseline(run.baseline)


def _say(message: str) -> None:
    sys.stderr.write(f"saturate: {message}\n")


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


app.command()(fix)


def main() -> None:
    """Console-script entry point."""
    app()
