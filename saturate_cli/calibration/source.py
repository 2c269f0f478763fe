"""What every calibration source yields: batches, and a description for the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

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

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "samples": self.samples,
            "batches": self.batches,
            "seed": self.seed,
            "shapes": self.shapes,
            "partial": self.partial,
            "notes": list(self.notes),
        }


def counted(batches: Iterator[Batch], info: CalibrationInfo) -> Iterator[Batch]:
    """Pass batches through, recording samples, batches and the resolved shapes."""
    for batch in batches:
        first = next(iter(batch.values()), None)
        info.samples += int(first.shape[0]) if first is not None and first.ndim else 1
        info.batches += 1
        if info.batches == 1:
            info.shapes = {k: list(np.shape(v)) for k, v in batch.items()}
        yield batch
