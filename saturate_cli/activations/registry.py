"""The activation registry: every supported kind as one data entry.

Adding a kind means adding one `ActivationKind` to `KINDS`. Everything else (tails, gains,
mean gain, init advice) is derived from the entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional

import numpy as np

from saturate_cli.activations import functions as fn
from saturate_cli.activations.tails import Tails, derive_tails, max_abs_derivative

ClosedForm = Callable[[dict, float], tuple[Optional[float], Optional[float]]]


@dataclass(frozen=True)
class OnnxForm:
    """How the kind appears as a plain ONNX node: its op types, and each parameter's attribute
    with the default the ONNX operator spec gives it."""

    ops: tuple[str, ...]
    attrs: tuple[tuple[str, str, float], ...] = ()  # (param, attribute, ONNX default)


@dataclass(frozen=True)
class TorchForm:
    """How the kind appears in PyTorch: module classes, function names (F.x, torch.x, x.x_(),
    aten.x; leading/trailing underscores dropped), each parameter's argument (keyword names,
    read at position 1 otherwise) with torch's default, and parameters torch fixes."""

    modules: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    args: tuple[tuple[str, tuple[str, ...], float], ...] = ()  # (param, keywords, default)
    fixed: tuple[tuple[str, float], ...] = ()  # params a torch function always uses


@dataclass(frozen=True)
class ActivationKind:
    """One activation kind: its maths, how it is judged and how its layer should be initialised."""

    name: str
    f: Optional[Callable[..., np.ndarray]]
    fprime: Optional[Callable[..., np.ndarray]]
    metric: str  # "tails" (bounded), "dead_units" (ReLU family) or "rows" (softmax)
    init: str  # "xavier" or "he": the init scheme that suits it
    defaults: dict = field(default_factory=dict)
    closed_form: Optional[ClosedForm] = None  # exact tails, checked against derive_tails in tests
    gain: Callable[[dict], float] = lambda p: 1.0  # torch.nn.init.calculate_gain equivalent
    description: str = ""
    onnx: Optional[OnnxForm] = None
    torch: Optional[TorchForm] = None

    def params(self, given: Optional[dict] = None) -> dict:
        """The defaults overlaid with the parameters a model gives."""
        merged = dict(self.defaults)
        merged.update({k: v for k, v in (given or {}).items() if v is not None})
        return merged

    def tails(self, params: Optional[dict] = None, tau: float = 0.05) -> Tails:
        """Saturated tails for these parameters and tolerance."""
        return _tails(self.name, _freeze(self.params(params)), tau)

    def gain_of(self, x: np.ndarray, params: Optional[dict] = None) -> np.ndarray:
        """|f'(x)| / max|f'|: 1 passes all gradient, 0 none."""
        p = self.params(params)
        if self.fprime is None:
            return np.ones_like(np.asarray(x, dtype=np.float64))
        peak = self.tails(p).max_gain
        if peak == 0:
            return np.zeros_like(np.asarray(x, dtype=np.float64))
        return np.abs(self.fprime(np.asarray(x, dtype=np.float64), **p)) / peak


def _freeze(params: dict) -> tuple:
    return tuple(sorted(params.items()))


@lru_cache(maxsize=512)
def _tails(name: str, frozen: tuple, tau: float) -> Tails:
    kind = KINDS[name]
    params = dict(frozen)
    if kind.metric == "rows":
        return Tails(None, None, 1.0)
    if kind.closed_form is not None:
        low, high = kind.closed_form(params, tau)
        return Tails(low, high, max_abs_derivative(kind.fprime, params))
    return derive_tails(kind.fprime, params, tau)


# --- closed forms (derivations in the docstring of each) ------------------------------------


def _cf_sigmoid(p, tau):
    """s(1-s) = tau/4  ->  s = (1 - sqrt(1 - tau)) / 2, x = logit(s)."""
    s = (1.0 - math.sqrt(1.0 - tau)) / 2.0
    x = math.log(s / (1.0 - s))
    return x, -x


def _cf_tanh(p, tau):
    """1 - tanh^2 = tau  ->  |x| = atanh(sqrt(1 - tau))."""
    x = math.atanh(math.sqrt(1.0 - tau))
    return -x, x


def _cf_relu(p, tau):
    return 0.0, None


def _cf_thresholded(p, tau):
    """f' = 0 below alpha, 1 above: the low tail is x <= alpha."""
    return p["alpha"], None


def _cf_clip(p, tau):
    low = p["min"] if math.isfinite(p["min"]) else None
    high = p["max"] if math.isfinite(p["max"]) else None
    return low, high


