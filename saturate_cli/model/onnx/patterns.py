"""Decomposed activations that exporters emit, each recognised as one site of the fused kind.

A match names the activation's input x, the nodes that make it up (so their Sigmoid or Tanh is
not reported a second time) and the node whose output is the activation's output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import onnx

from saturate_cli.model.onnx.graph import GraphView, attr


@dataclass(frozen=True)
class Match:
    """One recognised pattern."""

    kind: str
    x: str
    nodes: tuple[int, ...]  # graph indices of the nodes that form it
    output_node: int
    params: tuple = ()


def _close(value: Optional[float], target: float, rel: float = 1e-3) -> bool:
    return value is not None and abs(value - target) <= rel * abs(target)


def _mul_with(g: GraphView, tensor: str, x: str) -> Optional[onnx.NodeProto]:
    """A Mul consuming `tensor` whose other input is x."""
    for m in g.only(tensor, "Mul"):
        if g.other_input(m, tensor) == x:
            return m
    return None


def _idx(g: GraphView, *nodes: onnx.NodeProto) -> tuple[int, ...]:
    return tuple(g.index[id(n)] for n in nodes)


def match_gated(g: GraphView, node: onnx.NodeProto) -> Optional[Match]:
    """x * Sigmoid(x) (SiLU), x * HardSigmoid(x) (HardSwish), x * Tanh(Softplus(x)) (Mish)."""
    if node.op_type == "Sigmoid":
        x = node.input[0]
        m = _mul_with(g, node.output[0], x)
        if m is not None:
            return Match("silu", x, _idx(g, node, m), g.index[id(m)])
        return _scaled_swish(g, node)
    if node.op_type == "HardSigmoid":
        x = node.input[0]
        m = _mul_with(g, node.output[0], x)
        params = (("alpha", float(attr(node, "alpha", 0.2))), ("beta", float(attr(node, "beta", 0.5))))
        return m and Match("hardswish", x, _idx(g, node, m), g.index[id(m)], params)
    if node.op_type == "Softplus":
        x = node.input[0]
        for t in g.only(node.output[0], "Tanh"):
            m = _mul_with(g, t.output[0], x)
            if m is not None:
                return Match("mish", x, _idx(g, node, t, m), g.index[id(m)])
    return None


def _scaled_swish(g: GraphView, sig: onnx.NodeProto) -> Optional[Match]:
    """x * Sigmoid(alpha x): QuickGELU (alpha 1.702) and Swish with a fixed beta."""
    scale = g.producer.get(sig.input[0])
    if scale is None or scale.op_type != "Mul" or len(scale.input) != 2:
        return None
    for i in (0, 1):
        alpha = g.scalar(scale.input[1 - i])
        x = scale.input[i]
        if alpha is not None and alpha > 0 and g.constant(x) is None:
            m = _mul_with(g, sig.output[0], x)
            if m is not None:
                return Match("silu", x, _idx(g, scale, sig, m), g.index[id(m)],
                             (("alpha", alpha),))
    return None


def _clip_hard(g: GraphView, clip: onnx.NodeProto) -> Optional[Match]:
    """x * Clip(x + 3, 0, 6) / 6 (HardSwish) and Clip(x + 3, 0, 6) / 6 (HardSigmoid), as older
    exports write them."""
    if clip.op_type != "Clip" or g.opset < 11 or len(clip.input) < 3:
        return None
    if not (_close(g.scalar(clip.input[1]), 0.0, 0) and _close(g.scalar(clip.input[2]), 6.0)):
        return None
    add = g.producer.get(clip.input[0])
    if add is None or add.op_type != "Add":
        return None
    x = next((t for t in add.input if _close(g.scalar(g.other_input(add, t) or ""), 3.0)), None)
    if x is None:
        return None
    for div in g.only(clip.output[0], "Div"):
        if _close(g.scalar(div.input[1]), 6.0):
            m = _mul_with(g, div.output[0], x)
            if m is not None:
                return Match("hardswish", x, _idx(g, add, clip, div, m), g.index[id(m)])
            return Match("hardsigmoid", x, _idx(g, add, clip, div), g.index[id(div)],
                         (("alpha", 1.0 / 6.0), ("beta", 0.5)))
    m = _mul_with(g, clip.output[0], x)
    if m is not None:
        for div in g.only(m.output[0], "Div"):
            if _close(g.scalar(div.input[1]), 6.0):
                return Match("hardswish", x, _idx(g, add, clip, m, div), g.index[id(div)])
    return None


def _tail_of_gelu(g: GraphView, start: onnx.NodeProto, x: str) -> list[onnx.NodeProto]:
    """The Add(.., 1) and Mul nodes that finish 0.5 * x * (1 + inner(x)) after `start`."""
    chain: list[onnx.NodeProto] = []
    adds = [a for a in g.only(start.output[0], "Add")
            if _close(g.scalar(g.other_input(a, start.output[0]) or ""), 1.0)]
    if not adds:
        return chain
    chain.append(adds[0])
    current = adds[0].output[0]
    for _ in range(2):  # x * (...) and * 0.5, in either order
        muls = g.only(current, "Mul")
        if not muls:
            break
        chain.append(muls[0])
        current = muls[0].output[0]
    return chain


def match_gelu_erf(g: GraphView, node: onnx.NodeProto) -> Optional[Match]:
    """0.5 * x * (1 + Erf(x / sqrt 2)) with the scaling as Div(x, 1.414) or Mul(x, 0.7071)."""
    if node.op_type != "Erf":
        return None
    scale = g.producer.get(node.input[0])
    if scale is None or scale.op_type not in ("Div", "Mul") or len(scale.input) != 2:
        return None
    target = math.sqrt(2.0) if scale.op_type == "Div" else 1.0 / math.sqrt(2.0)
    for i in (0, 1):
        if _close(g.scalar(scale.input[1 - i]), target) and (scale.op_type == "Mul" or i == 0):
            x = scale.input[i]
            tail = _tail_of_gelu(g, node, x)
            last = tail[-1] if tail else node
            return Match("gelu", x, _idx(g, scale, node, *tail), g.index[id(last)])
    return None


def _is_cube_of(g: GraphView, tensor: str, x: str) -> bool:
    node = g.producer.get(tensor)
    if node is None:
        return False
    if node.op_type == "Pow":
        return node.input[0] == x and _close(g.scalar(node.input[1]), 3.0)
    if node.op_type == "Mul":
        a, b = node.input
        inner = g.producer.get(b if a == x else a)
        return x in (a, b) and inner is not None and inner.op_type == "Mul" and list(
            inner.input) == [x, x]
    return False


def match_gelu_tanh(g: GraphView, node: onnx.NodeProto) -> Optional[Match]:
    """0.5 x (1 + Tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if node.op_type != "Tanh":
        return None
    outer = g.producer.get(node.input[0])
    if outer is None or outer.op_type != "Mul":
        return None
    for i in (0, 1):
        if not _close(g.scalar(outer.input[1 - i]), math.sqrt(2.0 / math.pi)):
            continue
        add = g.producer.get(outer.input[i])
        if add is None or add.op_type != "Add":
            continue
        for j in (0, 1):
            x, rest = add.input[j], add.input[1 - j]
            cubic = g.producer.get(rest)
            if cubic is None or cubic.op_type != "Mul":
                continue
            for k in (0, 1):
                if _close(g.scalar(cubic.input[1 - k]), 0.044715) and _is_cube_of(
                        g, cubic.input[k], x):
                    tail = _tail_of_gelu(g, node, x)
                    last = tail[-1] if tail else node
                    return Match("gelu_tanh", x, _idx(g, outer, add, cubic, node, *tail),
                                 g.index[id(last)])
    return None


def match_softsign(g: GraphView, node: onnx.NodeProto) -> Optional[Match]:
    """x / (1 + Abs(x)): softsign as exporters without a Softsign op write it."""
    if node.op_type != "Abs":
        return None
    x = node.input[0]
    for add in g.only(node.output[0], "Add"):
        if not _close(g.scalar(g.other_input(add, node.output[0]) or ""), 1.0):
            continue
        for div in g.only(add.output[0], "Div"):
            if list(div.input) == [x, add.output[0]]:
                return Match("softsign", x, _idx(g, node, add, div), g.index[id(div)])
    return None


MATCHERS = (match_gated, match_gelu_erf, match_gelu_tanh, match_softsign, _clip_hard)


def find_patterns(g: GraphView) -> list[Match]:
    """Every decomposed activation in the graph."""
    found = []
    for node in g.nodes:
        for matcher in MATCHERS:
            match = matcher(g, node)
            if match is not None:
                found.append(match)
                break
    return found
