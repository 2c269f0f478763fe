"""Memory does not grow with the number of calibration batches (a memory test, not a timing
test): the Python-side peak while collecting 2N batches equals the peak for N, and measuring
never copies the model's weights."""

from __future__ import annotations

import tracemalloc

import pytest

from conftest import SAMPLES
from saturate_cli.batch_loop import collect
from saturate_cli.calibration import make_batches
from saturate_cli.model.onnx.handle import OnnxModel
from saturate_cli.settings import Settings

BATCH = 4


def _batches(model: OnnxModel, count: int):
    """Synthetic batches made lazily: the stream itself holds one batch at a time."""
    return make_batches(model.inputs, Settings(samples=count * BATCH, batch_size=BATCH))[0]


def _peak(model: OnnxModel, count: int) -> tuple[int, int]:
    """(tracemalloc peak in bytes, values measured at the first site) for `count` batches."""
    tracemalloc.start()
    try:
        stats = collect(model, _batches(model, count), 0.05, 0.01)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, next(iter(stats.values())).count


@pytest.mark.parametrize("name", ["cnn_relu_deadbias", "transformer_block"])
def test_peak_is_flat_when_batches_double(name):
    model = OnnxModel(SAMPLES / f"{name}.onnx", 2**32)
    _peak(model, 2)  # warm-up: first-call caches and lazy imports are not growth
    # N = 16: bounded buffers (the first ROW_SAMPLE softmax rows, 64 a batch) are full by then
    peak_n, count_n = _peak(model, 16)
    peak_2n, count_2n = _peak(model, 32)
    assert count_2n == 2 * count_n  # twice the data really went through
    assert peak_2n <= peak_n * 1.1 + 64 * 1024, (peak_n, peak_2n)


def test_measuring_leaves_the_model_as_it_was():
    """The statistics nodes are appended in place and removed again (no copy of the weights)."""
    model = OnnxModel(SAMPLES / "cnn_relu_deadbias.onnx", 2**32)
    graph = model.model.graph
    before = (len(graph.node), len(graph.initializer), [o.name for o in graph.output])
    collect(model, _batches(model, 2), 0.05, 0.01)
    assert (len(graph.node), len(graph.initializer), [o.name for o in graph.output]) == before
