"""The first record of the calibration files, for loaders whose input specs yield to the data.

PyTorch models rarely declare their inputs; their loaders guess shapes from the layers and let
the data correct the guess. They get this peek from the pipeline (a model never reads
calibration data itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from saturate_cli.calibration.walk import kind_of, records
from saturate_cli.settings import Settings
from saturate_cli.types import Peek


def record_peek(settings: Settings) -> Optional[Peek]:
    """A Peek over the --calibration files (None without any; {} for image folders)."""
    paths = [Path(p) for p in settings.calibration]
    if not paths:
        return None

    def peek(candidates: list) -> dict:
        if kind_of(paths) == "images":
            return {}
        names = list(candidates) + [p.stem for p in paths if p.is_file()]
        for _, record in records(paths, names, settings.memory_budget):
            return dict(record)
        return {}

    return peek
