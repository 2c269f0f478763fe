"""Find the weighted layer (Conv / Gemm / MatMul) whose output feeds an activation."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

import numpy as np
import onnx

from saturate_cli.types import Producer
from saturate_cli.model.onnx.graph import VALUE_MOVES, GraphView, attr
from saturate_cli.model.onnx.names import module_path
from saturate_cli.stats.spread import std_of

WEIGHTED = ("Conv", "ConvTranspose", "Gemm", "MatMul")
PASS_THROUGH = (*VALUE_MOVES, "Flatten")
NORMS = ("BatchNormalization", "LayerNormalization", "InstanceNormalization",
         "GroupNormalization", "SimplifiedLayerNormalization")
_MAX_STEPS = 8


def _weight_tensor(g: GraphView, tensor: str) -> Optional[str]:
    """The initializer behind a weight input, looking through Transpose/Identity/Dequantize."""
    for _ in range(4):
        if tensor in g.initializers or g.constant(tensor) is not None:
            return tensor
        node = g.producer.get(tensor)
        if node is None or node.op_type not in ("Transpose", "Identity", "Cast",
                                                "DequantizeLinear"):
            return None
        tensor = node.input[0]
    return None


def _fans(op: str, node: onnx.NodeProto, w: np.ndarray, weight_index: int) -> tuple[int, int, int]:
    """(fan_in, fan_out, output channels) with torch's conventions."""
    if op in ("Conv", "ConvTranspose") and w.ndim >= 3:
        receptive = int(np.prod(w.shape[2:]))
        channels = w.shape[0] if op == "Conv" else w.shape[1] * int(attr(node, "group", 1))
        return int(w.shape[1]) * receptive, int(w.shape[0]) * receptive, int(channels)
    if w.ndim < 2:
        return int(w.size), 1, 1
    if op == "Gemm":
        trans = attr(node, "transB" if weight_index == 1 else "transA", 0)
        k, n = (w.shape[1], w.shape[0]) if trans else (w.shape[0], w.shape[1])
        if weight_index == 0:
            k, n = n, k
        return int(k), int(n), int(n)
    if weight_index == 1:  # MatMul x @ W, W [..., K, N]
        return int(w.shape[-2]), int(w.shape[-1]), int(w.shape[-1])
    return int(w.shape[-1]), int(w.shape[-2]), int(w.shape[-2])  # W @ x


def find_producer(g: GraphView, tensor: str) -> Optional[Producer]:
    """Walk back from an activation input through bias adds, norms and reshapes to the layer."""
    bias = norm = norm_op = None
    gamma_beta: tuple = (None, None)
    chain: list[onnx.NodeProto] = []
    for _ in range(_MAX_STEPS):
        node = g.producer.get(tensor)
        if node is None:
            return None
        chain.append(node)
        op = node.op_type
        if op in WEIGHTED:
            found = _describe(g, node, bias, norm, norm_op)
            if found is None:
                return None
            found = replace(found, norm_scale=gamma_beta[0], norm_bias=gamma_beta[1])
            return replace(found, shared_with=_shared(g, found, chain))
        if op in ("Add", "Sub") and len(node.input) == 2:
            consts = [i for i in node.input if i in g.initializers or g.constant(i) is not None]
            if len(consts) != 1:
                return None
            bias = bias or g.origin(consts[0])  # the parameter, not its reshaped copy
            tensor = g.other_input(node, consts[0]) or ""
        elif op in NORMS:
            if norm is None:
                gamma_beta = tuple(node.input[i] if len(node.input) > i and node.input[i] else
                                   None for i in (1, 2))
            norm, norm_op = norm or g.node_name(node), norm_op or op
            tensor = node.input[0]
        elif op in PASS_THROUGH:
            tensor = node.input[0]
        else:
            return None
    return None


def _describe(g: GraphView, node: onnx.NodeProto, bias, norm, norm_op) -> Optional[Producer]:
    for index in (1, 0):
        if index >= len(node.input):
            continue
        name = _weight_tensor(g, node.input[index])
        if name is None:
            continue
        w = g.constant(name)
        if w is None or w.size == 0 or not np.issubdtype(w.dtype, np.number):
            continue
        fan_in, fan_out, channels = _fans(node.op_type, node, w, index)
        if node.op_type in ("Conv", "ConvTranspose", "Gemm") and len(node.input) > 2:
            bias = node.input[2] or bias
        return Producer(
            name=g.node_name(node), op=node.op_type, weight=name, fan_in=fan_in,
            fan_out=fan_out, weight_std=std_of(w), bias=bias,
            norm=norm, norm_op=norm_op, channels=channels, layer=module_path(node),
        )
    return None


def _shared(g: GraphView, p: Producer, chain: list[onnx.NodeProto]) -> tuple:
    """((parameter, (other layers reading it, ...)), ...): exporters merge equal tensors (zero
    biases, tied embeddings), so changing one in place would change the others too."""
    own = {id(n) for n in chain}
    out = []
    for param in dict.fromkeys(t for t in (p.weight, p.bias, p.norm_scale, p.norm_bias) if t):
        readers, frontier = [], [param]
        for _ in range(4):  # through Identity / Cast / Reshape copies of the initializer
            following = []
            for tensor in frontier:
                for n in g.consumers.get(tensor, []):
                    if n.op_type in VALUE_MOVES:  # copies: who reads the copy counts
                        following.extend(n.output)
                    elif id(n) not in own:
                        readers.append(g.node_name(n))
            frontier = following
        if readers:
            out.append((param, tuple(dict.fromkeys(readers))))
    return tuple(out)


def unit_axis(producer: Optional[Producer], rank: Optional[int]) -> Optional[int]:
    """The axis that indexes units: channels after a Conv, the last axis after Gemm/MatMul."""
    if rank is None or rank < 2:
        return None
    if producer is not None:
        return 1 if producer.op in ("Conv", "ConvTranspose") else rank - 1
    return 1 if rank in (4, 5) else rank - 1
