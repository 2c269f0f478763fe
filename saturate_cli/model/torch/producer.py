"""Describe the parameterised layer feeding an activation, and build a site from a first call.

Every capture path finds the producer its own way (eager: tensor lineage; .pt2 / TorchScript:
walking the graph back) and then calls `describe` with the weight it found.
"""

from __future__ import annotations

from typing import Optional

import torch

from saturate_cli.activations import get_kind
from saturate_cli.types import Producer, Site

CONV_OPS = ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
            "ConvTranspose3d", "conv")
WEIGHTED_CALLS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "convolution", "_convolution", "addmm")
PASS_THROUGH = ("view", "reshape", "flatten", "transpose", "permute", "contiguous", "squeeze",
                "unsqueeze", "dropout", "clone", "t", "_to_copy", "to", "alias", "detach",
                "_unsafe_view", "expand")
NORMS = ("batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm",
         "_native_batch_norm_legit_no_training", "native_layer_norm",
         "native_batch_norm", "_batch_norm_impl_index")


def weight_and_bias(base: str, args: tuple, kwargs: dict) -> tuple:
    """A weighted call's weight and bias: F.linear / F.conv* take (x, weight, bias); addmm
    takes (bias, x, weight), as transformers' Conv1D (GPT-2) calls it."""
    if base == "addmm" and len(args) > 2:
        return args[2], args[0]
    return kwargs.get("weight", args[1]), kwargs.get("bias", args[2] if len(args) > 2 else None)


def describe(path: str, op: str, weight_name: str, weight: torch.Tensor,
             bias: Optional[str] = None, norm: Optional[str] = None,
             norm_op: Optional[str] = None) -> Optional[Producer]:
    """A Producer from the layer's weight, with torch's fan conventions."""
    w = weight.detach()
    if op == "Conv1D" and w.dim() == 2:  # transformers' Conv1D stores [in, out]: Linear's .T
        w = w.t()
    if w.dim() < 2 or w.numel() == 0 or not w.is_floating_point():
        return None
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
    transposed = op.startswith("ConvTranspose")
    channels = int(w.shape[1]) if transposed else int(w.shape[0])
    return Producer(
        name=path, op=op, weight=weight_name, fan_in=int(fan_in), fan_out=int(fan_out),
        weight_std=float(w.to(torch.float64).std(unbiased=False)), bias=bias, norm=norm,
        norm_op=norm_op, channels=channels,
        norm_scale=f"{norm}.weight" if norm else None, norm_bias=f"{norm}.bias" if norm else None,
    )


def unit_axis(producer: Optional[Producer], rank: int) -> Optional[int]:
    """Channels after a convolution, the last axis otherwise (as the ONNX path decides)."""
    if rank < 2:
        return None
    if producer is not None:
        return 1 if producer.op.startswith(CONV_OPS) else rank - 1
    return 1 if rank in (4, 5) else rank - 1


def make_site(name: str, kind: str, params: dict, producer: Optional[Producer], rank: int,
              op: str, input_name: str) -> Site:
    """The Site of an activation call, from what its first call showed."""
    if get_kind(kind).metric == "rows":
        axis = params.get("axis", -1) % max(rank, 1)
        return Site(name, input_name, op, kind, dict(params), producer, None, (axis,), rank)
    return Site(name, input_name, op, kind, dict(params), producer, unit_axis(producer, rank),
                None, rank)