def _cf_leaky(p, tau):
    """Slope alpha on the negative side: a tail only when |alpha| < tau * max(1, |alpha|)."""
    a = abs(p["alpha"])
    return (0.0 if a < tau * max(1.0, a) else None), None


def _cf_elu(p, tau):
    """alpha e^x < tau * max(1, alpha)  ->  x < ln(tau max(1, alpha) / alpha)."""
    a = p["alpha"]
    return math.log(tau * max(1.0, a) / a), None


def _cf_celu(p, tau):
    """e^(x/alpha) < tau  ->  x < alpha ln tau."""
    return p["alpha"] * math.log(tau), None


def _cf_selu(p, tau):
    a = p["alpha"]
    return math.log(tau * max(1.0, a) / a), None


def _cf_softplus(p, tau):
    """sigmoid(beta x) < tau  ->  x < ln(tau / (1 - tau)) / beta."""
    return math.log(tau / (1.0 - tau)) / p["beta"], None


def _cf_softsign(p, tau):
    """1 / (1 + |x|)^2 < tau  ->  |x| > 1/sqrt(tau) - 1."""
    x = 1.0 / math.sqrt(tau) - 1.0
    return -x, x


def _cf_hardsigmoid(p, tau):
    a, b = p["alpha"], p["beta"]
    lo, hi = -b / a, (1.0 - b) / a
    return (lo, hi) if a > 0 else (hi, lo)


def _cf_hardswish(p, tau):
    return -p["beta"] / p["alpha"], None


_SQRT2 = math.sqrt(2.0)


def _leaky_gain(p):
    return math.sqrt(2.0 / (1.0 + p["alpha"] ** 2))


def _entry(name, metric, init, gain, closed_form=None, defaults=None, description="",
           onnx=None, torch=None):
    base = _FN_ALIAS.get(name, name)
    rows = metric == "rows"  # softmax is judged per row, not through f'
    return ActivationKind(
        name=name,
        f=None if rows else getattr(fn, f"f_{base}"),
        fprime=None if rows else getattr(fn, f"d_{base}"),
        metric=metric,
        init=init,
        gain=gain,
        closed_form=closed_form,
        defaults=defaults or {},
        description=description,
        onnx=onnx,
        torch=torch,
    )


_FN_ALIAS = {"relu6": "clip", "hardtanh": "clip", "prelu": "leaky_relu"}
_INF = math.inf

_O, _T = OnnxForm, TorchForm
_SELU = {"alpha": 1.6732632423543772, "gamma": 1.0507009873554805}
_SELU_ONNX = (("alpha", "alpha", 1.67326319217681884765625),  # the spec's float32 values
              ("gamma", "gamma", 1.05070102214813232421875))

