"""Hand an in-memory ONNX model to onnxruntime.

Small models go as bytes; larger ones through a temporary file (onnxruntime loading a path holds
less memory at once than loading bytes), with the weights as external data past 2 GiB.
Passing the weights as OrtValues (`add_external_initializers`) was measured and left out:
onnxruntime 1.32 copies them, so the numpy copies only added memory (BERT-size: +130 MB).
"""

from __future__ import annotations

import itertools
import math
import tempfile
from pathlib import Path

import numpy as np
import onnx

_PROTOBUF_LIMIT = 2**31 - 2**24  # serialised protobufs stop at 2 GiB; keep a margin
_IN_MEMORY = 2**23  # larger models reach onnxruntime through a temporary file (peak RSS)


class Staged:
    """A model serialised for onnxruntime: bytes, or a file in a temporary folder (removed on
    close). Once staged, the caller may drop its ModelProto before the session is built, so
    the two copies of the weights are never held at once."""

    def __init__(self, model: onnx.ModelProto, consume: bool = False):
        """`consume`: the caller drops `model` afterwards, so its weights may be moved out to
        the file tensor by tensor (serialising it whole holds two transient copies)."""
        self._folder = None
        self.consumed = False  # True once the model's weights were moved out to the file
        size = _approx_bytes(model)
        if size < _IN_MEMORY:
            self.source = model.SerializeToString()
            return
        self._folder = tempfile.TemporaryDirectory(prefix="saturate-")
        self.source = str(Path(self._folder.name) / "model.onnx")
        if size < _PROTOBUF_LIMIT // 2 and not consume:  # estimate leaves out nodes: margin
            onnx.save_model(model, self.source)
            return
        if not consume:  # saving as external data moves the weights out of the proto
            copy = onnx.ModelProto()
            copy.CopyFrom(model)
            model = copy
        self.consumed = consume
        onnx.save_model(model, self.source, save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=1024)

    def open(self, options, providers):
        import onnxruntime as ort

        return ort.InferenceSession(self.source, options, providers=providers)

    def close(self) -> None:
        self.source = b""
        if self._folder is not None:
            try:
                self._folder.cleanup()
            except OSError:  # a runtime may still map the weights file (Windows): leave it
                pass
            self._folder = None

    def __enter__(self) -> "Staged":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _approx_bytes(model: onnx.ModelProto) -> int:
    """The serialised size, from the shapes of the initializers and Constant tensors
    (ByteSize() costs as much as serialising)."""
    tensors = itertools.chain(model.graph.initializer, (
        a.t for n in model.graph.node if n.op_type == "Constant" for a in n.attribute
        if a.HasField("t")))
    total = 0
    try:
        for t in tensors:
            if t.data_type == onnx.TensorProto.STRING:
                return model.ByteSize()
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type))
            total += math.prod(t.dims) * dtype.itemsize
    except (KeyError, TypeError, ValueError):  # a type numpy cannot name: measure exactly
        return model.ByteSize()
    return total
