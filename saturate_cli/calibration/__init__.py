"""Calibration data: the user's files, an image folder, or synthetic data from the input specs.

Every source is a lazy iterator of batches ({input name: array}); files are read one shard at a
time, so memory does not grow with the size of the data set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

from saturate_cli.calibration.arrays import rebatch
from saturate_cli.calibration.images import channel_stats, image_geometry, image_records
from saturate_cli.calibration.memory import SOURCE as MEMORY, MemoryData
from saturate_cli.calibration.options import calibration_settings
from saturate_cli.calibration.source import Batch, CalibrationInfo, counted
from saturate_cli.calibration.synthetic import parse_shape, role, synthetic_feeds
from saturate_cli.calibration.walk import image_files, kind_of, records
from saturate_cli.errors import CalibrationError
from saturate_cli.types import InputSpec
from saturate_cli.settings import Settings

__all__ = ["CalibrationInfo", "MemoryData", "calibration_settings", "make_batches",
           "parse_shape"]


def make_batches(specs: list[InputSpec], settings: Settings, data: Optional[MemoryData] = None,
                 tokenizer=None) -> tuple[Iterator[Batch], CalibrationInfo]:
    """Batches for the model's inputs, and the record of what they are. The user's data is
    used whole unless --samples caps it; synthetic data has SYNTHETIC_SAMPLES by default.
    `tokenizer`: the checkpoint's own, for --text."""
    if (settings.samples is not None and settings.samples <= 0) or settings.batch_size <= 0:
        raise CalibrationError("--samples and --batch-size must be positive")
    if not specs:
        raise CalibrationError("the model has no inputs to feed")
    if data is not None:
        info = CalibrationInfo(source=MEMORY)
        batches = rebatch(data.records(len(specs)), specs, settings.samples,
                          settings.batch_size, info, settings.input_shapes)
        return counted(batches, info), info
    if settings.text:
        from saturate_cli.calibration.text import text_batches

        return text_batches(specs, settings, tokenizer)
    if settings.calibration:
        return _from_paths(specs, settings)
    info = CalibrationInfo(source=f"synthetic:{settings.synthetic}", seed=settings.seed)
    feeds, info.expected = synthetic_feeds(specs, settings, info.note)
    if settings.int_range is None:  # token ids from a guessed range exercise almost nothing
        info.unexercised = [s.name for s in specs if role(s) == "ids" and not s.vocab]
    return counted(feeds, info), info


def _from_paths(specs: list[InputSpec], settings: Settings):
    paths = [Path(p) for p in settings.calibration]
    names = [s.name for s in specs]
    given = settings.input_shapes
    unknown = set(given) - set(names)
    if unknown:
        raise CalibrationError(f"--input-shape names unknown input(s) {sorted(unknown)}; the "
                               f"model's inputs are {names}")
    kind = kind_of(paths)
    info = CalibrationInfo(source=f"{'images' if kind == 'images' else 'file'}:"
                                  + ",".join(str(p) for p in paths))
    if settings.samples is not None:  # an estimate for the progress bar
        info.expected = -(-settings.samples // settings.batch_size)
    if kind == "images":
        if len(specs) != 1:
            raise CalibrationError(f"an image folder feeds a model with one input; the model's "
                                   f"inputs are {names}")
        geometry = image_geometry(specs[0], settings.layout, given, settings.image_size, info.note)
        channels = geometry[1]
        source = image_records(image_files(paths), specs[0], geometry,
                               channel_stats(settings.mean, channels, "--mean"),
                               channel_stats(settings.std, channels, "--std"))
        if specs[0].dtype == "uint8":
            info.note(f"input '{names[0]}' is uint8: raw 0-255 pixels, --mean/--std not applied")
    else:
        source = records(paths, names, settings.memory_budget)
    batches = rebatch(source, specs, settings.samples, settings.batch_size, info, given)
    return counted(batches, info), info
