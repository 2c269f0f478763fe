"""The Python API: what `saturate inspect` does, callable on models and data in memory.

    import saturate_cli as sat
    report = sat.inspect("model.onnx")
    report = sat.inspect(module, calibration=loader, tau=0.02)
    report.findings, report.site("layer1.0.relu").stats, report.exit_code, report.to_json()

Bad input raises `saturate_cli.SaturateError` with the one-line message the CLI prints.
"""

from __future__ import annotations

from dataclasses import fields, replace
from os import PathLike
from typing import Any, Optional

from saturate_cli.errors import SaturateError, UsageError
from saturate_cli.report.model import Report
from saturate_cli.settings import Settings

_FIELDS = {f.name for f in fields(Settings)}


def settings_for(settings: Optional[Settings] = None, **options: Any) -> Settings:
    """Settings from keyword options named like the Settings fields (tau=0.02,
    batch_size=8, select="SAT1", input_shapes={"x": (1, 3, 224, 224)}, ...)."""
    from saturate_cli.policy import parse_selectors

    unknown = sorted(set(options) - _FIELDS)
    if unknown:
        raise UsageError(f"unknown option(s) {unknown}; options are the Settings fields: "
                         f"{', '.join(sorted(_FIELDS))}")
    base = settings or Settings()
    for name in ("select", "ignore"):
        if name in options:
            value = options[name]
            options[name] = parse_selectors([value] if isinstance(value, str) else value, name)
    if "input_shapes" in options:
        options["input_shapes"] = {k: tuple(int(d) for d in v)
                                   for k, v in dict(options["input_shapes"]).items()}
    if isinstance(options.get("factory_args"), dict):
        options["factory_args"] = tuple(options["factory_args"].items())
    if isinstance(options.get("thresholds"), dict):
        options["thresholds"] = replace(base.thresholds, **options["thresholds"])
    return replace(base, **options)


def _paths(calibration: Any) -> Optional[tuple[str, ...]]:
    """The calibration as file paths, or None when it is data held in memory."""
    if isinstance(calibration, (str, PathLike)):
        return (str(calibration),)
    if isinstance(calibration, (list, tuple)) and calibration and \
            all(isinstance(c, (str, PathLike)) for c in calibration):
        return tuple(str(c) for c in calibration)
    return None


def inspect(model: Any, calibration: Any = None, *, settings: Optional[Settings] = None,
            **options: Any) -> Report:
    """Inspect one model and return its Report.

    `model`: a path (ONNX, .pt2, TorchScript, a `module:factory` target), an onnx.ModelProto,
    or a torch nn.Module / ScriptModule / ExportedProgram (measured in memory, never written
    to disk; a module's train/eval mode is restored afterwards). `calibration`: None
    (synthetic data), a path or list of paths, an array, a dict of arrays, or any iterable of
    batches (a DataLoader: tensors, (inputs, labels) tuples or dicts by input name).
    `options`: Settings fields (tau, softmax_tau, batch_size, samples, seed, select, ...)."""
    from saturate_cli.pipeline import inspect_model

    settings = settings_for(settings, **options)
    paths = _paths(calibration)
    if settings.shard is not None:
        raise UsageError("shard: a shard's result is a partial state, not a Report; run "
                         "`saturate inspect --shard K/N` and `saturate merge` (README, Beyond "
                         "one machine)")
    if settings.workers or settings.scheduler:
        if not isinstance(model, (str, PathLike)) or (calibration is not None and paths is None):
            raise UsageError("workers/scheduler: Dask workers load the model and the data "
                             "themselves: give both as paths")
        from saturate_cli.shard.dask_engine import inspect_on_dask

        return inspect_on_dask(str(model), replace(settings, calibration=paths or
                                                   settings.calibration))
    if calibration is None or paths is not None:
        settings = replace(settings, calibration=paths or settings.calibration)
        if isinstance(model, (str, PathLike)):
            return inspect_model(str(model), settings)
        return _inspect_object(model, settings, None)
    from saturate_cli.calibration import MemoryData

    data = MemoryData(calibration)
    if isinstance(model, (str, PathLike)):
        return inspect_model(str(model), settings, data=data)
    return _inspect_object(model, settings, data)


def _inspect_object(model: Any, settings: Settings, data) -> Report:
    from saturate_cli.calibration.peek import record_peek
    from saturate_cli.model.load import load_object
    from saturate_cli.pipeline import inspect_handle

    training = getattr(model, "training", None)
    try:
        peek = data.peek() if data is not None else record_peek(settings)
        handle = load_object(model, settings, peek)
        return inspect_handle(handle, handle.path, settings, data=data)
    finally:
        if isinstance(training, bool) and hasattr(model, "train"):
            model.train(training)


def fix(model: Any, output: Any = None, calibration: Any = None, *, norm: Optional[str] = None,
        recycle: bool = False, holdout: Optional[float] = None, max_steps: Optional[int] = None,
        settings: Optional[Settings] = None, **options: Any):
    """What `saturate fix` does: apply the remedies site by site, re-measuring after each,
    then prove the result on held-out data. Returns the FixRun (`before`, `after`,
    `before_held`, `after_held` reports, `plan`, `deviations`, `ok`); writes the fixed model
    to `output` (atomically, in the input's form) when one is given.

    `model` is a path (ONNX, .pt2, TorchScript, a pickled module with trust_pickle=True, or
    `module:factory` with weights=...), `calibration` a path or list of paths (or None:
    synthetic data); `norm` "normalize" or "preserve"; `recycle` re-draws dead units."""
    from saturate_cli.remedies.backends import backend_for
    from saturate_cli.remedies.loop import run_fix
    from saturate_cli.remedies.options import NORM_MODES, FixOptions
    from saturate_cli.pipeline import check_targets
    from saturate_cli.settings import FIX

    if not isinstance(model, (str, PathLike)):
        raise UsageError("fix: give the model as a path (the fixed model is written in its "
                         "form); in-memory models are inspected with sat.inspect")
    paths = _paths(calibration)
    if calibration is not None and paths is None:
        raise UsageError("fix: give the calibration data as paths (held-out batches are "
                         "re-read for the proof)")
    if norm is not None and norm not in NORM_MODES:
        raise UsageError(f"norm={norm!r}: choose {' or '.join(NORM_MODES)}")
    settings = settings_for(settings, **options)
    settings = replace(settings, calibration=paths or settings.calibration)
    target = str(model)
    check_targets(target, settings)
    run_options = FixOptions(max_steps=max_steps or FIX.max_steps, norm=norm, recycle=recycle,
                             holdout=FIX.holdout if holdout is None else holdout,
                             seed=settings.seed)
    backend = backend_for(target, settings, run_options)
    run = run_fix(backend, settings, run_options)
    if output is not None:
        from saturate_cli.atomic import write_atomic

        write_atomic(output, backend.payload(output))
    return run


__all__ = ["Report", "SaturateError", "fix", "inspect", "settings_for"]
