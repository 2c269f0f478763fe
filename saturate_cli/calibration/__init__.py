"""Calibration data: the user's files or synthetic data from the model's input spec."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from saturate_cli.calibration.arrays import array_batches, conform, load_arrays
from saturate_cli.calibration.source import Batch, CalibrationInfo, counted
from saturate_cli.calibration.synthetic import parse_shape, synthetic_batches
from saturate_cli.errors import CalibrationError
from saturate_cli.model.handle import InputSpec
from saturate_cli.settings import Settings

__all__ = ["CalibrationInfo", "make_batches", "parse_shape"]


def make_batches(specs: list[InputSpec], settings: Settings) -> tuple[Iterator[Batch],
                                                                      CalibrationInfo]:
    """Batches for the model's inputs, and the record of what they are."""
    if settings.samples <= 0 or settings.batch_size <= 0:
        raise CalibrationError("--samples and --batch-size must be positive")
    if settings.calibration:
        return _from_files(specs, settings)
    info = CalibrationInfo(source=f"synthetic:{settings.synthetic}", seed=settings.seed)
    batches = synthetic_batches(specs, settings.synthetic, settings.samples, settings.batch_size,
                                settings.seed, settings.input_shapes, settings.default_dim,
                                settings.memory_budget)
    return counted(batches, info), info


def _from_files(specs: list[InputSpec], settings: Settings):
    paths = [Path(p) for p in settings.calibration]
    info = CalibrationInfo(source="file:" + ",".join(str(p) for p in paths))
    arrays_per_file = []
    for path in paths:
        if not path.is_file():
            raise CalibrationError(f"{path}: no such calibration file")
        arrays = conform(path, load_arrays(path, specs), specs, info)
        nan = sum(int(np.isnan(a).sum()) for a in arrays.values() if a.dtype.kind == "f")
        if nan:
            info.notes.append(f"{path}: {nan} NaN values in the data")
        arrays_per_file.append(arrays)

    def stream():
        left = settings.samples
        for arrays in arrays_per_file:
            if left <= 0:
                break
            for batch in array_batches(arrays, left, settings.batch_size):
                left -= next(iter(batch.values())).shape[0]
                yield batch

    return counted(stream(), info), info
