"""`saturate trend` on ONNX checkpoints built by hand, where the drift is known by construction:
the middle layer's weight scaled up (scale), its bias moved (shift), a later site saturating
only because its input changed (inherited). Parameter changes are checked against numpy."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from hypothesis import given, settings, strategies as st
from onnx import TensorProto, helper, numpy_helper

from conftest import run_cli
from saturate_cli.over_time.heatmap import spread
from saturate_cli.over_time.trend import trend_of_checkpoints
from saturate_cli.settings import Settings


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(size=(8, 16)) / np.sqrt(8),
            "W2": rng.normal(size=(16, 16)) / np.sqrt(16),
            "b2": np.zeros(16), "W3": rng.normal(size=(16, 4)) / np.sqrt(16)}


def _mlp(path, w, act2="Sigmoid"):
    nodes = [helper.make_node("Gemm", ["x", "W1"], ["h1"], name="fc1"),
             helper.make_node("Tanh", ["h1"], ["a1"], name="act1"),
             helper.make_node("Gemm", ["a1", "W2", "b2"], ["h2"], name="fc2"),
             helper.make_node(act2, ["h2"], ["a2"], name="act2"),
             helper.make_node("Gemm", ["a2", "W3"], ["h3"], name="fc3"),
             helper.make_node("Sigmoid", ["h3"], ["y"], name="act3")]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in w.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return str(path)


FAST = Settings(samples=64, batch_size=32)


def _by_site(trend):
    return {d.site: d for d in trend.drift}


def test_scale_drift_of_the_middle_layer(tmp_path):
    w = _weights()
    paths = [_mlp(tmp_path / f"ck_{i}.onnx", dict(w, W2=w["W2"] * s))
             for i, s in enumerate((1, 2, 4, 8))]
    t = trend_of_checkpoints(paths, FAST, [], sort=False)
    d = _by_site(t)
    assert t.onset is not None and t.onset.site == "act2"
    assert d["act2"].grew and d["act2"].kind == "scale" and d["act2"].own
    assert d["act2"].change == pytest.approx(7.0, rel=1e-6)  # ||8W - W|| / ||W||
    assert d["act2"].scale == pytest.approx(np.log(8.0), rel=1e-3)  # std x8 exactly
    assert d["act2"].layer == "fc2" and "fc2" in d["act2"].remedy
    assert "BatchNorm1d(16)" in d["act2"].remedy
    assert not d["act1"].grew and d["act1"].change == 0.0
    assert t.exit_code == 1 and t.drifted[0].site == "act2"
    series = next(s for s in t.series if s["site"] == "act2")
    assert series["change"][0] == 0.0 and series["change"][1] == pytest.approx(1.0, rel=1e-6)


def test_shift_drift_and_its_parameter_change(tmp_path):
    w = _weights()
    shifts = (0.0, 2.0, 4.0, 7.0)
    paths = [_mlp(tmp_path / f"ck_{i}.onnx", dict(w, b2=np.full(16, b)))
             for i, b in enumerate(shifts)]
    t = trend_of_checkpoints(paths, FAST, [], sort=False)
    d = _by_site(t)
    assert t.onset.site == "act2" and d["act2"].kind == "shift" and d["act2"].own
    # only the bias moved: ||b - b0|| / ||(W2, b0)||, in float32 as stored
    w2 = np.asarray(w["W2"], np.float32).astype(np.float64)
    expected = np.sqrt(16 * 7.0 ** 2) / np.linalg.norm(w2)
    assert d["act2"].change == pytest.approx(expected, rel=1e-6)
    # mean moved by 7 with the width unchanged
    assert d["act2"].shift == pytest.approx(7.0 / t.series[1]["std"][0], rel=0.02)
    assert d["act2"].scale == pytest.approx(0.0, abs=1e-3)


def test_inherited_growth_points_upstream(tmp_path):
    w = _weights(seed=3)
    w["W3"] = w["W3"] * 6.0  # wide read-out: act3 saturates once act2's outputs saturate
    paths = [_mlp(tmp_path / f"ck_{i}.onnx", dict(w, b2=np.full(16, b)), act2="Tanh")
             for i, b in enumerate((0.0, 3.0, 6.0))]
    t = trend_of_checkpoints(paths, FAST, [], sort=False)
    d = _by_site(t)
    assert t.onset.site == "act2"
    assert d["act3"].grew and d["act3"].own is False and d["act3"].change == 0.0
    assert d["act3"].upstream == "act2" and "inherited from act2" in d["act3"].remedy


def test_cli_sorted_json_html_and_errors(tmp_path):
    w = _weights()
    for i, s in ((2, 2), (10, 8), (1, 1)):
        _mlp(tmp_path / f"ck_{i}.onnx", dict(w, W2=w["W2"] * s))
    given = [str(tmp_path / f"ck_{i}.onnx") for i in (10, 2, 1)]
    fast = ("-n", "64", "-b", "32", "-q")
    r = run_cli("trend", *given, "--sort", "-f", "json", *fast)
    assert r.exit_code == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["points"] == ["ck_1.onnx", "ck_2.onnx", "ck_10.onnx"]
    assert doc["onset"]["site"] == "act2" and doc["drifted"] == ["act2"]
    site = next(s for s in doc["sites"] if s["site"] == "act2")
    assert len(site["heatmap"]["counts"]) == 3 and site["drift"]["kind"] == "scale"
    unsorted = json.loads(run_cli("trend", *given, "-f", "json", *fast).stdout)
    assert unsorted["points"] == ["ck_10.onnx", "ck_2.onnx", "ck_1.onnx"]
    page = tmp_path / "t.html"
    assert run_cli("trend", *given, "--sort", "-f", "html", "-o", str(page), *fast).exit_code == 1
    html = page.read_text()
    assert "<script" not in html and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count("<svg") >= 6 and "Drift starts at act2" in html
    text = run_cli("trend", *given, "--sort", *fast)
    assert "drift starts at act2" in text.stdout
    for args, message in (([given[0]], "at least two points"),
                          ([given[0], str(tmp_path / "nope.onnx")], "no such file"),
                          ([given[0], given[1], "--weights", given[2]], "one module:factory")):
        out = tmp_path / "never.json"
        bad = run_cli("trend", *args, "-o", str(out), *fast)
        assert bad.exit_code == 2 and message in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and not out.exists()


def test_a_log_is_read(tmp_path):
    def site(fraction, mean, std):
        return {"name": "s", "kind": "sigmoid", "producer": {"name": "fc", "weight": "fc.w"},
                "stats": {"mean": mean, "std": std},
                "histogram": {"edges": [-1.0, 0.0, 1.0], "counts": [3, 5]},
                "saturation": {"fraction": fraction, "metric": "tails", "mean_gain": 0.5},
                "findings": [{"code": "SAT002", "severity": "error"}] if fraction > .3 else []}
    lines = [{"step": 0, "report": {"sites": [site(0.0, 0.0, 1.0)]}, "changes": {"fc.w": 0.0}},
             {"step": 50, "report": {"sites": [site(0.6, 6.0, 1.1)]}, "changes": {"fc.w": 0.4}}]
    log = tmp_path / "sat.jsonl"
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n{\"step\": 10")  # cut short
    doc = json.loads(run_cli("trend", str(log), "-f", "json").stdout)
    assert doc["points"] == ["step 0", "step 50"] and doc["source"] == "log"
    assert doc["onset"]["site"] == "s" and doc["onset"]["kind"] == "shift"
    assert doc["onset"]["shift"] == pytest.approx(6.0 / 1.1)
    log.write_text("garbage\n" + json.dumps(lines[0]) + "\n")
    assert run_cli("trend", str(log)).exit_code == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 5), min_size=1, max_size=8),
       st.lists(st.integers(0, 1000), min_size=8, max_size=8), st.integers(2, 60))
def test_spread_keeps_every_count(widths, counts, rows):
    edges = np.concatenate([[-3.0], -3.0 + np.cumsum(widths)])
    counts = np.asarray(counts[:len(widths)], float)
    grid = np.linspace(edges[0], edges[-1], rows + 1)
    out = spread(edges, counts, grid)
    assert out.sum() == pytest.approx(counts.sum())
    assert (out >= 0).all()
