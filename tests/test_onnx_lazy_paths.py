"""Every path that needs a whole model, taken by a model whose weights were left in the file
(onnx/lazy.py): a converted copy (fallback runtime), If branches picked from data, ranks
probed, NaN batches measured again from exposed tensors, an opset below the in-graph
statistics. Each report equals the one of a whole read and numpy's float64 statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.model.onnx import lazy
from saturate_cli.model.onnx import load as load_module
from saturate_cli.pipeline import inspect_model
from saturate_cli.settings import Settings

WIDTH = 64  # a 64 x 64 weight: 4096 values, left in the file
W = (np.random.default_rng(0).standard_normal((WIDTH, WIDTH)) / 4).astype(np.float32)


def _x(name="x", dims=("n", WIDTH)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def _save(tmp_path, nodes, opset=17, inputs=None, inits=(), outputs=("y",)) -> str:
    graph = helper.make_graph(
        nodes, "g", inputs or [_x()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(W, "w"), *inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset >= 13 else 3
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return str(path)


def _legacy_broadcast(tmp_path):
    """Opset 6 Add with broadcast=1: no onnxruntime kernel, a converted copy runs it."""
    bias = numpy_helper.from_array(np.linspace(-3, 3, WIDTH, dtype=np.float32), "bias")
    return _save(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["h"]),
                            helper.make_node("Add", ["h", "bias"], ["z"], broadcast=1, axis=1),
                            helper.make_node("Sigmoid", ["z"], ["y"])], opset=6, inits=[bias])


def _branch(tmp_path):
    """An If whose branches read the outer weight: the branch the data takes is measured."""
    then = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["t"]),
                              helper.make_node("Tanh", ["t"], ["tt"])], "then", [],
                             [helper.make_tensor_value_info("tt", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "big"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)]
    big = numpy_helper.from_array(np.array(-1e9, np.float32), "big")
    return _save(tmp_path, nodes, inits=[big])


def _unknown_rank(tmp_path):
    """The site's rank comes from a shape fed at run time: probed on the first batch."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Reshape", ["h", "s"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"])]
    inputs = [_x(), helper.make_tensor_value_info("s", TensorProto.INT64, ["k"])]
    return _save(tmp_path, nodes, inputs=inputs)


def _plain(tmp_path, opset=17):
    return _save(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["h"]),
                            helper.make_node("Sigmoid", ["h"], ["y"])], opset=opset)


CASES = {  # name -> (model, site input, pre-activation from x, extra inputs)
    "converted copy": (_legacy_broadcast, "z",
                       lambda x: x @ W + np.linspace(-3, 3, WIDTH), {}),
    "If branch": (_branch, "t", lambda x: x @ W, {}),
    "probed rank": (_unknown_rank, "r", lambda x: x @ W,
                    {"s": np.array([-1, WIDTH], np.int64)}),
    "NaN batch": (_plain, "h", lambda x: x @ W, {}),
    "opset 8": (lambda t: _plain(t, opset=8), "h", lambda x: x @ W, {}),
}


def _report(path, tmp_path, x, extra) -> dict:
    if extra:  # fixed inputs beside the batched one (same array for every batch)
        data = tmp_path / "data.npz"
        np.savez(data, x=x, **extra)
    else:
        data = tmp_path / "data.npy"
        np.save(data, x)
    settings = Settings(calibration=(str(data),), batch_size=8)
    return inspect_model(path, settings).to_dict()


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_whole_model_path_measures_what_a_whole_read_does(tmp_path, monkeypatch, case):
    build, site_input, pre, extra = CASES[case]
    path = build(tmp_path)
    x = np.random.default_rng(1).standard_normal((16, WIDTH)).astype(np.float32)
    if case == "NaN batch":
        x[3, 5] = np.nan
    read = load_module.read_model
    seen = []

    def spy(*args, **kwargs):
        model = read(*args, **kwargs)
        seen.append(any(e.key == lazy.MARK for e in model.metadata_props))
        return model

    monkeypatch.setattr("saturate_cli.model.onnx.handle.read_model", spy)
    got = _report(path, tmp_path, x, extra)
    assert seen and seen[0], "the model was not read lazily"
    monkeypatch.setattr(lazy, "parse_light", lambda *a: None)
    want = _report(path, tmp_path, x, extra)
    assert got["sites"] == want["sites"] and got["notes"] == want["notes"]
    site = next(s for s in got["sites"] if s["input"] == site_input)
    z = pre(x.astype(np.float64))
    finite = z[np.isfinite(z)]
    assert site["stats"]["count"] == z.size  # NaN counted apart (stats.nan), not in the moments
    assert site["stats"]["mean"] == pytest.approx(finite.mean(), rel=1e-5, abs=1e-6)
    assert site["stats"]["max"] == pytest.approx(finite.max(), rel=1e-6)
    assert Path(path).stat().st_size > W.nbytes  # the weights were in the file all along
    shows = {"converted copy": "onnxruntime cannot run this model",
             "If branch": "measured its then branch"}.get(case)
    assert shows is None or any(shows in n for n in got["notes"])
    assert site["stats"]["nan"] == (WIDTH if case == "NaN batch" else 0)  # one x, one row
