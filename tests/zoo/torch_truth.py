"""Independent truth for PyTorch models: the input of every activation module (forward
pre-hooks) and of every functional / tensor-method activation call (a TorchFunctionMode),
summarised in float64 like tests/zoo/truth.py. No saturate_cli import.

Names follow the tool's documented scheme: the module path for modules, `path:function#n`
for the n-th call of `function` made directly by the module at `path` ('' at the top)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from tests.zoo.truth import SOFTMAX_TAU, TAU, closed_forms

MODULE_KINDS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.GELU: "gelu",
                nn.SiLU: "silu", nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid",
                nn.Softmax: "softmax", nn.LogSoftmax: "softmax", nn.LeakyReLU: "leaky_relu",
                nn.ELU: "elu", nn.SELU: "selu", nn.CELU: "celu", nn.Mish: "mish",
                nn.Softplus: "softplus", nn.Softsign: "softsign", nn.ReLU6: "relu6",
                nn.Hardtanh: "hardtanh"}
FUNCS = {"relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid", "softmax",
         "log_softmax", "leaky_relu", "elu", "selu", "celu", "mish", "softplus", "softsign",
         "relu6", "hardtanh"}


def module_kind(m: nn.Module):
    """The activation kind of a torch.nn activation module (exact class), else None: other
    modules (transformers' GELUActivation, ...) are code whose calls are measured."""
    return MODULE_KINDS.get(type(m))


def _params(kind: str, m=None, args=(), kwargs=None) -> dict:
    kwargs = kwargs or {}
    if m is not None:
        return {k: getattr(m, k) for k in ("approximate", "negative_slope", "alpha", "dim",
                                            "min_val", "max_val") if hasattr(m, k)}
    p = dict(kwargs)
    if kind in ("softmax", "log_softmax") and len(args) > 1:
        p["dim"] = args[1]
    if kind == "leaky_relu" and len(args) > 1:
        p["negative_slope"] = args[1]
    return p


def saturated(kind: str, x: np.ndarray, p: dict) -> np.ndarray:
    """Saturated mask of float64 x for a torch activation kind (thresholds of truth.py)."""
    cf = closed_forms()
    if kind in ("relu",):
        return x <= 0
    if kind in ("sigmoid", "tanh", "softsign"):
        return np.abs(x) > cf[kind]
    if kind == "gelu":
        return x < cf["gelu_tanh" if p.get("approximate") == "tanh" else "gelu"]
    if kind in ("silu", "mish", "softplus"):
        return x < cf[kind]
    if kind == "hardswish":
        return x < -3.0
    if kind == "hardsigmoid":
        return (x < -3.0) | (x > 3.0)
    if kind == "leaky_relu":
        return x <= 0 if abs(p.get("negative_slope", 0.01)) < TAU else np.zeros(x.shape, bool)
    if kind in ("elu", "selu"):
        a = p.get("alpha", 1.0) if kind == "elu" else 1.6732632423543772
        return x < math.log(TAU * max(1.0, a) / a)
    if kind == "celu":
        return x < p.get("alpha", 1.0) * math.log(TAU)
    if kind in ("relu6", "hardtanh"):
        lo, hi = (0.0, 6.0) if kind == "relu6" else (p.get("min_val", -1.0),
                                                      p.get("max_val", 1.0))
        return (x <= lo) | (x >= hi)
    raise KeyError(kind)


def summary(kind: str, x: np.ndarray, p: dict) -> dict:
    fin = x[np.isfinite(x)]
    t = {"kind": kind, "count": int(x.size), "mean": float(fin.mean()),
         "std": float(fin.std()), "min": float(fin.min()), "max": float(fin.max())}
    if kind in ("softmax", "log_softmax"):
        dim = p.get("dim", -1)
        r = np.moveaxis(x, dim if dim is not None else -1, -1).reshape(-1, x.shape[dim or -1])
        z = np.exp(r - r.max(axis=1, keepdims=True))
        col = int(((z / z.sum(axis=1, keepdims=True)).max(axis=1) > 1 - SOFTMAX_TAU).sum())
        t.update(rows=int(r.shape[0]), collapsed_rows=col, fraction=col / r.shape[0])
    else:
        t["fraction"] = float(saturated(kind, x, p).sum() / x.size)
    return t


class _Calls(TorchFunctionMode):
    def __init__(self, stack, counters, out):
        super().__init__()
        self.stack, self.counters, self.out = stack, counters, out

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "").rstrip("_")
        top = self.stack[-1] if self.stack else ("", None)
        if name in FUNCS and top[1] is None and args and isinstance(args[0], torch.Tensor):
            n = self.counters.get((top[0], name), 0)
            self.counters[(top[0], name)] = n + 1
            kind = "softmax" if name == "log_softmax" else name
            x = args[0].detach().double().numpy()
            self.out[f"{top[0]}:{name}#{n}"] = summary(kind, x, _params(name, None, args,
                                                                        kwargs))
        return func(*args, **kwargs)


def module_truth(model: nn.Module, inputs: dict) -> dict:
    """site name -> truth, for one forward on `inputs` (keyword arguments)."""
    out, stack, counters, handles = {}, [], {}, []
    for path, m in model.named_modules():
        kind = module_kind(m)

        def pre(mod, args, path=path, kind=kind):
            if kind is not None and args and isinstance(args[0], torch.Tensor):
                again = sum(k.startswith(path + "#") for k in out) + 1
                key = path if path not in out else f"{path}#{again}"
                out[key] = summary(kind, args[0].detach().double().numpy(),
                                   _params(kind, mod))
            stack.append((path, kind))

        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(lambda *a: stack.pop() and None))
    try:
        with torch.no_grad(), _Calls(stack, counters, out):
            model(**inputs)
    finally:
        for h in handles:
            h.remove()
    return out


def compare_named(report: dict, truths: dict) -> list:
    """Differences between the report's sites (by name) and the torch truth."""
    from tests.zoo.compare import compare
    sites = {s["name"]: s for s in report.get("sites", [])}
    diffs = []
    for name, t in truths.items():
        if name not in sites:
            diffs.append(f"site missed: {name} ({t['kind']})")
            continue
        rec = dict(t, op=sites[name].get("op"), input=sites[name].get("input"))
        diffs += [d.replace(f"{rec['op']}({rec['input']})", name)
                  for d in compare({"sites": [sites[name]]}, [rec])]
    return diffs
