"""Remedies an expert would sign: shift and scale together, the right norm, honest softmax
temperatures, real parameter names and shared parameters."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from saturate_cli.activations import get_kind
from saturate_cli.diagnose import suggest
from saturate_cli.types import Producer, Site
from saturate_cli.settings import DEFAULTS
from test_verdicts_support import N, finding, gemm_act, inspect, save, site, tips

RNG = np.random.default_rng(5)
WARN = DEFAULTS.thresholds.saturated_warning
SIGMOID_EDGE = 4.3565  # DESIGN.md section 2, tau = 0.05


def _saturated(pre: np.ndarray) -> float:
    return float((np.abs(pre) > SIGMOID_EDGE).mean())


def test_off_centre_and_too_wide_gets_rescale_then_shift(tmp_path):
    x = RNG.standard_normal((N, 64))
    w = RNG.standard_normal((16, 64)) * 2.1e7 / 8.0
    b = np.full(16, -2.4e7)
    pre = x.astype(np.float32).astype(np.float64) @ w.astype(np.float32).T.astype(np.float64) + b
    assert abs(pre.mean() + 2.4e7) < 0.3e7 and abs(pre.std() - 2.1e7) < 0.3e7
    f = finding(site(inspect(gemm_act(tmp_path / "m.onnx", w, b, "Sigmoid"), tmp_path, x=x)),
                "SAT002")
    assert f["cause"] == "shift+scale" and "shift and scale" in f["message"]
    (scale,) = tips(f, "xavier_rescale")
    (shift,) = tips(f, "shift_bias")
    k = scale["factor"]
    assert k == pytest.approx(1.0 / pre.std(), rel=1e-3)  # sigmoid's target std is 1
    assert shift["after_factor"] == k and shift["amount"] == pytest.approx(-k * pre.mean(),
                                                                           rel=1e-3, abs=1e-3)
    assert _saturated(pre - pre.mean()) > 0.9  # the old remedy, the shift alone, leaves it
    assert _saturated(k * pre + shift["amount"]) < WARN  # weight and bias times k, then shift
    order = [s["kind"] for s in f["suggestions"]]
    assert order.index("xavier_rescale") < order.index("shift_bias")


def test_shift_alone_stays_a_plain_shift(tmp_path):
    x = RNG.standard_normal((N, 64))
    w = RNG.standard_normal((16, 64)) * 0.5 / 8.0
    f = finding(site(inspect(gemm_act(tmp_path / "m.onnx", w, np.full(16, 9.0), "Sigmoid"),
                             tmp_path, x=x)), "SAT002")
    assert f["cause"] == "shift" and not tips(f, "xavier_rescale")


def _residual_conv(path, channels: int, bias: np.ndarray) -> str:
    """x[N, C, 6, 6] -> Conv 3x3 (pad 1) + x -> Relu: no single producing layer."""
    w = RNG.standard_normal((channels, channels, 3, 3)) * np.sqrt(2 / (channels * 9))
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "x"], ["h"], name="residual"),
             helper.make_node("Relu", ["h"], ["y"], name="act")]
    shape = ["batch", channels, 6, 6]
    return save(path, nodes, {"x": shape}, shape, {"w": w, "b": bias})


def test_norm_after_a_residual_add_is_batchnorm2d_sized_from_the_measured_channels(tmp_path):
    channels = 12
    bias = np.where(np.arange(channels) < 6, -50.0, 0.0)  # six dead channels
    x = RNG.standard_normal((64, channels, 6, 6))
    s = site(inspect(_residual_conv(tmp_path / "m.onnx", channels, bias), tmp_path, x=x))
    assert s["producer"] is None and s["saturation"]["dead_units"] == 6
    (norm,) = tips(finding(s, "SAT101"), "insert_batchnorm")
    assert norm["layer"] == f"nn.BatchNorm2d({channels})" and norm["channels"] == channels


def test_token_site_after_a_residual_add_gets_layernorm_of_its_features(tmp_path):
    features = 24
    w = RNG.standard_normal((features, features)) * 3.0
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="proj"),
             helper.make_node("Add", ["m", "x"], ["h"], name="residual"),
             helper.make_node("Tanh", ["h"], ["y"], name="act")]
    shape = ["batch", 5, features]
    x = RNG.standard_normal((64, 5, features))
    s = site(inspect(save(tmp_path / "m.onnx", nodes, {"x": shape}, shape, {"w": w}), tmp_path,
                     x=x))
    (norm,) = tips(finding(s, "SAT001"), "insert_layernorm")
    assert norm["layer"] == f"nn.LayerNorm({features})" and norm["channels"] == features


@pytest.mark.parametrize("rank, axis, layer", [
    (2, 1, "nn.BatchNorm1d(7)"), (3, 1, "nn.BatchNorm1d(7)"), (3, 2, "nn.LayerNorm(7)"),
    (4, 1, "nn.BatchNorm2d(7)"), (5, 1, "nn.BatchNorm3d(7)"), (4, 3, "nn.LayerNorm(7)"),
])
def test_norm_by_rank_and_layout_without_a_producer(rank, axis, layer):
    assert suggest.insert_norm(Site("s", "t", "Relu", "relu", {}, None, axis, None, rank),
                               7)["layer"] == layer


def _softmax_logits() -> np.ndarray:
    """Most rows moderately collapsed, a fifth far more (no logit masked: gaps stay < 1e4)."""
    rows = RNG.standard_normal((N, 10)) * 20.0
    rows[: N // 5] *= 40.0
    return rows


def _collapsed_at(rows: np.ndarray, temperature: float, tau: float = 0.01) -> float:
    z = rows / temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return float((p.max(axis=1) / p.sum(axis=1) > 1 - tau).mean())


def test_softmax_temperature_says_what_it_achieves_on_the_sampled_rows(tmp_path):
    logits = _softmax_logits()
    path = save(tmp_path / "m.onnx", [helper.make_node("Softmax", ["x"], ["y"], axis=-1)],
                {"x": ["batch", 10]}, ["batch", 10], {})
    f = finding(site(inspect(path, tmp_path, x=logits)), "SAT201")
    (tip,) = tips(f, "scale_logits")
    x32 = logits.astype(np.float32).astype(np.float64)
    assert tip["sampled_rows"] == N  # every row of the data is in the sample here
    assert tip["collapsed_before"] == pytest.approx(_collapsed_at(x32, 1.0))
    after = _collapsed_at(x32, tip["temperature"])
    assert tip["collapsed_after"] == pytest.approx(after)
    assert after > 0.01  # rows stay collapsed: the text must not claim they do not
    assert "brings the max probability under" not in tip["rationale"]
    assert f"leaves {after:.0%} of the {N} sampled rows collapsed" in tip["rationale"]


def _bn_producer(**names) -> Producer:
    return Producer("fc1", "Gemm", "fc1.weight", 8, 8, 1.0, "fc1.bias", norm="bn1",
                    norm_op="BatchNormalization", channels=8, **names)


def test_suggestions_use_the_models_parameter_names_and_never_invent_them():
    kind = get_kind("sigmoid")
    named = Site("s", "t", "Sigmoid", "sigmoid", {}, _bn_producer(norm_scale="bn1.weight",
                                                                   norm_bias="bn1.bias"))
    assert suggest.shift_bias(named, 9.0, 0.0)["target"] == "bn1.bias"
    assert suggest.rescale(named, kind, 9.0, 1.0)["target"] == "bn1.weight"
    unnamed = Site("s", "t", "Sigmoid", "sigmoid", {}, _bn_producer())
    shift, scale = suggest.shift_bias(unnamed, 9.0, 0.0), suggest.rescale(unnamed, kind, 9.0, 1.0)
    assert shift["target"] is None and scale["target"] is None  # was "bn1.beta" / "bn1"
    for text in (shift["rationale"], scale["rationale"]):
        assert "beta" not in text and "gamma" not in text and "not found in the model" in text


def test_a_shared_parameter_is_named_and_a_private_copy_proposed():
    p = Producer("fc1", "Gemm", "fc1.weight", 8, 8, 1.0, "zero_bias", channels=8,
                 shared_with=(("zero_bias", ("fc2", "fc3")),))
    s = Site("s", "t", "Sigmoid", "sigmoid", {}, p)
    for tip in (suggest.shift_bias(s, 9.0, 0.0), suggest.rescale(s, get_kind("sigmoid"), 9, 1)):
        assert tip["shared_with"] == ["fc2", "fc3"]
        assert "zero_bias is also read by fc2, fc3" in tip["rationale"]
        assert "private copy" in tip["rationale"]
    alone = Site("s", "t", "Sigmoid", "sigmoid", {}, Producer("fc1", "Gemm", "w", 8, 8, 1.0, "b"))
    assert "shared_with" not in suggest.shift_bias(alone, 9.0, 0.0)
