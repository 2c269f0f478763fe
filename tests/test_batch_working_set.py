"""The default batch size is halved while one batch's largest activation input exceeds
settings.BATCH_WORKING_SET (with a note); a batch size the user gave is kept. The statistics
are those of every sample either way (numpy, float64)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from conftest import run_cli
from onnx import TensorProto, helper, numpy_helper

import saturate_cli as sat
from saturate_cli.settings import BATCH_WORKING_SET

WIDE = 300_000  # values of one sample's activation input: 1.2 MB, 19.2 MB at 16 a batch
W = (np.random.default_rng(0).standard_normal((4, WIDE)) * 0.5).astype(np.float32)


def _save(path, batch) -> None:
    """x[batch, 4] @ W -> Tanh: one site of WIDE values a sample."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Tanh", ["h"], ["y"])],
        "wide", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, WIDE])],
        [numpy_helper.from_array(W, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wide")
    _save(folder / "wide.onnx", "n")
    x = np.random.default_rng(1).standard_normal((32, 4)).astype(np.float32)
    np.save(folder / "x.npy", x)
    return folder, x


def _run(folder, *extra) -> dict:
    got = run_cli("inspect", str(folder / "wide.onnx"), "-c", str(folder / "x.npy"), "-f",
                  "json", *extra)
    assert got.exit_code in (0, 1), got.stderr
    return json.loads(got.stdout)


def _exact(report: dict, x: np.ndarray) -> None:
    h = x.astype(np.float64) @ W.astype(np.float64)
    stats = report["sites"][0]["stats"]
    assert stats["count"] == h.size
    assert stats["mean"] == pytest.approx(h.mean(), rel=1e-6, abs=1e-9)
    assert stats["min"] == pytest.approx(h.min(), rel=1e-6) and stats["max"] == \
        pytest.approx(h.max(), rel=1e-6)


def test_the_default_batch_is_halved_until_its_activations_fit(wide):
    folder, x = wide
    assert 8 * WIDE * 4 <= BATCH_WORKING_SET < 16 * WIDE * 4
    report = _run(folder)
    assert report["calibration"]["batches"] == 4  # 32 samples in batches of 8
    assert any(n.startswith("batches of 8, not 16") for n in report["notes"])
    _exact(report, x)


@pytest.mark.parametrize("given", [["-b", "16"], ["-b", "32"]])
def test_a_batch_size_given_is_kept(wide, given):
    folder, x = wide
    report = _run(folder, *given)
    assert report["calibration"]["batches"] == 32 // int(given[1])
    assert not any("not 16" in n for n in report["notes"])
    _exact(report, x)


def test_the_api_keeps_a_batch_size_other_than_the_default(wide):
    folder, x = wide
    report = sat.inspect(str(folder / "wide.onnx"), calibration=x, batch_size=32)
    assert report.calibration["batches"] == 1 and not report.notes
    report = sat.inspect(str(folder / "wide.onnx"), calibration=x)
    assert report.calibration["batches"] == 4


@pytest.mark.parametrize("samples,batches", [(5, 1), (14, 2)])
def test_fewer_samples_than_a_batch(wide, samples, batches):
    """5 samples (6 MB) are one batch; 14 (16.8 MB) are halved to batches of 8 and 6."""
    folder, x = wide
    np.save(folder / "few.npy", x[:samples])
    got = run_cli("inspect", str(folder / "wide.onnx"), "-c", str(folder / "few.npy"), "-f",
                  "json")
    report = json.loads(got.stdout)
    assert report["calibration"]["batches"] == batches
    _exact(report, x[:samples])


def test_a_model_that_fixes_its_batch_keeps_it(tmp_path):
    """A batch dimension the model fixes cannot shrink: no halving, no note."""
    _save(tmp_path / "fixed.onnx", 16)
    x = np.random.default_rng(2).standard_normal((32, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    got = run_cli("inspect", str(tmp_path / "fixed.onnx"), "-c", str(tmp_path / "x.npy"), "-f",
                  "json")
    assert got.exit_code in (0, 1), got.stderr
    report = json.loads(got.stdout)
    assert report["calibration"]["batches"] == 2 and not report["notes"]
    _exact(report, x)
