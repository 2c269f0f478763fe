"""What every calibration source yields: batches, and a description for the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

Batch = dict  # input name -> numpy array


@dataclass
class CalibrationInfo:
    """How the calibration data was made; filled in as batches stream by."""

    source: str
    seed: int | None = None
    shapes: dict = field(default_factory=dict)
    samples: int = 0
    batches: int = 0
    partial: bool = False
    notes: list = field(default_factory=list)
    unexercised: list = field(default_factory=list)  # inputs whose data cannot exercise the model
    nan: int = 0  # NaN values seen in the data (a warning, not an error)
    expected: Optional[int] = field(default=None, repr=False)  # batches, when known (progress)

    def note(self, text: str) -> None:
        """Add a note once (the same note from every shard would only be noise)."""
        if text not in self.notes:
            self.notes.append(text)

    def to_dict(self) -> dict:
        notes = list(self.notes)
        if self.nan:
            notes.append(f"{self.nan} NaN values in the calibration data")
        return {
            "source": self.source,
            "samples": self.samples,
            "batches": self.batches,
            "seed": self.seed,
            "shapes": self.shapes,
            "partial": self.partial,
            "notes": notes,
            "unexercised": list(self.unexercised),
        }


def counted(feeds: Iterator[tuple[Batch, int]], info: CalibrationInfo) -> Iterator[Batch]:
    """Pass (batch, its samples) on as batches, recording the shapes, NaNs, samples, batches.

    A batch is counted once the consumer comes back for the next one, so a run stopped while
    measuring a batch (Ctrl-C) counts only the batches it finished.
    """
    for batch, samples in feeds:
        if not info.shapes:
            info.shapes = {k: list(np.shape(v)) for k, v in batch.items()}
        info.nan += sum(int(np.isnan(v).sum()) for v in batch.values() if _is_float(v))
        yield batch
        info.samples += samples
        info.batches += 1


def _is_float(a) -> bool:
    kind = np.asarray(a).dtype
    return kind.kind == "f" or kind.name == "bfloat16"
