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

from tests.zoo.truth import TAU, closed_forms, softmax_truth

MODULE_KINDS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.GELU: "gelu",
                nn.SiLU: "silu", nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid",
                nn.Softmax: "softmax", nn.LogSoftmax: "softmax", nn.LeakyReLU: "leaky_relu",
                nn.ELU: "elu", nn.SELU: "selu", nn.CELU: "celu", nn.Mish: "mish",
                nn.Softplus: "softplus", nn.Softsign: "softsign", nn.ReLU6: "relu6",
                nn.Hardtanh: "hardtanh"}
FUNCS = {"relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid", "softmax",
         "log_softmax", "leaky_relu", "elu", "selu", "celu", "mish", "softplus", "softsign",
         "relu6", "hardtanh"}


# transformers.activations classes: one site on the module's input, or (the alternative the
# report may take instead) the functional calls inside them
HF_KINDS = {"GELUActivation": ("gelu", {}), "NewGELUActivation": ("gelu", {"approximate": "tanh"}),
            "GELUTanh": ("gelu", {"approximate": "tanh"}),
            "PytorchGELUTanh": ("gelu", {"approximate": "tanh"}),
            "FastGELUActivation": ("gelu", {"approximate": "tanh"}),
            "QuickGELUActivation": ("silu", {"alpha": 1.702}), "SiLUActivation": ("silu", {})}


def module_kind(m: nn.Module):
    """The activation kind of a torch.nn activation module (exact class), "hf" for a
    transformers activation class, else None."""
    if type(m).__name__ in HF_KINDS and type(m).__module__.startswith("transformers"):
        return "hf"
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
    if kind == "silu":
        return x < cf["silu"] / p.get("alpha", 1.0)
    if kind in ("mish", "softplus"):
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


def summary(kind: str, x: np.ndarray, p: dict, dtype=np.float32) -> dict:
    if kind in ("softmax", "log_softmax"):
        dim = p.get("dim", -1)
        dim = -1 if dim is None else dim
        r = np.moveaxis(x, dim, -1).reshape(-1, x.shape[dim]) if x.ndim else x.reshape(1, 1)
        return dict(kind=kind, **softmax_truth(r, dtype))
    fin = x[np.isfinite(x)]
    return {"kind": kind, "count": int(x.size), "mean": float(fin.mean()),
            "std": float(fin.std()), "min": float(fin.min()), "max": float(fin.max()),
            "fraction": float(saturated(kind, x, p).sum() / x.size)}


def _np(t: torch.Tensor):
    return t.detach().double().cpu().numpy(), np.dtype(str(t.dtype).replace("torch.", "")) \
        if t.dtype in (torch.float16, torch.float32, torch.float64) else np.float32


class _Calls(TorchFunctionMode):
    def __init__(self, stack, counters, out):
        super().__init__()
        self.stack, self.counters, self.out = stack, counters, out

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "").rstrip("_")
        top = self.stack[-1] if self.stack else ("", None)
        if name in FUNCS and top[1] in (None, "hf") and args \
                and isinstance(args[0], torch.Tensor):
            n = self.counters.get((top[0], name), 0)
            self.counters[(top[0], name)] = n + 1
            kind = "softmax" if name == "log_softmax" else name
            x, dt = _np(args[0])
            t = summary(kind, x, _params(name, None, args, kwargs), dt)
            into = self.out[top[0]]["alt"] if top[1] == "hf" else self.out
            into[f"{top[0]}:{name}#{n}"] = t
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
                x, dt = _np(args[0])
                if kind == "hf":
                    k, p = HF_KINDS[type(mod).__name__]
                    out[key] = dict(summary(k, x, p, dt), alt={})
                else:
                    out[key] = summary(kind, x, _params(kind, mod), dt)
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
    """Differences between the report's sites (by name) and the torch truth; a transformers
    activation module may be reported as one site or as the calls inside it (`alt`)."""
    from tests.zoo.compare import compare
    sites = {s["name"]: s for s in report.get("sites", [])}
    diffs = []
    for name, t in truths.items():
        alt = t.get("alt") or {}
        if name in sites or not alt or not all(a in sites for a in alt):
            pairs = [(name, t)]
        else:
            pairs = list(alt.items())
        for n, tt in pairs:
            if n not in sites:
                diffs.append(f"site missed: {n} ({tt['kind']})")
                continue
            rec = dict(tt, op=sites[n].get("op"), input=sites[n].get("input"))
            diffs += [d.replace(f"{rec['op']}({rec['input']})", n)
                      for d in compare({"sites": [sites[n]]}, [rec])]
    return diffs
