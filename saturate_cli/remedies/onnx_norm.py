"""Insert a normalisation between a site's producer and its activation in an ONNX graph.

BatchNormalization (channel axis 1) in either mode: `normalize` uses the calibration mean and
variance with gamma 1, beta 0; `preserve` sets gamma = sqrt(var + eps) and beta = mean, so the
node computes its input again (an identity at inference, a knob to fine-tune). LayerNormalization
(units on the last axis) normalises each row by its own statistics: no gamma and beta make it an
identity, so it is inserted in `normalize` mode only (decomposed below opset 17).
"""

from __future__ import annotations

from typing import Union

import numpy as np
import onnx
from onnx import helper, numpy_helper

from saturate_cli.remedies.options import BN_EPSILON
from saturate_cli.remedies.unit_moments import UnitMoments
from saturate_cli.model.onnx.graph import GraphView


def _fresh(g: GraphView, base: str) -> str:
    taken = set(g.producer) | set(g.initializers) | {i.name for i in g.graph.input}
    name, n = f"{base}__saturate_norm", 0
    while name in taken:
        n += 1
        name = f"{base}__saturate_norm{n}"
    return name


def _constant(model, name: str, value: np.ndarray) -> str:
    model.graph.initializer.append(numpy_helper.from_array(value.astype(np.float32), name))
    return name


def _layer_norm_nodes(model, g, x: str, y: str, base: str, units: int) -> list:
    """LayerNormalization over the last axis (opset 17), or its decomposition before it."""
    gamma = _constant(model, f"{base}.gamma", np.ones(units))
    beta = _constant(model, f"{base}.beta", np.zeros(units))
    if g.opset >= 17:
        return [helper.make_node("LayerNormalization", [x, gamma, beta], [y], name=base,
                                 axis=-1, epsilon=BN_EPSILON)]
    eps = _constant(model, f"{base}.epsilon", np.array(BN_EPSILON))
    t = [f"{base}/{s}" for s in ("mean", "centred", "square", "var", "var_eps", "std",
                                 "normed", "scaled")]
    return [helper.make_node("ReduceMean", [x], [t[0]], axes=[-1], keepdims=1),
            helper.make_node("Sub", [x, t[0]], [t[1]]),
            helper.make_node("Mul", [t[1], t[1]], [t[2]]),
            helper.make_node("ReduceMean", [t[2]], [t[3]], axes=[-1], keepdims=1),
            helper.make_node("Add", [t[3], eps], [t[4]]),
            helper.make_node("Sqrt", [t[4]], [t[5]]),
            helper.make_node("Div", [t[1], t[5]], [t[6]]),
            helper.make_node("Mul", [t[6], gamma], [t[7]]),
            helper.make_node("Add", [t[7], beta], [y], name=base)]


def insert_norm(model: onnx.ModelProto, tensor: str, kind: str, mode: str, axis: int,
                rank: int, moments: UnitMoments) -> Union[str, dict]:
    """Normalise `tensor` for all its readers; the change made, or why not."""
    g = GraphView(model)
    if g.opset > 21 and kind == "insert_layernorm":
        return "opset above 21 is not supported for the inserted LayerNorm"
    y = _fresh(g, tensor)
    base = y
    units = int(moments.mean.shape[0])
    if kind == "insert_batchnorm":
        if axis % rank != 1:
            return f"BatchNormalization normalises axis 1, the units are on axis {axis}"
        gamma = np.sqrt(moments.var + BN_EPSILON) if mode == "preserve" else np.ones(units)
        beta = moments.mean if mode == "preserve" else np.zeros(units)
        names = [_constant(model, f"{base}.{p}", v) for p, v in (
            ("gamma", gamma), ("beta", beta), ("mean", moments.mean), ("var", moments.var))]
        nodes = [helper.make_node("BatchNormalization", [tensor, *names], [y], name=base,
                                  epsilon=BN_EPSILON)]
        numbers = {"gamma": gamma, "beta": beta}
    else:
        if mode == "preserve":
            return ("LayerNorm normalises each row by its own statistics, so no gamma and beta "
                    "make it an identity; use --norm normalize")
        if axis % rank != rank - 1:
            return f"LayerNorm normalises the last axis, the units are on axis {axis}"
        nodes = _layer_norm_nodes(model, g, tensor, y, base, units)
        numbers = {}
    readers = list(g.consumers.get(tensor, []))
    for node in readers:
        for i, name in enumerate(node.input):
            if name == tensor:
                node.input[i] = y
    _insert_after(model, g, tensor, nodes)
    return {"tensors": [n.name for n in nodes if n.name], "node": base, "mode": mode,
            "mean": moments.mean, "std": np.sqrt(moments.var), **numbers}


def _insert_after(model, g: GraphView, tensor: str, nodes: list) -> None:
    """Put the new nodes right after the producer of `tensor` (topological order kept)."""
    producer = g.producer.get(tensor)
    at = 0 if producer is None else g.index[id(producer)] + 1
    for k, node in enumerate(nodes):
        model.graph.node.insert(at + k, node)
