"""`saturate fix`: the changes are exactly the suggested ones, touch only their layer, and work."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
from conftest import SAMPLES, run_cli
from onnx import TensorProto, helper, numpy_helper


def _counts(report: dict) -> dict:
    return report["summary"]["findings"]


def _init(model, name):
    return next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == name)


def _producer_weights(model, node_name):
    """The weight and bias arrays a Gemm/Conv node actually reads (through Identity)."""
    producers = {o: n for n in model.graph.node for o in n.output}
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    node = next(n for n in model.graph.node if n.name == node_name)

    def value(tensor):
        while tensor not in inits:
            tensor = producers[tensor].input[0]
        return inits[tensor]

    return value(node.input[1]), value(node.input[2])


def _fix(tmp_path, name, *extra):
    out = tmp_path / "fixed.onnx"
    result = run_cli("fix", str(SAMPLES / f"{name}.onnx"), "-o", str(out), "-f", "json", *extra)
    return result, out


def test_sigmoid_mlp_rescaled_exactly_and_healthy_after(tmp_path):
    result, out = _fix(tmp_path, "mlp_sigmoid_badinit", "-n", "64")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert _counts(summary["before"])["error"] == 4 and _counts(summary["after"])["error"] == 0
    original, fixed = onnx.load(str(SAMPLES / "mlp_sigmoid_badinit.onnx")), onnx.load(str(out))
    for change, layer in zip(summary["plan"], ["fc1", "fc2", "fc3", "fc4"]):
        assert change["remedy"] == "xavier_rescale"
        w0, b0 = _producer_weights(original, f"/{layer}/Gemm")
        w1, b1 = _producer_weights(fixed, f"/{layer}/Gemm")
        np.testing.assert_allclose(w1, w0 * change["factor"], rtol=1e-6)
        np.testing.assert_allclose(b1, b0 * change["factor"], rtol=1e-6, atol=1e-7)
    # independently: the first layer's pre-activations on fresh data are now mostly unsaturated
    x = np.random.default_rng(9).standard_normal((200, 784)).astype(np.float32)
    w, b = _producer_weights(fixed, "/fc1/Gemm")
    pre = x.astype(np.float64) @ w.T.astype(np.float64) + b
    assert (np.abs(pre) >= 4.3565).mean() < 0.01


def test_dead_units_revived_by_per_unit_bias_shift(tmp_path):
    result, out = _fix(tmp_path, "cnn_relu_deadbias", "-n", "64")
    summary = json.loads(result.stdout)
    assert result.exit_code == 0 and _counts(summary["after"]) == {"error": 0, "warning": 0,
                                                                   "info": 0}
    _, b0 = _producer_weights(onnx.load(str(SAMPLES / "cnn_relu_deadbias.onnx")), "/conv1/Conv")
    _, b1 = _producer_weights(onnx.load(str(out)), "/conv1/Conv")
    changed = np.nonzero(b1 != b0)[0].tolist()
    assert changed == [0, 1, 2, 3, 4, 5]  # only the dead channels moved


def test_shared_weight_is_not_changed_for_the_other_layer(tmp_path):
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((16, 16)) * 3).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h1"], name="fc1", transB=1),
             helper.make_node("Sigmoid", ["h1"], ["a1"], name="s1"),
             helper.make_node("Gemm", ["a1", "w"], ["h2"], name="fc2", transB=1),
             helper.make_node("Relu", ["h2"], ["y"], name="r2")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["n", 16])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["n", 16])], [numpy_helper.from_array(w, "w")])
    src = tmp_path / "shared.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    out = tmp_path / "out.onnx"
    result = run_cli("fix", str(src), "-o", str(out), "--json", "-n", "64")
    assert result.exit_code in (0, 1), result.stderr
    assert [c["site"] for c in json.loads(result.stdout)["plan"]] == ["s1"]
    fixed = onnx.load(str(out))
    fc2 = next(n for n in fixed.graph.node if n.name == "fc2")
    np.testing.assert_array_equal(_init(fixed, fc2.input[1]), w)
    fc1 = next(n for n in fixed.graph.node if n.name == "fc1")
    assert fc1.input[1] != "w"
    ort.InferenceSession(str(out))  # still a valid model


def test_fix_refuses_to_overwrite_and_bad_input(tmp_path):
    model = SAMPLES / "mlp_sigmoid_badinit.onnx"
    assert run_cli("fix", str(model), "-o", str(model)).exit_code == 2
    bad = run_cli("fix", str(tmp_path / "none.onnx"), "-o", str(tmp_path / "o.onnx"))
    assert bad.exit_code == 2 and not (tmp_path / "o.onnx").exists()
    none = run_cli("fix", str(model), "-n", "16")
    assert none.exit_code == 2 and "-o" in none.stderr


def test_a_normalisation_before_the_site_gets_its_gamma_and_beta_changed(tmp_path):
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((8, 8)) * 0.3).astype(np.float32)
    gamma, beta = np.full(8, 9.0, np.float32), np.zeros(8, np.float32)  # too wide: scale
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("LayerNormalization", ["h", "gamma", "beta"], ["n"], name="ln"),
             helper.make_node("Tanh", ["n"], ["y"], name="act")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["n", 8])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["n", 8])], [numpy_helper.from_array(w, "w"),
                                                 numpy_helper.from_array(gamma, "gamma"),
                                                 numpy_helper.from_array(beta, "beta")])
    src, out = tmp_path / "ln.onnx", tmp_path / "fixed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    result = run_cli("fix", str(src), "-o", str(out), "--json", "-n", "64")
    summary = json.loads(result.stdout)
    (change,) = summary["plan"]
    assert change["tensors"] == ["gamma", "beta"] and _counts(summary["after"])["error"] == 0
    fixed = onnx.load(str(out))
    ln = next(n for n in fixed.graph.node if n.name == "ln")
    np.testing.assert_allclose(_init(fixed, ln.input[1]), gamma * change["factor"], rtol=1e-6)
    np.testing.assert_array_equal(_init(fixed, next(
        n for n in fixed.graph.node if n.name == "mm").input[1]), w)


def test_fix_keeps_if_branches(tmp_path):
    """Measuring specialises If nodes internally; the written model keeps them."""
    from hostile.onnx_models import if_model

    src, out = tmp_path / "if.onnx", tmp_path / "fixed.onnx"
    onnx.save(if_model(), str(src))
    result = run_cli("fix", str(src), "-o", str(out), "--json", "-n", "16")
    assert result.exit_code in (0, 1), result.stderr
    assert [n.op_type for n in onnx.load(str(out)).graph.node].count("If") == 1


def _fix_graph(tmp_path, nodes, x_shape, samples: str, inits=()):
    """`saturate fix --json` on a graph x -> nodes -> y (opset 13): result, summary, output."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, x_shape)], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    src, out = tmp_path / "m.onnx", tmp_path / "fixed.onnx"
    onnx.save(model, str(src))
    result = run_cli("fix", str(src), "-o", str(out), "--json", "-n", samples)
    return result, json.loads(result.stdout), out


