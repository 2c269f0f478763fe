"""The result of `saturate fix` as one plain dict: the JSON contract, which the text output
prints without computing anything."""

from __future__ import annotations

from typing import Optional

from saturate_cli.remedies.loop import FixRun
from saturate_cli.remedies.proof import FLAGGED
from saturate_cli.report.model import jsonable


def not_attempted(run: FixRun, max_steps: int) -> list[dict]:
    """Sites still flagged that no step tried: past the step limit, or no remedy applies."""
    tried = {c["site"] for c in run.plan} | {s["site"] for s in run.skipped}
    tried |= set(run.renamed_to)
    full = len(tried) >= max_steps
    out = []
    for site in run.after.sites:
        flagged = [f for f in site.findings if f.severity in FLAGGED]
        if site.name in tried or not flagged:
            continue
        kinds = sorted({t["kind"] for f in flagged for t in f.suggestions})
        reason = f"the step limit (--max-steps {max_steps}) was reached" if full else \
            f"no automatic remedy (suggested: {', '.join(kinds) or 'none'})"
        out.append({"site": site.name, "codes": sorted({f.code for f in flagged}),
                    "reason": reason})
    return out


def summary_of(run: FixRun, model: str, written: Optional[str], dry_run: bool,
               code_changes: list, max_steps: int) -> dict:
    """Everything the fix did and proved, JSON-ready."""
    return jsonable({
        "model": model, "fixed_model": written, "dry_run": dry_run,
        "plan": run.plan, "skipped": run.skipped,
        "not_attempted": not_attempted(run, max_steps), "code_changes": list(code_changes),
        "sites": run.sites, "sites_held": run.sites_held,
        "deviations": run.deviations, "tolerance": run.tolerance,
        "preserving": run.preserving, "within_tolerance": run.within_tolerance,
        "targeted_left": [{"site": s, "code": c} for s, c in run.left],
        "untreated": [{"site": s, "code": c} for s, c in run.untreated],
        "ok": run.ok, "exit_code": 0 if run.ok else 1,
        "before": run.before.to_dict(), "after": run.after.to_dict(),
        "before_held": run.before_held.to_dict() if run.before_held else None,
        "after_held": run.after_held.to_dict() if run.after_held else None,
    })
