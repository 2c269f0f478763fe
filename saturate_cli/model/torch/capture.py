"""Capture every activation call of an eager nn.Module: module, functional and in-place.

One mechanism covers all three: a TorchFunctionMode sees each overridable torch call
(`nn.ReLU` calls `F.relu` inside, `x.tanh_()` is `Tensor.tanh_`), and the activation input is
handed to the sink *before* the call runs, so an in-place call cannot overwrite it first.
Forward pre-/post-hooks keep the stack of running modules for the names (DESIGN.md §4):

- an activation module's call is named by its path, `layer1.0.relu`; its k-th call in one
  forward pass (k >= 1) is `layer1.0.relu#k` (a reused module gives one site per call);
- a functional call is `<path of the running module>:<function>#<n>`, n counting that function
  in that module during the forward pass (`:relu#0` for the top-level module);
- composite activations (torch/composite.py) are one site: a module of a known class (GPT-2's
  `NewGELUActivation`) on its input, measured by its pre-hook, its inner calls unseen; GELU's
  tanh formula written out as `<path>:gelu_tanh#<n>` on x.

Producers come from tensor lineage: the output of `F.linear` / `F.conv*` with a parameter of the
model as weight is remembered, and followed through views, dropout, norms and bias adds. A layer
whose output reaches the activation through anything else (arithmetic, concatenation, a matmul
with a non-parameter) gives no producer.
"""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, Optional

import torch
from torch.overrides import TorchFunctionMode

from saturate_cli.model.handle import NotCovered, Producer
from saturate_cli.model.torch.composite import GELU_TANH_LABEL, FormulaWatch, composite_kind
from saturate_cli.model.torch.kinds import (FUSED_ATTENTION, RECURRENT, call_label, canonical,
                                           classify, module_kind)
from saturate_cli.model.torch.producer import NORMS, PASS_THROUGH, WEIGHTED_CALLS, describe, \
    weight_and_bias

Sink = Callable[..., None]  # (site, op, kind, params, producer, x[, call output])
_BIAS_ADDS = ("add", "iadd", "radd")
_OPAQUE = {  # modules whose activations run inside one call that the capture cannot open
    **{name: "gate activations are fused inside the recurrent kernel" for name in RECURRENT},
    "MultiheadAttention": "its softmax runs inside F.multi_head_attention_forward / the fused "
                          "attention kernel",
}


@dataclass
class _Frame:
    path: str
    module: torch.nn.Module
    call: int  # how many times this module ran before in this forward pass
    named: bool = False  # the activation module's own site is taken
    composite: bool = False  # a composite activation module: its inner calls are not sites


def is_activation_module(module: torch.nn.Module) -> bool:
    cls = type(module)
    return module_kind(cls.__name__) is not None and cls.__module__.startswith("torch.nn")


class _Pass:
    """The state of one forward pass: module stack, call counters, tensor lineage."""

    def __init__(self, capture: "EagerCapture", sink: Sink):
        self.capture, self.sink = capture, sink
        self.stack = [_Frame("", capture.model, 0)]
        self.module_calls: Counter = Counter()
        self.fn_calls: Counter = Counter()
        self.lineage: dict[int, tuple[weakref.ref, Producer]] = {}
        self.opaque = 0  # composite activation modules running
        self.quiet = False  # the sink is running (from a hook): its own calls are not seen
        self.cubes = FormulaWatch()

    def enter(self, module: torch.nn.Module, args: tuple) -> None:
        path = self.capture.paths.get(id(module), "?")
        hit = composite_kind(type(module).__name__)
        frame = _Frame(path, module, self.module_calls[path], composite=hit is not None)
        self.stack.append(frame)
        self.module_calls[path] += 1
        if hit is None:
            return
        self.opaque += 1
        x = args[0] if args else None
        if self.opaque == 1 and isinstance(x, torch.Tensor) and x.is_floating_point():
            frame.named = True
            self.quiet = True
            try:  # before the module runs: an in-place module cannot overwrite x first
                self.sink(path + (f"#{frame.call}" if frame.call else ""),
                          type(module).__name__, hit[0], hit[1], self.producer_of(x), x)
            finally:
                self.quiet = False

    def leave(self) -> None:
        if len(self.stack) > 1:
            self.opaque -= self.stack.pop().composite

    def site_name(self, func_name: str) -> tuple[str, str]:
        """(site name, op) of an activation call made now."""
        frame = self.stack[-1]
        if is_activation_module(frame.module) and not frame.named:
            frame.named = True
            suffix = f"#{frame.call}" if frame.call else ""
            return frame.path + suffix, type(frame.module).__name__
        label = call_label(func_name)
        n = self.fn_calls[(frame.path, label)]
        self.fn_calls[(frame.path, label)] += 1
        return f"{frame.path}:{label}#{n}", func_name

    def producer_of(self, x: torch.Tensor) -> Optional[Producer]:
        entry = self.lineage.get(id(x))
        return entry[1] if entry is not None and entry[0]() is x else None

    def remember(self, out, producer: Optional[Producer]) -> None:
        if producer is not None and isinstance(out, torch.Tensor):
            self.lineage[id(out)] = (weakref.ref(out), producer)

    def track(self, base: str, args: tuple, kwargs: dict, out) -> None:
        """Follow producers through the call that just ran."""
        if not isinstance(out, torch.Tensor) or not args:
            return
        params = self.capture.params
        if base in WEIGHTED_CALLS and len(args) > 1:
            weight, bias = weight_and_bias(base, args, kwargs)
            info = params.get(id(weight))
            if info is not None:
                bias_name = params[id(bias)][0] if id(bias) in params else None
                self.remember(out, self.capture.describe(info, weight, bias_name))
            return
        source = self.producer_of(args[0]) if isinstance(args[0], torch.Tensor) else None
        if source is None:
            return
        if base in PASS_THROUGH:
            self.remember(out, source)
        elif base in NORMS:
            norm = next((params[id(a)] for a in list(args) + list(kwargs.values())
                         if id(a) in params), None)
            owned = {k: f"{norm[1]}.{k}" if norm[1] else k  # the norm's gamma and beta
                     for k, v in norm[2]._parameters.items() if v is not None} if norm else {}
            self.remember(out, replace(source, norm=norm[1] if norm else base,
                                       norm_op=type(norm[2]).__name__ if norm else base,
                                       norm_scale=owned.get("weight"),
                                       norm_bias=owned.get("bias")))
        elif base in _BIAS_ADDS and len(args) > 1 and id(args[1]) in params:
            self.remember(out, replace(source, bias=source.bias or params[id(args[1])][0]))


