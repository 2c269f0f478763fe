"""Read-only views of an ONNX graph: who produces and consumes a tensor, constant values."""

from __future__ import annotations

from collections import defaultdict
from typing import Optional

import numpy as np
import onnx
from onnx import numpy_helper

from saturate_cli.model.onnx.lazy import values

_CACHED_SIZE = 4096  # constants up to this many values stay decoded (shapes, scalars, slopes)


# ops that only move a tensor's values: a constant through them is still that constant
VALUE_MOVES = ("Identity", "Cast", "Transpose", "Reshape", "Unsqueeze", "Squeeze")


class GraphView:
    """Index of one (top-level) ONNX graph for pattern matching."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.graph = model.graph
        self.nodes = list(self.graph.node)
        self.index = {id(n): i for i, n in enumerate(self.nodes)}
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in self.nodes:
            for out in node.output:
                self.producer[out] = node
            for inp in node.input:
                if inp:
                    self.consumers[inp].append(node)
        self.initializers = {t.name: t for t in self.graph.initializer}
        self.opset = default_opset(model)
        self._const_cache: dict[str, Optional[np.ndarray]] = {}

    def node_name(self, node: onnx.NodeProto) -> str:
        """The node's name, or `<OpType>_<index>` when it has none."""
        return node.name or f"{node.op_type}_{self.index[id(node)]}"

    def constant(self, tensor: str) -> Optional[np.ndarray]:
        """The value of a constant tensor (initializer, Constant node, through Identity, Cast
        and Transpose)."""
        if tensor in self._const_cache:
            return self._const_cache[tensor]
        value = self._constant(tensor, depth=0)
        if value is None or value.size <= _CACHED_SIZE:  # weights are decoded again when asked:
            self._const_cache[tensor] = value  # a cache of them would double the model's memory
        return value

    def _constant(self, tensor: str, depth: int) -> Optional[np.ndarray]:
        if not tensor or depth > 4:
            return None
        if tensor in self.initializers:
            t = self.initializers[tensor]
            if t.data_location == onnx.TensorProto.EXTERNAL:  # left in the file (onnx/lazy.py)
                return values(self.model, t)
            return numpy_helper.to_array(t)
        node = self.producer.get(tensor)
        if node is None:
            return None
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
                if attr.name in ("value_float", "value_int"):
                    return np.array(onnx.helper.get_attribute_value(attr))
                if attr.name in ("value_floats", "value_ints"):
                    return np.array(onnx.helper.get_attribute_value(attr))
            return None
        if node.op_type not in VALUE_MOVES or not node.input:
            return None
        value = self._constant(node.input[0], depth + 1)
        if value is None or node.op_type == "Identity":
            return value
        if node.op_type == "Cast":
            return value.astype(onnx.helper.tensor_dtype_to_np_dtype(attr(node, "to")))
        if node.op_type == "Transpose":
            return np.transpose(value, attr(node, "perm"))
        return self._reshaped(node, value, depth)

    def _reshaped(self, node: onnx.NodeProto, value: np.ndarray, depth: int):
        """Reshape / Unsqueeze / Squeeze of a constant (exporters reshape biases to [1,C,1,1])."""
        second = self._constant(node.input[1], depth + 1) if len(node.input) > 1 else None
        try:
            if node.op_type == "Reshape":
                if second is None:
                    return None
                dims = [value.shape[i] if d == 0 and not attr(node, "allowzero", 0) else int(d)
                        for i, d in enumerate(second.reshape(-1).tolist())]
                return value.reshape(dims)
            axes = attr(node, "axes") if second is None else second.reshape(-1).tolist()
            if node.op_type == "Squeeze":
                return np.squeeze(value, tuple(axes)) if axes else np.squeeze(value)
            return np.expand_dims(value, tuple(a % (value.ndim + len(axes)) for a in axes)) \
                if axes is not None else None
        except (ValueError, IndexError, TypeError):
            return None

    def origin(self, tensor: str) -> str:
        """The constant tensor a value-moving chain starts from (the parameter's own name)."""
        for _ in range(6):
            node = self.producer.get(tensor)
            if node is None or node.op_type not in VALUE_MOVES or not node.input:
                return tensor
            tensor = node.input[0]
        return tensor

    def scalar(self, tensor: str) -> Optional[float]:
        """A constant tensor's value when it holds exactly one number."""
        value = self.constant(tensor)
        if value is None or value.size != 1:
            return None
        return float(value.reshape(-1)[0])

    def only(self, tensor: str, op_type: str) -> list[onnx.NodeProto]:
        """Consumers of `tensor` with the given op type."""
        return [n for n in self.consumers.get(tensor, []) if n.op_type == op_type]

    def other_input(self, node: onnx.NodeProto, known: str) -> Optional[str]:
        """For a binary node, the input that is not `known`."""
        ins = list(node.input)
        if len(ins) != 2 or known not in ins:
            return None
        return ins[1] if ins[0] == known else ins[0]


def attr(node: onnx.NodeProto, name: str, default=None):
    """An attribute's value, or the default."""
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def default_opset(model: onnx.ModelProto) -> int:
    """The opset version of the default ONNX domain."""
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 1
