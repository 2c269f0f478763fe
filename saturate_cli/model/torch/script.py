"""A TorchScript archive: sites planned from the scripted graphs, inputs captured at dispatch.

The TorchScript interpreter runs no Python, so a TorchFunctionMode sees nothing; a
TorchDispatchMode does see every ATen operator it dispatches. The activation operators of the
program are planned from its graphs (torch_script_plan: every method and function call, branches
and loops followed); at run time each dispatched activation operator is matched to the nearest
template that may come next, and named then, the way the eager capture names it (module path,
`path#k` for a module's k-th call, `path:fn#n` for functional calls, counted in this pass).
Limits: producers are not identified for TorchScript (no `producer` in the report).
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from saturate_cli.errors import ModelLoadError, first_line
from saturate_cli.types import Peek
from saturate_cli.model.torch.handle import TorchModel
from saturate_cli.model.torch.kinds import canonical, classify
from saturate_cli.model.torch.script_plan import Plan, Planner, Template
from saturate_cli.model.torch.script_specs import script_specs

_LOOKAHEAD = 3  # templates that may be skipped when an operator matches none that may follow
_JUDGED_ON_OUTPUT = ("softmax", "log_softmax")


class _Dispatch(TorchDispatchMode):
    """One forward pass: matches dispatched activation operators to the plan, names them."""

    def __init__(self, plan: Plan, sink):
        super().__init__()
        self.plan, self.sink = plan, sink
        self.wanted = frozenset().union(*(t.accepts for t in plan.templates))
        self.next: tuple = plan.first
        self.module_calls, self.fn_calls = Counter(), Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        x = args[0] if args else None
        base = canonical(func.__name__.split(".")[0])
        if base in self.wanted and isinstance(x, torch.Tensor) and x.is_floating_point():
            found = self._find(base)
            if found is not None:
                name = self._name(found)
                kind, params = classify(base, args, kwargs) or (found.module_kind, {})
                if kind in _JUDGED_ON_OUTPUT:  # softmax rows: read the call's own output
                    out = func(*args, **kwargs)
                    self.sink(name, found.op, kind, params, None, x, out)
                    return out
                self.sink(name, found.op, kind, params, None, x)  # before in-place ops
        return func(*args, **kwargs)

    def _find(self, base: str):
        """The nearest template that may come next and matches, skipping a few at most."""
        frontier, seen = list(self.next), set(self.next)
        for _ in range(_LOOKAHEAD + 1):
            for i in frontier:
                if base in self.plan.templates[i].accepts:
                    self.next = tuple(self.plan.follow[i])
                    return self.plan.templates[i]
            frontier = [j for i in frontier for j in self.plan.follow[i]
                        if not (j in seen or seen.add(j))]
        return None

    def _name(self, t: Template) -> str:
        if t.own:
            k = self.module_calls[t.frame]
            self.module_calls[t.frame] += 1
            return t.frame + (f"#{k}" if k else "")
        n = self.fn_calls[(t.frame, t.label)]
        self.fn_calls[(t.frame, t.label)] += 1
        return f"{t.frame}:{t.label}#{n}"


class ScriptRunner:
    """Runs a ScriptModule with unoptimised execution so each operator is dispatched, in
    inference mode so composite operators arrive whole: a recurrent kernel (`aten::gru` on
    CPU is made of `sigmoid_`/`tanh_` calls) is one operator, its gates never seen as sites."""

    def __init__(self, module):
        self.module = module
        self.plan = Planner(module).build(module)
        self.not_covered = self.plan.not_covered

    def run(self, args: tuple, sink):
        with torch.inference_mode(), torch.jit.optimized_execution(False), \
                _Dispatch(self.plan, sink):
            return self.module(*args)


def load_script(path: Path, settings, device: str, peek: Optional[Peek] = None) -> TorchModel:
    """A TorchModel for a TorchScript archive (scripted or traced)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location=device).eval()
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{path}: torch.jit.load cannot read it: {first_line(exc)}"
                             ) from None
    return script_handle(str(path), module, settings, device, peek)


def script_handle(label: str, module, settings, device: str, peek: Optional[Peek] = None
                  ) -> TorchModel:
    """A TorchModel for a loaded ScriptModule."""
    from saturate_cli.model.torch.script_lineage import LineageRunner

    specs = script_specs(label, module, settings, peek)
    runner = LineageRunner(ScriptRunner(module), module)  # sites get their producers
    return TorchModel(label, "torchscript", runner, specs, device)
