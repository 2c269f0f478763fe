"""A torch.export program (.pt2): input specs from the program, capture with an fx Interpreter.

`ExportedProgram.module()` is an fx GraphModule whose nodes call ATen operators and carry the
module stack they came from (`nn_module_stack`). Sites are planned once from the graph, named
exactly like the eager capture names them (module path, or `path:fn#n` for functional calls;
an activation module's site is the first node run inside it, so Softsign's decomposed
abs/add/div is still one softsign site; a composite activation module, torch/composite.py, is
one site on its input, none inside it), and the Interpreter hands each site's input to the
sink before the node runs. Producers are found by walking the graph back from that input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
import torch.fx

from saturate_cli.errors import ModelLoadError, first_line
from saturate_cli.types import InputSpec, NotCovered, Producer
from saturate_cli.model.torch.composite import GELU_TANH_LABEL, composite_kind, \
    is_gelu_tanh_input
from saturate_cli.model.torch.handle import TorchModel
from saturate_cli.model.torch.kinds import (CALLS, FUSED_ATTENTION, call_label, canonical,
                                           classify, module_kind)
from saturate_cli.model.torch.producer import NORMS, PASS_THROUGH, WEIGHTED_CALLS, describe

_MAX_STEPS = 8
_ARITHMETIC = ("mul", "add", "sub", "rsub", "div", "pow")
_MAX_FORMULA = 16  # nodes in a written-out activation formula


def op_name(target) -> str:
    """`aten.relu_.default` -> `relu_`."""
    return getattr(target, "_opname", None) or getattr(target, "__name__", str(target))


def _scope(node: torch.fx.Node) -> tuple[str, str, str]:
    """(instance key, module path, class name) of the innermost module that ran the node."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "", "", ""
    key, (path, cls) = list(stack.items())[-1]
    cls = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
    return key, path if isinstance(path, str) else "", cls


def _composite(node: torch.fx.Node) -> Optional[tuple[str, str, str, tuple]]:
    """(instance key, path, class, (kind, params)) of the outermost composite activation module
    the node runs in, if any."""
    for key, (path, cls) in (node.meta.get("nn_module_stack") or {}).items():
        short = (cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
                 ).rsplit(".", 1)[-1]
        hit = composite_kind(short)
        if hit is not None:
            return key, path if isinstance(path, str) else "", short, hit
    return None


@dataclass(frozen=True)
class PlannedSite:
    name: str
    op: str
    module_kind: Optional[str]  # kind of the activation module, when it is one
    producer: Optional[Producer]
    params: Optional[dict] = None  # a composite module's (kind, params) are fixed
    input: Optional[torch.fx.Node] = None  # the node measured, when not the first argument


def _from_torch_nn(cls: str) -> bool:
    return cls.startswith("torch.nn.") or "." not in cls


def plan_sites(gm: torch.fx.GraphModule) -> tuple[dict[torch.fx.Node, PlannedSite],
                                                   list[NotCovered]]:
    """Which nodes are activation sites, under which names."""
    plan, uncovered = {}, []
    instances: dict[str, int] = {}  # module instance key -> call index of its path
    path_calls, fn_calls = Counter(), Counter()
    for node in gm.graph.nodes:
        if node.op != "call_function":
            continue
        name = op_name(node.target)
        composite = _composite(node)
        if composite is not None:
            _plan_composite(gm, node, composite, plan, instances, path_calls)
            continue
        key, path, cls = _scope(node)
        short = cls.rsplit(".", 1)[-1]
        kind = module_kind(short) if _from_torch_nn(cls) else None
        if canonical(name) in FUSED_ATTENTION:
            uncovered.append(NotCovered(f"{path}:{call_label(name)}", name,
                                        "the softmax is fused inside the attention kernel"))
            continue
        if kind is not None and key not in instances:
            instances[key] = path_calls[path]
            path_calls[path] += 1
            k = instances[key]
            plan[node] = PlannedSite(path + (f"#{k}" if k else ""), short, kind,
                                     find_producer(gm, node.args[0]))
        elif canonical(name) == "tanh" and kind is None and gelu_leaf(node) is not None:
            n = fn_calls[(path, GELU_TANH_LABEL)]
            fn_calls[(path, GELU_TANH_LABEL)] += 1
            x = gelu_leaf(node)
            plan[node] = PlannedSite(f"{path}:{GELU_TANH_LABEL}#{n}", GELU_TANH_LABEL,
                                     "gelu_tanh", find_producer(gm, x), {}, x)
        elif canonical(name) in CALLS and kind is None:
            label = call_label(name)
            n = fn_calls[(path, label)]
            fn_calls[(path, label)] += 1
            plan[node] = PlannedSite(f"{path}:{label}#{n}", name, None,
                                     find_producer(gm, node.args[0]))
    return plan, uncovered


def _plan_composite(gm, node, composite, plan, instances, path_calls) -> None:
    """A composite module's first node is its site, on the first tensor it reads."""
    key, path, cls, (kind, params) = composite
    x = next((a for a in node.args if isinstance(a, torch.fx.Node)), None)
    if key in instances or x is None:
        return
    instances[key] = k = path_calls[path]
    path_calls[path] += 1
    plan[node] = PlannedSite(path + (f"#{k}" if k else ""), cls, kind, find_producer(gm, x),
                             params, x)


