"""One inspection, end to end: load, calibrate, measure, diagnose, report."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from saturate_cli.calibration import make_batches
from saturate_cli.errors import SaturateError
from saturate_cli.model.load import load_model
from saturate_cli.policy import apply_rule_policy
from saturate_cli.report.build import build_report
from saturate_cli.report.model import Report
from saturate_cli.settings import Settings

ProgressFactory = Callable[[str, Optional[int]], Callable[[int], None]]


def inspect_model(target: str, settings: Settings,
                  progress: Optional[ProgressFactory] = None) -> Report:
    """Inspect one model and return its report (raises SaturateError on bad input)."""
    try:
        return _inspect(target, settings, progress)
    except SaturateError as exc:  # every message names the file it is about
        named = [target, Path(target).name, *settings.calibration]
        if not any(n and n in str(exc) for n in named):
            exc.args = (f"{target}: {exc}",)
        raise


def _inspect(target: str, settings: Settings, progress: Optional[ProgressFactory]) -> Report:
    return inspect_handle(load_model(target, settings), target, settings, progress)


def inspect_handle(handle, target: str, settings: Settings,
                   progress: Optional[ProgressFactory] = None) -> Report:
    """Calibrate, measure and diagnose an already loaded model."""
    batches, info = make_batches(handle.inputs, settings)
    expected = info.expected  # batches, when known before reading the data
    advance = progress(target, expected) if progress else None
    measurable = handle.sites or getattr(handle, "has_branches", False)
    stats = handle.collect(batches, settings.tau, settings.softmax_tau, advance) if measurable \
        else {}
    if getattr(handle, "interrupted", False):  # Ctrl-C during measurement
        if not info.batches:
            raise KeyboardInterrupt
        info.partial = True
        info.note(f"interrupted (Ctrl-C): partial results from the first {info.batches} batches")
    report = build_report(handle, stats, settings, info.to_dict(),
                          tuple(getattr(handle, "notes", ())))
    return apply_rule_policy(report, settings.select, settings.ignore, settings.per_site_ignores)
