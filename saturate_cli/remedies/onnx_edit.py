"""Rescale and bias-shift suggestions applied to an ONNX model's initializers.

Each change writes a fresh initializer for the one node input it touches, so weights shared
with other layers are never altered; the original is dropped once nothing reads it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import onnx
from onnx import numpy_helper

from saturate_cli.model.onnx.graph import GraphView
from saturate_cli.report.model import SiteReport

FRESH = "__saturate_fix"  # the suffix of a changed initializer's private copy


def ancestors(g: GraphView, tensor: str, depth: int = 10) -> list[onnx.NodeProto]:
    """Nodes on the single-input path back from an activation input (bias adds, norms)."""
    out = []
    for _ in range(depth):
        node = g.producer.get(tensor)
        if node is None:
            break
        out.append(node)
        tensor = node.input[0] if node.input else ""
    return out


def rewire(model: onnx.ModelProto, g: GraphView, node: onnx.NodeProto, index: int,
            value: np.ndarray, hint: str) -> str:
    """Point one node input at a fresh initializer holding `value`."""
    taken = {t.name for t in model.graph.initializer}
    hint = hint.split(FRESH)[0]
    name, n = f"{hint}{FRESH}", 0
    while name in taken:
        n += 1
        name = f"{hint}{FRESH}{n}"
    model.graph.initializer.append(numpy_helper.from_array(value, name))
    node.input[index] = name
    return name


def _transform_input(model, g, nodes, initializer: str, change) -> Optional[str]:
    """Replace the input of the first node in `nodes` that reads `initializer` (or the fresh
    copy an earlier change of this run made of it) by change(value)."""
    for node in nodes:
        for i, tensor in enumerate(node.input):
            origin = _origin(g, tensor) if tensor else ""
            if origin and (origin == initializer or
                           origin.startswith(f"{initializer}{FRESH}")):
                value = g.constant(tensor)
                if value is None:
                    return None
                fixed = change(value.astype(np.float64)).astype(value.dtype)
                return rewire(model, g, node, i, fixed, initializer)
    return None


def apply_suggestion(model: onnx.ModelProto, site: SiteReport, tip: dict) -> Optional[str]:
    """Apply a rescale or shift in place; returns None when done, else why it was not."""
    producer = site.producer
    if producer is None:
        return "no producing layer found"
    g = GraphView(model)
    path = ancestors(g, site.input)
    if producer.get("norm"):
        return _apply_to_norm(model, g, path, producer, tip)
    layer = [n for n in path if g.node_name(n) == producer["name"]]
    if not layer:
        return "producing layer not found"
    if tip["kind"] == "shift_bias":
        if not producer.get("bias"):
            return "the layer has no bias"
        done = _transform_input(model, g, path, _origin(g, producer["bias"]), _shift(tip))
        return None if done else "bias is not a constant initializer"
    k = tip["factor"]
    if _transform_input(model, g, layer, producer["weight"], lambda w: w * k) is None:
        return "weight is not a constant initializer"
    if producer.get("bias"):
        _transform_input(model, g, path, _origin(g, producer["bias"]), lambda b: b * k)
    return None


def _apply_to_norm(model, g, path, producer: dict, tip: dict) -> Optional[str]:
    """A normalisation precedes the site: its gamma and beta set the pre-activation's scale
    and centre, so scale both by k (rescale) or move beta (shift)."""
    norm = [n for n in path if g.node_name(n) == producer["norm"]]
    gamma, beta = producer.get("norm_scale"), producer.get("norm_bias")
    if not norm or not gamma:
        return "the normalisation's parameters were not found"
    if tip["kind"] == "shift_bias":
        if not beta:
            return "the normalisation has no beta"
        done = _transform_input(model, g, norm, _origin(g, beta), _shift(tip))
        return None if done else "beta is not a constant initializer"
    k = tip["factor"]
    if _transform_input(model, g, norm, _origin(g, gamma), lambda w: w * k) is None:
        return "gamma is not a constant initializer"
    if beta:
        _transform_input(model, g, norm, _origin(g, beta), lambda b: b * k)
    return None


def _shift(tip: dict):
    """The bias change: one amount for every entry, or per unit for the listed units."""
    if "units" not in tip:
        return lambda b: b + tip["amount"]

    def per_unit(b: np.ndarray) -> np.ndarray:
        out = b.reshape(-1).copy()  # a bias reshaped for broadcasting ([1, C, 1, 1]) too
        out[tip["units"]] += tip["amounts"]
        return out.reshape(b.shape)

    return per_unit


def _origin(g: GraphView, tensor: str) -> str:
    """The constant behind a tensor reached through ops that only move values."""
    return g.origin(tensor)


def drop_unused(model: onnx.ModelProto) -> None:
    """Remove initializers nothing reads any more (the originals of rewired inputs)."""
    used = {i for node in model.graph.node for i in node.input}
    used |= {o.name for o in model.graph.output}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
