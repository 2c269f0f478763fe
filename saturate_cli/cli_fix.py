"""`saturate fix`: apply the rescale and bias-shift suggestions to an ONNX model and verify."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from saturate_cli.settings import DEFAULTS
from saturate_cli.cli_guard import guarded


def fix(
    model: Annotated[Path, typer.Argument(help="The ONNX model to fix.", dir_okay=False,
                                          show_default=False)],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Where to write the fixed model (never over the input).",
        dir_okay=False, show_default=False)],
    calibration: Annotated[Optional[List[Path]], typer.Option(
        "--calibration", "-c", help="Calibration data (as for inspect); repeatable.")] = None,
    input_shape: Annotated[Optional[List[str]], typer.Option(
        "--input-shape", help="Shape of a dynamic input, e.g. x=1x3x224x224.")] = None,
    samples: Annotated[Optional[int], typer.Option(
        "--samples", "-n", min=1, help="At most this many calibration samples (default: all of "
        "the files, 128 synthetic).", show_default=False)] = DEFAULTS.samples,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1)] = DEFAULTS.batch_size,
    seed: Annotated[int, typer.Option("--seed")] = DEFAULTS.seed,
    max_steps: Annotated[int, typer.Option(
        "--max-steps", min=1, help="At most this many sites are changed.")] = 32,
    json_report: Annotated[bool, typer.Option(
        "--json", help="Print the before/after summary as JSON.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """Rescale weights and shift biases site by site (re-measuring after each), then verify.

    Only the layers a suggestion names are changed, each through a fresh initializer, so shared
    weights stay intact. Normalisation insertion is suggested by `inspect` but not applied.
    Exit 0 when the fixed model has no error finding left, 1 otherwise.
    """
    guarded(lambda: _fix(model, output, calibration, input_shape, samples, batch_size, seed,
                         max_steps, json_report), debug)


def _fix(model, output, calibration, input_shape, samples, batch_size, seed, max_steps,
         json_report) -> int:
    import json
    import zipfile

    import onnx

    from saturate_cli.calibration import parse_shape
    from saturate_cli.errors import UsageError
    from saturate_cli.pipeline import check_targets
    from saturate_cli.settings import Settings

    if output.resolve() == model.resolve():
        raise UsageError(f"{output}: refusing to overwrite the input model; choose another -o")
    if zipfile.is_zipfile(model) if model.is_file() else False:
        raise UsageError(f"{model}: `saturate fix` changes ONNX models; for PyTorch apply the "
                         "suggestions of `saturate inspect` to the module's parameters")
    settings = Settings(samples=samples, batch_size=batch_size, seed=seed,
                        input_shapes=dict(parse_shape(s) for s in input_shape or []),
                        calibration=tuple(str(p) for p in calibration or ()))
    check_targets(str(model), settings)
    result = _run_fix(model, settings, max_steps)
    tmp = output.with_name(f".{output.name}.tmp")
    onnx.save(result.model, str(tmp))
    tmp.replace(output)
    summary = {"model": str(model), "fixed_model": str(output),
               "before": result.before.summary(), "after": result.after.summary(),
               "applied": result.applied, "skipped": result.skipped,
               "not_attempted": not_attempted(result, max_steps)}
    if json_report:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        _print(summary)
    return int(result.after.counts()["error"] > 0)


def _run_fix(model: Path, settings, max_steps: int):
    """fix_onnx, with one line on stderr per step (progress a log can show, off a terminal)."""
    import inspect

    from saturate_cli.fix.onnx_fix import fix_onnx

    def step(n: int, site: str, kind: str) -> None:
        sys.stderr.write(f"saturate fix: step {n}/{max_steps}: {kind} at {site}\n")
        sys.stderr.flush()

    if "progress" in inspect.signature(fix_onnx).parameters:  # the hook, where it exists
        return fix_onnx(model, settings, max_steps, progress=step)
    return fix_onnx(model, settings, max_steps)


def not_attempted(result, max_steps: int) -> list[dict]:
    """Sites still flagged that no step tried: past the --max-steps limit, or no remedy."""
    from saturate_cli.fix.onnx_fix import APPLICABLE

    tried = {c["site"] for c in result.applied} | {s["site"] for s in result.skipped}
    full = len(result.applied) + len(result.skipped) >= max_steps
    out = []
    for site in result.after.sites:
        flagged = [f for f in site.findings if f.severity != "info"]
        if site.name in tried or not flagged:
            continue
        remedies = {t["kind"] for f in flagged for t in f.suggestions}
        if remedies & set(APPLICABLE) and full:
            reason = f"the step limit (--max-steps {max_steps}) was reached"
        elif remedies & set(APPLICABLE):
            continue  # a later step would take it: cannot happen once the loop has ended
        else:
            kinds = ", ".join(sorted(remedies)) or "none suggested"
            reason = f"no automatic remedy (suggested: {kinds})"
        out.append({"site": site.name, "codes": sorted({f.code for f in flagged}),
                    "reason": reason})
    return out


def _print(summary: dict) -> None:
    for change in summary["applied"]:
        what = (f"x{change['factor']:.4g}" if "factor" in change else
                f"{change['amount']:+.4g}" + (" (per unit)" if "units" in change else ""))
        typer.echo(f"{change['site']}: {change['kind']} {change['target']} {what}")
    for skip in summary["skipped"]:
        typer.echo(f"{skip['site']}: {skip['suggestion']} not applied: {skip['reason']}")
    for left in summary["not_attempted"]:
        typer.echo(f"{left['site']}: {' '.join(left['codes'])} not fixed: {left['reason']}")
    b, a = summary["before"]["findings"], summary["after"]["findings"]
    typer.echo(f"before: {_counts(b)}; after: {_counts(a)} -> {summary['fixed_model']}")


def _counts(findings: dict) -> str:
    from saturate_cli.report.model import plural

    return f"{plural(findings['error'], 'error')}, {plural(findings['warning'], 'warning')}"
