"""Which layers read a TorchScript layer's outputs (recycling must zero their weights), found
by a dispatch mode that follows the layer's outputs through per-unit ops."""

from __future__ import annotations

from typing import Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from saturate_cli.model.torch.kinds import canonical
from saturate_cli.model.torch.script_lineage import _key, _layer

PER_UNIT = {"relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "sigmoid",
            "tanh", "hardtanh", "hardswish", "hardsigmoid", "mish", "softplus", "clone",
            "contiguous", "detach", "dropout", "native_batch_norm", "batch_norm",
            "native_batch_norm_legit_no_training", "max_pool2d", "max_pool2d_with_indices",
            "avg_pool2d", "adaptive_avg_pool2d", "max_pool1d", "avg_pool1d",
            "adaptive_avg_pool1d", "alias", "_to_copy"}
FLATTENING = {"view", "reshape", "flatten", "_unsafe_view"}


class _Reach(TorchDispatchMode):
    """Which weighted layers read the outputs of one layer, through per-unit ops."""

    def __init__(self, names: dict, weight: str):
        super().__init__()
        self.names, self.weight = names, weight
        self.tracked: dict = {}  # id(tensor) -> (tensor, flattened?)
        self.found: dict = {}  # consumer weight -> flattened?
        self.problem: Optional[str] = None

    def _flat(self, t):
        got = self.tracked.get(id(t)) if isinstance(t, torch.Tensor) else None
        return None if got is None or got[0] is not t else got[1]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        base = canonical(func.__name__.split(".")[0])
        first = out[0] if isinstance(out, (tuple, list)) and out else out
        layer = _layer(lambda t: self.names.get(_key(t)), base, args)
        if layer is not None and layer[1] == self.weight:
            self.tracked[id(first)] = (first, False)
            return out
        reading = [(i, f) for i, a in enumerate(args) if (f := self._flat(a)) is not None]
        if not reading:
            return out
        at, flat = reading[0]
        if layer is not None and at == (1 if base == "addmm" else 0) and len(reading) == 1:
            self.found[layer[1]] = flat
        elif base in PER_UNIT and at == 0 and len(reading) == 1:
            self.tracked[id(first)] = (first, flat)
        elif base in FLATTENING and at == 0:
            self.tracked[id(first)] = (first, True)
        elif self.problem is None:
            self.problem = (f"the units' values reach {base} (a residual or mixing path): "
                            "recycling would change the outputs")
        return out


def script_consumers(module, weight: str, run_once):
    """[(consumer weight, flattened?)] of a TorchScript layer's outputs, or why not."""
    names = {_key(p): n for n, p in module.named_parameters()}
    reach = _Reach(names, weight)
    with torch.jit.optimized_execution(False), reach:
        run_once()
    if reach.problem:
        return reach.problem
    return list(reach.found.items()) or "no layer reads the units"