def gelu_leaf(tanh: torch.fx.Node) -> Optional[torch.fx.Node]:
    """x when the tanh's input is √(2/π)(x + 0.044715x³) written out: arithmetic on x and
    numbers alone, equal to that formula on a probe."""
    if not tanh.args or not isinstance(tanh.args[0], torch.fx.Node):
        return None
    leaves: set = set()
    nodes = _formula(tanh.args[0], leaves, [])
    if nodes is None or len(leaves) != 1:
        return None
    leaf = next(iter(leaves))
    probe = torch.linspace(-6.0, 6.0, 97, dtype=torch.float64)
    values = {leaf: probe}

    def value(node):
        if node not in values:
            values[node] = node.target(*[value(a) if isinstance(a, torch.fx.Node) else a
                                         for a in node.args])
        return values[node]

    try:
        return leaf if is_gelu_tanh_input(value(tanh.args[0]), probe) else None
    except Exception:  # noqa: BLE001 - an operator that does not take the probe
        return None


def _formula(node, leaves: set, nodes: list) -> Optional[list]:
    """The arithmetic nodes an expression is made of (users first), its tensor leaves in
    `leaves`; None when it holds anything else or is too long."""
    if node.op != "call_function" or canonical(op_name(node.target)) not in _ARITHMETIC:
        leaves.add(node)
        return nodes
    if len(nodes) >= _MAX_FORMULA or node.kwargs:
        return None
    if node not in nodes:
        nodes.append(node)
    for a in node.args:
        if isinstance(a, torch.fx.Node):
            if _formula(a, leaves, nodes) is None:
                return None
        elif not isinstance(a, (int, float)):
            return None
    return nodes


def _param(gm: torch.fx.GraphModule, node) -> Optional[tuple[str, torch.Tensor]]:
    if isinstance(node, torch.fx.Node) and node.op == "get_attr":
        try:
            return node.target, gm.get_parameter(node.target)
        except AttributeError:
            return None
    return None


def find_producer(gm: torch.fx.GraphModule, node) -> Optional[Producer]:
    """Walk back through views, norms and bias adds to a linear / convolution on a parameter."""
    bias = norm = norm_op = None
    for _ in range(_MAX_STEPS):
        if not isinstance(node, torch.fx.Node) or node.op != "call_function":
            return None
        base = canonical(op_name(node.target))
        _, path, cls = _scope(node)
        if base in WEIGHTED_CALLS and len(node.args) > 1:
            weight = _param(gm, node.args[1])
            if weight is None:
                return None
            b = _param(gm, node.args[2]) if len(node.args) > 2 else None
            return describe(weight[0].rpartition(".")[0], cls.rsplit(".", 1)[-1], weight[0],
                            weight[1], b[0] if b else bias, norm, norm_op)
        if base in NORMS:
            norm, norm_op = norm or path, norm_op or cls.rsplit(".", 1)[-1]
        elif base == "add" and len(node.args) == 2 and _param(gm, node.args[1]):
            bias = bias or node.args[1].target
        elif base not in PASS_THROUGH:
            return None
        node = node.args[0]
    return None


class _Interpreter(torch.fx.Interpreter):
    def __init__(self, gm, plan, sink):
        super().__init__(gm)
        self.plan, self.sink = plan, sink
        self.wanted = {s.input for s in plan.values() if s.input is not None}
        self.kept: dict = {}  # site inputs read later than the Interpreter keeps them

    def run_node(self, n):
        site = self.plan.get(n)
        if site is not None:
            args, kwargs = self.fetch_args_kwargs_from_env(n)
            x = self.kept.pop(site.input, None) if site.input is not None else \
                args[0] if args else None
            if isinstance(x, torch.Tensor) and x.is_floating_point():
                hit = (site.module_kind, site.params) if site.params is not None else \
                    classify(op_name(n.target), args, kwargs) or (site.module_kind, {})
                self.sink(site.name, site.op, hit[0], hit[1], site.producer, x)
        out = super().run_node(n)
        if n in self.wanted:
            self.kept[n] = out
        return out


class ExportRunner:
    """Runs the program's GraphModule with its activation inputs handed to a sink."""

    def __init__(self, gm: torch.fx.GraphModule):
        self.gm = gm
        self.plan, self.not_covered = plan_sites(gm)

    def run(self, args: tuple, sink):
        return _Interpreter(self.gm, self.plan, sink).run(*args)


def _dim(d, i: int):
    if isinstance(d, int):
        return d
    return "batch" if i == 0 else str(d)


def export_specs(ep) -> list[InputSpec]:
    """The user inputs as the program declares them; symbolic axis 0 is the batch."""
    users = set(ep.graph_signature.user_inputs)
    specs = []
    for node in ep.graph.nodes:
        if node.op != "placeholder" or node.name not in users:
            continue
        val = node.meta.get("val")
        if val is None or not hasattr(val, "shape"):
            raise ModelLoadError(f"input '{node.name}' of the program is not a tensor")
        specs.append(InputSpec(node.name, tuple(_dim(d, i) for i, d in enumerate(val.shape)),
                               str(val.dtype).replace("torch.", ""), _vocab(ep, node)))
    return specs


def _vocab(ep, node) -> Optional[int]:
    for user in node.users:
        if user.op == "call_function" and canonical(op_name(user.target)) == "embedding":
            table = user.args[0].meta.get("val")
            return int(table.shape[0]) if table is not None else None
    return None


def load_exported(path: Path, settings, device: str) -> TorchModel:
    """A TorchModel for a torch.export archive."""
    try:
        ep = torch.export.load(str(path))
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad archives
        raise ModelLoadError(f"{path}: torch.export.load cannot read it: {first_line(exc)}"
                             ) from None
    return exported_handle(str(path), ep, device)


def exported_handle(label: str, ep, device: str) -> TorchModel:
    """A TorchModel for an ExportedProgram in memory."""
    try:
        gm = ep.module().to(device)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{label}: cannot run the exported program: {first_line(exc)}"
                             ) from None
    return TorchModel(label, "torch.export", ExportRunner(gm), export_specs(ep), device)
