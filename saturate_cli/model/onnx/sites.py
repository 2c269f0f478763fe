"""Find the activation sites of an ONNX graph, and the activations it cannot measure."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
import onnx

from saturate_cli.activations import get_kind
from saturate_cli.activations.registry import kind_of_bounds, onnx_op_kinds
from saturate_cli.types import NotCovered
from saturate_cli.model.onnx.graph import GraphView, attr
from saturate_cli.model.onnx.names import ScopedNames
from saturate_cli.model.onnx.patterns import find_patterns

OP_KINDS = onnx_op_kinds()  # op type -> registry kind, for plain activation nodes
FUSED_ELSEWHERE = {
    "LSTM": "gate activations are fused inside the recurrent kernel",
    "GRU": "gate activations are fused inside the recurrent kernel",
    "RNN": "gate activations are fused inside the recurrent kernel",
    "Attention": "the softmax is fused inside the attention kernel",
}
CONTROL_FLOW = ("If", "Loop", "Scan")


@dataclass(frozen=True)
class RawSite:
    """A site before its producer and unit axis are known."""

    name: str
    input: str
    op: str
    kind: str
    params: tuple
    order: int  # graph index of its first node: execution order
    dynamic: tuple = (None, None, None)  # (low_from, high_from, slope_from): see Site
    named_by: int = -1  # graph index of the node whose name (or exporter scope) it takes


_NONE = (None, None, None)


def _params(g: GraphView, node: onnx.NodeProto) -> tuple[str, dict, tuple]:
    """Kind, parameters and run-time threshold tensors of a plain activation node."""
    op = node.op_type
    if op == "PRelu":
        return _prelu(g, node)
    if op == "Clip":
        return _clip_kind(g, node)
    kind, params = _static_params(g, node)
    return kind, params, _NONE


def _static_params(g: GraphView, node: onnx.NodeProto) -> tuple[str, dict]:
    """Kind and parameters from the node's attributes (defaults: the registry's ONNX form)."""
    op = node.op_type
    kind = get_kind(OP_KINDS[op])
    if op == "Gelu" and attr(node, "approximate", "none") == "tanh":
        return "gelu_tanh", {}
    if op in ("Softmax", "LogSoftmax"):  # the default axis changed with opset 13
        return kind.name, {"axis": int(attr(node, "axis", -1 if g.opset >= 13 else 1))}
    return kind.name, {param: float(attr(node, name, default))
                       for param, name, default in kind.onnx.attrs}


def _prelu(g: GraphView, node: onnx.NodeProto) -> tuple[str, dict, tuple]:
    """PRelu judged per element from the slope that applies there (constant or run time):
    `alpha` is the smallest |slope|, the one that decides whether any negative side is flat."""
    slope_name = node.input[1] if len(node.input) > 1 and node.input[1] else None
    if slope_name is None:
        return "prelu", {}, _NONE
    slope = g.constant(slope_name)
    params = {"alpha": float(np.min(np.abs(slope)))} if slope is not None and slope.size else {}
    return "prelu", params, (None, None, slope_name)


def _clip_kind(g: GraphView, node: onnx.NodeProto) -> tuple[str, dict, tuple]:
    """Clip: bounds from attributes (opset < 11), constant inputs, or tensors read at run time."""
    if g.opset < 11:
        lo, hi = attr(node, "min", -math.inf), attr(node, "max", math.inf)
        return kind_of_bounds(float(lo), float(hi)) + (_NONE,)
    bounds, dynamic = [], [None, None, None]
    for i, default in ((1, -math.inf), (2, math.inf)):
        name = node.input[i] if len(node.input) > i and node.input[i] else None
        value = g.scalar(name) if name else default
        if value is None:  # computed or fed at run time: read per batch
            dynamic[i - 1] = name
        bounds.append(default if value is None else float(value))
    if any(dynamic):
        return "clip", {"min": bounds[0], "max": bounds[1]}, tuple(dynamic)
    return kind_of_bounds(*bounds) + (_NONE,)


_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
                onnx.TensorProto.BFLOAT16}


def discover(g: GraphView) -> tuple[list[RawSite], list[NotCovered]]:
    """Sites in execution order, and what is listed as not covered."""
    sites: list[RawSite] = []
    uncovered: list[NotCovered] = []
    consumed: set[int] = set()
    custom: dict[tuple[str, str], list[str]] = {}
    for match in find_patterns(g):
        if consumed.intersection(match.nodes):
            continue
        consumed.update(match.nodes)
        out_node = g.nodes[match.output_node]
        sites.append(RawSite(g.node_name(out_node), match.x, f"pattern:{match.kind}",
                             match.kind, match.params, min(match.nodes),
                             named_by=match.output_node))
    for i, node in enumerate(g.nodes):
        name = g.node_name(node)
        if node.domain not in ("", "ai.onnx"):
            if i not in consumed:
                contrib = _contrib_site(node, name, i)
                if contrib is not None:
                    sites.append(contrib)
                else:
                    custom.setdefault((node.domain, node.op_type), []).append(name)
            continue
        if node.op_type in FUSED_ELSEWHERE:
            uncovered.append(NotCovered(name, node.op_type, FUSED_ELSEWHERE[node.op_type]))
        if node.op_type.startswith("QLinear") or node.op_type == "DequantizeLinear":
            if node.op_type in ("QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax"):
                uncovered.append(NotCovered(name, node.op_type, "quantized activation"))
        for sub in _subgraphs(node):
            uncovered.extend(_subgraph_activations(sub, name, node.op_type))
        if i in consumed or node.op_type not in OP_KINDS or not node.input:
            continue
        kind, params, dynamic = _params(g, node)
        sites.append(RawSite(name, node.input[0], node.op_type, kind,
                             tuple(sorted(params.items())), i, dynamic, i))
    for (domain, op), names in custom.items():
        more = f" and {len(names) - 1} more" if len(names) > 1 else ""
        uncovered.append(NotCovered(names[0] + more, f"{domain}.{op}",
                                    "custom-domain op: any activation fused inside is not measured"))
    sites.sort(key=lambda s: s.order)
    return _unique_names(_scoped(g, sites)), uncovered


def _scoped(g: GraphView, sites: list[RawSite]) -> list[RawSite]:
    """Module-path names where the exporter recorded them (onnx/names.py)."""
    names = ScopedNames()
    out = []
    for s in sites:
        scoped = names.name(g.nodes[s.named_by]) if s.named_by >= 0 else None
        out.append(replace(s, name=scoped) if scoped else s)
    return out


# onnxruntime contrib ops that are plain activations of their first input (no fused bias)
_CONTRIB = {("com.microsoft", "Gelu"): "gelu", ("com.microsoft", "FastGelu"): "gelu_tanh"}


def _contrib_site(node: onnx.NodeProto, name: str, index: int) -> Optional[RawSite]:
    kind = _CONTRIB.get((node.domain, node.op_type))
    if kind is None or not node.input or (len(node.input) > 1 and node.input[1]):
        return None
    return RawSite(name, node.input[0], f"{node.domain}.{node.op_type}", kind, (), index,
                   named_by=index)


def _unique_names(sites: list[RawSite]) -> list[RawSite]:
    seen: dict[str, int] = {}
    out = []
    for s in sites:
        n = seen.get(s.name, 0)
        seen[s.name] = n + 1
        out.append(s if n == 0 else replace(s, name=f"{s.name}#{n}"))
    return out


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    subs = []
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            subs.append(a.g)
        elif a.type == onnx.AttributeProto.GRAPHS:
            subs.extend(a.graphs)
    return subs


def _subgraph_activations(graph: onnx.GraphProto, owner: str, owner_op: str) -> list[NotCovered]:
    found = []
    for j, node in enumerate(graph.node):
        if node.op_type in OP_KINDS:
            found.append(NotCovered(f"{owner}/{node.name or f'{node.op_type}_{j}'}", node.op_type,
                                    f"inside the {owner_op} body of '{owner}': control flow "
                                    "subgraphs are not instrumented"))
        for sub in _subgraphs(node):
            found.extend(_subgraph_activations(sub, owner, owner_op))
    return found


_INT_TYPES = {getattr(onnx.TensorProto, n) for n in ("INT8", "UINT8", "INT16", "UINT16", "INT32",
                                                      "UINT32", "INT64", "UINT64")}


def is_measurable(elem_type: Optional[int]) -> bool:
    """Whether an element type can be measured (None: unknown, assumed float). Integer inputs
    (a quantised Clip, an int8 Relu) are measured in float64, exactly up to 2^53."""
    return elem_type is None or elem_type in _FLOAT_TYPES or elem_type in _INT_TYPES


def is_integer(elem_type: Optional[int]) -> bool:
    return elem_type in _INT_TYPES
