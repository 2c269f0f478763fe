"""The activation calls a scripted (or traced) module can make, planned from its graphs.

Every call is followed: `prim::CallMethod` on `self` or on any submodule, whatever the method's
name (`forward`, or a traced module's `forward1`... for its later calls, enters the submodule as a
forward hook would in eager mode; any other method runs in the caller's frame),
`prim::CallFunction` (the function's body, inlined), and the blocks of `prim::If`
(alternatives, or only the one that will run when torch_script_fold decides the condition) and
`prim::Loop` (repeatable). The result is a list of *templates*, one
per activation operator in the program text, with the templates that may follow each one at run
time (a Glushkov automaton over the program's structure): the dispatch capture walks it, so an
untaken branch or a loop's second iteration does not throw later matches out of step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import torch

from saturate_cli.types import NotCovered
from saturate_cli.model.torch.kinds import (CALLS, FUSED_ATTENTION, RECURRENT, call_label,
                                           canonical, module_kind)
from saturate_cli.model.torch.script_fold import decided, fold, mutated

# what an operator in the scripted graph may look like once dispatched
_DISPATCHED_AS = {"selu": {"elu"}, "celu": {"elu"}, "relu6": {"hardtanh"},
                  "prelu": {"prelu_kernel"}}
_MAX_DEPTH = 64
# a traced module called again gets forward1, forward2...; a scripted overload forward__0
_FORWARD = re.compile(r"forward(\d*|__\d+)")


@dataclass(frozen=True)
class Template:
    """One activation operator in the program: named at run time, when it is matched."""

    frame: str  # path of the module whose forward runs it
    own: bool  # the activation module's own call (named `path#k`), else `frame:label#n`
    label: str
    op: str
    accepts: frozenset  # canonical operator names it is matched with at run time
    module_kind: Optional[str]


@dataclass(frozen=True)
class Fragment:
    """Templates a piece of program may start and end with, and whether it may make none."""

    first: tuple = ()
    last: tuple = ()
    empty: bool = True


@dataclass
class _Frame:
    path: str
    kind: Optional[str]  # the activation kind of the module, if it is one
    named: bool = False  # its own call is planned


@dataclass
class Plan:
    templates: list = field(default_factory=list)
    follow: list = field(default_factory=list)  # template index -> indices that may come next
    first: tuple = ()
    not_covered: list = field(default_factory=list)


def _method_graph(module, name: str):
    method = getattr(module, name, None)
    return getattr(method, "graph", None)


def function_graph(node):
    """The body of a `prim::CallFunction` (nested calls inlined), or None."""
    graph, values = torch._C.Graph(), {}

    def value(v):
        if v.unique() not in values:
            if v.node().kind() == "prim::Constant":
                const = graph.insertNode(graph.createClone(v.node(), lambda _: None))
                values[v.unique()] = const.output()
            else:
                values[v.unique()] = graph.addInput().setType(v.type())
        return values[v.unique()]

    try:
        call = graph.insertNode(graph.createClone(node, value))
        for out in call.outputs():
            graph.registerOutput(out)
        torch._C._jit_pass_inline(graph)
        torch._C._jit_pass_constant_propagation(graph)
    except RuntimeError:
        return None
    return graph


class Planner:
    """Walks the graphs from `forward`, building the plan (see the module docstring)."""

    def __init__(self, root):
        self.modules = dict(root.named_modules())
        self.changing = mutated(root)
        self.plan = Plan()
        self.depth = 0

    def build(self, root) -> Plan:
        top = self.graph(root.forward.graph, "", _Frame("", None))
        self.plan.first = top.first
        return self.plan

    def graph(self, graph, self_path: Optional[str], frame: _Frame) -> Fragment:
        inputs = list(graph.inputs())
        values = {inputs[0].unique(): self_path} if inputs and self_path is not None else {}
        return self.block(graph.nodes(), values, frame)

    def block(self, nodes, values, frame) -> Fragment:
        out = Fragment()
        for node in nodes:
            out = self.seq(out, self.node(node, values, frame))
        return out

    def node(self, node, values, frame: _Frame) -> Fragment:
        op = node.kind()
        fold(node, values, self.modules, self.changing)
        if op == "prim::GetAttr":
            parent = values.get(node.inputsAt(0).unique())
            if isinstance(parent, str) and node.output().unique() not in values:
                values[node.output().unique()] = f"{parent}.{node.s('name')}".lstrip(".")
        elif op == "prim::CallMethod":
            return self.call_method(node, values, frame)
        elif op == "prim::CallFunction":
            graph = function_graph(node)
            return self.nested(lambda: self.graph(graph, None, frame)) if graph else Fragment()
        elif op.startswith("aten::"):
            return self.aten(op, frame)
        blocks = list(node.blocks())
        if op == "prim::If" and len(blocks) == 2:
            taken = decided(node, values)
            if taken is not None:  # only the block that will run
                return self.block(blocks[0 if taken else 1].nodes(), values, frame)
            return self.branches(blocks, values, frame)
        if op == "prim::Loop" and blocks:
            return self.loop(self.block(blocks[0].nodes(), values, frame))
        out = Fragment()
        for block in blocks:
            out = self.seq(out, self.block(block.nodes(), values, frame))
        return out

    def call_method(self, node, values, frame: _Frame) -> Fragment:
        sub = values.get(node.inputsAt(0).unique())
        module = self.modules.get(sub) if isinstance(sub, str) else None
        if module is None:
            return Fragment()
        name, cls = node.s("name"), getattr(module, "original_name", "")
        entered = bool(_FORWARD.fullmatch(name))
        if entered and cls in RECURRENT:
            self.plan.not_covered.append(NotCovered(sub, cls, "gate activations are fused "
                                                              "inside the recurrent kernel"))
            return Fragment()
        graph = _method_graph(module, name)
        if graph is None:
            return Fragment()
        inner = _Frame(sub, module_kind(cls)) if entered else frame
        return self.nested(lambda: self.graph(graph, sub, inner))

    def nested(self, walk) -> Fragment:
        if self.depth >= _MAX_DEPTH:  # script forbids recursion; a bound all the same
            return Fragment()
        self.depth += 1
        try:
            return walk()
        finally:
            self.depth -= 1

    def aten(self, op: str, frame: _Frame) -> Fragment:
        name = canonical(op[len("aten::"):])
        if frame.kind is not None and not frame.named:
            frame.named = True
            return self.add(Template(frame.path, True, "", op, self.accepts(name),
                                     frame.kind))
        if name in FUSED_ATTENTION:
            where = f"{frame.path}:{name}"
            if all(u.name != where for u in self.plan.not_covered):
                self.plan.not_covered.append(NotCovered(where, op, "the softmax is fused inside "
                                                                   "the attention kernel"))
        elif name in CALLS:
            return self.add(Template(frame.path, False, call_label(name), op,
                                     self.accepts(name), None))
        return Fragment()

    @staticmethod
    def accepts(name: str) -> frozenset:
        return frozenset({name} | _DISPATCHED_AS.get(name, set()))

    def add(self, template: Template) -> Fragment:
        i = len(self.plan.templates)
        self.plan.templates.append(template)
        self.plan.follow.append([])
        return Fragment((i,), (i,), False)

    def branches(self, blocks, values, frame: _Frame) -> Fragment:
        """Either block runs; the frame's own call is planned if either plans it."""
        named, parts = frame.named, []
        for block in blocks:
            frame.named = named
            parts.append((self.block(block.nodes(), values, frame), frame.named))
        frame.named = any(n for _, n in parts)
        a, b = parts[0][0], parts[1][0]
        return Fragment(a.first + b.first, a.last + b.last, a.empty or b.empty)

    def loop(self, body: Fragment) -> Fragment:
        self.link(body.last, body.first)
        return Fragment(body.first, body.last, True)

    def link(self, last: tuple, first: tuple) -> None:
        for i in last:
            self.plan.follow[i].extend(j for j in first if j not in self.plan.follow[i])

    def seq(self, a: Fragment, b: Fragment) -> Fragment:
        self.link(a.last, b.first)
        return Fragment(a.first + (b.first if a.empty else ()),
                        b.last + (a.last if b.empty else ()), a.empty and b.empty)
