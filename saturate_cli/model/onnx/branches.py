"""Measure activations inside top-level `If` branches by specialising the graph on the branch
the calibration data takes.

Exporters put whole models inside an `If` (merged decoders with a `use_cache_branch` input,
models switching on a sample rate). The condition is read once from the first batch; each such
`If` is then replaced by the nodes of the branch it took (its outputs renamed onto the `If`'s
outputs), and the specialised graph is measured like any other. Activations of the branch not
taken are listed as not covered. Loop and Scan bodies stay not covered.
"""

from __future__ import annotations

from typing import Callable

import onnx
from onnx import helper

from saturate_cli.types import NotCovered
from saturate_cli.model.onnx.sites import OP_KINDS

RunFn = Callable[[onnx.ModelProto, list[str]], list]


def _branch(node: onnx.NodeProto, name: str) -> onnx.GraphProto:
    return next(a.g for a in node.attribute if a.name == name)


def _has_activation(graph: onnx.GraphProto) -> bool:
    for node in graph.node:
        if node.op_type in OP_KINDS:
            return True
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH and _has_activation(a.g):
                return True
    return False


def measurable_ifs(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """Top-level If nodes with an activation in either branch."""
    return [n for n in model.graph.node if n.op_type == "If" and n.domain in ("", "ai.onnx")
            and (_has_activation(_branch(n, "then_branch"))
                 or _has_activation(_branch(n, "else_branch")))]


def read_conditions(model: onnx.ModelProto, ifs: list[onnx.NodeProto], run: RunFn) -> list[bool]:
    """The value of each If's condition on one batch (a run that returns just those tensors)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    names = []
    for node in ifs:
        if node.input[0] not in names:
            names.append(node.input[0])
            probe.graph.output.append(helper.make_empty_tensor_value_info(node.input[0]))
    values = dict(zip(names, run(probe, names)))
    return [bool(values[n.input[0]].reshape(-1)[0]) for n in ifs]


def specialise(model: onnx.ModelProto, ifs: list[onnx.NodeProto], taken: list[bool],
               name_of: Callable[[onnx.NodeProto], str]) -> tuple[onnx.ModelProto, list]:
    """A copy of `model` with each If replaced by its taken branch; and the not-taken branches'
    activations as NotCovered entries."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    choice = {name_of(n): (n, t) for n, t in zip(ifs, taken)}
    nodes: list[onnx.NodeProto] = []
    skipped: list[NotCovered] = []
    outer = _outer_names(model.graph)
    for node in model.graph.node:
        hit = choice.get(name_of(node)) if node.op_type == "If" else None
        if hit is not None and _inner_names(_branch(node, "then_branch" if hit[1] else
                                                    "else_branch")) & outer:
            hit = None  # a branch name shadows an outer one: keep the If (not covered)
        if hit is None:
            nodes.append(node)
            continue
        owner = name_of(node)
        took, other = ("then_branch", "else_branch") if hit[1] else ("else_branch", "then_branch")
        branch = _branch(node, took)
        nodes.extend(_renamed(branch, owner))
        out.graph.initializer.extend(branch.initializer)
        for inner, outer in zip(branch.output, node.output):
            nodes.append(helper.make_node("Identity", [inner.name], [outer],
                                          name=f"{owner}/{took}/out:{outer}"))
        skipped.extend(
            NotCovered(f"{owner}/{other}/{n.name or n.op_type}", n.op_type,
                       f"in the branch of If '{owner}' not taken on the calibration data")
            for n in _branch(node, other).node if n.op_type in OP_KINDS)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out, skipped


def _outer_names(graph: onnx.GraphProto) -> set:
    names = {o for n in graph.node for o in n.output}
    return names | {v.name for v in graph.input} | {t.name for t in graph.initializer}


def _inner_names(graph: onnx.GraphProto) -> set:
    names = {o for n in graph.node for o in n.output}
    return names | {t.name for t in graph.initializer}


def _renamed(branch: onnx.GraphProto, owner: str) -> list[onnx.NodeProto]:
    """The branch's nodes, named after the If that held them (site names stay readable)."""
    nodes = []
    for j, n in enumerate(branch.node):
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        copy.name = f"{owner}/{n.name or f'{n.op_type}_{j}'}"
        nodes.append(copy)
    return nodes
