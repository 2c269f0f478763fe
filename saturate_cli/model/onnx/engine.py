"""Which runtime runs an ONNX model: onnxruntime, on the model itself or on a copy converted
to a newer opset, else the ONNX reference evaluator.

onnxruntime lacks kernels for some operator versions (opset-6 `PRelu`, `Add` with the legacy
`broadcast` attribute, bfloat16 arithmetic). Such a model is still measurable: a converted copy
(`onnx.version_converter`, never the user's file) often runs in onnxruntime; otherwise
`onnx.reference` runs it, slower but right. Each fallback is chosen only after onnxruntime has
refused, so models onnxruntime runs pay nothing for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import onnx

from saturate_cli.errors import first_line

MIN_ORT_OPSET = 7  # onnxruntime implements the default domain from opset 7 on
CONVERT_BELOW = 13  # older models may run in onnxruntime once converted (to 7 or to 13)
_MISSING = ("NOT_IMPLEMENTED", "Could not find an implementation", "Failed to find kernel",
            "is not a registered function/op")


@dataclass(frozen=True)
class Engine:
    """How the model's sessions are built."""

    runtime: str = "onnxruntime"  # or "reference"
    convert_to: Optional[int] = None  # opset of the converted copy, None: the model itself

    def describe(self) -> str:
        where = f"a copy converted to opset {self.convert_to}" if self.convert_to else "the model"
        return f"{'onnxruntime' if self.runtime == 'onnxruntime' else 'onnx.reference'} on {where}"


PLAIN = Engine()


def missing_kernel(message: str) -> bool:
    """Whether onnxruntime refused for want of an operator implementation (not a broken file)."""
    return any(m in message for m in _MISSING)


def fallbacks(opset: int) -> list[Engine]:
    """Engines to try, in order, once onnxruntime refused the model itself."""
    newer = [t for t in dict.fromkeys((MIN_ORT_OPSET, CONVERT_BELOW)) if t > opset]
    return ([Engine("onnxruntime", t) for t in newer] + [Engine("reference")]
            + [Engine("reference", t) for t in newer])


def converted(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """A copy of `model` at the given default-domain opset (raises when onnx cannot convert)."""
    from onnx import version_converter

    return version_converter.convert_version(model, opset)


class ReferenceSession:
    """`onnx.reference` behind onnxruntime's `run(names, feed)`."""

    def __init__(self, model: onnx.ModelProto):
        from onnx.reference import ReferenceEvaluator

        self._evaluator = ReferenceEvaluator(model)
        self._outputs = [o.name for o in model.graph.output]

    def run(self, names: list[str], feed: dict) -> list:
        values = self._evaluator.run(None, dict(feed))
        by_name = dict(zip(self._outputs, values))
        return [np.asarray(by_name[n]) for n in names]


class OrtSession:
    """An onnxruntime session that takes bfloat16 arrays (as typed OrtValues)."""

    def __init__(self, session):
        self._session = session

    def run(self, names: list[str], feed: dict) -> list:
        return self._session.run(names, _ort_feed(feed))


def _ort_feed(batch: dict) -> dict:
    if not any(getattr(a, "dtype", None) is not None and a.dtype.name == "bfloat16"
               for a in batch.values()):
        return batch
    import onnxruntime as ort

    return {k: ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
        np.ascontiguousarray(a).view(np.uint16), onnx.TensorProto.BFLOAT16)
        if a.dtype.name == "bfloat16" else a for k, a in batch.items()}


def open_with(engine: Engine, model: onnx.ModelProto,
              open_ort: Callable[[onnx.ModelProto], object]):
    """A session for `model` under `engine` (raises what the runtime raises)."""
    if engine.convert_to:
        model = converted(model, engine.convert_to)
    if engine.runtime == "reference":
        return ReferenceSession(model)
    return OrtSession(open_ort(model))


def first_working(model: onnx.ModelProto, opset: int,
                  open_ort: Callable[[onnx.ModelProto], object],
                  check: Optional[Callable[[object], object]] = None
                  ) -> tuple[Engine, object, list]:
    """The first fallback engine that builds a session for `model` (and, given `check`, runs
    it: a converted copy can build and still fail on the data), that session, and why each
    earlier one failed (raises ValueError when none works)."""
    failures = []
    for engine in fallbacks(opset):
        try:
            session = open_with(engine, model, open_ort)
            if check is not None:
                check(session)
            return engine, session, failures
        except Exception as exc:  # noqa: BLE001 - converters and runtimes raise many types
            failures.append(f"{engine.describe()}: {first_line(exc, 160)}")
    raise ValueError("; ".join(failures))
