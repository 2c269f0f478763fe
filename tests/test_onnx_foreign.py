"""Forms found in models others made: checker complaints, file names that lie, run-time Clip
bounds, per-channel PRelu slopes, GLU splits, old opsets onnxruntime refuses, integer sites.
Truth is numpy in float64 on the arrays the test feeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.batch_loop import collect
from saturate_cli.pipeline import inspect_model
from saturate_cli.settings import Settings
from tests.conftest import run_cli

TAU = 0.05


def _save(tmp_path, nodes, inputs, opset=17, inits=(), name="m.onnx", outputs=("y",)):
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                               for o in outputs], initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset >= 13 else 3
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def _x(name="x", shape=("n", 6), elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, list(shape))


def _run(path, tmp_path, **arrays):
    np.savez(tmp_path / "data.npz", **arrays)
    settings = Settings(calibration=(str(tmp_path / "data.npz"),), batch_size=8)
    return inspect_model(path, settings).to_dict()


def _site(report, input_name):
    return next(s for s in report["sites"] if s["input"] == input_name)


def test_checker_complaint_is_a_note_and_the_model_is_measured(tmp_path):
    """A graph output without a type fails onnx.checker; onnxruntime runs the model."""
    path = _save(tmp_path, [helper.make_node("Tanh", ["x"], ["y"])], [_x()])
    model = onnx.load(path)
    model.graph.output[0].ClearField("type")
    onnx.save(model, path)
    with pytest.raises(Exception):
        onnx.checker.check_model(model)
    x = np.random.default_rng(0).normal(0, 3, (20, 6)).astype(np.float32)
    report = _run(path, tmp_path, x=x)
    assert any("checker" in n for n in report["notes"])
    assert report["sites"][0]["stats"]["count"] == x.size
    want = float((np.abs(x.astype(np.float64)) >= 2.1782).mean())
    assert report["sites"][0]["saturation"]["fraction"] == pytest.approx(want, abs=1e-3)


@pytest.mark.parametrize("name", ["model.bin", "model", "weights.pt"])
def test_the_content_decides_the_format(tmp_path, name):
    path = _save(tmp_path, [helper.make_node("Sigmoid", ["x"], ["y"])], [_x()], name=name)
    out = run_cli("inspect", path, "-f", "json", "-n", "8", "-q")
    assert out.exit_code in (0, 1), out.stderr
    assert '"format": "onnx"' in out.stdout


def test_clip_bounds_computed_at_run_time(tmp_path):
    """min = -max(|x|)/2 per batch, computed in the graph: each batch judged by its own."""
    nodes = [helper.make_node("Abs", ["x"], ["a"]), helper.make_node("ReduceMax", ["a"], ["m"],
                                                                     keepdims=0),
             helper.make_node("Mul", ["m", "half"], ["lo"]), helper.make_node("Neg", ["lo"],
                                                                               ["nlo"]),
             helper.make_node("Clip", ["x", "nlo", "lo"], ["y"])]
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    path = _save(tmp_path, nodes, [_x()], inits=[half])
    x = np.random.default_rng(1).normal(0, 1, (16, 6)).astype(np.float32)
    x[8:] *= 4  # the second batch has other bounds
    report = _run(path, tmp_path, x=x)
    site = _site(report, "x")
    want = 0
    for batch in (x[:8], x[8:]):
        bound = np.float32(np.abs(batch).max() * np.float32(0.5))
        want += int(((batch <= -bound) | (batch >= bound)).sum())
    assert site["saturation"]["fraction"] * x.size == pytest.approx(want)
    assert any("varied between batches" in n for n in report["notes"])


def test_clip_bound_fed_as_an_input(tmp_path):
    path = _save(tmp_path, [helper.make_node("Clip", ["x", "", "hi"], ["y"])],
                 [_x(), _x("hi", ())])
    x = np.random.default_rng(2).normal(0, 2, (24, 6)).astype(np.float32)
    report = _run(path, tmp_path, x=x, hi=np.array(1.5, np.float32))
    site = _site(report, "x")
    assert site["saturation"]["high"] == 1.5
    assert site["saturation"]["fraction_high"] == pytest.approx(float((x >= 1.5).mean()))


@pytest.mark.parametrize("opset", [9, 17])
def test_prelu_per_channel_slopes(tmp_path, opset):
    """Channels whose |slope| < tau have a flat negative side; the others none."""
    slope = np.array([0.01, 0.25, -0.02, 1.5], np.float32).reshape(4, 1, 1)
    path = _save(tmp_path, [helper.make_node("PRelu", ["x", "s"], ["y"])],
                 [_x(shape=("n", 4, 3, 3))], opset=opset,
                 inits=[numpy_helper.from_array(slope, "s")])
    x = np.random.default_rng(3).normal(0, 1, (16, 4, 3, 3)).astype(np.float32)
    site = _site(_run(path, tmp_path, x=x), "x")
    flat = np.broadcast_to(np.abs(slope) < TAU, x.shape)
    assert site["saturation"]["fraction"] * x.size == pytest.approx(((x <= 0) & flat).sum())


def test_glu_split_keeps_its_sigmoid(tmp_path):
    nodes = [helper.make_node("Split", ["x"], ["a", "b"], axis=1),
             helper.make_node("Sigmoid", ["b"], ["g"]), helper.make_node("Mul", ["a", "g"], ["y"])]
    path = _save(tmp_path, nodes, [_x(shape=("n", 8))], opset=11)
    x = np.random.default_rng(4).normal(0, 5, (16, 8)).astype(np.float32)
    site = _site(_run(path, tmp_path, x=x), "b")
    b = x[:, 4:].astype(np.float64)
    assert site["kind"] == "sigmoid" and site["stats"]["count"] == b.size
    assert site["saturation"]["fraction"] == pytest.approx(float((np.abs(b) >= 4.3565).mean()),
                                                           abs=1e-3)


def test_opset6_legacy_broadcast_runs_on_a_converted_copy(tmp_path):
    """Add with broadcast=1 (opset 6) has no onnxruntime kernel: measured anyway, noted."""
    nodes = [helper.make_node("Add", ["x", "bias"], ["z"], broadcast=1, axis=1),
             helper.make_node("Sigmoid", ["z"], ["y"])]
    bias = numpy_helper.from_array(np.array([5, -5, 0, 1, 2, 3], np.float32), "bias")
    path = _save(tmp_path, nodes, [_x(shape=(16, 6))], opset=6, inits=[bias])
    x = np.random.default_rng(5).normal(0, 1, (16, 6)).astype(np.float32)
    report = _run(path, tmp_path, x=x)
    z = x.astype(np.float64) + numpy_helper.to_array(bias)
    site = _site(report, "z")
    assert site["stats"]["mean"] == pytest.approx(z.mean(), rel=1e-6)
    assert site["saturation"]["fraction"] == pytest.approx(float((np.abs(z) >= 4.3565).mean()))
    assert any("onnxruntime cannot run this model" in n for n in report["notes"])


def test_integer_clip_is_measured(tmp_path):
    path = _save(tmp_path, [helper.make_node("Clip", ["x", "lo", "hi"], ["y"])],
                 [_x(elem=TensorProto.INT8)], opset=13,
                 inits=[numpy_helper.from_array(np.array(-3, np.int8), "lo"),
                        numpy_helper.from_array(np.array(4, np.int8), "hi")])
    x = np.random.default_rng(6).integers(-8, 8, (16, 6)).astype(np.int8)
    site = _site(_run(path, tmp_path, x=x), "x")
    assert site["stats"]["mean"] == pytest.approx(x.astype(np.float64).mean())
    assert site["saturation"]["fraction"] == pytest.approx(float(((x <= -3) | (x >= 4)).mean()))


@pytest.mark.parametrize("op,alpha,low", [("ThresholdedRelu", 0.7, 0.7), ("Swish", 2.0, None)])
def test_thresholded_relu_and_swish(tmp_path, op, alpha, low):
    path = _save(tmp_path, [helper.make_node(op, ["x"], ["y"], alpha=alpha)], [_x()],
                 opset=24 if op == "Swish" else 17)
    x = np.random.default_rng(7).normal(0, 3, (16, 6)).astype(np.float32)
    site = _site(_run(path, tmp_path, x=x), "x")
    xd = x.astype(np.float64)
    if op == "Swish":  # x sigmoid(alpha x): the SiLU tail scaled by 1/alpha
        assert site["kind"] == "silu" and site["params"]["alpha"] == alpha
        assert site["saturation"]["low"] == pytest.approx(-3.9298 / alpha, rel=1e-4)
        want = float((xd <= site["saturation"]["low"]).mean())
    else:
        assert site["kind"] == "thresholded_relu" and site["saturation"]["low"] == pytest.approx(low)
        want = float((xd <= np.float32(low)).mean())
    assert site["saturation"]["fraction"] == pytest.approx(want, abs=1e-9)


def test_softmax_fraction_is_the_collapsed_row_share(tmp_path):
    path = _save(tmp_path, [helper.make_node("Softmax", ["x"], ["y"], axis=-1)], [_x()])
    x = np.random.default_rng(8).normal(0, 1, (32, 6)).astype(np.float32)
    x[:10, 0] += 30  # ten rows one-hot
    site = _site(_run(path, tmp_path, x=x), "x")
    assert site["saturation"]["collapsed_rows"] == 10 and site["saturation"]["rows"] == 32
    assert site["saturation"]["fraction"] == pytest.approx(10 / 32)


def _scoped(node, scopes, classes):
    for key, value in (("pkg.torch.onnx.name_scopes", scopes),
                       ("pkg.torch.onnx.class_hierarchy", classes)):
        prop = node.metadata_props.add()
        prop.key, prop.value = key, repr(value)
    return node


def test_dynamo_exports_are_named_by_module_path(tmp_path):
    """Names as the PyTorch capture gives them: module path, `#1` for a second call of one
    module, `path:function#k` for functional calls (dynamo's node names are `node_*`)."""
    relu = "torch.nn.modules.activation.ReLU"
    nodes = [
        _scoped(helper.make_node("Relu", ["x"], ["a"], name="node_relu"),
                ["", "layer1.0.relu", "relu"], ["M", relu, "aten.relu.default"]),
        _scoped(helper.make_node("Relu", ["a"], ["b"], name="node_relu_1"),
                ["", "layer1.0.relu", "relu_1"], ["M", relu, "aten.relu.default"]),
        _scoped(helper.make_node("Softmax", ["b"], ["c"], name="node_softmax", axis=-1),
                ["", "attn", "softmax"], ["M", "pkg.Attention", "aten._softmax.default"]),
        _scoped(helper.make_node("Sigmoid", ["c"], ["s"], name="node_sigmoid"),
                ["", "gate", "sigmoid"], ["M", "pkg.Gate", "aten.sigmoid.default"]),
        _scoped(helper.make_node("Mul", ["c", "s"], ["y"], name="node_mul"),
                ["", "gate", "silu"], ["M", "pkg.Gate", "aten.silu.default"]),
        helper.make_node("Tanh", ["y"], ["t"], name="plain_tanh"),
        helper.make_node("Identity", ["t"], ["z"]),
    ]
    path = _save(tmp_path, nodes, [_x()], outputs=("z",))
    x = np.random.default_rng(9).normal(0, 1, (8, 6)).astype(np.float32)
    names = [s["name"] for s in _run(path, tmp_path, x=x)["sites"]]
    assert names == ["layer1.0.relu", "layer1.0.relu#1", "attn:softmax#0", "gate:silu#0",
                     "plain_tanh"]


def test_token_ids_reach_their_embedding_through_reshapes(tmp_path):
    """GPT-2 exports reshape the ids before the lookup: the table still tells the vocabulary,
    so synthetic ids cover [0, 50) and not a fallback [0, 2)."""
    table = numpy_helper.from_array(
        np.random.default_rng(10).normal(0, 1, (50, 4)).astype(np.float32), "wte")
    shape = numpy_helper.from_array(np.array([-1, 8], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["ids", "shape"], ["flat"]),
             helper.make_node("Gather", ["wte", "flat"], ["emb"]),
             helper.make_node("Tanh", ["emb"], ["y"])]
    path = _save(tmp_path, nodes, [_x("ids", ("n", 8), TensorProto.INT64)], inits=[table, shape])
    report = inspect_model(path, Settings(batch_size=4, samples=8)).to_dict()
    assert any("integers in [0, 50) (the embedding table)" in n
               for n in report["calibration"]["notes"]), report["calibration"]["notes"]


def test_an_initializer_shared_by_two_layers_is_named_in_the_advice(tmp_path):
    """Exporters merge equal zero biases: a bias shift for one layer says who else reads it."""
    rng = np.random.default_rng(11)
    inits = [numpy_helper.from_array(rng.normal(0.5, 0.05, (6, 6)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 1, (6, 6)).astype(np.float32), "w2"),
             numpy_helper.from_array(np.zeros(6, np.float32), "zero")]
    nodes = [helper.make_node("Gemm", ["x", "w1", "zero"], ["z1"], name="fc1"),
             helper.make_node("Sigmoid", ["z1"], ["a"], name="act1"),
             helper.make_node("Gemm", ["a", "w2", "zero"], ["z2"], name="fc2"),
             helper.make_node("Sigmoid", ["z2"], ["y"], name="act2")]
    path = _save(tmp_path, nodes, [_x()], inits=inits)
    x = (rng.normal(0, 1, (32, 6)) + 40).astype(np.float32)  # far off-centre: a bias shift
    report = _run(path, tmp_path, x=x)
    first = _site(report, "z1")
    assert first["producer"]["shared_with"] == [["zero", ["fc2"]]]
    tips = [t for f in first["findings"] for t in f["suggestions"] if t["kind"] == "shift_bias"]
    assert tips and all(t["shared_with"] == ["fc2"] for t in tips)


def test_token_ids_without_a_known_vocabulary_are_a_warning(tmp_path):
    """The ids feed a computed table (no constant embedding): synthetic ids from a guessed
    range cannot exercise the model, and the report says so as a finding, not only a note."""
    nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"]),
             helper.make_node("Tanh", ["emb"], ["y"])]
    path = _save(tmp_path, nodes, [_x("ids", ("n", 8), TensorProto.INT64),
                                   _x("table", (4, 3))])
    report = inspect_model(path, Settings(batch_size=4, samples=8,
                                          input_shapes={"table": (4, 3)})).to_dict()
    found = [f for f in report["model_findings"] if f["code"] == "SAT904"]
    assert len(found) == 1 and "'ids'" in found[0]["message"] and found[0]["severity"] == "warning"
    given = inspect_model(path, Settings(batch_size=4, samples=8, int_range=(0, 4))).to_dict()
    assert not [f for f in given["model_findings"] if f["code"] == "SAT904"]


