"""What an ONNX graph holds before it runs: its inputs, tensor types, sites and producers.

This module (like every module of model/onnx/) must never import torch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import onnx

from saturate_cli.activations import get_kind
from saturate_cli.model.onnx.graph import VALUE_MOVES, GraphView
from saturate_cli.model.onnx.load import weightless
from saturate_cli.model.onnx.producer import find_producer, unit_axis
from saturate_cli.model.onnx.sites import discover, is_measurable
from saturate_cli.types import InputSpec, NotCovered, Site


@dataclass
class Analysis:
    """One graph's sites (with producers and unit axes), what is not covered, and the element
    types and dims shape inference could tell (a dim it could not tell is None)."""

    graph: GraphView
    types: dict[str, int]
    ranks: dict[str, int]
    dims: dict[str, tuple] = field(default_factory=dict)
    sites: list[Site] = field(default_factory=list)
    not_covered: list[NotCovered] = field(default_factory=list)


def analyse(model: onnx.ModelProto, untaken: list[NotCovered]) -> Analysis:
    """Sites, producers and what is not covered, for this graph."""
    graph = GraphView(model)
    types, dims = _value_types(model)
    ranks = {name: len(d) for name, d in dims.items()}
    raw, not_covered = discover(graph)
    out = Analysis(graph, types, ranks, dims, not_covered=not_covered + list(untaken))
    for r in raw:
        if not is_measurable(types.get(r.input)):
            out.not_covered.append(NotCovered(r.name, r.op, "input is not a number type"))
            continue
        out.sites.append(site_of(graph, r, find_producer(graph, r.input), ranks.get(r.input)))
    return out


def site_of(graph: GraphView, r, producer, rank: Optional[int]) -> Site:
    """A discovered activation as a Site: its unit axis, or softmax's reduced axes."""
    params = dict(r.params)
    softmax_axes = None
    rows = get_kind(r.kind).metric == "rows"
    if rows and rank is not None:
        axis = params.get("axis", -1) % max(rank, 1)
        softmax_axes = (axis,) if graph.opset >= 13 else tuple(range(axis, rank))
    axis = None if rows else unit_axis(producer, rank)
    low_from, high_from, slope_from = r.dynamic
    return Site(r.name, r.input, r.op, r.kind, params, producer, axis, softmax_axes, rank,
                low_from, high_from, slope_from)


def _value_types(model: onnx.ModelProto) -> tuple[dict[str, int], dict[str, tuple]]:
    """Element type and dims (None where not known) of every tensor shape inference can
    tell."""
    try:
        inferred = onnx.shape_inference.infer_shapes(weightless(model), strict_mode=False)
    except Exception:  # noqa: BLE001 - inference is best effort
        inferred = model
    types, dims = {}, {}
    g = inferred.graph
    for vi in itertools.chain(g.input, g.value_info, g.output):
        t = vi.type.tensor_type
        if t.elem_type:
            types[vi.name] = t.elem_type
        if t.HasField("shape"):
            dims[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                  for d in t.shape.dim)
    for init in g.initializer:
        types[init.name] = init.data_type
        dims[init.name] = tuple(int(d) for d in init.dims)
    return types, dims


def input_specs(g: GraphView) -> list[InputSpec]:
    specs = []
    for vi in g.graph.input:
        if vi.name in g.initializers:
            continue
        t = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                     for d in t.shape.dim)
        try:
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)).name
        except Exception:  # noqa: BLE001
            dtype = "unknown"
        specs.append(InputSpec(vi.name, dims, dtype, _vocab(g, vi.name)))
    return specs


_SHAPE_ONLY = {*VALUE_MOVES, "Flatten", "Expand", "Slice", "Concat", "Tile", "CastLike"}


def _vocab(g: GraphView, name: str, depth: int = 8) -> Optional[int]:
    """Rows of the embedding table an integer input indexes: a Gather on a constant table,
    reached directly or through ops that only move values (GPT-2 exports reshape the ids
    first). The smallest table wins when several are indexed."""
    found, frontier, seen = [], [name], {name}
    for _ in range(depth):
        following = []
        for tensor in frontier:
            for node in g.consumers.get(tensor, []):
                if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == tensor:
                    rows = _table_rows(g, node.input[0])
                    if rows is not None:
                        found.append(rows)
                elif node.op_type in _SHAPE_ONLY and node.input and node.input[0] == tensor:
                    following.extend(o for o in node.output if o and o not in seen)
        seen.update(following)
        frontier = following
    return min(found) if found else None


def _table_rows(g: GraphView, table: str) -> Optional[int]:
    """Rows of a constant table: an initializer's declared dims (not its decoded values, which
    can be hundreds of MB), else a Constant node's value."""
    init = g.initializers.get(table)
    if init is not None:
        return int(init.dims[0]) if init.dims else None
    value = g.constant(table)
    return int(value.shape[0]) if value is not None and value.ndim else None


