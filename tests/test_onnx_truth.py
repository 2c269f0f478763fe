"""Statistics of every sample model's sites against an independent truth: the site inputs
exposed as graph outputs, run with onnxruntime, reduced with plain numpy."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from saturate_cli.pipeline import inspect_model
from saturate_cli.settings import Settings

from conftest import SAMPLES

SAMPLES_N, BATCH = 40, 16  # three batches, the last one partial

# model -> (expected site kinds in execution order, expected unit axis per site)
EXPECTED = {
    "mlp_sigmoid_badinit": (["sigmoid"] * 4, [1] * 4),
    "mlp_sigmoid_xavier": (["sigmoid"] * 4, [1] * 4),
    "cnn_relu_deadbias": (["relu", "relu"], [1, 1]),
    "cnn_silu_hardswish": (["silu", "hardswish", "silu"], [1, 1, 1]),
    "transformer_block": (["softmax", "gelu"], [None, 2]),
    "softmax_hot": (["softmax"], [None]),
    "mlp_mixed": (["tanh", "elu", "selu", "celu", "softplus", "softsign", "leaky_relu", "relu6",
                   "hardtanh", "hardsigmoid", "prelu", "mish", "gelu_tanh", "log_softmax"],
                  [1] * 13 + [None]),
}


def _data(name: str, model: onnx.ModelProto) -> dict[str, np.ndarray]:
    if name == "transformer_block":
        with np.load(SAMPLES / "data" / "transformer_calib.npz") as d:
            ids = np.concatenate([d["input_ids"]] * 3)[:SAMPLES_N]
            mask = np.concatenate([d["attention_mask"]] * 3)[:SAMPLES_N]
        return {"input_ids": ids, "attention_mask": mask}
    rng = np.random.default_rng(7)
    out = {}
    for vi in model.graph.input:
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim][1:]
        out[vi.name] = (rng.standard_normal([SAMPLES_N] + dims) * 1.5).astype(np.float32)
    return out


def _site_tensors(model: onnx.ModelProto, inputs: list[str], data: dict) -> list[np.ndarray]:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    for name in dict.fromkeys(inputs):
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    names = list(dict.fromkeys(inputs))
    chunks = {n: [] for n in names}
    for start in range(0, SAMPLES_N, BATCH):
        feed = {k: v[start:start + BATCH] for k, v in data.items()}
        for n, value in zip(names, sess.run(names, feed)):
            chunks[n].append(value)
    return [np.concatenate(chunks[n]).astype(np.float64) for n in inputs]


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def case(request, tmp_path_factory):
    name = request.param
    path = SAMPLES / f"{name}.onnx"
    model = onnx.load(str(path))
    data = _data(name, model)
    npz = tmp_path_factory.mktemp(name) / "calib.npz"
    np.savez(npz, **data)
    settings = Settings(calibration=(str(npz),), samples=SAMPLES_N, batch_size=BATCH)
    report = inspect_model(str(path), settings).to_dict()
    truth = _site_tensors(model, [s["input"] for s in report["sites"]], data)
    return name, report, truth


def test_sites_kinds_and_units(case):
    name, report, _ = case
    kinds, axes = EXPECTED[name]
    assert [s["kind"] for s in report["sites"]] == kinds
    assert [s["saturation"]["unit_axis"] for s in report["sites"]] == axes
    assert report["calibration"]["samples"] == SAMPLES_N
    assert report["calibration"]["batches"] == 3


def _unmasked(site: dict, x: np.ndarray) -> np.ndarray:
    """Softmax inputs without their masked logits (the padding mask's -3.4e38): at least 5e3
    below the row maximum or at most half the float32 minimum."""
    if site["kind"] not in ("softmax", "log_softmax"):
        return x
    top = x.max(axis=-1, keepdims=True)
    masked = (x <= top - 5e3) | (x <= 0.5 * np.finfo(np.float32).min)
    assert masked.any() or site["name"] != "/Softmax"  # the sample has padded rows
    return x[~masked]


def test_stats_match_numpy(case):
    _, report, truth = case
    for site, x in zip(report["sites"], truth):
        st, sat = site["stats"], site["saturation"]
        x = _unmasked(site, x)
        assert st["count"] == x.size
        assert st["min"] == x.min() and st["max"] == x.max()
        assert st["mean"] == pytest.approx(x.mean(), rel=1e-5, abs=1e-6 * x.std())
        assert st["std"] == pytest.approx(x.std(), rel=1e-5)
        assert st["nan"] == 0 and st["inf"] == 0
        low, high = sat["low"], sat["high"]
        n_low = int((x <= low).sum()) if low is not None else 0
        n_high = int((x >= high).sum()) if high is not None else 0
        assert sat["fraction_low"] * x.size == pytest.approx(n_low, abs=1e-6)
        assert sat["fraction_high"] * x.size == pytest.approx(n_high, abs=1e-6)
        assert st["p01"] <= st["p50"] <= st["p99"]


def test_dead_units_match_numpy(case):
    _, report, truth = case
    for site, x in zip(report["sites"], truth):
        sat = site["saturation"]
        axis = sat["unit_axis"]
        if axis is None or (sat["low"] is None and sat["high"] is None):
            continue
        flat = np.zeros(x.shape, bool)
        if sat["low"] is not None:
            flat |= x <= sat["low"]
        if sat["high"] is not None:
            flat |= x >= sat["high"]
        others = tuple(a for a in range(x.ndim) if a != axis)
        share = flat.mean(axis=others)
        assert sat["units"] == x.shape[axis]
        assert sat["dead_unit_indices"] == [int(i) for i in np.nonzero(share >= 0.99)[0]]


def test_softmax_rows_match_numpy(case):
    _, report, truth = case
    for site, x in zip(report["sites"], truth):
        if site["kind"] not in ("softmax", "log_softmax"):
            continue
        z = x - x.max(axis=-1, keepdims=True)
        p_max = 1.0 / np.exp(z).sum(axis=-1)
        kept = ((z > -5e3) & (x > 0.5 * np.finfo(np.float32).min)).sum(axis=-1)
        assert site["saturation"]["rows"] == p_max.size
        assert site["saturation"]["collapsed_rows"] == int(((p_max > 0.99) & (kept > 1)).sum())


def test_unit_means_match_numpy(case):
    _, report, truth = case
    for site, x in zip(report["sites"], truth):
        sat = site["saturation"]
        if not any(f["code"] == "SAT101" for f in site["findings"]):
            continue
        others = tuple(a for a in range(x.ndim) if a != sat["unit_axis"])
        means = x.mean(axis=others)
        finding = next(f for f in site["findings"] if f["code"] == "SAT101")
        tip = next(s for s in finding["suggestions"] if s["kind"] == "shift_bias")
        assert tip["units"] == sat["dead_unit_indices"]
        # float32 runs of at most RUN_CAP values, accumulated in float64: ~1e-7 relative
        np.testing.assert_allclose(tip["amounts"], -means[tip["units"]], rtol=1e-6, atol=1e-9)
