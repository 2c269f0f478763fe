"""Emit ONNX nodes and constants with unique names, respecting the model's opset."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper


class GraphBuilder:
    """Emits nodes and constants with unique names, respecting the model's opset."""

    def __init__(self, model: onnx.ModelProto, opset: int, prefix: str):
        self.model = model
        self.opset = opset
        self.prefix = prefix
        self.count = 0
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.consts: dict[tuple, str] = {}

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{self.prefix}{self.count}_{hint}"

    def const(self, value: np.ndarray, hint: str = "c") -> str:
        """An initializer holding `value`; equal values share one (fewer nodes to optimise)."""
        value = np.asarray(value)
        key = (value.dtype.str, value.shape, value.tobytes())
        if key not in self.consts:
            self.consts[key] = self.name(hint)
            self.inits.append(numpy_helper.from_array(value, self.consts[key]))
        return self.consts[key]

    def op(self, op_type: str, inputs: list[str], hint: str = "", **attrs) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def reduce(self, op_type: str, x: str, axes: Optional[list[int]], keepdims: int = 0) -> str:
        """A Reduce* node; axes move from attribute to input at opset 13 (Sum) / 18 (others)."""
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if axes is None:
            return self.op(op_type, [x], keepdims=keepdims)
        if as_input:
            return self.op(op_type, [x, self.const(np.array(axes, np.int64), "axes")],
                           keepdims=keepdims)
        return self.op(op_type, [x], axes=axes, keepdims=keepdims)

    def extreme(self, op_type: str, x: str, rank: Optional[int]) -> str:
        """ReduceMin / ReduceMax of x over every axis but the first where the rank is known
        (onnxruntime shares such a reduction between its threads: about twice as fast on
        activation-sized tensors as one over every axis); the host takes the extreme of what
        is left (`host_extreme`)."""
        return self.reduce(op_type, x, list(range(1, rank)) if rank and rank > 1 else None)

    def compare(self, x: str, threshold, side: str) -> str:
        """Boolean mask x <= t (low) or x >= t (high); t is an array or a tensor's name."""
        t = threshold if isinstance(threshold, str) else self.const(threshold, "thr")
        if self.opset >= 12:
            return self.op("LessOrEqual" if side == "low" else "GreaterOrEqual", [x, t])
        strict = self.op("Greater" if side == "low" else "Less", [x, t])
        return self.op("Not", [strict])


def host_extreme(values, op_type: str) -> float:
    """The minimum or maximum of what `GraphBuilder.extreme` left (+inf / -inf for none, as
    a reduction over no values gives)."""
    values = np.asarray(values)
    if not values.size:
        return math.inf if op_type == "ReduceMin" else -math.inf
    return float(values.min() if op_type == "ReduceMin" else values.max())
