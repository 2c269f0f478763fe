"""A TorchScript archive: sites planned from the scripted graphs, inputs captured at dispatch.

The TorchScript interpreter runs no Python, so a TorchFunctionMode sees nothing; a
TorchDispatchMode does see every ATen operator it dispatches. The site names come from walking
the forward graphs through `prim::CallMethod` (module paths from `prim::GetAttr` chains), named
like the eager capture names them; at run time each dispatched activation operator is matched,
in order, to the next planned site. Limits: producers are not identified for TorchScript
(no `producer` in the report); control flow inside scripted code is walked in program order,
so a branch not taken can leave later sites unmatched (they stay empty).
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from saturate_cli.errors import ModelLoadError, first_line
from saturate_cli.model.handle import NotCovered
from saturate_cli.model.torch_handle import TorchModel
from saturate_cli.model.torch_kinds import (CALLS, FUSED_ATTENTION, RECURRENT, call_label,
                                           canonical, classify, module_kind)
from saturate_cli.model.torch_specs import infer_specs

# what an operator in the scripted graph may look like once dispatched
_DISPATCHED_AS = {"selu": {"elu"}, "celu": {"elu"}, "relu6": {"hardtanh"},
                  "prelu": {"prelu_kernel"}}
_LOOKAHEAD = 3


@dataclass(frozen=True)
class ScriptSite:
    name: str
    op: str
    accepts: frozenset  # canonical operator names it is matched with at run time
    module_kind: Optional[str]


class _Planner:
    """Walks forward graphs in program order, collecting sites and uncovered modules."""

    def __init__(self, root):
        self.modules = dict(root.named_modules())
        self.sites: list[ScriptSite] = []
        self.not_covered: list[NotCovered] = []
        self.path_calls, self.fn_calls = Counter(), Counter()

    def walk(self, path: str, graph) -> None:
        module = self.modules.get(path)
        cls = getattr(module, "original_name", "")
        kind = module_kind(cls)
        named = False
        if kind is not None:
            k = self.path_calls[path]
            self.path_calls[path] += 1
        inputs = list(graph.inputs())
        values = {inputs[0].unique(): path} if inputs else {}
        for node in graph.nodes():
            named = self._node(node, path, values, kind, named, k if kind else 0)

    def _node(self, node, path, values, kind, named, k) -> bool:
        op = node.kind()
        if op == "prim::GetAttr":
            parent = values.get(node.inputsAt(0).unique())
            if parent is not None:
                values[node.output().unique()] = f"{parent}.{node.s('name')}".lstrip(".")
        elif op == "prim::CallMethod" and node.s("name") == "forward":
            sub = values.get(node.inputsAt(0).unique())
            module = self.modules.get(sub) if sub is not None else None
            if module is not None and getattr(module, "original_name", "") in RECURRENT:
                self.not_covered.append(NotCovered(sub, module.original_name, "gate activations "
                                                   "are fused inside the recurrent kernel"))
            elif module is not None:
                self.walk(sub, module.forward.graph)
        elif op.startswith("aten::"):
            name = canonical(op[len("aten::"):])
            if kind is not None and not named:
                self._add(path + (f"#{k}" if k else ""), op, name, kind)
                return True
            if name in FUSED_ATTENTION:
                self.not_covered.append(NotCovered(f"{path}:{name}", op, "the softmax is fused "
                                                   "inside the attention kernel"))
            elif name in CALLS:
                label = call_label(name)
                n = self.fn_calls[(path, label)]
                self.fn_calls[(path, label)] += 1
                self._add(f"{path}:{label}#{n}", op, name, None)
        for block in node.blocks():
            for inner in block.nodes():
                named = self._node(inner, path, values, kind, named, k)
        return named

    def _add(self, name: str, op: str, base: str, kind: Optional[str]) -> None:
        accepts = frozenset({base} | _DISPATCHED_AS.get(base, set()))
        self.sites.append(ScriptSite(name, op, accepts, kind))


class _Dispatch(TorchDispatchMode):
    def __init__(self, plan: list[ScriptSite], sink):
        super().__init__()
        self.plan, self.sink, self.next = plan, sink, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            self._match(canonical(func.__name__.split(".")[0]), args, kwargs, x)
        return func(*args, **kwargs)

    def _match(self, base: str, args, kwargs, x) -> None:
        for i in range(self.next, min(self.next + _LOOKAHEAD, len(self.plan))):
            site = self.plan[i]
            if base in site.accepts:
                hit = classify(base, args, kwargs) or (site.module_kind, {})
                self.sink(site.name, site.op, hit[0], hit[1], None, x)
                self.next = i + 1
                return


class ScriptRunner:
    """Runs a ScriptModule with unoptimised execution so each operator is dispatched."""

    def __init__(self, module):
        self.module = module
        planner = _Planner(module)
        planner.walk("", module.forward.graph)
        self.plan, self.not_covered = planner.sites, planner.not_covered

    def run(self, args: tuple, sink):
        with torch.jit.optimized_execution(False), _Dispatch(self.plan, sink):
            return self.module(*args)


def _layers(module):
    for _, sub in module.named_modules():
        try:
            weight = getattr(sub, "weight", None)
        except Exception:  # noqa: BLE001 - scripted attribute access may raise
            weight = None
        if isinstance(weight, torch.Tensor):
            yield getattr(sub, "original_name", ""), weight


def load_script(path: Path, settings, device: str) -> TorchModel:
    """A TorchModel for a TorchScript archive."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location=device).eval()
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{path}: torch.jit.load cannot read it: {first_line(exc)}"
                             ) from None
    names = [v.debugName().split(".")[0] for v in list(module.forward.graph.inputs())[1:]]
    specs = infer_specs(str(path), names, _layers(module), settings.input_shapes)
    return TorchModel(str(path), "torchscript", ScriptRunner(module), specs, device, settings)
