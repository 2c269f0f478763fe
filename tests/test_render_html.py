"""Issue #15: the HTML report. Valid (html5lib strict), self-contained, within its size budget,
and its pictures say what the data says: tails shaded from the threshold computed here from f'
in float64, the share written on each tail recomputed from the calibration data, dead units
named in their strip, collapsed rows counted here, before/after on the same axes."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pytest
from onnx import helper

from saturate_cli.render import renderer
from saturate_cli.render.html import render, render_comparison
from test_formats_support import nasty_report, sample_reports
from test_render_text_support import inspected
from test_verdicts_support import inspect, save

__all__ = ["sample_reports"]  # the session fixture, imported for pytest

html5lib = pytest.importorskip("html5lib")
SVG = ""
RNG = np.random.default_rng(15)


def strict_parse(document: str):
    """html5lib in strict mode raises on any parse error; returns the element tree."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(document)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("models"))


def test_samples_and_real_names_validate_and_are_self_contained(sample_reports, folder):
    reports = list(sample_reports.values()) + [inspected("bert_like", folder),
                                               inspected("resnet_like", folder), nasty_report()]
    document = render(reports)
    tree = strict_parse(document)
    assert len(tree.findall(".//article")) == sum(len(r.sites) for r in reports)
    assert len(tree.findall(".//section")) == len(reports)
    assert [a.text for a in tree.findall(".//nav//a")] == [r.model["path"] for r in reports]
    assert not tree.findall(".//script") and not tree.findall(".//link")
    assert not tree.findall(".//img") and not tree.findall(".//iframe")
    external = set(re.findall(r"""(?:https?:|//)[^\s"')<]+""", document))
    assert not external
    assert set(re.findall(r"url\(([^)]*)\)", document)) == {"#hatch"}
    ids = re.findall(r'\bid="([^"]+)"', document)
    assert len(ids) == len(set(ids))
    assert "|x`&lt;b&gt;" in document and "|x`<b>" not in document  # the nasty name, escaped
    assert renderer("html")(reports) == document


def test_sixty_site_model_is_under_the_size_budget(folder):
    report = inspected("wide_mlp", folder)
    assert len(report.sites) == 60
    document = render([report])
    assert len(document.encode()) < 300_000
    strict_parse(document)
    # wide layers full of scattered dead units (a ResNet-50's 2048 channels) stay in budget
    wide = replace(report, sites=tuple(
        replace(s, saturation=dict(s.saturation, units=2048, dead_units=900,
                                   dead_unit_indices=sorted(RNG.choice(2048, 900, False).tolist())))
        for s in report.sites))
    assert len(render([wide]).encode()) < 300_000


# --- golden geometry: the shaded tail starts at the threshold for the given tau -------------

def _dsigmoid(x):
    s = 1 / (1 + np.exp(-x))
    return s * (1 - s)


def _dtanh(x):
    return 1 - np.tanh(x) ** 2


def threshold(fprime, tau: float) -> float:
    """The x > 0 beyond which |f'| < tau max|f'| (f' even and falling): bisection in float64."""
    peak = fprime(np.array([0.0]))[0]
    lo, hi = 0.0, 50.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fprime(np.array([mid]))[0] >= tau * peak else (lo, mid)
    return lo


def _two_sites(path, scale: float):
    """x[N, 32] -> Gemm -> Sigmoid -> Gemm -> Tanh; the pre-activations in float64."""
    x = RNG.standard_normal((512, 32))
    w1, w2 = (RNG.standard_normal((32, 32)) * scale / math.sqrt(32) for _ in range(2))
    nodes = [helper.make_node("Gemm", ["x", "w1", "b"], ["h1"], name="fc1", transB=1),
             helper.make_node("Sigmoid", ["h1"], ["a1"], name="sig"),
             helper.make_node("Gemm", ["a1", "w2", "b"], ["h2"], name="fc2", transB=1),
             helper.make_node("Tanh", ["h2"], ["y"], name="tanh")]
    inits = {"w1": w1, "w2": w2, "b": np.zeros(32)}
    w1f, w2f = (w.astype(np.float32).astype(np.float64) for w in (w1, w2))
    pre1 = x.astype(np.float32).astype(np.float64) @ w1f.T
    pre2 = (1 / (1 + np.exp(-pre1))) @ w2f.T
    return save(path, nodes, {"x": ["batch", 32]}, ["batch", 32], inits), x, (pre1, pre2)