def test_rescale_then_shift_applied_together(tmp_path):
    """A vanished, off-centre tanh input (std ~1e-6 around 3): the report says rescale, then
    shift the rescaled layer; fix applies both before re-measuring and leaves it healthy."""
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((8, 8)) * 1e-7).astype(np.float32)
    b = np.full(8, 3.0, np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["z"], name="fc", transB=1),
             helper.make_node("Tanh", ["z"], ["y"], name="act")]
    result, summary, out = _fix_graph(tmp_path, nodes, ["n", 8], "64",
                                      [numpy_helper.from_array(w, "w"),
                                       numpy_helper.from_array(b, "b")])
    assert [c["remedy"] for c in summary["plan"]][:2] == ["xavier_rescale", "shift_bias"]
    assert result.exit_code == 0, result.stdout
    w1, b1 = _producer_weights(onnx.load(str(out)), "fc")
    x = rng.standard_normal((256, 8))
    pre = x @ w1.T.astype(np.float64) + b1
    assert (np.abs(pre) >= 2.1782).mean() < 0.10  # tanh's tails, computed here
    assert 0.1 < pre.std() < 3 and abs(pre.mean()) < 1


def test_a_bias_reshaped_for_broadcasting_is_found_and_fixed(tmp_path):
    """PaddlePaddle exports keep weights in Constant nodes and add the bias as
    Reshape(bias, [1, C, 1, 1]): the producer names the parameter, fix revives its dead units."""
    rng = np.random.default_rng(4)
    w = rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32)
    b = np.array([-30.0, 0.1, -30.0, 0.2], np.float32)
    nodes = [helper.make_node("Constant", [], ["conv_w"], value=numpy_helper.from_array(w)),
             helper.make_node("Constant", [], ["conv_b"], value=numpy_helper.from_array(b)),
             helper.make_node("Constant", [], ["shape"],
                              value=numpy_helper.from_array(np.array([1, 4, 1, 1], np.int64))),
             helper.make_node("Conv", ["x", "conv_w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["conv_b", "shape"], ["b4"]),
             helper.make_node("Add", ["c", "b4"], ["z"]),
             helper.make_node("Relu", ["z"], ["y"], name="relu")]
    result, summary, out = _fix_graph(tmp_path, nodes, ["n", 3, 6, 6], "32")
    assert summary["plan"][0]["tensors"] == ["conv_b"] and summary["plan"][0]["units"] == [0, 2]
    x = rng.standard_normal((16, 3, 6, 6)).astype(np.float32)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": x})[0]
    assert all((y[:, u] > 0).mean() > 0.2 for u in range(4))  # every channel alive again
