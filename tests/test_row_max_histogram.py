"""Softmax sites carry the distribution of their rows' max probability (for the pictures),
counted against numpy's softmax of the same logits."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

import saturate_cli as sat


def _softmax_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_row_maxima_counted_in_bins_with_an_edge_at_the_collapse_line():
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((60, 10)) * rng.uniform(0.1, 12, (60, 1))).astype(np.float32)
    report = sat.inspect(_softmax_model(), calibration=logits, softmax_tau=0.03)
    hist = report.sites[0].saturation["row_max_histogram"]
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    top = 1.0 / np.exp(z).sum(axis=1)
    assert 0.97 in [round(e, 12) for e in hist["edges"]] and hist["collapse"] == 0.97
    assert hist["counts"] == np.histogram(top, bins=hist["edges"])[0].tolist()
    assert hist["rows"] == 60
    collapsed = sum(c for c, lo in zip(hist["counts"], hist["edges"]) if lo >= 0.97 - 1e-12)
    assert collapsed == int((top > 0.97).sum()) == report.sites[0].saturation["collapsed_rows"]
