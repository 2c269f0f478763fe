"""Nothing measured is not clean (SAT903); a vanished signal is a finding (SAT004)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from saturate_cli.diagnose.rules import RULES
from saturate_cli.types import Site
from saturate_cli.settings import DEFAULTS
from saturate_cli.stats.site_stats import SiteStats
from test_verdicts_support import N, finding, gemm_act, inspect, save, site, tips

from conftest import run_cli

RNG = np.random.default_rng(11)
X = RNG.standard_normal((N, 64))


def test_a_model_without_activations_is_not_clean(tmp_path):
    w = RNG.standard_normal((8, 64))
    path = save(tmp_path / "m.onnx", [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)],
                {"x": ["batch", 64]}, ["batch", 8], {"w": w})
    report = inspect(path, tmp_path, x=X)
    assert report.sites == ()  # the old verdict was "clean" with a note
    assert report.status == "error" and report.exit_code == 1
    (f,) = [f for f in report.model_findings if f.code == "SAT903"]
    assert f.severity == "error" and "no activation" in f.message and "--ignore SAT903" in f.message
    assert any("no activation" in n for n in report.notes)


def test_sites_that_all_saw_nothing_are_not_clean(tmp_path):
    ints = {"starts": np.array([0]), "ends": np.array([0]), "axes": np.array([1])}
    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["h"]),
             helper.make_node("Sigmoid", ["h"], ["y"], name="act")]
    report = inspect(save(tmp_path / "m.onnx", nodes, {"x": ["batch", 64]}, ["batch", 0], ints),
                     tmp_path, x=X)
    assert [f["code"] for f in site(report)["findings"]] == ["SAT902"]
    assert site(report)["stats"]["count"] == 0
    codes = [f.code for f in report.model_findings]
    assert codes == ["SAT903"] and "none of the model's 1 activation site(s)" in \
        report.model_findings[0].message
    assert report.status == "error"


def test_a_measured_model_gets_no_sat903(tmp_path):
    w = RNG.standard_normal((8, 64)) * np.sqrt(2 / 72)
    report = inspect(gemm_act(tmp_path / "m.onnx", w, np.zeros(8), "Sigmoid"), tmp_path, x=X)
    assert not [f for f in report.findings if f.code == "SAT903"]


def test_rule_catalogue_lists_the_new_rules():
    assert RULES["SAT903"].name == "nothing-measured" and RULES["SAT903"].severity == "error"
    assert RULES["SAT004"].name == "vanishing-signal"
    result = run_cli("rules", "SAT903")
    assert result.exit_code == 0 and "nothing-measured" in result.stdout


def _vanished(tmp_path, act: str, bias: float, scale: float = 1e-9):
    w = RNG.standard_normal((16, 64)) * scale
    b = np.full(16, bias)
    pre = X.astype(np.float32).astype(np.float64) @ w.astype(np.float32).T.astype(np.float64) \
        + np.float32(bias)
    report = inspect(gemm_act(tmp_path / f"{act}.onnx", w, b, act), tmp_path, x=X)
    return site(report), pre


def test_vanished_relu_signal_is_flagged_with_the_factor_that_restores_it(tmp_path):
    s, pre = _vanished(tmp_path, "Relu", 0.0)
    assert pre.std() < 1e-6  # about 8e-9: the old verdict was "ok" (half negative, none dead)
    f = finding(s, "SAT004")
    assert f["severity"] == "warning"
    (tip,) = tips(f, "he_rescale")
    assert tip["factor"] == pytest.approx(1.0 / pre.std(), rel=1e-3)
    assert (pre * tip["factor"]).std() == pytest.approx(1.0, rel=1e-3)


def test_vanished_tanh_signal_off_centre_gets_rescale_then_shift(tmp_path):
    s, pre = _vanished(tmp_path, "Tanh", 0.3, 1e-7)  # std 8e-7: float32 still resolves it
    f = finding(s, "SAT004")
    assert not [g for g in s["findings"] if g["code"] == "SAT003"]  # replaces "linear regime"
    (scale,) = tips(f, "xavier_rescale")
    (shift,) = tips(f, "shift_bias")
    assert shift["after_factor"] == scale["factor"] and shift["target"] == "b"
    fixed = pre * scale["factor"] + shift["amount"]  # multiply weight and bias by k, then shift
    assert abs(fixed.mean()) < 0.1 and abs(fixed.std() - 1.0) < 0.05
    assert (np.abs(fixed) > s["saturation"]["high"]).mean() < DEFAULTS.thresholds.saturated_warning
    assert (np.abs(pre * scale["factor"]) > s["saturation"]["high"]).mean() > 0.99  # k alone


def test_vanishing_floor_is_relative_to_the_sweet_range():
    from saturate_cli.activations import TailBook
    from saturate_cli.diagnose.findings import _half_range, measure

    settings = DEFAULTS
    for kind, params, half in (("tanh", {}, 2.1782), ("relu", {}, 1.0), ("relu6", {}, 3.0)):
        site = Site("s", "t", "X", kind, params)
        m = measure(site, SiteStats(), TailBook(settings.tau).of(site), settings)
        assert abs(_half_range(m) - half) < 1e-3, kind