KINDS: dict[str, ActivationKind] = {
    k.name: k
    for k in [
        _entry("sigmoid", "tails", "xavier", lambda p: 1.0, _cf_sigmoid,
               description="logistic sigmoid", onnx=_O(("Sigmoid",)),
               torch=_T(("Sigmoid",), ("sigmoid",))),
        _entry("tanh", "tails", "xavier", lambda p: 5.0 / 3.0, _cf_tanh, onnx=_O(("Tanh",)),
               torch=_T(("Tanh",), ("tanh",))),
        _entry("softsign", "tails", "xavier", lambda p: 1.0, _cf_softsign,
               onnx=_O(("Softsign",)), torch=_T(("Softsign",), ("softsign",))),
        _entry("hardsigmoid", "tails", "xavier", lambda p: 1.0, _cf_hardsigmoid,
               {"alpha": 0.2, "beta": 0.5},
               onnx=_O(("HardSigmoid",), (("alpha", "alpha", 0.2), ("beta", "beta", 0.5))),
               torch=_T(("Hardsigmoid",), ("hardsigmoid",),
                        fixed=(("alpha", 1.0 / 6.0), ("beta", 0.5)))),
        _entry("hardtanh", "tails", "xavier", lambda p: 5.0 / 3.0, _cf_clip,
               {"min": -1.0, "max": 1.0}, torch=_T(("Hardtanh",), ("hardtanh",))),
        _entry("relu6", "dead_units", "he", lambda p: _SQRT2, _cf_clip, {"min": 0.0, "max": 6.0},
               torch=_T(("ReLU6",), ("relu6",), fixed=(("min", 0.0), ("max", 6.0)))),
        _entry("clip", "tails", "xavier", lambda p: 1.0, _cf_clip, {"min": -_INF, "max": _INF},
               onnx=_O(("Clip",))),
        _entry("relu", "dead_units", "he", lambda p: _SQRT2, _cf_relu, onnx=_O(("Relu",)),
               torch=_T(("ReLU",), ("relu",))),
        _entry("thresholded_relu", "dead_units", "he", lambda p: _SQRT2, _cf_thresholded,
               {"alpha": 1.0}, onnx=_O(("ThresholdedRelu",), (("alpha", "alpha", 1.0),))),
        _entry("leaky_relu", "dead_units", "he", _leaky_gain, _cf_leaky, {"alpha": 0.01},
               onnx=_O(("LeakyRelu",), (("alpha", "alpha", 0.01),)),
               torch=_T(("LeakyReLU",), ("leaky_relu",), (("alpha", ("negative_slope",), 0.01),))),
        _entry("prelu", "dead_units", "he", _leaky_gain, _cf_leaky, {"alpha": 0.25},
               onnx=_O(("PRelu",)), torch=_T(("PReLU",), ("prelu", "prelu_kernel"))),
        _entry("elu", "dead_units", "he", lambda p: _SQRT2, _cf_elu, {"alpha": 1.0},
               onnx=_O(("Elu",), (("alpha", "alpha", 1.0),)),
               torch=_T(("ELU",), ("elu",), (("alpha", ("alpha",), 1.0),))),
        _entry("celu", "dead_units", "he", lambda p: _SQRT2, _cf_celu, {"alpha": 1.0},
               onnx=_O(("Celu",), (("alpha", "alpha", 1.0),)),
               torch=_T(("CELU",), ("celu",), (("alpha", ("alpha",), 1.0),))),
        _entry("selu", "dead_units", "he", lambda p: 0.75, _cf_selu, dict(_SELU),
               onnx=_O(("Selu",), _SELU_ONNX), torch=_T(("SELU",), ("selu",))),
        _entry("gelu", "dead_units", "he", lambda p: _SQRT2, onnx=_O(("Gelu",)),
               torch=_T(("GELU",), ("gelu",))),
        _entry("gelu_tanh", "dead_units", "he", lambda p: _SQRT2),
        _entry("silu", "dead_units", "he", lambda p: _SQRT2, defaults={"alpha": 1.0},
               onnx=_O(("Swish",), (("alpha", "alpha", 1.0),)),
               torch=_T(("SiLU",), ("silu",))),
        _entry("mish", "dead_units", "he", lambda p: _SQRT2, onnx=_O(("Mish",)),
               torch=_T(("Mish",), ("mish",))),
        _entry("softplus", "dead_units", "he", lambda p: _SQRT2, _cf_softplus, {"beta": 1.0},
               onnx=_O(("Softplus",)),
               torch=_T(("Softplus",), ("softplus",), (("beta", ("beta",), 1.0),))),
        _entry("hardswish", "dead_units", "he", lambda p: _SQRT2, _cf_hardswish,
               {"alpha": 1.0 / 6.0, "beta": 0.5}, onnx=_O(("HardSwish",)),
               torch=_T(("Hardswish",), ("hardswish",))),
        _entry("softmax", "rows", "xavier", lambda p: 1.0, defaults={"axis": -1},
               onnx=_O(("Softmax",)), torch=_T(("Softmax",), ("softmax",))),
        _entry("log_softmax", "rows", "xavier", lambda p: 1.0, defaults={"axis": -1},
               onnx=_O(("LogSoftmax",)), torch=_T(("LogSoftmax",), ("log_softmax",))),
    ]
}


def kind_of_bounds(lo: float, hi: float) -> tuple[str, dict]:
    """The kind a clamp to [lo, hi] is (ONNX Clip, torch hardtanh/clamp): ReLU, ReLU6,
    hardtanh, or a general clip."""
    if lo == 0.0 and hi == _INF:
        return "relu", {}
    for name in ("relu6", "hardtanh"):
        if (lo, hi) == (KINDS[name].defaults["min"], KINDS[name].defaults["max"]):
            return name, {"min": lo, "max": hi}
    return "clip", {"min": lo, "max": hi}


def onnx_op_kinds() -> dict[str, str]:
    """ONNX op type -> kind, for plain activation nodes."""
    return {op: k.name for k in KINDS.values() if k.onnx for op in k.onnx.ops}


def torch_module_kinds() -> dict[str, str]:
    """torch activation module class name -> kind."""
    return {m: k.name for k in KINDS.values() if k.torch for m in k.torch.modules}


def get_kind(name: str) -> ActivationKind:
    """Look a kind up by name."""
    return KINDS[name]
