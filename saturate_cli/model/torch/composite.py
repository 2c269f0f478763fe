"""Composite activations: one activation computed by several operators.

- module classes known by name, wherever they are defined (transformers' `NewGELUActivation`,
  `QuickGELUActivation` = x·σ(1.702x) ...): one site on the module's input, whose inner
  tanh / sigmoid calls are not sites of their own;
- GELU's tanh formula written out, 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))): a tanh call whose
  input is, value for value, √(2/π)(x + 0.044715x³) of a tensor x that one of the last few
  multiplications, powers or additions took is one `gelu_tanh` site on x.
"""

from __future__ import annotations

import math
import weakref
from typing import Optional

import torch

GELU_TANH_LABEL = "gelu_tanh"
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_CUBIC = 0.044715
_ARITHMETIC = ("mul", "rmul", "imul", "pow", "rpow", "add", "radd", "iadd", "square")
_KEEP = 6  # tensors watched
_PROBE = 64  # values compared before the whole tensor is

_GELU_TANH = ("gelu_tanh", {})
MODULES: dict[str, tuple[str, dict]] = {
    **{name: _GELU_TANH for name in ("NewGELUActivation", "GELUTanh", "PytorchGELUTanh",
                                     "FastGELUActivation", "AccurateGELUActivation",
                                     "GELUTanhActivation")},
    "QuickGELUActivation": ("silu", {"alpha": 1.702}),
    "GELUActivation": ("gelu", {}),
    "SiLUActivation": ("silu", {}),
    "MishActivation": ("mish", {}),
    "ReLUSquaredActivation": ("relu", {}),  # relu(x)²: flat (dead) where x <= 0, as relu
}


def composite_kind(class_name: str) -> Optional[tuple[str, dict]]:
    """(kind, params) of a composite activation module class, else None."""
    found = MODULES.get(class_name)
    return (found[0], dict(found[1])) if found else None


def is_gelu_tanh_input(t: torch.Tensor, x: torch.Tensor) -> bool:
    """True when t = √(2/π)(x + 0.044715x³) to the rounding of t's dtype (checked on a few
    values first, then on all)."""
    if t.shape != x.shape or t.dtype != x.dtype or t.numel() == 0:
        return False
    with torch.no_grad():
        head = slice(0, _PROBE)
        return _close(t.reshape(-1)[head], x.reshape(-1)[head]) and _close(t, x)


def _close(t: torch.Tensor, x: torch.Tensor) -> bool:
    xd = x.double()
    ref = _SQRT_2_PI * (xd + _CUBIC * xd * xd * xd)
    tol = 64 * torch.finfo(t.dtype).eps * (xd.abs() + 3 * _CUBIC * xd.abs() ** 3 + 1e-30)
    return bool(((t.double() - ref).abs() <= tol).all())


class FormulaWatch:
    """The tensors the last few arithmetic calls took, held weakly: the x of a written-out
    GELU is among them when its tanh runs."""

    def __init__(self):
        self._refs: list[weakref.ref] = []

    def see(self, base: str, args: tuple) -> None:
        if base not in _ARITHMETIC:
            return
        for a in args[:2]:
            if isinstance(a, torch.Tensor) and a.is_floating_point():
                self._refs = [r for r in self._refs if r() is not a][-_KEEP + 1:]
                self._refs.append(weakref.ref(a))

    def base_of(self, t: torch.Tensor) -> Optional[torch.Tensor]:
        """x when the tanh input t is GELU's inner expression of a watched tensor."""
        for ref in reversed(self._refs):
            x = ref()
            if x is not None and x is not t and is_gelu_tanh_input(t, x):
                return x
        return None
