"""Diagnosis on models built so the answer is known: apply the suggested remedy, re-measure."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.diagnose.suggest import insert_norm
from saturate_cli.types import Producer, Site
from saturate_cli.pipeline import inspect_model
from saturate_cli.settings import Settings

from conftest import SAMPLES

IN, OUT, N = 64, 32, 256


def _mlp(path, w, b, act="Sigmoid", **attrs):
    """x[N, IN] -> Gemm(w, b, transB=1) -> act."""
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
             helper.make_node(act, ["h"], ["y"], name="act", **attrs)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", IN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", None])],
        [numpy_helper.from_array(w.astype(np.float32), "w"),
         numpy_helper.from_array(b.astype(np.float32), "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    x = np.random.default_rng(3).standard_normal((N, IN)).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "x.npz"
    np.savez(path, x=x)
    return x, Settings(calibration=(str(path),), samples=N, batch_size=64)


def _site(report):
    return report.to_dict()["sites"][0]


def _suggestion(site, kind):
    return [s for f in site["findings"] for s in f["suggestions"] if s["kind"] == kind]


def test_scale_problem_gets_a_rescale_that_works(tmp_path, data):
    x, settings = data
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((OUT, IN)) * 2.0, rng.standard_normal(OUT) * 0.1
    site = _site(inspect_model(_mlp(tmp_path / "m.onnx", w, b), settings))
    assert [f["code"] for f in site["findings"]] == ["SAT001"]
    assert site["findings"][0]["cause"] == "scale"
    (tip,) = _suggestion(site, "xavier_rescale")
    assert tip["target"] == "w" and tip["current_std"] == pytest.approx(np.std(w), rel=1e-3)
    assert tip["xavier_std"] == pytest.approx(np.sqrt(2 / (IN + OUT)))
    k = tip["factor"]
    fixed = _site(inspect_model(_mlp(tmp_path / "fixed.onnx", w * k, b * k), settings))
    truth_std = (x.astype(np.float64) @ (w * k).T + b * k).std()
    assert fixed["stats"]["std"] == pytest.approx(truth_std, rel=1e-4)
    assert fixed["stats"]["std"] == pytest.approx(tip["target_pre_activation_std"], rel=0.10)
    assert not [f for f in fixed["findings"] if f["severity"] != "info"]


def test_shift_problem_gets_bias_shift_or_norm_not_rescale(tmp_path, data):
    _, settings = data
    rng = np.random.default_rng(1)
    w = rng.uniform(-1, 1, (OUT, IN)) * np.sqrt(6 / (IN + OUT)) * 0.5
    b = np.full(OUT, 9.0)
    site = _site(inspect_model(_mlp(tmp_path / "m.onnx", w, b), settings))
    (finding,) = site["findings"]
    assert finding["code"] == "SAT002" and finding["cause"] == "shift"
    kinds = {s["kind"] for s in finding["suggestions"]}
    assert "shift_bias" in kinds and "insert_batchnorm" in kinds
    assert not kinds & {"xavier_rescale", "he_rescale"}
    (shift,) = _suggestion(site, "shift_bias")
    assert shift["target"] == "b"
    fixed = _site(inspect_model(_mlp(tmp_path / "f.onnx", w, b + shift["amount"]), settings))
    assert abs(fixed["stats"]["mean"]) < 0.05
    assert not fixed["findings"]


def test_dead_relu_units_by_index(tmp_path, data):
    _, settings = data
    rng = np.random.default_rng(2)
    w = rng.standard_normal((OUT, IN)) * np.sqrt(2 / IN)
    b = np.zeros(OUT)
    dead = [1, 4, 5, 17, 30]
    b[dead] = -50.0
    site = _site(inspect_model(_mlp(tmp_path / "m.onnx", w, b, act="Relu"), settings))
    assert site["saturation"]["dead_unit_indices"] == dead
    (finding,) = site["findings"]
    assert finding["code"] == "SAT101" and "1, 4, 5, 17, 30" in finding["message"]


def _required_temperature_bruteforce(logits, tau=0.01, cover=0.95):
    temps = np.geomspace(1, 1000, 4000)
    need = []
    for row in logits:
        z = row[None, :] / temps[:, None]
        p = 1 / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)
        ok = np.nonzero(p <= 1 - tau)[0]
        need.append(temps[ok[0]] if len(ok) else np.inf)
    return np.quantile(np.array(need), cover)


def test_softmax_temperature_is_right(tmp_path, data):
    x, settings = data
    rng = np.random.default_rng(4)
    w, b = rng.standard_normal((10, IN)) * 3.0, np.zeros(10)
    site = _site(inspect_model(_mlp(tmp_path / "m.onnx", w, b, act="Softmax", axis=-1), settings))
    (finding,) = site["findings"]
    assert finding["code"] == "SAT201"
    (tip,) = _suggestion(site, "scale_logits")
    logits = x.astype(np.float64) @ w.T
    assert tip["temperature"] == pytest.approx(_required_temperature_bruteforce(logits), rel=0.01)
    z = logits / tip["temperature"]
    p = 1 / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)
    assert (p > 0.99).mean() <= 0.05 + 1 / N


def test_healthy_xavier_model_has_nothing_above_info():
    report = inspect_model(str(SAMPLES / "mlp_sigmoid_xavier.onnx"), Settings(samples=64))
    assert all(f.severity == "info" for f in report.findings)


def test_depth_profile_collapses_with_bad_init_only():
    bad = inspect_model(str(SAMPLES / "mlp_sigmoid_badinit.onnx"), Settings(samples=64))
    good = inspect_model(str(SAMPLES / "mlp_sigmoid_xavier.onnx"), Settings(samples=64))
    bad_cum = [r["cumulative_gain"] for r in bad.depth_profile]
    good_cum = [r["cumulative_gain"] for r in good.depth_profile]
    assert bad_cum == sorted(bad_cum) and good_cum == sorted(good_cum)  # grows toward the output
    assert bad_cum[0] < 0.01 < 0.2 < good_cum[0]
    assert all(g > 10 * b for g, b in zip(good_cum[:-1], bad_cum[:-1]))
    assert all(r["mean_gain"] > 0.5 for r in good.depth_profile)


@pytest.mark.parametrize("op, rank, axis, kind, layer", [
    ("Conv", 4, 1, "insert_batchnorm", "nn.BatchNorm2d(16)"),
    ("Gemm", 2, 1, "insert_batchnorm", "nn.BatchNorm1d(16)"),
    ("MatMul", 3, 2, "insert_layernorm", "nn.LayerNorm(16)"),
])
def test_normalisation_choice(op, rank, axis, kind, layer):
    p = Producer("l", op, "l.weight", 8, 16, 1.0, channels=16)
    tip = insert_norm(Site("s", "t", "Relu", "relu", {}, p, axis, None, rank))
    assert (tip["kind"], tip["layer"]) == (kind, layer)


def test_existing_norm_is_pointed_at_instead_of_inserting_one():
    p = Producer("l", "Conv", "l.weight", 8, 16, 1.0, norm="bn", norm_op="BatchNormalization",
                 channels=16)
    assert insert_norm(Site("s", "t", "Relu", "relu", {}, p, 1, None, 4)) is None
