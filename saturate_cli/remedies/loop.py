"""The fix loop, the same for every backend: plan a site's remedy, apply it, re-measure (LSUV
style: fixing a layer changes what every later layer sees), then prove the result.

A backend offers: `inputs`, `measure(batches, record) -> Report`, `apply(site, tip, fit) ->
change dict | reason`, `outputs(batch) -> {name: array}`, `renamed` (old site name -> new, for
sites a structural change renames) and `payload() -> bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from saturate_cli.remedies.holdout import split_batches
from saturate_cli.remedies.options import FixOptions
from saturate_cli.remedies.plan import next_fix, numbers_of, preserving, targeted
from saturate_cli.remedies.proof import deviations, site_changes, targets_gone, within
from saturate_cli.report.model import Report


@dataclass
class FixRun:
    """Everything a fix did and proved."""

    before: Report  # on the fitting part of the calibration data
    after: Report
    before_held: Optional[Report]  # on the held-out part (None without --holdout)
    after_held: Optional[Report] = None
    plan: list = field(default_factory=list)  # the changes made, in order
    skipped: list = field(default_factory=list)
    deviations: list = field(default_factory=list)  # per model output, on held-out data
    sites: list = field(default_factory=list)  # per changed site: before / after
    sites_held: list = field(default_factory=list)  # the same on the held-out data
    renamed_to: list = field(default_factory=list)  # new names of sites a change renamed
    left: list = field(default_factory=list)  # targeted (site, code) findings still flagged
    untreated: list = field(default_factory=list)  # error findings left that no remedy took
    preserving: bool = False  # a function-preserving remedy was applied
    within_tolerance: bool = True
    tolerance: float = 0.0

    @property
    def ok(self) -> bool:
        """Targeted findings gone and, for preserving remedies, the outputs unchanged."""
        return not self.left and not self.untreated and (
            not self.preserving or self.within_tolerance)


def run_fix(backend, settings, options: FixOptions,
            progress: Optional[Callable[[int, str, str], None]] = None) -> FixRun:
    """Fix the backend's model site by site and prove the result."""
    split = split_batches(backend.inputs, settings, options.holdout)
    proof_batches = split.held or split.fit
    reference = [backend.outputs(b) for b in proof_batches]  # before any change
    report = backend.measure(split.fit, split.record(False))
    held = backend.measure(split.held, split.record(True)) if split.held else None
    run = FixRun(report, report, held, tolerance=options.tolerance)
    done, goals = set(), set()
    for _ in range(options.max_steps):
        step = next_fix(report, done, options)
        if step is None:
            break
        site, tips = step
        done.add(site.name)
        if progress:
            progress(len(done), site.name, "+".join(t["kind"] for t in tips))
        changed = False
        for tip in tips:
            result = backend.apply(site, tip, split.fit)
            goals |= targeted(site, tip)
            if isinstance(result, str):
                run.skipped.append({"site": site.name, "remedy": tip["kind"], "reason": result})
                break
            changed = True
            run.preserving |= preserving(tip)
            run.plan.append({"site": site.name, "remedy": tip["kind"], **numbers_of(tip),
                             **result})
        if changed:
            report = backend.measure(split.fit, split.record(False))
            done |= set(backend.renamed.values())
    run.after = report
    run.after_held = backend.measure(split.held, split.record(True)) if split.held else None
    run.deviations = deviations(reference, [backend.outputs(b) for b in proof_batches])
    run.within_tolerance = within(run.deviations, options.tolerance)
    changed_sites = list(dict.fromkeys(c["site"] for c in run.plan))
    run.sites = site_changes(run.before, run.after, changed_sites, backend.renamed)
    if held is not None:
        run.sites_held = site_changes(held, run.after_held, changed_sites, backend.renamed)
    run.renamed_to = list(backend.renamed.values())
    kept = {backend.renamed.get(c["site"], c["site"]) for c in run.plan
            if c.get("mode") == "preserve"}  # a preserving norm keeps its findings by design
    run.untreated = sorted((s.name, f.code) for s in run.after.sites if s.name not in kept
                           for f in s.findings if f.severity == "error"
                           and (s.name, f.code) not in set(run.left))
    run.left = targets_gone(run.before, run.after, goals, backend.renamed)
    return run
