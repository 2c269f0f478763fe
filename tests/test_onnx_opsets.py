"""Older opsets: Clip bounds as attributes, Softmax over the flattened tail, no Slice steps."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from saturate_cli.batch_loop import collect
from saturate_cli.pipeline import inspect_model
from saturate_cli.settings import Settings


def _model(tmp_path, nodes, opset, shape, name="m"):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"] + [None] * (len(shape) - 1))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7 if opset >= 12 else 4
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return str(path)


def _data(tmp_path, shape, scale=3.0):
    x = (np.random.default_rng(5).standard_normal(shape) * scale).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    return x, Settings(calibration=(str(tmp_path / "x.npz"),), samples=shape[0], batch_size=7)


@pytest.mark.parametrize("opset", [7, 9])
def test_clip_attributes_and_old_comparisons(tmp_path, opset):
    path = _model(tmp_path, [helper.make_node("Clip", ["x"], ["y"], min=0.0, max=6.0)], opset,
                  ["n", 12])
    x, settings = _data(tmp_path, (30, 12))
    site = inspect_model(path, settings).to_dict()["sites"][0]
    assert site["kind"] == "relu6"
    assert site["saturation"]["fraction_low"] * x.size == pytest.approx((x <= 0).sum())
    assert site["saturation"]["fraction_high"] * x.size == pytest.approx((x >= 6).sum())
    assert site["stats"]["min"] == x.min() and site["stats"]["max"] == x.max()


def test_softmax_before_opset13_flattens_from_axis(tmp_path):
    path = _model(tmp_path, [helper.make_node("Softmax", ["x"], ["y"], axis=1)], 11,
                  ["n", 4, 5])
    x, settings = _data(tmp_path, (30, 4, 5), scale=4.0)
    site = inspect_model(path, settings).to_dict()["sites"][0]
    rows = x.reshape(30, 20).astype(np.float64)
    p = 1 / np.exp(rows - rows.max(axis=1, keepdims=True)).sum(axis=1)
    assert site["saturation"]["rows"] == 30
    assert site["saturation"]["collapsed_rows"] == int((p > 0.99).sum())


def test_softmax_on_a_middle_axis(tmp_path):
    path = _model(tmp_path, [helper.make_node("Softmax", ["x"], ["y"], axis=1)], 13,
                  ["n", 6, 3])
    x, settings = _data(tmp_path, (30, 6, 3), scale=6.0)
    site = inspect_model(path, settings).to_dict()["sites"][0]
    z = x.astype(np.float64)
    p = 1 / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)
    assert site["saturation"]["rows"] == 90
    assert site["saturation"]["collapsed_rows"] == int((p > 0.99).sum())


def test_unknown_rank_is_probed(tmp_path):
    """A site whose rank shape inference cannot tell still gets per-unit counts."""
    from saturate_cli.model.onnx.handle import OnnxModel

    nodes = [helper.make_node("Reshape", ["x", "s"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 12]),
                     helper.make_tensor_value_info("s", TensorProto.INT64, ["k"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(tmp_path / "m.onnx"))
    handle = OnnxModel(tmp_path / "m.onnx", memory_budget=2**30)
    assert handle.sites[0].rank is None
    x = np.random.default_rng(0).standard_normal((10, 12)).astype(np.float32)
    x[:, 3] = -1.0
    batches = [{"x": x[:5], "s": np.array([5, 12], np.int64)},
               {"x": x[5:], "s": np.array([5, 12], np.int64)}]
    stats = collect(handle, batches, tau=0.05, softmax_tau=0.01)[handle.sites[0].name]
    assert handle.sites[0].rank == 2 and handle.sites[0].unit_axis == 1
    np.testing.assert_array_equal(stats.unit_saturated, (x <= 0).sum(axis=0))


def test_activations_inside_local_functions_are_inlined(tmp_path):
    """Dynamo-style exports wrap layers in model-local functions."""
    fn = helper.make_function("local", "Act", ["a"], ["b"],
                              [helper.make_node("Sigmoid", ["a"], ["b"])],
                              [helper.make_opsetid("", 17)])
    graph = helper.make_graph(
        [helper.make_node("Act", ["x"], ["y"], domain="local")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])])
    model = helper.make_model(graph, functions=[fn], opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    onnx.save(model, str(tmp_path / "f.onnx"))
    x, settings = _data(tmp_path, (20, 4), scale=10.0)
    report = inspect_model(str(tmp_path / "f.onnx"), settings).to_dict()
    assert [s["kind"] for s in report["sites"]] == ["sigmoid"]
    assert report["sites"][0]["stats"]["count"] == x.size


def test_contrib_gelu_is_measured_and_other_custom_ops_are_grouped(tmp_path):
    nodes = [helper.make_node("Gelu", ["x"], ["g"], domain="com.microsoft", name="ms_gelu"),
             helper.make_node("Mystery", ["g"], ["m1"], domain="acme", name="m1"),
             helper.make_node("Mystery", ["m1"], ["y"], domain="acme", name="m2")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])])
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1),
        helper.make_opsetid("acme", 1)])
    from saturate_cli.model.onnx.graph import GraphView
    from saturate_cli.model.onnx.sites import discover

    sites, uncovered = discover(GraphView(model))
    assert [(s.name, s.kind, s.input) for s in sites] == [("ms_gelu", "gelu", "x")]
    assert len(uncovered) == 1 and uncovered[0].op == "acme.Mystery"
    assert "1 more" in uncovered[0].name


def test_bfloat16_and_float16_inputs_run(tmp_path):
    for dtype, name in ((TensorProto.BFLOAT16, "bf16"), (TensorProto.FLOAT16, "fp16")):
        nodes = [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
                 helper.make_node("Sigmoid", ["xf"], ["y"])]
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
            "x", dtype, ["n", 4])], [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                    ["n", 4])])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                  str(tmp_path / f"{name}.onnx"))
        report = inspect_model(str(tmp_path / f"{name}.onnx"), Settings(samples=8)).to_dict()
        assert report["sites"][0]["stats"]["count"] == 32


def _const(name, value):
    return onnx.numpy_helper.from_array(np.array(value, np.float32), name)


@pytest.mark.parametrize("nodes, kind, params", [
    ([helper.make_node("Mul", ["x", "k"], ["s"]), helper.make_node("Sigmoid", ["s"], ["g"]),
      helper.make_node("Mul", ["x", "g"], ["y"])], "silu", {"alpha": 1.702}),
    ([helper.make_node("Add", ["x", "three"], ["a"]),
      helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
      helper.make_node("Div", ["c", "six"], ["d"]), helper.make_node("Mul", ["x", "d"], ["y"])],
     "hardswish", {}),
    ([helper.make_node("Add", ["x", "three"], ["a"]),
      helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
      helper.make_node("Mul", ["x", "c"], ["m"]), helper.make_node("Div", ["m", "six"], ["y"])],
     "hardswish", {}),
    ([helper.make_node("Add", ["x", "three"], ["a"]),
      helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
      helper.make_node("Div", ["c", "six"], ["y"])], "hardsigmoid", {"alpha": 1 / 6}),
])
def test_other_decomposed_forms(tmp_path, nodes, kind, params):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 6])],
        [_const("k", 1.702), _const("three", 3.0), _const("zero", 0.0), _const("six", 6.0)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
              str(tmp_path / "m.onnx"))
    x, settings = _data(tmp_path, (40, 6), scale=4.0)
    (site,) = inspect_model(str(tmp_path / "m.onnx"), settings).to_dict()["sites"]
    assert site["kind"] == kind and site["input"] == "x"
    for key, value in params.items():
        assert site["params"][key] == pytest.approx(value, rel=1e-6)
    low = site["saturation"]["low"]
    assert site["saturation"]["fraction_low"] * x.size == pytest.approx((x <= low).sum())
