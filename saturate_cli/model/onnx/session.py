"""Hand an in-memory ONNX model to onnxruntime.

A model just read from disk and unchanged since (onnx/origin.py) goes as the bytes of a hollow
copy (onnx/hollow.py) whose initializers are external data in the files it was read from:
onnxruntime reads (maps) them there, nothing is serialised twice. onnxruntime then keeps the
files mapped for the session's life, so each run first checks that they are unchanged.
Otherwise small models go as bytes; larger ones through a temporary file (onnxruntime loading
a path holds less memory at once than loading bytes), with the weights as external data past
2 GiB.
Passing the weights as OrtValues (`add_external_initializers`) was measured and left out:
onnxruntime 1.32 copies them, so the numpy copies only added memory (BERT-size: +130 MB).
"""

from __future__ import annotations

import functools
import itertools
import math
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import onnx

from saturate_cli.errors import ModelLoadError
from saturate_cli.model.onnx.lazy import materialise
from saturate_cli.model.onnx.origin import Origin

_PROTOBUF_LIMIT = 2**31 - 2**24  # serialised protobufs stop at 2 GiB; keep a margin
_IN_MEMORY = 2**23  # larger models reach onnxruntime through a temporary file (peak RSS)
_FOLDER_KEY = "session.model_external_initializers_file_folder_path"  # for a model as bytes
_CONFIG_VALUE_LIMIT = 1024  # onnxruntime's longest config value


class Staged:
    """A model serialised for onnxruntime: the bytes of a hollow copy, bytes, or a file in a
    temporary folder (removed on close). Once staged, the caller may drop its ModelProto
    before the session is built, so the two copies of the weights are never held at once."""

    def __init__(self, model: onnx.ModelProto, consume: bool = False,
                 origin: Optional[Origin] = None):
        """`consume`: the caller drops `model` afterwards, so its weights may be moved out to
        the file tensor by tensor (serialising it whole holds two transient copies).
        `origin`: where `model`'s weights lie on disk, unchanged (a hollow copy then)."""
        self._folder = None
        self._origin: Optional[Origin] = None  # set when onnxruntime reads the model's files
        self.consumed = False  # True once the caller may drop the model (weights elsewhere)
        size = _approx_bytes(model)
        if origin is not None and self._hollow(model, origin):
            self.consumed = consume and size >= _IN_MEMORY  # as below: the peak stays low
            return
        materialise(model)  # weights left in the file (onnx/lazy.py) go as bytes after all
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

    def _hollow(self, model: onnx.ModelProto, origin: Origin) -> bool:
        """Stage the hollow copy where it leaves the weights out (else False)."""
        from saturate_cli.model.onnx.hollow import hollow_copy

        if len(origin.folder.encode()) >= _CONFIG_VALUE_LIMIT or not origin.unchanged():
            return False
        light = hollow_copy(model, origin)
        if light is None or light.inline_bytes >= _IN_MEMORY:
            return False
        self.source = light.model.SerializeToString()
        self._origin = origin
        return True

    def open(self, options, providers):
        import onnxruntime as ort

        if self._origin is None:
            return ort.InferenceSession(self.source, options, providers=providers)
        options.add_session_config_entry(_FOLDER_KEY, self._origin.folder)
        _check_unchanged(self._origin)
        session = ort.InferenceSession(self.source, options, providers=providers)
        _check_unchanged(self._origin)
        return FileBacked(session, self._origin)

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


class FileBacked:
    """An onnxruntime session whose weights stay mapped from the model's own files: each run
    first checks they are unchanged (a file rewritten in place would change the weights under
    the session, a truncated one end the process)."""

    def __init__(self, session, origin: Origin):
        self._session, self._origin = session, origin

    def run(self, *args, **kwargs):
        _check_unchanged(self._origin)
        return self._session.run(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._session, name)


def _check_unchanged(origin: Origin) -> None:
    if not origin.unchanged():
        raise ModelLoadError(f"{origin.shown}: the model's files changed on disk while it was "
                             "being measured (onnxruntime reads its weights there); run again "
                             "once they are written")


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
            total += math.prod(t.dims) * _itemsize(t.data_type)
    except (KeyError, TypeError, ValueError):  # a type numpy cannot name: measure exactly
        return model.ByteSize()
    return total


@functools.cache
def _itemsize(data_type: int) -> int:
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(data_type)).itemsize
