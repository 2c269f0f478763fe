"""Print the summary of a fix (fix/summary.py) as text or JSON; nothing is computed here."""

from __future__ import annotations

import json
import sys

import typer

from saturate_cli.wording import plural


def write_json(summary: dict) -> None:
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")


def _figure(value) -> str:
    """A number, or a per-unit list as its range."""
    if isinstance(value, list):
        nums = [v for v in value if isinstance(v, (int, float))]
        if len(nums) > 4:
            return f"[{min(nums):.4g} .. {max(nums):.4g}] ({len(nums)} units)"
        return "[" + ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v)
                               for v in value) + "]"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


NUMBERS = ("factor", "temperature", "amount", "units", "amounts", "std", "mode", "gamma", "beta")


def _step(change: dict) -> str:
    figures = ", ".join(f"{k} {_figure(change[k])}" for k in NUMBERS if k in change)
    tensors = ", ".join(change.get("tensors") or ())
    return f"{change['site']}: {change['remedy']} ({figures}) on {tensors or '-'}"


def _counts(report: dict) -> str:
    found = report["summary"]["findings"]
    return f"{plural(found['error'], 'error')}, {plural(found['warning'], 'warning')}"


def _share(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def print_run(summary: dict) -> None:
    """The plan, the changes per site, the deviations and the verdict."""
    head = "plan (dry run: nothing written)" if summary["dry_run"] else "changes"
    typer.echo(f"{head}:" if summary["plan"] else "no change applies")
    for change in summary["plan"]:
        typer.echo(f"  {_step(change)}")
    for skip in summary["skipped"]:
        typer.echo(f"  {skip['site']}: {skip['remedy']} not applied: {skip['reason']}")
    for left in summary["not_attempted"]:
        typer.echo(f"  {left['site']}: {' '.join(left['codes'])} not fixed: {left['reason']}")
    for note in summary["code_changes"]:
        typer.echo(f"  code change: {note}")
    held = {s["site"]: s for s in summary["sites_held"]}
    for site in summary["sites"]:
        other = held.get(site["site"])
        tail = "" if other is None else (f"; held out {_share(other['saturated_before'])} -> "
                                         f"{_share(other['saturated_after'])}")
        dead = "" if not site["dead_units_before"] else \
            f", dead units {site['dead_units_before']} -> {site['dead_units_after']}"
        typer.echo(f"  {site['site']}: saturated {_share(site['saturated_before'])} -> "
                   f"{_share(site['saturated_after'])}{dead}{tail}")
    for dev in summary["deviations"]:
        typer.echo(f"  output {dev['output']}: max |diff| {_figure(dev['max_abs'])}, relative "
                   f"{_figure(dev['max_rel'])}")
    verdict = "ok" if summary["ok"] else "not ok"
    why = [f"{t['site']} {t['code']} still flagged" for t in summary["targeted_left"]]
    why += [f"{t['site']} {t['code']} left untreated" for t in summary["untreated"]]
    if summary["preserving"] and not summary["within_tolerance"]:
        why.append(f"outputs moved beyond {summary['tolerance']:g}")
    target = summary["fixed_model"] or ("nothing written" if summary["dry_run"] else
                                        "nothing changed")
    typer.echo(f"before: {_counts(summary['before'])}; after: {_counts(summary['after'])} -> "
               f"{target}; {verdict}" + (f" ({'; '.join(why)})" if why else ""))
