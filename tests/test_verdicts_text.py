"""Healthy ReLUs read as healthy; the softmax cell counts judged rows; rule texts quote settings."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from onnx import helper

from saturate_cli.diagnose.rules import RULES
from saturate_cli.render import renderer
from saturate_cli.settings import DEFAULTS
from test_formats_support import report as hand_report
from test_formats_support import site as hand_site
from test_verdicts_support import N, inspect, save

RNG = np.random.default_rng(21)
WIDTH = 32


def _he_relu_net(path, acts) -> tuple[str, list]:
    """x[N, 32] -> (Gemm He-init -> act) per entry of acts; the pre-activations in float64."""
    x = RNG.standard_normal((N, WIDTH))
    nodes, inits, pres, h, t = [], {}, [], x, "x"
    for i, act in enumerate(acts):
        w = (RNG.standard_normal((WIDTH, WIDTH)) * math.sqrt(2 / WIDTH)).astype(np.float32)
        inits[f"w{i}"], inits[f"b{i}"] = w, np.zeros(WIDTH)
        nodes += [helper.make_node("Gemm", [t, f"w{i}", f"b{i}"], [f"h{i}"], transB=1),
                  helper.make_node(act, [f"h{i}"], [f"a{i}" if i < len(acts) - 1 else "y"])]
        pre = h @ w.T.astype(np.float64)
        pres.append(pre)
        h = np.maximum(pre, 0) if act == "Relu" else 1 / (1 + np.exp(-pre))
        t = f"a{i}"
    return save(path, nodes, {"x": ["batch", WIDTH]}, ["batch", WIDTH], inits), x, pres


def test_healthy_relu_net_leads_with_dead_units_and_no_alarming_product(tmp_path):
    path, x, pres = _he_relu_net(tmp_path / "m.onnx", ["Relu"] * 6)
    report = inspect(path, tmp_path, x=x)
    text = renderer("text")([report])
    lines = [line for line in text.splitlines() if "│ relu │" in line]
    assert len(lines) == 6
    for line, s, pre in zip(lines, report.sites, pres):
        share = s.saturation["fraction"]
        assert abs(share - (pre <= 0).mean()) < 1e-3 and 0.3 < share < 0.7  # by design
        dead = int(((pre <= 0).mean(axis=0) >= DEFAULTS.thresholds.dead_unit_fraction).sum())
        assert f"{dead}/{WIDTH} dead ({share:.0%} flat)" in line  # was "50.0%" as "saturated"
        assert f"{share:.1%}" not in line
    assert "saturated / dead" in text
    profile = next(line for line in text.splitlines() if "mean gain by depth" in line)
    assert "by design" in profile and "product" not in profile  # was "product ... 0.016"
    assert {f.code for f in report.findings} <= {"SAT101"}  # dead units, not the negative half


def test_mixed_net_product_covers_only_the_bounded_sites(tmp_path):
    path, x, _ = _he_relu_net(tmp_path / "m.onnx", ["Sigmoid", "Relu", "Sigmoid", "Relu"])
    report = inspect(path, tmp_path, x=x)
    gains = [s.saturation["mean_gain"] for s in report.sites]
    bounded = gains[0] * gains[2]
    assert report.depth_profile[0]["bounded_gain"] == bounded
    assert report.depth_profile[0]["cumulative_gain"] == gains[0] * gains[1] * gains[2] * gains[3]
    text = " ".join(renderer("text")([report]).split())
    assert f"the bounded activations alone pass {bounded:.2g} of the gradient" in text


def test_softmax_cell_shows_collapsed_of_judged_rows_and_the_masked_ones():
    s = hand_site("attn", kind="softmax", fraction=2 / 7)
    s = replace(s, saturation=dict(s.saturation, rows=10, collapsed_rows=2, masked_rows=3,
                                   judged_rows=7, metric="rows"))
    assert "28.6% (2/7 rows, 3 masked)" in renderer("text")([hand_report([s])])


def test_rule_texts_quote_the_thresholds_of_the_settings():
    t = DEFAULTS.thresholds
    assert f"{t.saturated_warning:.0%}" in RULES["SAT001"].explanation
    assert f"{t.saturated_error:.0%}" in RULES["SAT001"].explanation
    assert f"{t.dead_units_error:.0%}" in RULES["SAT101"].explanation
    assert f"{t.collapsed_error:.0%}" in RULES["SAT201"].explanation
    assert f"{t.vanishing_std:g}" in RULES["SAT004"].explanation