def _drawn_tails(document: str):
    """Each curve picture's tails: (side, x in data units where the shading meets the sweet
    range, the label's percent), mapped back from pixels with the picture's own axes."""
    out = []
    for fig in re.findall(r'<svg[^>]*class="curve-fig".*?</svg>', document, re.S):
        root = ET.fromstring(fig)
        lo, hi = float(root.get("data-x-lo")), float(root.get("data-x-hi"))
        left, right = float(root.get("data-left")), float(root.get("data-right"))
        to_x = lambda px: lo + (px - left) / (right - left) * (hi - lo)  # noqa: E731
        tails = {}
        for r in root.iter(f"{SVG}rect"):
            cls = r.get("class", "")
            if "tail-low" in cls:
                tails["low"] = to_x(float(r.get("x")) + float(r.get("width")))
            elif "tail-high" in cls:
                tails["high"] = to_x(float(r.get("x")))
        labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tail-label"]
        out.append((tails, labels, (hi - lo) / (right - left)))
    return out


@pytest.mark.parametrize("tau", [0.02, 0.05, 0.2])
def test_shaded_tails_start_at_the_threshold_for_tau(tau, tmp_path):
    from saturate_cli.pipeline import inspect_model
    from saturate_cli.settings import Settings

    path, x, pres = _two_sites(tmp_path / "m.onnx", scale=6.0)
    data = tmp_path / "calib.npz"
    np.savez(data, x=x.astype(np.float32))
    report = inspect_model(path, Settings(calibration=(str(data),), samples=len(x),
                                          batch_size=64, tau=tau))
    drawn = _drawn_tails(render([report]))
    assert len(drawn) == 2
    for (tails, labels, per_px), fprime, pre in zip(drawn, (_dsigmoid, _dtanh), pres):
        t = threshold(fprime, tau)
        assert tails["low"] == pytest.approx(-t, abs=0.6 * per_px)  # coordinates: 0.1 px
        assert tails["high"] == pytest.approx(t, abs=0.6 * per_px)
        shares = [float(re.match(r"[<>]?(\d+)%", label).group(1)) for label in labels]
        assert shares[0] == pytest.approx(100 * (pre <= -t).mean(), abs=1.0)
        assert shares[1] == pytest.approx(100 * (pre >= t).mean(), abs=1.0)


def test_dead_units_stand_out_with_their_indices(tmp_path):
    x = RNG.standard_normal((256, 16))
    w = RNG.standard_normal((8, 16)) * 0.25
    b = np.zeros(8)
    b[[2, 3, 7]] = -100.0  # these three units never fire
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
             helper.make_node("Relu", ["h"], ["y"], name="relu")]
    report = inspect(save(tmp_path / "m.onnx", nodes, {"x": ["batch", 16]}, ["batch", 8],
                          {"w": w, "b": b}), tmp_path, x=x)
    document = render([report])
    strip = re.search(r'<svg[^>]*class="strip-fig".*?</svg>', document, re.S).group(0)
    dead = re.findall(r'class="unit-dead"><title>dead units: ([^<]+)</title>', strip)
    assert dead == ["2–3, 7"]
    boxes = re.findall(r"M([\d.]+) 18V4H([\d.]+)", strip)  # [start, stop) of each run
    assert [(float(a), float(b)) for a, b in boxes] == [
        (pytest.approx(34 + 2 / 8 * 378, abs=0.06), pytest.approx(34 + 4 / 8 * 378, abs=0.06)),
        (pytest.approx(34 + 7 / 8 * 378, abs=0.06), pytest.approx(412, abs=0.06))]
    assert "3/8 dead" in strip


