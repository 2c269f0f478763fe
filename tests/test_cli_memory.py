"""The memory budget covers activations: a batch whose intermediate tensors would exceed
--memory-budget is refused before it runs (batch size given) or halved with a note."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import run_cli
from saturate_cli.model.onnx.memory import ARENA, STATS, estimate_peak, tensor_sizes
from saturate_cli.pipeline import inspect_model
from saturate_cli.settings import Settings

WIDE = 4096  # hidden width: at batch 4096 each hidden tensor is 64 MiB


def wide_mlp() -> onnx.ModelProto:
    """x[N, 256] -> MatMul -> Sigmoid -> MatMul -> y[N, 8]: small weights, large activations."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.standard_normal((256, WIDE)) * 0.05).astype(np.float32),
                                 "W1")
    w2 = numpy_helper.from_array((rng.standard_normal((WIDE, 8)) * 0.05).astype(np.float32), "W2")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W1"], ["h"]), helper.make_node("Sigmoid", ["h"], ["a"]),
         helper.make_node("MatMul", ["a", "W2"], ["y"])], "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture
def wide(tmp_path):
    path = tmp_path / "wide.onnx"
    onnx.save(wide_mlp(), str(path))
    return str(path)


def test_estimate_counts_intermediates_at_the_batch_size():
    model = wide_mlp()
    sizes = tensor_sizes(model, {"x": (4096, 256)})
    assert sizes["h"] == sizes["a"] == 4096 * WIDE * 4
    weights = (256 * WIDE + WIDE * 8) * 4
    hidden = 4096 * WIDE * 4  # h and a are alive together while Sigmoid runs
    expected = weights + 4096 * 256 * 4 + ARENA * (2 * hidden + STATS * hidden)
    assert estimate_peak(model, {"x": (4096, 256)}) == expected
    assert estimate_peak(model, {"x": (16, 256)}) - weights < (expected - weights) / 200


def test_a_given_batch_size_over_the_budget_is_refused(wide):
    result = run_cli("inspect", wide, "-n", "4096", "-b", "4096", "--memory-budget", "64M", "-q")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "--memory-budget" in line and "MiB" in line and "batches of 4096" in line


def test_an_unchosen_batch_size_is_halved_until_it_fits(wide):
    report = inspect_model(wide, Settings(samples=4096, batch_size=4096,
                                          memory_budget=64 * 2**20))
    assert report.calibration["shapes"]["x"][0] < 4096
    assert any("--batch-size lowered from 4096" in n for n in report.notes)
    assert report.calibration["samples"] == 4096


def test_within_budget_nothing_changes(wide):
    report = inspect_model(wide, Settings(samples=64, batch_size=16, memory_budget=64 * 2**20))
    assert report.calibration["shapes"]["x"] == [16, 256]
    assert not any("lowered" in n for n in report.notes)
