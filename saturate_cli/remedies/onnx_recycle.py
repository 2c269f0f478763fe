"""Dead-unit recycling (ReDo) in an ONNX graph: the producer's rows re-drawn, its bias and the
consumers' inputs from those units set to 0 (see recycle_math.py)."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import onnx

from saturate_cli.remedies import recycle_math
from saturate_cli.remedies.onnx_edit import FRESH, ancestors, rewire
from saturate_cli.model.onnx.graph import GraphView, attr
from saturate_cli.report.model import SiteReport

PER_UNIT_OPS = ("Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "Tanh", "Gelu", "Clip",
                "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish", "Identity",
                "Dropout", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool")
FLATTENING = ("Flatten", "Reshape")


def _weight_axes(node: onnx.NodeProto) -> tuple[int, int]:
    """(axis of output units, axis of input units) of a Conv/Gemm/MatMul weight."""
    if node.op_type == "Conv":
        return 0, 1
    if node.op_type == "Gemm":
        return (0, 1) if attr(node, "transB", 0) else (1, 0)
    return 1, 0  # MatMul: x @ W, W is [in, out]


def _consumers(g: GraphView, tensor: str, units: int) -> Union[str, list]:
    """Weighted layers the units of `tensor` reach through per-unit ops, as (node, input
    index of the weight, values per unit); a reason (str) when they reach anything else."""
    found, todo, per_unit, seen = [], [(tensor, 1)], 1, set()
    outputs = {o.name for o in g.graph.output}
    while todo:
        name, per_unit = todo.pop()
        if name in outputs:
            return f"the units' values reach the model output {name}"
        for node in g.consumers.get(name, []):
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.op_type in PER_UNIT_OPS and node.input[0] == name:
                todo.append((node.output[0], per_unit))
            elif node.op_type in FLATTENING and node.input[0] == name:
                todo.append((node.output[0], -1))  # positions per unit: from the consumer
            elif node.op_type in ("Conv", "Gemm", "MatMul") and node.input[0] == name and \
                    g.constant(node.input[1]) is not None and attr(node, "group", 1) == 1:
                found.append((node, per_unit))
            else:
                return (f"the units' values reach {node.op_type} {g.node_name(node)} (a "
                        "residual or mixing path): recycling would change the outputs")
    return found if found else "no layer reads the units"


def _activation_output(g: GraphView, site: SiteReport) -> Optional[str]:
    node = next((n for n in g.nodes if g.node_name(n) == site.name), None)
    return node.output[0] if node is not None and node.output else None


def recycle(model: onnx.ModelProto, site: SiteReport, units: list, std: float,
            rng: np.random.Generator) -> Union[str, list]:
    """Recycle `units` of the site's producer in place; the tensors changed, or why not."""
    producer = site.producer or {}
    g = GraphView(model)
    path = ancestors(g, site.input)
    layer = next((n for n in path if g.node_name(n) == producer.get("name")), None)
    out = _activation_output(g, site)
    if layer is None:
        return ("the producing layer is not on a single path back from the activation (a "
                "residual sum?): recycling would change the outputs")
    if out is None or layer.op_type not in ("Conv", "Gemm", "MatMul"):
        return "the activation's output or a Conv/Gemm/MatMul producer was not found"
    if producer.get("norm"):
        return "a normalisation sits between the layer and the activation"
    if attr(layer, "group", 1) != 1:
        return "grouped convolutions are not recycled"
    consumers = _consumers(g, out, int(site.saturation.get("units") or 0))
    if isinstance(consumers, str):
        return consumers
    weight = g.constant(layer.input[1])
    if weight is None:
        return "the weight is not a constant"
    touched = []
    unit_axis, _ = _weight_axes(layer)
    rewire(model, g, layer, 1, recycle_math.redraw(weight, units, unit_axis, std, rng),
           producer["weight"])
    touched.append(producer["weight"])
    if producer.get("bias"):
        touched += _zero_bias(model, g, path, producer["bias"], units)
    for node, per_unit in consumers:
        w = g.constant(node.input[1])
        _, in_axis = _weight_axes(node)
        per = per_unit if per_unit > 0 else max(1, w.shape[in_axis] // max(1, _unit_count(
            weight, unit_axis)))
        name = g.origin(node.input[1])
        rewire(model, g, node, 1, recycle_math.zero_inputs(w, units, in_axis, per), name)
        touched.append(name)
    return [t.split(FRESH)[0] for t in touched]


def _unit_count(weight: np.ndarray, axis: int) -> int:
    return int(weight.shape[axis])


def _zero_bias(model, g, path, bias: str, units) -> list:
    for node in path:
        for i, tensor in enumerate(node.input):
            if tensor and g.origin(tensor) == g.origin(bias) or tensor == bias:
                value = g.constant(tensor)
                if value is None:
                    return []
                rewire(model, g, node, i, recycle_math.set_units(value, units, 0.0), bias)
                return [bias]  # a private copy when other layers read the same tensor
    return []
