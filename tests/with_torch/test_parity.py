"""The PyTorch path against a second backend: the same model's ONNX export run by onnxruntime.

Same synthetic calibration data (it depends only on the input specs and the seed), so every
form (factory + state dict, TorchScript, torch.export) must give the ONNX sites' kinds in the
same order and the same statistics within 1e-4 relative.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch")

from saturate_cli.batch_loop import collect
from saturate_cli.calibration import make_batches  # noqa: E402
from saturate_cli.model.load import load_model  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402

from conftest import SAMPLES  # noqa: E402

MODELS = {
    "mlp_sigmoid_badinit": {},
    "cnn_relu_deadbias": {"x": (16, 3, 32, 32)},
    "transformer_block": {},
    "cnn_silu_hardswish": {"x": (16, 3, 32, 32)},
}
FORMS = ("factory", "pt2", "ts")
REL = 1e-4


def _measure(target: str, shapes: dict, settings: Settings):
    handle = load_model(target, replace(settings, input_shapes=shapes))
    batches, _ = make_batches(handle.inputs, replace(settings, input_shapes=shapes))
    stats = collect(handle, batches, settings.tau, settings.softmax_tau)
    return handle, stats


def _target(name: str, form: str) -> str:
    if form == "factory":
        return f"{SAMPLES}/models.py:build_{name}"
    return str(SAMPLES / f"{name}.{form}")


def _close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= REL * max(abs(a), abs(b), scale)


@pytest.fixture(scope="module")
def onnx_results():
    settings = Settings(samples=32, batch_size=16)
    return {name: _measure(str(SAMPLES / f"{name}.onnx"), shapes, settings)
            for name, shapes in MODELS.items()}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", list(MODELS))
def test_same_sites_and_statistics_as_onnx(name, form, onnx_results):
    settings = Settings(samples=32, batch_size=16)
    torch_handle, torch_stats = _measure(_target(name, form), MODELS[name], settings)
    onnx_handle, onnx_stats = onnx_results[name]
    assert [s.kind for s in torch_handle.sites] == [s.kind for s in onnx_handle.sites]
    for ts, os_ in zip(torch_handle.sites, onnx_handle.sites):
        a, b = torch_stats[ts.name], onnx_stats[os_.name]
        assert a.count == b.count and a.finite == b.finite, ts.name
        scale = max(b.std, 1e-12)
        for field in ("mean", "min", "max"):
            assert _close(getattr(a, field), getattr(b, field), scale), (ts.name, field)
        assert math.isclose(a.std, b.std, rel_tol=REL), ts.name
        for field in ("low", "high", "rows", "collapsed_rows"):
            assert abs(getattr(a, field) - getattr(b, field)) <= REL * a.count, (ts.name, field)
        if b.unit_saturated is not None:
            diff = np.abs(a.unit_saturated - b.unit_saturated)
            assert diff.max() <= max(1, REL * a.per_unit), ts.name
        assert ts.unit_axis == os_.unit_axis, ts.name
        if form != "ts" and os_.producer is not None:
            p, q = ts.producer, os_.producer
            assert (p.fan_in, p.fan_out, p.channels) == (q.fan_in, q.fan_out, q.channels)
            assert math.isclose(p.weight_std, q.weight_std, rel_tol=1e-6)