_JUDGED_ON_OUTPUT = ("softmax", "log_softmax")


class _Mode(TorchFunctionMode):
    def __init__(self, state: _Pass):
        super().__init__()
        self.state = state

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        state = self.state
        if state.quiet:
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        base = canonical(name)
        x = args[0] if args else None
        state.cubes.see(base, args)
        if isinstance(x, torch.Tensor) and x.is_floating_point() and not state.opaque:
            hit = classify(name, args, kwargs)
            gelu = state.cubes.base_of(x) if hit is not None and hit[0] == "tanh" else None
            if gelu is not None:  # GELU's tanh formula: the site is on its x
                hit, x, name = ("gelu_tanh", {}), gelu, GELU_TANH_LABEL
            if hit is not None:
                site, op = self.state.site_name(name)
                producer = self.state.producer_of(x)
                if hit[0] in _JUDGED_ON_OUTPUT:  # softmax rows: read the call's own output
                    out = func(*args, **kwargs)
                    self.state.sink(site, op, hit[0], hit[1], producer, x, out)
                    return out
                self.state.sink(site, op, hit[0], hit[1], producer, x)  # before in-place ops
                return func(*args, **kwargs)
        if base in FUSED_ATTENTION:
            self.state.capture.fused(self.state.site_name(name)[0], name)
        out = func(*args, **kwargs)  # runs without this mode: its inner calls are not seen
        self.state.track(base, args, kwargs, out)
        return out


class EagerCapture:
    """Runs an nn.Module and reports every activation call to a sink."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.paths = {id(m): path for path, m in model.named_modules(remove_duplicate=False)}
        self.params = {
            id(p): (f"{path}.{name}" if path else name, path, module)
            for path, module in model.named_modules()
            for name, p in module.named_parameters(recurse=False)
        }
        self.not_covered = [NotCovered(path, type(m).__name__, _OPAQUE[type(m).__name__])
                            for path, m in model.named_modules() if type(m).__name__ in _OPAQUE]
        self._state: Optional[_Pass] = None
        self._mode: Optional[_Mode] = None
        self._hooks: list = []  # forward pre/post hooks, present only while a pass runs
        self._producers: dict[tuple, Optional[Producer]] = {}

    def _pre(self, module, args):
        if self._state is not None:
            self._state.enter(module, args)

    def _post(self, module, args, out):
        if self._state is not None:
            self._state.leave()

    def describe(self, info: tuple, weight: torch.Tensor, bias: Optional[str]):
        """The Producer of a parameter's layer, computed once per parameter version (its weight
        std is a full pass over the weight: BERT's 49 linears cost as much as the forward)."""
        key = (id(weight), weight._version, bias)
        if key not in self._producers:
            self._producers[key] = describe(info[1], type(info[2]).__name__, info[0], weight,
                                            bias)
        return self._producers[key]

    def fused(self, name: str, op: str) -> None:
        if all(u.name != name for u in self.not_covered):
            self.not_covered.append(NotCovered(name, op, "the softmax is fused inside the "
                                                         "attention kernel"))

    @property
    def active(self) -> bool:
        return self._state is not None

    def begin(self, sink: Sink) -> None:
        """Start capturing: every activation call from now until end() goes to `sink`. The
        module hooks exist only in between, so a model is left as it was found."""
        if self._state is not None:
            return
        self._hooks = [h for module in self.model.modules() if module is not self.model
                       for h in (module.register_forward_pre_hook(self._pre),
                                 module.register_forward_hook(self._post))]
        self._state = _Pass(self, sink)
        self._mode = _Mode(self._state)
        self._mode.__enter__()

    def end(self) -> None:
        """Stop capturing: the mode is left and every hook removed (safe to call twice)."""
        mode, self._mode, self._state = self._mode, None, None
        try:
            if mode is not None:
                mode.__exit__(None, None, None)
        finally:
            for handle in self._hooks:
                handle.remove()
            self._hooks = []

    def run(self, args: tuple, sink: Sink, kwargs: Optional[dict] = None):
        """One forward pass with every activation input handed to `sink` first."""
        self.begin(sink)
        try:
            return self.model(*args, **(kwargs or {}))
        finally:
            self.end()
