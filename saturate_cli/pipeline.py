"""One inspection, end to end: load, calibrate, measure, diagnose, report."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from saturate_cli.activations import TailBook
from saturate_cli.batch_loop import run_batches
from saturate_cli.calibration import MemoryData, make_batches
from saturate_cli.calibration.peek import record_peek
from saturate_cli.errors import ResourceError, SaturateError, UsageError, size_text
from saturate_cli.model.load import load_model
from saturate_cli.policy import apply_rule_policy
from saturate_cli.report.build import build_report
from saturate_cli.report.model import Report, partial_note
from saturate_cli.settings import BATCH_WORKING_SET, DEFAULTS, Settings

ProgressFactory = Callable[[str, Optional[int]], Callable[[int], None]]
MODEL_SUFFIXES = (".onnx", ".ort", ".pt2", ".ts", ".torchscript")  # never calibration data


def inspect_model(target: str, settings: Settings, progress: Optional[ProgressFactory] = None,
                  batch_given: bool = False, recorder=None,
                  data: Optional[MemoryData] = None) -> Report:
    """Inspect one model and return its report (raises SaturateError on bad input); `data`:
    calibration held in memory (else the settings' files or synthetic data).

    When a batch would need more than the memory budget, the batch size is halved until it
    fits (with a note), unless `batch_given` (the user chose it): then the run is refused. The
    default batch size is also halved while a batch's largest activation input exceeds
    settings.BATCH_WORKING_SET (with a note)."""
    try:
        check_targets(target, settings)
        peek = data.peek() if data is not None else record_peek(settings)
        handle = load_model(target, settings, peek)
        return inspect_handle(handle, target, settings, progress, batch_given,
                              recorder=recorder, data=data)
    except SaturateError as exc:  # every message names the file it is about
        named = [target, Path(target).name, *settings.calibration]
        if not any(n and n in str(exc) for n in named):
            exc.args = (f"{target}: {exc}",)
        raise


def check_targets(target: str, settings: Settings) -> None:
    """Mistakes the loaders would only report obscurely: Python source without its factory,
    a model given as calibration data."""
    if target.endswith(".py") and Path(target).is_file():
        raise UsageError(f"{target}: is Python source; name the function that builds the model "
                         f"as {target}:FACTORY (e.g. {target}:build_model)")
    for path in settings.calibration:
        if Path(path).suffix.lower() in MODEL_SUFFIXES and Path(path).is_file():
            raise UsageError(f"--calibration {path}: is a model, not calibration data; give the "
                             "model as an argument and inputs (.npy, .npz, .pt, .pb, images) "
                             "with --calibration")


def inspect_handle(handle, target: str, settings: Settings,
                   progress: Optional[ProgressFactory] = None,
                   batch_given: bool = False, data: Optional[MemoryData] = None,
                   recorder=None) -> Report:
    """Calibrate, measure and diagnose an already loaded model (`data`: calibration held in
    memory, else the settings' files or synthetic data). A `recorder` (shard/partial.py)
    chooses the batches measured and keeps the partial state in `recorder.partial`."""
    batches, info, notes = _fitting_batches(handle, settings, batch_given, data)
    book = TailBook(settings.tau)
    stats: dict = {}
    measured = None
    if handle.sites or handle.has_branches:
        advance = progress(target, info.expected) if progress else None
        measured = run_batches(handle, batches, book, settings.softmax_tau, advance,
                               keep=recorder and recorder.keep,
                               on_batch=recorder and recorder.on_batch)
        stats = measured.stats
        if measured.interrupted:  # Ctrl-C: a partial report of the whole batches measured
            if not measured.batches:
                raise KeyboardInterrupt
            info.partial = True
            info.note(partial_note(measured.batches))
            notes.append(partial_note(measured.batches))
    if recorder is not None:
        recorder.partial = recorder.document(handle, settings, info.to_dict(),
                                             tuple(handle.notes) + tuple(notes), measured)
    return _report(handle, stats, settings, info.to_dict(), tuple(handle.notes) + tuple(notes),
                   book)


def inspect_batches(handle, settings: Settings, batches, calibration: dict) -> Report:
    """The report of an already loaded model on exactly these batches (as given: no memory
    fitting, no progress), with `calibration` as its record of them."""
    book = TailBook(settings.tau)
    stats = run_batches(handle, batches, book, settings.softmax_tau).stats
    return _report(handle, stats, settings, calibration, tuple(handle.notes), book)


def _report(handle, stats: dict, settings: Settings, calibration: dict, notes: tuple,
            book: TailBook) -> Report:
    report = build_report(handle, stats, settings, calibration, notes, book)
    return apply_rule_policy(report, settings.select, settings.ignore, settings.per_site_ignores)


def _fitting_batches(handle, settings: Settings, batch_given: bool,
                     data: Optional[MemoryData] = None):
    """The batches, at a batch size whose run fits the memory budget (see onnx/memory.py)
    and, for the default batch size (not one given on the command line, in the config or to
    the API as another value), whose largest activation input fits BATCH_WORKING_SET."""
    chosen, notes, over_budget, held = settings.batch_size, [], False, None
    adapts = not batch_given and chosen == DEFAULTS.batch_size  # the default, not a choice
    tried: dict = {}  # batch size -> the first batch's shapes, as halving went
    while True:
        batches, info = make_batches(handle.inputs, settings, data,
                                     handle.tokenizer)
        first = next(batches, None)
        shapes = None if first is None else {k: tuple(np.shape(v)) for k, v in first.items()}
        if adapts and shapes is not None and shapes in tried.values():
            del first, batches  # the model fixes its batch: halving changed nothing
            settings, held, adapts = replace(settings, batch_size=min(tried)), None, False
            continue
        need = None if shapes is None else handle.estimate_peak(shapes)
        budget = settings.memory_budget
        over = need is not None and need > budget
        big = None if over or not adapts else _too_big(handle, shapes, settings.batch_size)
        if not over and big is None:
            if settings.batch_size != chosen and (over_budget or held):
                notes.append(_lowered_note(chosen, settings.batch_size, over_budget, budget,
                                           held))
            if data is not None:
                data.settle()
            return itertools.chain([] if first is None else [first], batches), info, notes
        del first, batches
        if over and (batch_given or settings.batch_size == 1):
            raise ResourceError(f"{handle.path}: batches of {settings.batch_size} would need "
                                f"about {size_text(need)} (weights and intermediate tensors), "
                                f"over the memory budget of {size_text(budget)} "
                                "(--memory-budget); lower --batch-size")
        over_budget, held = over_budget or over, held or big
        tried[settings.batch_size] = shapes
        settings = replace(settings, batch_size=settings.batch_size // 2)


def _too_big(handle, shapes: Optional[dict], batch_size: int) -> Optional[int]:
    """The bytes of the largest activation input of a batch of these shapes where they exceed
    BATCH_WORKING_SET and a smaller batch would shrink it (else None)."""
    if shapes is None or batch_size < 2 or not any(
            len(s) and s[0] > batch_size // 2 for s in shapes.values()):
        return None  # a smaller batch would not be smaller
    largest = handle.largest_site_input(shapes)
    return largest if largest is not None and largest > BATCH_WORKING_SET else None


def _lowered_note(chosen: int, size: int, over_budget: bool, budget: int,
                  held: Optional[int]) -> str:
    if over_budget:
        return (f"--batch-size lowered from {chosen} to {size}: batches of {chosen} would need "
                f"more than the memory budget of {size_text(budget)} (--memory-budget)")
    return (f"batches of {size}, not {chosen}: a batch of {chosen} holds activation inputs of "
            f"up to {size_text(held)}; below {size_text(BATCH_WORKING_SET)} the statistics stay "
            "in cache and the peak near plain inference (--batch-size chooses)")
