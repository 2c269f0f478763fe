"""Conditions of a scripted graph decided before it runs: constants and module attributes.

`if self.stride == 1:` (torchvision's ShuffleNet block) reads an attribute fixed when the module
was scripted, so only the branch that will run is planned and the dispatched operators cannot be
matched to the other one. An attribute that some method sets (`prim::SetAttr`) is not trusted; a
condition on data stays undecided and both branches are planned.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Optional

_SCALARS = (bool, int, float, str, type(None))
_OPS = {"aten::eq": operator.eq, "aten::ne": operator.ne, "aten::lt": operator.lt,
        "aten::le": operator.le, "aten::gt": operator.gt, "aten::ge": operator.ge,
        "aten::__not__": operator.not_, "aten::__and__": operator.and_,
        "aten::__or__": operator.or_, "aten::__is__": operator.is_,
        "aten::__isnot__": operator.is_not, "aten::Bool": bool, "aten::Int": int,
        "aten::len": len}


@dataclass(frozen=True)
class Known:
    """A value of the graph known before it runs."""

    value: object


def _nodes(block):
    for node in block.nodes():
        yield node
        for sub in node.blocks():
            yield from _nodes(sub)


def mutated(root) -> frozenset:
    """Names of the attributes that any method of any submodule sets."""
    names = set()
    for _, module in root.named_modules():
        try:
            methods = module._c._method_names()
        except (AttributeError, RuntimeError):
            continue
        for name in methods:
            graph = getattr(getattr(module, name, None), "graph", None)
            if graph is not None:
                names.update(n.s("name") for n in _nodes(graph) if n.kind() == "prim::SetAttr")
    return frozenset(names)


def fold(node, values: dict, modules: dict, changing: frozenset) -> None:
    """Record the node's output in `values` as Known when it can be computed now."""
    kind, outs = node.kind(), list(node.outputs())
    if len(outs) != 1:
        return
    value = None
    if kind == "prim::Constant":
        try:
            value = Known(outs[0].toIValue())
        except RuntimeError:
            return
    elif kind == "prim::GetAttr" and node.s("name") not in changing:
        parent = modules.get(values.get(node.inputsAt(0).unique()))
        if parent is not None:
            value = Known(getattr(parent, node.s("name"), None))
    elif kind in _OPS:
        args = [values.get(v.unique()) for v in node.inputs()]
        if args and all(isinstance(a, Known) for a in args):
            try:
                value = Known(_OPS[kind](*(a.value for a in args)))
            except Exception:  # noqa: BLE001 - leave it undecided
                return
    if value is not None and isinstance(value.value, _SCALARS):
        values[outs[0].unique()] = value


def decided(node, values: dict) -> Optional[bool]:
    """The condition of a prim::If when it is known, else None."""
    cond = values.get(node.inputsAt(0).unique())
    return bool(cond.value) if isinstance(cond, Known) else None
