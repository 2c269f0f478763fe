"""Activations inside top-level If branches: the branch the data takes is measured (against
numpy), the other is listed as not covered."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from pathlib import Path

from saturate_cli.batch_loop import collect
from saturate_cli.activations import get_kind
from saturate_cli.model.onnx.handle import OnnxModel
from saturate_cli.pipeline import inspect_model
from saturate_cli.settings import Settings


def _branch(name, op, out):
    return helper.make_graph([helper.make_node(op, ["x"], [out], name=f"{name}_act")], name, [],
                             [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["n", 4])])


def _model(tmp_path, nested=False):
    then = _branch("then", "Sigmoid", "t_out")
    if nested:  # the else branch holds another If on the same condition
        inner = helper.make_node("If", ["flag"], ["e_out"], name="inner",
                                 then_branch=_branch("in_then", "Tanh", "it_out"),
                                 else_branch=_branch("in_else", "Relu", "ie_out"))
        other = helper.make_graph([inner], "else", [],
                                  [helper.make_tensor_value_info("e_out", TensorProto.FLOAT,
                                                                 ["n", 4])])
    else:
        other = _branch("else", "Relu", "e_out")
    nodes = [helper.make_node("Not", ["flag"], ["cond"], name="not") if nested else
             helper.make_node("Identity", ["flag"], ["cond"], name="id"),
             helper.make_node("If", ["cond"], ["y"], name="outer", then_branch=then,
                              else_branch=other)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4]),
                     helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])])
    path = tmp_path / "if.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def _measure(path, x, flag):
    handle = OnnxModel(Path(path), memory_budget=2**30)
    batches = [{"x": x[i:i + 8], "flag": np.array(flag)} for i in range(0, len(x), 8)]
    return handle, collect(handle, batches, tau=0.05, softmax_tau=0.01)


@pytest.mark.parametrize("flag, kind, other", [(True, "sigmoid", "Relu"),
                                               (False, "relu", "Sigmoid")])
def test_taken_branch_is_measured(tmp_path, flag, kind, other):
    x = (np.random.default_rng(0).standard_normal((24, 4)) * 6).astype(np.float32)
    handle, stats = _measure(_model(tmp_path), x, flag)
    (site,) = handle.sites
    got = stats[site.name]
    assert site.kind == kind and got.count == x.size and got.batches == 3
    assert (got.min, got.max) == (x.min(), x.max())
    assert got.mean == pytest.approx(x.astype(np.float64).mean(), rel=1e-6)
    low = get_kind(kind).tails(site.params, 0.05).low
    assert got.low == int((x <= low).sum())
    assert [u.op for u in handle.not_covered] == [other]
    assert any("outer" in n for n in handle.notes)


def test_nested_if_in_the_taken_branch_is_specialised_too(tmp_path):
    x = np.random.default_rng(1).standard_normal((8, 4)).astype(np.float32)
    handle, _ = _measure(_model(tmp_path, nested=True), x, True)  # Not(flag): outer takes else
    assert [s.kind for s in handle.sites] == ["tanh"]  # inner If on flag=True
    assert sorted(u.op for u in handle.not_covered) == ["Relu", "Sigmoid"]


def test_untouched_model_reports_if_activations_before_any_data(tmp_path):
    report = inspect_model(_model(tmp_path), Settings(samples=4)).to_dict()
    assert report["sites"] or report["not_covered"]  # measured (flag drawn) or listed
