"""Structured mutations of ONNX models for the fuzz test: each takes the model and a
hypothesis `draw`, changes one thing in place, and returns a short description."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import AttributeProto, TensorProto

OPS = ["Sigmoid", "Tanh", "Relu", "Softmax", "LogSoftmax", "Clip", "LeakyRelu", "HardSigmoid",
       "Gelu", "PRelu", "Gemm", "MatMul", "Conv", "Add", "Mul", "Div", "Identity", "Reshape",
       "If", "Loop", "LSTM", "QLinearMatMul", "DequantizeLinear", "NoSuchOp", ""]
DIMS = [0, 1, 2, 3, 7, -1, 2**20 + 1, 10**9, 2**62]
ELEM_TYPES = [0, TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.INT64,
              TensorProto.INT8, TensorProto.BOOL, TensorProto.STRING, TensorProto.BFLOAT16, 99]
_NUMBERS = st.one_of(st.integers(-3, 3), st.sampled_from([2**31, -(2**40), 10**12]))
_FLOATS = st.one_of(st.floats(-10, 10), st.sampled_from([0.0, float("inf"), float("nan"), -1e30]))

Draw = Callable
Mutation = Callable[[onnx.ModelProto, Draw], str]


def _pick(draw: Draw, seq):
    return seq[draw(st.integers(0, len(seq) - 1))] if len(seq) else None


def _values(model: onnx.ModelProto) -> list:
    g = model.graph
    return list(g.input) + list(g.output) + list(g.value_info)


def input_dim(model, draw) -> str:
    vi = _pick(draw, _values(model))
    if vi is None or not vi.type.tensor_type.shape.dim:
        return "no dims"
    dim = _pick(draw, vi.type.tensor_type.shape.dim)
    if draw(st.booleans()):
        dim.dim_value = draw(st.sampled_from(DIMS))
    else:
        dim.dim_param = draw(st.sampled_from(["batch", "n", "", "?"]))
    return f"dim of {vi.name}"


def elem_type(model, draw) -> str:
    vi = _pick(draw, _values(model))
    if vi is None:
        return "no values"
    vi.type.tensor_type.elem_type = draw(st.sampled_from(ELEM_TYPES))
    return f"elem type of {vi.name}"


def op_type(model, draw) -> str:
    node = _pick(draw, model.graph.node)
    if node is None:
        return "no nodes"
    node.op_type = draw(st.sampled_from(OPS))
    return f"op -> {node.op_type}"


def attribute(model, draw) -> str:
    node = _pick(draw, model.graph.node)
    if node is None:
        return "no nodes"
    name = draw(st.sampled_from(["axis", "alpha", "beta", "min", "max", "transB", "approximate",
                                 "group", "kernel_shape", "to", "perm"]))
    kind = draw(st.sampled_from(["int", "float", "str", "ints"]))
    value = {"int": _NUMBERS, "float": _FLOATS, "str": st.sampled_from(["tanh", "none", "x"]),
             "ints": st.lists(_NUMBERS, min_size=1, max_size=4)}[kind]
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(onnx.helper.make_attribute(name, draw(value)))
    return f"attribute {name}={kind}"


def initializer_dims(model, draw) -> str:
    init = _pick(draw, model.graph.initializer)
    if init is None:
        return "no initializers"
    dims = draw(st.lists(st.sampled_from(DIMS + [4, 8, 16]), max_size=4))
    del init.dims[:]
    init.dims.extend(dims)
    return f"dims of {init.name} -> {dims}"


def remove_initializer(model, draw) -> str:
    init = _pick(draw, model.graph.initializer)
    if init is None:
        return "no initializers"
    model.graph.initializer.remove(init)
    return f"removed {init.name}"


def initializer_values(model, draw) -> str:
    """Replace an initializer's values: NaN, Inf, zeros or huge numbers, same shape."""
    init = _pick(draw, model.graph.initializer)
    if init is None or init.data_type != TensorProto.FLOAT:
        return "no float initializer"
    value = draw(st.sampled_from([0.0, float("nan"), float("inf"), 1e30, -1e30]))
    n = math.prod(int(d) for d in init.dims)
    if not 0 <= n <= 1 << 22:
        return "odd size"
    init.ClearField("float_data")
    init.raw_data = np.full(n, value, np.float32).tobytes()
    return f"{init.name} = {value}"


def rewire(model, draw) -> str:
    node = _pick(draw, model.graph.node)
    if node is None or not node.input:
        return "no inputs"
    names = [v.name for v in _values(model)] + [i.name for i in model.graph.initializer]
    names += [o for n in model.graph.node for o in n.output] + ["", "ghost"]
    i = draw(st.integers(0, len(node.input) - 1))
    node.input[i] = draw(st.sampled_from(names))
    return f"input {i} of {node.op_type} -> {node.input[i]!r}"


def drop_node(model, draw) -> str:
    node = _pick(draw, model.graph.node)
    if node is None:
        return "no nodes"
    model.graph.node.remove(node)
    return f"dropped {node.op_type}"


def opset(model, draw) -> str:
    imp = model.opset_import[0]
    imp.version = draw(st.sampled_from([1, 6, 7, 9, 11, 13, 17, 21, 27, 28, 29, 1000]))
    if draw(st.booleans()):
        imp.domain = draw(st.sampled_from(["", "ai.onnx", "com.microsoft", "evil"]))
    return f"opset {imp.domain or 'ai.onnx'} {imp.version}"


def node_domain(model, draw) -> str:
    node = _pick(draw, model.graph.node)
    if node is None:
        return "no nodes"
    node.domain = draw(st.sampled_from(["com.microsoft", "custom", "ai.onnx.ml", "ai.onnx"]))
    return f"domain of {node.op_type} -> {node.domain}"


def subgraph(model, draw) -> str:
    """Wrap an activation into an If whose branch holds it."""
    node = _pick(draw, model.graph.node)
    if node is None:
        return "no nodes"
    body = onnx.helper.make_graph([onnx.helper.make_node("Sigmoid", [node.output[0]], ["sub_y"])],
                                  "b", [], [onnx.helper.make_empty_tensor_value_info("sub_y")])
    attr = onnx.helper.make_attribute("then_branch", body)
    assert attr.type == AttributeProto.GRAPH
    node.attribute.append(attr)
    return f"graph attribute on {node.op_type}"


MUTATIONS: list[Mutation] = [input_dim, elem_type, op_type, attribute, initializer_dims,
                             remove_initializer, initializer_values, rewire, drop_node, opset,
                             node_domain, subgraph]
