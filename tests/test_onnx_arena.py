"""The shared arena (onnx/arena.py): registered once per process, used by every session saturate
opens, and the results are those of a session on onnxruntime's own allocator."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

from saturate_cli.model.onnx import arena
from saturate_cli.model.onnx.runner import Runner
from saturate_cli.model.onnx.session import Staged


def _model():
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Tanh", ["r"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_sessions_share_one_arena_and_agree_with_a_plain_session():
    model = _model()
    x = np.random.default_rng(0).standard_normal((256, 64)).astype(np.float32)
    plain = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = plain.run(None, {"x": x})[0]
    runner = Runner("m.onnx", 17, [])
    for _ in range(3):  # registering again must not fail
        with Staged(model) as staged:
            session = runner.open(staged)
        np.testing.assert_array_equal(session.run(None, {"x": x})[0], want)
    assert arena._registered == [True]


def test_the_option_is_set():
    options = ort.SessionOptions()
    arena.use(options)
    assert options.get_session_config_entry("session.use_env_allocators") == "1"
