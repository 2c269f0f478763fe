"""How much memory one run of an ONNX model needs at a given batch: checked before it runs.

The bound, from shape inference with the graph inputs fixed to the batch's shapes:

    weights + inputs + ARENA * (peak of the live intermediates + STATS * the largest one)

Nodes run in graph order and a tensor dies after its last reader (graph outputs live to the
end); the live peak is the largest sum of tensors alive at once. onnxruntime's arena may hold
more than the bytes in use (fragmentation; up to twice them where it grows in powers of two:
ARENA). The statistics nodes hold a shifted copy and masks of one site's input at a time, and
a batch measured again exactly needs a float64 copy: twice a float32 tensor's bytes (STATS).
Tensors whose shape inference cannot tell are not counted, nor are subgraph bodies.

This module (like every onnx_* module) must never import torch.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

import numpy as np
import onnx

from saturate_cli.model.onnx.load import weightless

ARENA = 2
STATS = 2


def estimate_peak(model: onnx.ModelProto, feeds_shapes: dict[str, tuple],
                  sizes: Optional[dict] = None) -> int:
    """Bytes a run on inputs of these shapes may need at its peak (a conservative bound);
    `sizes`: their `tensor_sizes`, where already known."""
    sizes = tensor_sizes(model, feeds_shapes) if sizes is None else sizes
    inits = {t.name for t in model.graph.initializer}
    weights = sum(_bytes(t.data_type, t.dims) or 0 for t in model.graph.initializer)
    inputs = sum(sizes.get(name, 0) for name in feeds_shapes)
    held = inits | set(feeds_shapes)  # not intermediates: counted once, above
    live_peak = _live_peak(model.graph, sizes, held)
    largest = max((b for n, b in sizes.items() if n not in held), default=0)
    return int(weights + inputs + ARENA * (live_peak + STATS * largest))


def tensor_sizes(model: onnx.ModelProto, feeds_shapes: dict[str, tuple]) -> dict[str, int]:
    """Bytes of every tensor whose shape is known once the inputs have these shapes."""
    light = weightless(model)
    for vi in light.graph.input:
        if vi.name in feeds_shapes:
            shape = vi.type.tensor_type.shape
            shape.ClearField("dim")
            for d in feeds_shapes[vi.name]:
                shape.dim.add().dim_value = int(d)
    try:
        light = onnx.shape_inference.infer_shapes(light, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is best effort: the inputs are still known
        pass
    g = light.graph
    sizes = {}
    for vi in (*g.input, *g.value_info, *g.output):
        t = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        n = _bytes(t.elem_type, dims) if t.HasField("shape") else None
        if n is not None:
            sizes[vi.name] = n
    return sizes


def _bytes(elem_type: int, dims: Iterable[Optional[int]]) -> Optional[int]:
    dims = list(dims)
    if any(d is None or d < 0 for d in dims):
        return None
    try:
        itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).itemsize
    except Exception:  # noqa: BLE001 - undefined or string types
        return None
    return math.prod(dims) * itemsize


def _reads(node: onnx.NodeProto) -> set[str]:
    """The tensors a node reads, those its subgraphs read from the outer scope included."""
    names = set(node.input)
    for attr in node.attribute:
        for sub in (*([attr.g] if attr.HasField("g") else []), *attr.graphs):
            for inner in sub.node:
                names |= _reads(inner)
    names.discard("")
    return names


def _live_peak(graph: onnx.GraphProto, sizes: dict[str, int], held: set[str]) -> int:
    """The largest sum of intermediate tensors alive at once, nodes run in graph order."""
    last = {}
    for i, node in enumerate(graph.node):
        for name in _reads(node):
            last[name] = i
    for out in graph.output:
        last[out.name] = len(graph.node)
    live, peak = 0, 0
    dying: dict[int, int] = {}
    for i, node in enumerate(graph.node):
        for name in node.output:
            if name and name not in held:
                n = sizes.get(name, 0)
                live += n
                dying[last.get(name, i)] = dying.get(last.get(name, i), 0) + n
        peak = max(peak, live)
        live -= dying.pop(i, 0)
    return peak
