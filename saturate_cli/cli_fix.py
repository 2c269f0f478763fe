"""`saturate fix`: apply the remedies to an ONNX or PyTorch model, then prove the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from saturate_cli.cli_guard import guarded
from saturate_cli.settings import FIX
from saturate_cli.cli_options import (
    DATA, MEASURE, PYTORCH, RULES, RUN, Format, FormatOpt, path_option, takes)


@takes(DATA, MEASURE, PYTORCH, RULES, RUN)
def fix(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(
        help="The model: .onnx, .pt2, TorchScript, a pickled module, or module:factory "
             "(with --weights for its state dict).", show_default=False)],
    output: Annotated[Optional[Path], path_option(
        "--output", "-o", help="Where to write the fixed model (never over the input; a "
                               "factory's fix is a state dict: .pt or .safetensors).",
        dir_okay=False, show_default=False)] = None,
    in_place: Annotated[bool, typer.Option(
        "--in-place", help="Overwrite the input model (or the --weights file) instead.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan (sites, remedies, tensors, numbers); write nothing."
    )] = False,
    norm: Annotated[Optional[str], typer.Option(
        "--norm", help="Insert the suggested BatchNorm/LayerNorm: 'normalize' (calibration "
                       "mean/std) or 'preserve' (an identity at inference).",
        show_default=False)] = None,
    recycle: Annotated[bool, typer.Option(
        "--recycle", help="Dead units: re-draw their incoming weights, zero their bias and "
                          "outgoing weights (ReDo) instead of shifting the bias.")] = False,
    holdout: Annotated[float, typer.Option(
        "--holdout", min=0.0, max=0.9, help="Share of the calibration batches held out for the "
                                            "proof.")] = FIX.holdout,
    max_steps: Annotated[int, typer.Option(
        "--max-steps", min=1, help="At most this many sites are changed.")] = FIX.max_steps,
    report: Annotated[Optional[Path], path_option(
        "--report", help="Also write an HTML page comparing before and after.", dir_okay=False,
        show_default=False)] = None,
    format: FormatOpt = Format.text,
    json_alias: Annotated[bool, typer.Option("--json", hidden=True)] = False,
    **options,
) -> None:
    """Apply the remedies site by site (re-measuring after each), then prove the result.

    Rescales and bias shifts by default; --norm inserts the suggested normalisations and
    --recycle re-draws dead units. The proof: findings before/after on the calibration data
    and on a held-out part, and how far every model output moved. Exit 0 when the targeted
    findings are gone and function-preserving remedies left the outputs unchanged.
    """
    from saturate_cli.cli_settings import configure, given_options

    guarded(lambda: _fix(ctx.params, configure(ctx, options["verbose"]), given_options(ctx)),
            options["debug"])


def _fix(params: dict, run, given: set) -> int:
    from saturate_cli.cli_io import say, write_atomic
    from saturate_cli.cli_settings import settings_from
    from saturate_cli.remedies.backends import backend_for
    from saturate_cli.remedies.render import print_run, write_json
    from saturate_cli.remedies.summary import summary_of

    fmt = _format(params, run, given)
    options = _options(params)
    settings = settings_from(params, run)
    source, destination = _destination(params, settings)
    backend = backend_for(params["model"], settings, options)
    step = None if params["quiet"] else (
        lambda n, site, kind: say(f"fix: step {n}/{options.max_steps}: {kind} at {site}"))
    from saturate_cli.remedies.loop import run_fix

    result = run_fix(backend, settings, options, step)
    written = None
    if not params["dry_run"]:
        write_atomic(destination, backend.payload(destination))
        written = str(destination)
    if params["report"] is not None and not params["dry_run"]:
        from saturate_cli.render.html import render_comparison

        write_atomic(params["report"], render_comparison(result.before, result.after))
    summary = summary_of(result, source, written, params["dry_run"],
                         getattr(backend, "code_changes", []), options.max_steps)
    if fmt == "json":
        write_json(summary)
    else:
        print_run(summary)
    return 0 if result.ok else 1


def _format(params: dict, run, given: set) -> str:
    """text or json: --json is the old spelling of -f json; a config's other formats (for
    inspect) leave fix on text."""
    from saturate_cli.errors import UsageError

    if params.get("json_alias"):
        return "json"
    fmt = run.format if run.format in ("text", "json") or "format" in given else "text"
    if fmt not in ("text", "json"):
        raise UsageError(f"--format {fmt}: saturate fix prints text or json")
    return fmt


def _options(params: dict):
    from saturate_cli.errors import UsageError
    from saturate_cli.remedies.options import NORM_MODES, FixOptions

    if params["norm"] is not None and params["norm"] not in NORM_MODES:
        raise UsageError(f"--norm {params['norm']}: choose {' or '.join(NORM_MODES)}")
    return FixOptions(max_steps=params["max_steps"], norm=params["norm"],
                      recycle=params["recycle"], holdout=params["holdout"],
                      seed=params["seed"] if params["seed"] is not None else 0)


def _destination(params: dict, settings) -> tuple[str, Path]:
    """(the model as named, the file the fix goes to): -o, or the input under --in-place."""
    from saturate_cli.errors import UsageError
    from saturate_cli.pipeline import check_targets

    model, output = params["model"], params["output"]
    check_targets(model, settings)
    own = Path(settings.weights) if ":" in model and settings.weights else Path(model)
    if params["in_place"]:
        if output is not None:
            raise UsageError("give either -o or --in-place, not both")
        if ":" in model and not settings.weights:
            raise UsageError(f"{model}: --in-place needs --weights (the file it overwrites)")
        return model, own
    if output is None:
        if params["dry_run"]:
            return model, Path(".")
        raise UsageError("name the fixed model's file with -o (or give --in-place)")
    if own.exists() and output.exists() and output.resolve() == own.resolve():
        raise UsageError(f"{output}: refusing to overwrite the input model; choose another -o "
                         "or give --in-place")
    return model, output
