"""A model large enough to reach onnxruntime through a temporary file: Python's copy of the
weights is dropped while the batches run, and everything that needs them reads them again."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.batch_loop import collect
from saturate_cli.model.onnx.handle import OnnxModel
from saturate_cli.model.onnx.session import _IN_MEMORY

WIDTH = 1600  # 1600 x 1600 float32 = 10.2 MB of weights


def _model(tmp_path):
    w = (np.random.default_rng(0).standard_normal((WIDTH, WIDTH)) / 20).astype(np.float32)
    assert w.nbytes > _IN_MEMORY
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Tanh", ["h"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", WIDTH])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "large.onnx"
    onnx.save(model, str(path))
    return path, w


def test_weights_are_dropped_and_read_again(tmp_path):
    path, w = _model(tmp_path)
    rng = np.random.default_rng(1)
    batches = [{"x": rng.standard_normal((8, WIDTH)).astype(np.float32)} for _ in range(3)]
    handle = OnnxModel(path, 2**32)
    first = collect(handle, iter(batches), 0.05, 0.01)["Tanh_1"]
    assert handle.model is None  # onnxruntime holds the weights while the batches run
    again = collect(handle, iter(batches), 0.05, 0.01)["Tanh_1"]  # reads the file again
    truth = np.concatenate([b["x"] for b in batches]).astype(np.float64) @ w.astype(np.float64)
    for stats in (first, again):
        assert stats.count == truth.size
        assert abs(stats.mean - truth.mean()) < 1e-5 * truth.std()
        assert abs(stats.std / truth.std() - 1) < 1e-5

    poisoned = [{"x": batches[0]["x"].copy()}]
    poisoned[0]["x"][2, 5] = np.nan  # NaN reaches the site: measured from the raw tensor
    stats = collect(handle, iter(poisoned), 0.05, 0.01)["Tanh_1"]
    assert stats.nan == WIDTH and stats.finite == 7 * WIDTH
