"""The calibration data of a fix, split into the part it is fitted on and a held-out part, and
a report measured on one part."""

from __future__ import annotations

import math
from dataclasses import dataclass

from saturate_cli.errors import CalibrationError
from saturate_cli.report.model import Report


@dataclass
class Split:
    """Batches to fit on, batches held out (whole batches, the last ones), and their record."""

    fit: list
    held: list
    info: dict  # the calibration record of all the data (CalibrationInfo.to_dict())

    def record(self, held: bool) -> dict:
        """The calibration record of one part."""
        part = self.held if held else self.fit
        out = dict(self.info, batches=len(part),
                   samples=sum(_rows(b) for b in part))
        what = "held-out" if held else "fitting"
        total = len(self.fit) + len(self.held)
        out["notes"] = [*self.info.get("notes", ()), f"{what} part: {len(part)} of {total} "
                                                     "batches"]
        return out


def _rows(batch: dict) -> int:
    return max((len(v) for v in batch.values() if getattr(v, "ndim", 0)), default=0)


def split_batches(inputs, settings, share: float) -> Split:
    """All the calibration batches (held in memory: fix is for models one can re-run), the
    last ceil(share * n) of them held out."""
    from saturate_cli.calibration import make_batches

    batches, info = make_batches(inputs, settings)
    batches = list(batches)
    if not batches:
        raise CalibrationError("no calibration data")
    if len(batches) == 1 and share > 0:  # one batch: its rows are split instead
        return Split(*_split_rows(batches[0], share), info.to_dict())
    held = math.ceil(share * len(batches)) if share > 0 else 0
    return Split(batches[:len(batches) - held], batches[len(batches) - held:], info.to_dict())


def _split_rows(batch: dict, share: float) -> tuple[list, list]:
    """([first rows], [last rows]) of one batch; inputs without the batch's rows (fixed
    inputs) go to both. A one-row batch is not split: nothing is held out."""
    rows = _rows(batch)
    held = min(rows - 1, math.ceil(share * rows))
    if held < 1:
        return [batch], []
    cut = rows - held

    def part(lo, hi):
        return {k: v[lo:hi] if getattr(v, "ndim", 0) and len(v) == rows else v
                for k, v in batch.items()}

    return [part(0, cut)], [part(cut, rows)]


def measure(handle, target: str, settings, batches: list, calibration: dict) -> Report:
    """The report of the handle on exactly these batches (rule policy applied)."""
    from saturate_cli.pipeline import inspect_batches

    return inspect_batches(handle, settings, batches, calibration)