def test_softmax_panel_counts_collapsed_rows(tmp_path):
    x = RNG.standard_normal((256, 8))
    w = RNG.standard_normal((10, 8)) * 3.0
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
             helper.make_node("Softmax", ["h"], ["y"], name="softmax", axis=-1)]
    report = inspect(save(tmp_path / "m.onnx", nodes, {"x": ["batch", 8]}, ["batch", 10],
                          {"w": w, "b": np.zeros(10)}), tmp_path, x=x)
    logits = x.astype(np.float32).astype(np.float64) @ w.astype(np.float32).astype(np.float64).T
    p = np.exp(logits - logits.max(1, keepdims=True))
    collapsed = ((p / p.sum(1, keepdims=True)).max(1) > 0.99).mean()
    document = render([report])
    caption = re.search(r"([<>\d.]+)% of 256 rows collapsed \(max probability &gt; 0.99\)", document)
    assert caption and float(caption.group(1).lstrip("<>")) == pytest.approx(100 * collapsed,
                                                                            abs=1.0)


def test_findings_carry_their_code(sample_reports):
    document = render([sample_reports["mlp_sigmoid_badinit"]])
    for s in sample_reports["mlp_sigmoid_badinit"].sites:
        k = s.findings[0].suggestions[0]["factor"]
        assert f"layer = model.get_submodule(&#x27;{s.producer['layer']}&#x27;)" in document
        assert f"layer.weight.mul_({k:.4g})\n    layer.bias.mul_({k:.4g})" in document
    assert "nn.init.xavier_uniform_(layer.weight, gain=1)" in document
    assert "nn.BatchNorm1d(128)" in document


def test_before_after_draws_changed_sites_on_the_same_axes(sample_reports):
    before, after = sample_reports["mlp_sigmoid_badinit"], sample_reports["mlp_sigmoid_xavier"]
    after = replace(after, sites=tuple(replace(s, name=b.name) for s, b in
                                       zip(after.sites, before.sites)))
    document = render_comparison(before, after)
    strict_parse(document)
    pairs = re.findall(r'<section class="changed">(.*?)</section>', document, re.S)
    assert len(pairs) == len(before.sites)
    for pair in pairs:
        axes = re.findall(r'data-x-lo="([^"]+)" data-x-hi="([^"]+)"', pair)
        assert len(axes) == 2 and axes[0] == axes[1]
    assert "No site changed." in render_comparison(before, before)


def test_recorded_row_maxima_are_drawn_against_the_collapse_line():
    """Where the report carries the row maxima's histogram, the bars fill [0, 1] and the
    collapse line stands at 1 - softmax tau on the picture's own axis."""
    from test_formats_support import report as hand_report
    from test_formats_support import site as hand_site

    edges = [i / 20 for i in range(21)]
    counts = [0] * 10 + [10] + [0] * 8 + [30]  # 10 rows near 0.5, 30 collapsed
    s = hand_site("attn", kind="softmax", fraction=0.75)
    s = replace(s, saturation=dict(s.saturation, rows=40, collapsed_rows=30, judged_rows=40,
                                   masked_rows=0, metric="rows",
                                   row_max_histogram={"edges": edges, "counts": counts}))
    report = replace(hand_report([s]), settings={"tau": 0.05, "softmax_tau": 0.02})
    fig = re.search(r'<svg[^>]*class="rows-fig".*?</svg>', render([report]), re.S).group(0)
    root = ET.fromstring(fig)
    cut = next(e for e in root.iter("line") if e.get("class") == "collapse-line")
    assert float(cut.get("x1")) == pytest.approx(34 + 0.98 * (412 - 34), abs=0.06)
    bars = re.findall(r"M([\d.]+) 160V([\d.]+)H([\d.]+)", root.find("path").get("d"))
    assert [(float(a), float(c)) for a, _, c in bars] == [
        (pytest.approx(34 + 0.5 * 378, abs=0.06), pytest.approx(34 + 0.55 * 378, abs=0.06)),
        (pytest.approx(34 + 0.95 * 378, abs=0.06), pytest.approx(412, abs=0.06))]
    tops = [float(b) for _, b, _ in bars]  # heights as shares: 10 rows vs 30 rows
    assert (160 - tops[0]) / (160 - tops[1]) == pytest.approx(1 / 3, abs=0.01)


def test_an_unreadable_model_in_a_run_of_several_is_named_with_its_reason(sample_reports):
    from saturate_cli.report.model import Report

    bad = Report.unreadable("models/broken.onnx", "not an ONNX model <really>")
    document = render([sample_reports["softmax_hot"], bad])
    tree = strict_parse(document)
    assert len(tree.findall(".//section")) == 2 and len(tree.findall(".//article")) == 1
    assert "not inspected: not an ONNX model &lt;really&gt;" in document
