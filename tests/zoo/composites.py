"""Activations exporters write out of several nodes, recognised independently of saturate_cli:
SiLU / Swish `x * Sigmoid(a x)`, HardSwish `x * HardSigmoid(x)`, Mish `x * Tanh(Softplus(x))`
and GELU's tanh formula `0.5 x (1 + Tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.

The activation nodes inside one are not activations of their own: the composite is the site,
on its input x, judged by the composite's tail. GELU-tanh is confirmed numerically: the Tanh's
input must equal the formula of the candidate x on the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import onnx
from onnx import numpy_helper


@dataclass(frozen=True)
class Composite:
    kind: str  # silu, hardswish, mish, gelu_tanh
    x: str
    nodes: tuple  # graph indices of the activation nodes it absorbs
    alpha: float = 1.0  # silu: x * sigmoid(alpha x); hardswish: HardSigmoid's alpha
    beta: float = 0.5  # hardswish: HardSigmoid's beta


class _Graph:
    def __init__(self, model: onnx.ModelProto):
        self.nodes = list(model.graph.node)
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.consumers: dict = {}
        for n in self.nodes:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def const(self, name: str) -> Optional[np.ndarray]:
        if name in self.inits:
            return self.inits[name]
        node = self.producer.get(name)
        if node is None or node.op_type != "Constant":
            return None
        for a in node.attribute:
            if a.name == "value":
                return numpy_helper.to_array(a.t)
            if a.name in ("value_float", "value_int", "value_floats", "value_ints"):
                return np.array(onnx.helper.get_attribute_value(a))
        return None

    def times(self, out: str, x: str) -> bool:
        """A Mul reads `out` and x."""
        return any(m.op_type == "Mul" and set(m.input) == {out, x}
                   for m in self.consumers.get(out, []))


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def find(model: onnx.ModelProto) -> list[Composite]:
    """The composites of the top-level graph (GELU-tanh candidates not yet confirmed)."""
    g, found = _Graph(model), []
    for index, n in enumerate(g.nodes):
        if n.op_type == "Sigmoid":
            x, alpha = n.input[0], 1.0
            scale = g.producer.get(x)
            if not g.times(n.output[0], x) and scale is not None and scale.op_type == "Mul":
                for i in (0, 1):
                    a = g.const(scale.input[1 - i])
                    if a is not None and a.size == 1 and g.times(n.output[0], scale.input[i]):
                        x, alpha = scale.input[i], float(a.reshape(-1)[0])
            if g.times(n.output[0], x):
                found.append(Composite("silu", x, (index,), alpha))
        elif n.op_type == "HardSigmoid" and g.times(n.output[0], n.input[0]):
            found.append(Composite("hardswish", n.input[0], (index,),
                                   float(_attr(n, "alpha", 0.2)), float(_attr(n, "beta", 0.5))))
        elif n.op_type == "Clip" and _hardswish_clip(g, n) is not None:
            found.append(Composite("hardswish", _hardswish_clip(g, n), (index,), 1 / 6, 0.5))
        elif n.op_type == "Softplus":
            for t in g.consumers.get(n.output[0], []):
                if t.op_type == "Tanh" and g.times(t.output[0], n.input[0]):
                    found.append(Composite("mish", n.input[0],
                                           (index, g.nodes.index(t))))
        elif n.op_type == "Tanh":
            x = _single_leaf(g, n.input[0])
            if x is not None:
                found.append(Composite("gelu_tanh", x, (index,)))
    return found


def _hardswish_clip(g: _Graph, clip) -> Optional[str]:
    """x when `clip` is Clip(x + 3, 0, 6) and its output is multiplied by x (then / 6)."""
    bounds = [g.const(i) if i else None for i in list(clip.input[1:3]) + [""] * 2][:2]
    if any(b is None or b.size != 1 for b in bounds) or \
            [float(b.reshape(-1)[0]) for b in bounds] != [0.0, 6.0]:
        return None
    add = g.producer.get(clip.input[0])
    if add is None or add.op_type != "Add":
        return None
    for i in (0, 1):
        three = g.const(add.input[1 - i])
        if three is not None and three.size == 1 and float(three.reshape(-1)[0]) == 3.0 \
                and g.times(clip.output[0], add.input[i]):
            return add.input[i]
    return None


def _single_leaf(g: _Graph, tensor: str, depth: int = 8) -> Optional[str]:
    """The one non-constant tensor an arithmetic chain (Mul/Add/Pow/Div/Sub) is built from."""
    leaves, frontier = set(), [tensor]
    for _ in range(depth):
        nxt = []
        for t in frontier:
            node = g.producer.get(t)
            if node is None or node.op_type not in ("Mul", "Add", "Pow", "Div", "Sub"):
                if g.const(t) is None:
                    leaves.add(t)
                continue
            nxt += [i for i in node.input if g.const(i) is None]
        frontier = nxt
    return next(iter(leaves)) if len(leaves) == 1 and tensor not in leaves else None


def confirm_gelu(tanh_input: np.ndarray, x: np.ndarray) -> bool:
    """Whether the Tanh's input is sqrt(2/pi) (x + 0.044715 x^3) on the data."""
    want = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
    return tanh_input.shape == want.shape and bool(np.allclose(tanh_input, want, rtol=1e-3,
                                                               atol=1e-4))
