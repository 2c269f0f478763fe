"""`saturate fix` on ONNX: recycling, norm insertion, the plan and the proof, against
onnxruntime / onnx.reference runs of the original model and numpy float64."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import SAMPLES, run_cli
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

CNN = SAMPLES / "cnn_relu_deadbias.onnx"
MLP = SAMPLES / "mlp_sigmoid_badinit.onnx"


def _fix(src, out, *extra):
    result = run_cli("fix", str(src), "-o", str(out), "-f", "json", "-q", *extra)
    assert result.exit_code in (0, 1), result.stderr
    return result, json.loads(result.stdout)


def _run(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def _weights(model) -> dict:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _node_input(model, node_name: str, index: int) -> np.ndarray:
    node = next(n for n in model.graph.node if n.name == node_name)
    return _weights(model)[node.input[index]]


def test_recycling_keeps_outputs_and_redraws_only_dead_units(tmp_path):
    out = tmp_path / "recycled.onnx"
    result, summary = _fix(CNN, out, "--recycle", "-n", "64")
    assert result.exit_code == 0, result.stdout
    assert [(c["site"], c["remedy"], c["units"]) for c in summary["plan"]] == [
        ("/relu1/Relu", "recycle", [0, 1, 2, 3, 4, 5]), ("/Relu", "recycle", [3, 7])]
    x = np.random.default_rng(11).standard_normal((32, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(_run(out, x), _run(CNN, x), atol=1e-5, rtol=0)
    original, fixed = onnx.load(str(CNN)), onnx.load(str(out))
    w0, w1 = _node_input(original, "/conv1/Conv", 1), _node_input(fixed, "/conv1/Conv", 1)
    b1 = _node_input(fixed, "/conv1/Conv", 2)
    np.testing.assert_array_equal(w1[6:], w0[6:])  # live units untouched
    he = math.sqrt(2.0 / 27)  # He std for ReLU: gain sqrt(2) / sqrt(fan_in = 3*3*3)
    assert 0.7 * he < w1[:6].std() < 1.3 * he and np.all(b1[:6] == 0)
    c2 = _node_input(fixed, "/conv2/Conv", 1)
    live = [r for r in range(32) if r not in (3, 7)]  # conv2's own recycled rows are re-drawn
    assert np.all(c2[live, :6] == 0) and np.any(c2[:, 6:] != 0)  # dead units' outgoing weights
    fc = _node_input(fixed, "/fc/Gemm", 1)
    assert np.all(fc[:, [3, 7]] == 0)  # through GlobalAveragePool and Flatten
    # the recycled units fire again on fresh data (computed here, not by saturate)
    probe = onnx.load(str(out))
    probe.graph.output.append(helper.make_empty_tensor_value_info(probe.graph.node[0].output[0]))
    pre = ReferenceEvaluator(probe).run(None, {"x": x[:4]})[1]
    assert all((pre[:, u] > 0).mean() > 0.2 for u in range(6))


def test_preserve_batchnorm_is_an_identity_and_normalize_centres(tmp_path):
    x = np.random.default_rng(12).standard_normal((16, 3, 32, 32)).astype(np.float32)
    kept = tmp_path / "preserve.onnx"
    result, summary = _fix(CNN, kept, "--norm", "preserve", "-n", "64")
    assert result.exit_code == 0 and summary["preserving"] and summary["within_tolerance"]
    assert {c["remedy"] for c in summary["plan"]} == {"insert_batchnorm"}
    np.testing.assert_allclose(_run(kept, x), _run(CNN, x), atol=1e-5, rtol=1e-5)
    bn = [n for n in onnx.load(str(kept)).graph.node if n.op_type == "BatchNormalization"]
    assert len(bn) == 2
    normed = tmp_path / "normalize.onnx"
    _fix(CNN, normed, "--norm", "normalize", "-n", "64")
    probe = onnx.load(str(normed))
    bn = next(n for n in probe.graph.node if n.op_type == "BatchNormalization")
    probe.graph.output.append(helper.make_empty_tensor_value_info(bn.output[0]))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    z = sess.run([bn.output[0]], {"x": x})[0].astype(np.float64)
    per_channel = z.transpose(1, 0, 2, 3).reshape(16, -1)
    assert np.all(np.abs(per_channel.mean(axis=1)) < 0.2)
    assert np.all(np.abs(per_channel.std(axis=1) - 1) < 0.2)


def _token_model(path, opset: int):
    """x [n, 6, 8] -> MatMul -> Add(3) -> Tanh: token inputs, off-centre."""
    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.3, (8, 8)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b"], ["z"], name="add"),
             helper.make_node("Tanh", ["z"], ["y"], name="act")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["n", 6, 8])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["n", 6, 8])], [numpy_helper.from_array(w, "w"),
                                                    numpy_helper.from_array(
                                                        np.full(8, 3.0, np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return w


@pytest.mark.parametrize("opset", [13, 17])
def test_layernorm_for_token_inputs_matches_numpy(tmp_path, opset):
    src, out = tmp_path / "tok.onnx", tmp_path / "fixed.onnx"
    w = _token_model(src, opset)
    _, summary = _fix(src, out, "--norm", "normalize", "-n", "32")
    assert [c["remedy"] for c in summary["plan"]] == ["insert_layernorm"], summary["skipped"]
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ("LayerNormalization" in ops) == (opset >= 17)
    x = np.random.default_rng(6).standard_normal((4, 6, 8)).astype(np.float32)
    z = x.astype(np.float64) @ w + 3.0
    ln = (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(_run(out, x), np.tanh(ln), atol=1e-5)
    refused = run_cli("fix", str(src), "-o", str(out), "-f", "json", "--norm", "preserve",
                      "-n", "32")
    assert "LayerNorm" in json.loads(refused.stdout)["skipped"][0]["reason"]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    out = tmp_path / "never.onnx"
    result = run_cli("fix", str(MLP), "-o", str(out), "--dry-run", "-n", "64", "-q")
    assert result.exit_code == 0, result.stderr
    assert not out.exists() and os.listdir(tmp_path) == []
    assert "dry run" in result.stdout and "/fc1/Gemm" not in result.stdout
    assert "xavier_rescale (factor 0.03" in result.stdout and "fc1.weight, fc1.bias" in \
        result.stdout


def test_json_carries_plan_reports_and_held_out_proof(tmp_path):
    _, summary = _fix(MLP, tmp_path / "f.onnx", "-n", "80", "-b", "16", "--holdout", "0.2")
    assert summary["before"]["calibration"]["batches"] == 4
    assert summary["before_held"]["calibration"]["batches"] == 1
    assert summary["after_held"]["summary"]["findings"]["error"] == 0
    held = {s["site"]: s for s in summary["sites_held"]}
    assert held["/sigmoid1/Sigmoid"]["saturated_before"] > 0.5
    assert held["/sigmoid1/Sigmoid"]["saturated_after"] < 0.05
    (dev,) = summary["deviations"]
    assert dev["output"] == "logits" and dev["max_abs"] > 0.1  # a rescale changes the function
    alias = run_cli("fix", str(MLP), "-o", str(tmp_path / "g.onnx"), "--json", "-n", "80", "-q")
    assert json.loads(alias.stdout)["plan"] == summary["plan"]


def test_config_file_and_rule_options_apply(tmp_path):
    config = tmp_path / "saturate.toml"
    config.write_text('tau = 0.02\nignore = ["SAT001"]\n')
    _, summary = _fix(MLP, tmp_path / "f.onnx", "--config", str(config), "-n", "32")
    assert summary["before"]["settings"]["tau"] == 0.02
    assert summary["plan"] == [] and summary["ok"]  # SAT001 ignored: nothing to fix
    tau = run_cli("fix", str(MLP), "-o", str(tmp_path / "g.onnx"), "-f", "json", "-q",
                  "--config", str(config), "--tau", "0.1", "--ignore", "SAT9", "-n", "32")
    assert json.loads(tau.stdout)["before"]["settings"]["tau"] == 0.1
    assert len(json.loads(tau.stdout)["plan"]) == 4
    bad = run_cli("fix", str(MLP), "-o", str(tmp_path / "h.onnx"), "-f", "sarif")
    assert bad.exit_code == 2 and "text or json" in bad.stderr
    config.write_text("tau = 7\n")
    broken = run_cli("fix", str(MLP), "-o", str(tmp_path / "h.onnx"), "--config", str(config))
    assert broken.exit_code == 2 and "'tau'" in broken.stderr and "Traceback" not in broken.stderr
    assert not (tmp_path / "h.onnx").exists()


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def broken(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    result = run_cli("fix", str(MLP), "-o", str(tmp_path / "f.onnx"), "-n", "32", "-q")
    assert result.exit_code == 2 and "No space left" in result.stderr
    assert "Traceback" not in result.stderr and os.listdir(tmp_path) == []
    monkeypatch.undo()
    bad = run_cli("fix", str(MLP), "-o", str(tmp_path / "f.onnx"), "-c",
                  str(tmp_path / "missing.npz"))
    assert bad.exit_code == 2 and os.listdir(tmp_path) == []


@hsettings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(2, 5), data=st.data())
def test_recycle_math_changes_exactly_the_named_units(rows, cols, data):
    from saturate_cli.remedies import recycle_math

    units = sorted(data.draw(st.sets(st.integers(0, rows - 1), min_size=1)))
    w = np.arange(rows * cols, dtype=np.float64).reshape(rows, cols) + 1
    new = recycle_math.redraw(w, units, 0, 0.5, np.random.default_rng(0))
    keep = [r for r in range(rows) if r not in units]
    np.testing.assert_array_equal(new[keep], w[keep])
    assert np.all(new[units] != w[units])
    per = data.draw(st.integers(1, 3))
    consumer = np.ones((4, rows * per))
    zeroed = recycle_math.zero_inputs(consumer, units, 1, per)
    dead_cols = [u * per + j for u in units for j in range(per)]
    assert np.all(zeroed[:, dead_cols] == 0)
    assert zeroed.sum() == consumer.size - 4 * len(dead_cols)


def test_html_comparison_written_beside_the_fix(tmp_path):
    page = tmp_path / "fix.html"
    _fix(MLP, tmp_path / "f.onnx", "-n", "32", "--report", str(page))
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "/sigmoid1/Sigmoid" in text
    dry = run_cli("fix", str(MLP), "--dry-run", "-n", "32", "-q", "--report",
                  str(tmp_path / "no.html"))
    assert dry.exit_code == 0 and not (tmp_path / "no.html").exists()


def test_onnx_fix_never_imports_torch(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from saturate_cli.cli import app; "
            f"r = CliRunner().invoke(app, ['fix', {str(CNN)!r}, '--recycle', '-o', "
            f"{str(tmp_path / 'f.onnx')!r}, '-n', '16', '-q']); "
            "print(r.exit_code, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["0", "False"], out.stderr


def test_softmax_temperature_applied_to_the_logit_layer(tmp_path):
    src, out = SAMPLES / "softmax_hot.onnx", tmp_path / "cooled.onnx"
    result, summary = _fix(src, out, "-n", "64")
    assert result.exit_code == 0, summary["untreated"]
    (change,) = summary["plan"]
    assert change["remedy"] == "scale_logits"
    assert change["factor"] == pytest.approx(1 / change["temperature"])
    k = change["factor"]
    w0, w1 = _node_input(onnx.load(str(src)), "/fc/Gemm", 1), _node_input(
        onnx.load(str(out)), "/fc/Gemm", 1)
    np.testing.assert_allclose(w1, w0 * k, rtol=1e-6)
    x = np.random.default_rng(13).standard_normal((256, w0.shape[1])).astype(np.float32)
    assert (_run(out, x).max(axis=1) > 0.99).mean() < (_run(src, x).max(axis=1) > 0.99).mean() / 3


@hsettings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=1, max_size=4), units=st.integers(1, 4),
       shift=st.floats(-1e3, 1e3), seed=st.integers(0, 2**16))
def test_unit_moments_over_batches_equal_numpy_on_all_the_data(sizes, units, shift, seed):
    from saturate_cli.remedies.unit_moments import unit_moments

    rng = np.random.default_rng(seed)
    batches = [rng.normal(shift, 2.0, (n, units, 3)).astype(np.float32) for n in sizes]
    m = unit_moments(batches, axis=1)
    whole = np.concatenate(batches).astype(np.float64).transpose(1, 0, 2).reshape(units, -1)
    np.testing.assert_allclose(m.mean, whole.mean(axis=1), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(m.var, whole.var(axis=1), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(m.max, whole.max(axis=1))
