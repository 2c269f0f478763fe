"""Producers for TorchScript sites: the script capture names TorchScript activations but not
the layer feeding them. A dispatch mode beside the capture's own follows each tensor back to the
convolution or matrix product (and a norm in between) that made it, matching the weights to
the module's parameters by storage, so TorchScript sites get the same remedies as eager ones."""

from __future__ import annotations

from typing import Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from saturate_cli.model.torch.kinds import canonical
from saturate_cli.model.torch.producer import NORMS, PASS_THROUGH, describe

CONVOLUTIONS = ("convolution", "_convolution", "conv1d", "conv2d", "conv3d")
MATMULS = {"addmm": (2, 0), "linear": (1, 2), "mm": (1, None), "matmul": (1, None)}


def _key(t) -> Optional[int]:
    return t.untyped_storage().data_ptr() if isinstance(t, torch.Tensor) else None


def _layer(name_of, base: str, args: tuple):
    """(op, weight, bias, None) of a convolution or matrix product on parameters, else None."""
    if base in CONVOLUTIONS and len(args) > 1 and name_of(args[1]):
        dims = args[1].dim() - 2
        transposed = base == "convolution" and len(args) > 6 and bool(args[6])
        op = f"{'ConvTranspose' if transposed else 'Conv'}{dims}d"
        return (op, name_of(args[1]), name_of(args[2]) if len(args) > 2 else None,
                None)
    if base in MATMULS:
        w_at, b_at = MATMULS[base]
        if len(args) > w_at and name_of(args[w_at]):
            bias = name_of(args[b_at]) if b_at is not None and len(args) > b_at else None
            return ("Linear", name_of(args[w_at]), bias, None)
    return None


class _Lineage(TorchDispatchMode):
    def __init__(self, names: dict):
        super().__init__()
        self.names = names  # storage pointer -> parameter name
        self.made: dict = {}  # id(tensor) -> (tensor, layer info): info = (op, w, b, norm)

    def _name(self, t) -> Optional[str]:
        return self.names.get(_key(t))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        base = canonical(func.__name__.split(".")[0])
        first = out[0] if isinstance(out, (tuple, list)) and out else out
        info = _layer(self._name, base, args)
        if info is None and args and isinstance(args[0], torch.Tensor):
            before = self.made.get(id(args[0]))
            if before is not None and before[0] is args[0]:
                if base in [canonical(n) for n in NORMS] and len(args) > 1 and \
                        self._name(args[1]):
                    info = before[1][:3] + (self._name(args[1]).rpartition(".")[0],)
                elif base in PASS_THROUGH or (base == "add" and len(args) > 1
                                              and self._name(args[1])):
                    info = before[1] if base != "add" else before[1][:2] + (
                        self._name(args[1]),) + before[1][3:]
        if info is not None and isinstance(first, torch.Tensor):
            self.made[id(first)] = (first, info)
        return out

    def producer(self, x):
        found = self.made.get(id(x))
        if found is None or found[0] is not x:
            return None
        return found[1]


class LineageRunner:
    """A TorchScript runner whose sites get the producer the lineage found."""

    def __init__(self, runner, module: torch.nn.Module):
        self.runner, self.module = runner, module
        self.not_covered = runner.not_covered
        self.params = dict(module.named_parameters())
        self.names = {_key(p): n for n, p in self.params.items()}

    def run(self, args: tuple, sink, *rest):
        lineage = _Lineage(self.names)

        def with_producer(name, op, kind, params, producer, x, *more):
            info = producer is None and lineage.producer(x)
            if info:
                op_name, weight, bias, norm = info
                producer = describe(weight.rpartition(".")[0], op_name, weight,
                                    self.params[weight], bias, norm,
                                    "BatchNorm" if norm else None)
            return sink(name, op, kind, params, producer, x, *more)

        with lineage:
            return self.runner.run(args, with_producer, *rest)
