"""Hand an in-memory ONNX model to onnxruntime.

Small models go as bytes; larger ones through a temporary file (onnxruntime loading a path holds
less memory at once than loading bytes), with the weights as external data past 2 GiB.
Passing the weights as OrtValues (`add_external_initializers`) was measured and left out:
onnxruntime 1.32 copies them, so the numpy copies only added memory (BERT-size: +130 MB).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import onnx

_PROTOBUF_LIMIT = 2**31 - 2**24  # serialised protobufs stop at 2 GiB; keep a margin
_IN_MEMORY = 2**23  # larger models reach onnxruntime through a temporary file (peak RSS)


def open_session(model: onnx.ModelProto, options, providers):
    """An InferenceSession for `model`."""
    import onnxruntime as ort

    size = _approx_bytes(model)
    if size < _IN_MEMORY:
        return ort.InferenceSession(model.SerializeToString(), options, providers=providers)
    return _session_from_disk(model, options, providers, size)


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


def _session_from_disk(model: onnx.ModelProto, options, providers, size: int):
    """Large models go through a temporary file: onnxruntime loading a path holds less memory
    at once than loading bytes, and over 2 GiB the weights must be external data anyway."""
    import tempfile

    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="saturate-") as folder:
        path = str(Path(folder) / "instrumented.onnx")
        if size < _PROTOBUF_LIMIT // 2:  # the estimate leaves out node overhead: margin
            onnx.save_model(model, path)
        else:  # saving as external data moves the weights out of the proto: save a copy
            copy = onnx.ModelProto()
            copy.CopyFrom(model)
            onnx.save_model(copy, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location="weights.bin", size_threshold=1024)
        return ort.InferenceSession(path, options, providers=providers)