def test_anonymous_parameters_are_named_by_their_layer(tmp_path):
    """The TorchScript exporter folds BatchNorm into Conv and names the result `onnx::Conv_7`:
    the advice names the layer (`net.layer1.0.conv1`) beside it, the fix target stays exact."""
    rng = np.random.default_rng(12)
    w = rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32)
    b = np.full(4, -40.0, np.float32)  # every unit dead
    inits = [numpy_helper.from_array(w, "onnx::Conv_7"), numpy_helper.from_array(b, "onnx::Conv_8")]
    nodes = [helper.make_node("Conv", ["x", "onnx::Conv_7", "onnx::Conv_8"], ["z"],
                              name="/net/layer1/layer1.0/conv1/Conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["z"], ["y"], name="/net/layer1/layer1.0/relu/Relu")]
    path = _save(tmp_path, nodes, [_x(shape=("n", 3, 5, 5))], inits=inits)
    x = rng.normal(0, 1, (8, 3, 5, 5)).astype(np.float32)
    site = _site(_run(path, tmp_path, x=x), "z")
    assert site["producer"]["layer"] == "net.layer1.0.conv1"
    tips = [t for f in site["findings"] for t in f["suggestions"] if t["kind"] == "shift_bias"]
    assert tips and tips[0]["target"] == "onnx::Conv_8"
    assert "onnx::Conv_8 (the bias of net.layer1.0.conv1)" in tips[0]["rationale"]


@pytest.mark.parametrize("mask", [-np.inf, float(np.finfo(np.float32).min), -1e4])
def test_causal_attention_rows_are_masked_not_collapsed(tmp_path, mask):
    """GPT-2 style: scores + causal mask -> Softmax. The first query row allows one position:
    one-hot by construction, a masked row, not collapse; the statistics leave masked logits
    out (no -1.6e38 means, no Inf findings)."""
    seq = 5
    causal = np.triu(np.ones((seq, seq), bool), k=1)
    bias = np.where(causal, mask, 0.0).astype(np.float32)
    nodes = [helper.make_node("Add", ["x", "bias"], ["z"]),
             helper.make_node("Softmax", ["z"], ["y"], axis=-1)]
    path = _save(tmp_path, nodes, [_x(shape=("n", 2, seq, seq))],
                 inits=[numpy_helper.from_array(bias, "bias")])
    x = np.random.default_rng(13).normal(0, 1, (6, 2, seq, seq)).astype(np.float32)
    report = _run(path, tmp_path, x=x)
    site = _site(report, "z")
    z = x + bias  # float32, as onnxruntime adds
    kept = ~np.broadcast_to(causal, z.shape)
    assert site["saturation"]["rows"] == 6 * 2 * seq
    assert site["saturation"]["masked_rows"] == 6 * 2  # the first query row of each head
    assert site["stats"]["masked"] == int((~kept).sum())
    assert site["stats"]["count"] == int(kept.sum()) and site["stats"]["inf"] == 0
    assert site["stats"]["mean"] == pytest.approx(z[kept].astype(np.float64).mean(), rel=1e-5)
    assert site["stats"]["min"] == float(z[kept].min())
    assert not [f for f in site["findings"] if f["code"] in ("SAT201", "SAT301")]


def test_nan_batches_of_different_sites_are_all_measured(tmp_path):
    """NaN reaches site a in the first batch and site b in the second: both batches of both
    sites are measured exactly (the exact redo covers whichever sites a batch needs)."""
    from saturate_cli.model.onnx.handle import OnnxModel

    nodes = [helper.make_node("Tanh", ["a"], ["ya"]), helper.make_node("Sigmoid", ["b"], ["yb"])]
    path = _save(tmp_path, nodes, [_x("a"), _x("b")], outputs=("ya", "yb"))
    rng = np.random.default_rng(14)
    batches = [{k: rng.normal(0, 1, (4, 6)).astype(np.float32) for k in "ab"} for _ in range(2)]
    batches[0]["a"][0, 0] = np.nan
    batches[1]["b"][1, 1] = np.nan
    handle = OnnxModel(Path(path), 2**30)
    stats = collect(handle, iter(batches), TAU, 0.01)
    for site in handle.sites:
        s = stats[site.name]
        values = np.concatenate([b[site.input] for b in batches]).astype(np.float64)
        assert (s.count, s.nan, s.batches) == (values.size, 1, 2)
        assert s.mean == pytest.approx(np.nanmean(values), rel=1e-5)  # float32 runs
