"""Which PyTorch calls are activations, and their registry kind and parameters.

One table serves every capture path: eager functions (`F.relu`, `torch.sigmoid`, `x.tanh_()`)
and ATen operators (`aten.relu_.default` in a `.pt2` graph or under TorchScript) are both looked
up by their function name, with leading/trailing underscores removed (`relu_` -> `relu`,
`_softmax` -> `softmax`, `_prelu_kernel` -> `prelu`).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from saturate_cli.activations.registry import KINDS, kind_of_bounds, torch_module_kinds

Params = dict
Extractor = Callable[[tuple, dict], tuple[str, Params]]

MODULE_KINDS = torch_module_kinds()  # activation module class name -> kind
RECURRENT = ("LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell")
FUSED_ATTENTION = ("scaled_dot_product_attention", "scaled_dot_product_flash_attention",
                   "scaled_dot_product_flash_attention_for_cpu",
                   "scaled_dot_product_efficient_attention")


def _arg(args: tuple, kwargs: dict, index: int, names: tuple[str, ...], default: Any) -> Any:
    """A call argument by keyword or position; booleans in numeric slots (inplace) skipped."""
    for name in names:
        if name in kwargs:
            return kwargs[name]
    if index < len(args) and not isinstance(args[index], bool):
        return args[index]
    return default


def _generic(kind) -> Extractor:
    """Parameters from the registry's torch form: arguments (keyword, else position 1) with
    torch's defaults, and the parameters the function fixes."""
    form = kind.torch

    def extract(args, kwargs):
        params = dict(form.fixed)
        for param, names, default in form.args:
            params[param] = float(_arg(args, kwargs, 1, names, default))
        return kind.name, params
    return extract


def _gelu(args, kwargs):
    approx = _arg(args, kwargs, 1, ("approximate",), "none")
    return ("gelu_tanh" if approx == "tanh" else "gelu"), {}


def _elu(args, kwargs):
    """aten.elu(x, alpha, scale, input_scale) also carries selu and celu after decomposition."""
    alpha = float(_arg(args, kwargs, 1, ("alpha",), 1.0))
    scale = float(_arg(args, kwargs, 2, ("scale",), 1.0))
    input_scale = float(_arg(args, kwargs, 3, ("input_scale",), 1.0))
    if scale != 1.0:
        return "selu", {}
    if input_scale != 1.0:
        return "celu", {"alpha": 1.0 / input_scale}
    return "elu", {"alpha": alpha}


def _hardtanh(args, kwargs):
    lo = float(_arg(args, kwargs, 1, ("min_val", "min"), -1.0))
    hi = float(_arg(args, kwargs, 2, ("max_val", "max"), 1.0))
    return kind_of_bounds(lo, hi)


def _prelu(args, kwargs):
    weight = _arg(args, kwargs, 1, ("weight",), None)
    if weight is None or not hasattr(weight, "abs") or weight.numel() == 0:
        return "prelu", {}
    return "prelu", {"alpha": float(weight.detach().abs().max())}


def _softmax(kind: str) -> Extractor:
    def extract(args, kwargs):
        dim = _arg(args, kwargs, 1, ("dim",), None)
        if dim is None:  # torch's implicit dim for a missing argument
            ndim = args[0].dim() if args else 2
            dim = 0 if ndim in (0, 1, 3) else 1
        return kind, {"axis": int(dim)}
    return extract


_SPECIAL: dict[str, Extractor] = {  # calls whose parameters need more than the table
    "gelu": _gelu,
    "elu": _elu,
    "hardtanh": _hardtanh,
    "prelu": _prelu,
    "prelu_kernel": _prelu,
    "softmax": _softmax("softmax"),
    "log_softmax": _softmax("log_softmax"),
}
CALLS: dict[str, Extractor] = {
    call: _SPECIAL.get(call) or _generic(kind)
    for kind in KINDS.values() if kind.torch for call in kind.torch.calls
}


def canonical(name: str) -> str:
    """`relu_` -> `relu`, `_softmax` -> `softmax`, `_prelu_kernel` -> `prelu_kernel`."""
    return name.strip("_")


def classify(name: str, args: tuple, kwargs: Optional[dict] = None) -> Optional[tuple[str, Params]]:
    """(kind, params) when the named call is an activation, else None."""
    extract = CALLS.get(canonical(name))
    return extract(args, kwargs or {}) if extract else None


def call_label(name: str) -> str:
    """The function part of a functional site name: `relu`, `softmax`, `prelu`."""
    base = canonical(name)
    return "prelu" if base == "prelu_kernel" else base


def module_kind(class_name: str) -> Optional[str]:
    """The kind of an activation module class (by its class name), else None."""
    return MODULE_KINDS.get(class_name)
