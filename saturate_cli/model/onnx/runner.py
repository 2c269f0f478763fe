"""Sessions for one ONNX model: staging for onnxruntime, the engine fallbacks, running a batch.

Every session of a model (the instrumented one, the exposed-tensor one, the probes) is opened
here, under the same engine: onnxruntime, or - once onnxruntime refused the model for want of
a kernel - the first fallback of onnx/engine.py that runs the first batch (with a note).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import onnx

from saturate_cli.errors import CalibrationError, ModelLoadError, SaturateError, first_line
from saturate_cli.model.onnx import arena
from saturate_cli.model.onnx.engine import PLAIN, first_working, missing_kernel, open_with
from saturate_cli.model.onnx.lazy import materialise
from saturate_cli.model.onnx.origin import origin_of
from saturate_cli.model.onnx.session import Staged
from saturate_cli.types import Batch


class Runner:
    """Opens and runs sessions for the model at `path` (notes go to the handle's list)."""

    def __init__(self, path: str, opset: int, notes: list[str], threads: int = 0,
                 providers: Optional[list[str]] = None):
        self.path, self.opset, self.notes = path, opset, notes
        self.threads = threads
        self.providers = providers or ["CPUExecutionProvider"]
        self.engine = PLAIN  # may fall back when onnxruntime lacks a kernel
        self.first: Optional[Batch] = None  # the first calibration batch: fallbacks try it

    def session(self, model: onnx.ModelProto):
        """A session for `model` under the current engine; when onnxruntime lacks a kernel the
        model needs, the first fallback engine that runs it, with a note."""
        materialise(model)  # every engine reads a whole model (weights left in the file back)
        try:
            return open_with(self.engine, model, self.ort_session)
        except Exception as exc:  # noqa: BLE001 - runtimes and converters raise many types
            refusal = exc
        if self.engine != PLAIN or not missing_kernel(str(refusal)):
            raise load_error(self.path, refusal)
        try:
            outputs = [o.name for o in model.graph.output]
            check = None if self.first is None else (
                lambda session: session.run(outputs, self.first))
            engine, session, _ = first_working(model, self.opset, self.ort_session, check)
        except ValueError as why:
            raise ModelLoadError(f"{self.path}: onnxruntime cannot run this model: "
                                 f"{first_line(refusal)} (fallbacks: {why})") from None
        self.engine = engine
        slower = ", slower" if engine.runtime == "reference" else ""
        self.notes.append(f"onnxruntime cannot run this model as it is ({first_line(refusal)}); "
                          f"measured with {engine.describe()}{slower}")
        return session

    def ort_session(self, model: onnx.ModelProto):
        with self.stage(model) as staged:
            return self.open(staged)

    def stage(self, model: onnx.ModelProto, consume: bool = False) -> Staged:
        """`model` serialised for onnxruntime. `consume` (the handle's `_reloadable`): the
        caller holds the model `read_model` returned for this path, its weights untouched
        (nodes and small constants may have been added), and drops it once staged; its
        weights are then referenced in the files they were read from (onnx/origin.py)."""
        origin = origin_of(self.path, model) if consume else None
        try:
            return Staged(model, consume, origin)
        except Exception as exc:  # noqa: BLE001 - protobuf and the file system raise many types
            raise ModelLoadError(f"{self.path}: cannot serialise the model for onnxruntime: "
                                 f"{first_line(exc)}") from None

    def open(self, staged: Staged):
        import onnxruntime as ort

        ort.set_default_logger_severity(4)  # failures reach the user as one line, not ORT logs
        options = ort.SessionOptions()
        options.log_severity_level = 4
        # The memory pattern plans one block per input shape; with the statistics nodes its
        # reuse is poor (ResNet-18, batch 8: +220 MB against +114 MB without), at no speed gain.
        # Priority order runs each site's statistics nodes (placed right after the site) as
        # soon as they can run, so activation inputs die early (BERT-size peak -58 MB).
        options.enable_mem_pattern = False
        options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
        arena.use(options)  # grown by what is asked for, not in powers of two (onnx/arena.py)
        if self.threads:
            options.intra_op_num_threads = self.threads
        return staged.open(options, self.providers)

    def open_checked(self, staged: Staged):
        try:
            return self.open(staged)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise load_error(self.path, exc) from None

    def run(self, session, names: list[str], batch: Batch) -> list:
        try:
            return session.run(names, batch)
        except SaturateError:  # the model's files changed under the session (onnx/session.py)
            raise
        except Exception as exc:  # noqa: BLE001
            shapes = {k: list(np.shape(v)) for k, v in batch.items()}
            raise CalibrationError(f"{self.path}: inference failed on inputs of shapes {shapes} "
                                   f"({first_line(exc)}); give --input-shape NAME=DIMS or "
                                   "--calibration data the model accepts") from None


def load_error(path: str, exc: BaseException) -> ModelLoadError:
    if isinstance(exc, ModelLoadError):
        return exc
    return ModelLoadError(f"{path}: onnxruntime cannot run this model: {first_line(exc)}")
