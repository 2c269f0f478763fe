"""Append reduction nodes to an ONNX model (for as long as its session is being built), so the
runtime hands back kilobytes of statistics per batch instead of every activation tensor.

Per site and batch the instrumented graph returns: the element count, float64 sum and sum of
squares (onnx/sums.py: float32 runs about a shift, float64 accumulation; onnx/trust.py checks
them), min, max, per-unit counts of values in each saturated tail, a strided subsample for the
histogram, and for softmax sites per-row vectors (unmasked logits, the maximum, whether the top
probability passes 1 - tau) that Python tallies (each node costs session creation ~0.1 ms and
a run a few µs). No site has a branch: every node runs on every batch, and onnxruntime builds
the session from a flat graph.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper

from saturate_cli.model.handle import Site
from saturate_cli.model.onnx.builder import GraphBuilder
from saturate_cli.model.onnx.sites import is_integer
from saturate_cli.model.onnx.softmax import softmax_nodes
from saturate_cli.model.onnx.sums import (RUN_CAP, Layout, exact_moments, fast_count, layout_for,
                                          run_moments, run_ones)
from saturate_cli.stats.reductions import SAMPLE_TARGET
from saturate_cli.stats.site_stats import ROWS_PER_BATCH
from saturate_cli.stats.softmax_rows import mask_floor

_INT64_MAX = np.iinfo(np.int64).max


@dataclass
class SiteOutputs:
    """Names of the graph outputs that carry one site's per-batch statistics."""

    size: str
    total: str
    total_sq: str
    min: str
    max: Optional[str]  # softmax: from the rows' maxima (onnx/measure.py)
    sample: str
    unit_low: Optional[str] = None
    unit_high: Optional[str] = None
    row_sample: Optional[str] = None
    unit_sum: Optional[str] = None
    # softmax, per row: unmasked logits, the largest logit, whether the largest probability
    # exceeds 1 - tau (onnx/measure.py tallies them; `size` counts every logit)
    row_kept: Optional[str] = None
    row_top: Optional[str] = None
    row_peaked: Optional[str] = None
    # run-time thresholds as seen in this batch: Clip min, Clip max, PRelu's smallest |slope|
    low_value: Optional[str] = None
    high_value: Optional[str] = None
    slope_min: Optional[str] = None
    # the fast path's sums are of x - shift, float32 sums along the runs of `layout` (the
    # tensor's `shape` checks their lengths), its counts per run: folded on the host
    shift: Optional[str] = None
    shape: Optional[str] = None
    layout: Optional[Layout] = None

    def names(self) -> list[str]:
        return [n for n in (self.size, self.total, self.total_sq, self.min, self.max, self.sample,
                            self.unit_low, self.unit_high, self.row_sample, self.unit_sum,
                            self.low_value, self.high_value, self.slope_min, self.row_kept,
                            self.row_top, self.row_peaked, self.shift, self.shape) if n]


def threshold_for(value: float, dtype: np.dtype, side: str) -> np.ndarray:
    """A threshold in the tensor's dtype that compares exactly like `value` in float64.

    For `x <= value` use the largest representable number <= value; for `x >= value` the
    smallest >= value.
    """
    t = np.array(value, dtype=dtype)
    if side == "low" and float(t) > value:
        t = np.nextafter(t, np.array(-np.inf, dtype=dtype))
    if side == "high" and float(t) < value:
        t = np.nextafter(t, np.array(np.inf, dtype=dtype))
    return np.array(t, dtype=dtype).reshape(())


_NP_OF = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64}
_OWN_TYPES = {TensorProto.FLOAT16: np.float16}  # mask floors of types measured in float32


@contextmanager
def instrumented(
    model: onnx.ModelProto, sites: list[tuple[Site, Optional[float], Optional[float]]],
    elem_types: dict[str, int], opset: int, softmax_tau: float, tau: float = 0.05,
    dims: Optional[dict[str, tuple]] = None,
) -> Iterator[tuple[onnx.ModelProto, dict[str, SiteOutputs]]]:
    """`model` itself, whose outputs are for a while the statistics of each (site, low, high).

    `dims`: tensor -> dims shape inference told (None where unknown); a known run length
    makes the counting vector a constant. The nodes are appended in place and removed on exit:
    no copy of the weights is made (build the runtime session inside the `with`).
    """
    dims = dims or {}
    graph = model.graph
    n_inits = len(graph.initializer)
    saved = [_copy(vi) for vi in graph.output]
    b = GraphBuilder(model, opset, "__saturate_")
    probs = _prob_outputs(model)
    outputs: dict[str, SiteOutputs] = {}
    groups = []
    for site, low, high in sites:
        start = len(b.nodes)
        outputs[site.name] = _site_nodes(b, site, low, high, elem_types.get(site.input),
                                         softmax_tau, probs.get(site.input), tau,
                                         dims.get(site.input))
        groups.append(b.nodes[start:])
    placed = _placements(graph, groups)
    inserted = 0  # groups in the graph, from the end of `placed`
    try:
        for index, group in reversed(placed):
            for offset, node in enumerate(group):
                graph.node.insert(index + offset, node)
            inserted += 1
        graph.initializer.extend(b.inits)
        del graph.output[:]
        graph.output.extend(helper.make_empty_tensor_value_info(name)
                            for so in outputs.values() for name in so.names())
        yield model, outputs
    finally:
        for index, group in placed[len(placed) - inserted:]:
            del graph.node[index:index + len(group)]  # earlier groups are gone: index holds
        del graph.initializer[n_inits:]
        del graph.output[:]
        graph.output.extend(saved)


def _placements(graph: onnx.GraphProto, groups: list[list[onnx.NodeProto]]
                ) -> list[tuple[int, list[onnx.NodeProto]]]:
    """(index, nodes) for each site's group, sorted by index: right after the last node that
    produces one of its inputs. Onnxruntime then reduces each activation input as soon as it
    exists instead of keeping every one alive to the end of the graph (peak memory)."""
    made = {out: i for i, n in enumerate(graph.node) for out in n.output}
    placed = []
    for group in groups:
        own = {out for n in group for out in n.output}
        needed = {i for n in group for i in n.input if i and i not in own}
        placed.append((max((made[i] + 1 for i in needed if i in made), default=0), group))
    placed.sort(key=lambda p: p[0])
    return placed


def _copy(vi: onnx.ValueInfoProto) -> onnx.ValueInfoProto:
    out = onnx.ValueInfoProto()
    out.CopyFrom(vi)
    return out


def _prob_outputs(model: onnx.ModelProto) -> dict[str, tuple[str, str]]:
    """input -> (op, output) of the Softmax/LogSoftmax node reading it, where exactly one
    does (its output is read instead of recomputing the softmax)."""
    found: dict[str, list] = {}
    for n in model.graph.node:
        if n.op_type in ("Softmax", "LogSoftmax") and n.input and n.output:
            found.setdefault(n.input[0], []).append((n.op_type, n.output[0]))
    return {x: nodes[0] for x, nodes in found.items() if len(nodes) == 1}


def _site_nodes(b: GraphBuilder, site: Site, low, high, elem_type, softmax_tau,
                probs: Optional[tuple[str, str]] = None, tau: float = 0.05,
                dims: Optional[tuple] = None) -> SiteOutputs:
    x = site.input
    floor = mask_floor(_NP_OF.get(elem_type, _OWN_TYPES.get(elem_type, np.float32)))
    as_x = None  # casts a run-time threshold tensor like x
    if elem_type not in _NP_OF:  # fp16 / bf16 / unknown in float32, integers in float64
        wide = TensorProto.DOUBLE if is_integer(elem_type) else TensorProto.FLOAT
        x = b.op("Cast", [x], "wide", to=wide)
        elem_type = as_x = wide
        probs = None
    dtype = _NP_OF[elem_type]
    size = b.op("Size", [x], "size")
    rank = site.rank
    axes = None
    if site.unit_axis is not None and rank:
        axes = [a for a in range(rank) if a != site.unit_axis % rank]
    lay = layout_for(site, b.opset, dims) if elem_type == TensorProto.FLOAT else None
    runs = _run_lengths(lay, dims) if lay else []
    if any(n and n > RUN_CAP for n in runs):  # float32 runs would lose digits: exact instead
        lay = None
    # the shape goes out only where onnx/trust.py must check the run lengths at run time
    shape = b.op("Shape", [x], "shape") if lay and None in runs else None
    shift = None
    if site.softmax_axes is not None:  # the statistics are those of the unmasked logits
        rows = softmax_nodes(b, x, list(site.softmax_axes), dtype, floor, softmax_tau, probs,
                             _sampler(b, size, rank), shifted=lay is not None, rank=rank)
        values, sample, lo, hi, shift = rows.values, rows.sample, rows.low, None, rows.shift
    else:
        rows = None
        values, sample = x, _sampler(b, size, rank)(x)
        lo, hi = b.extreme("ReduceMin", x, rank), b.extreme("ReduceMax", x, rank)
        if lay:
            shift = b.reduce("ReduceMean", sample, None)
    if lay:  # softmax's values come shifted, the masked logits at zero
        sums = run_moments(b, values if rows else b.op("Sub", [x, shift], "shifted"), lay)
    else:
        sums = exact_moments(b, values, axes, elem_type == TensorProto.DOUBLE)
    so = SiteOutputs(size=size, total=sums.total, total_sq=sums.total_sq, min=lo, max=hi,
                     sample=sample, unit_sum=sums.unit_sum, shift=shift, shape=shape,
                     layout=lay)
    dyn = {"low": _runtime(b, site.low_from, as_x), "high": _runtime(b, site.high_from, as_x)}
    so.low_value, so.high_value = dyn["low"], dyn["high"]
    flat = None
    if site.slope_from:  # PRelu: the negative side is flat only where |slope| < tau
        slope = b.op("Abs", [_runtime(b, site.slope_from, as_x)])
        so.slope_min = b.reduce("ReduceMin", slope, None)
        flat = b.op("Less", [slope, b.const(np.array(tau, dtype=dtype))])
    bounded = {"low": low is not None or dyn["low"], "high": high is not None or dyn["high"]}
    ones = run_ones(b, lay, shape, runs[0]) if lay and any(bounded.values()) else None
    for limit, side in ((low, "low"), (high, "high")):
        if not bounded[side]:
            continue
        mask = b.compare(x, dyn[side] or threshold_for(limit, dtype, side), side)
        if side == "low" and flat is not None:
            mask = b.op("And", [mask, flat])
        count = fast_count(b, mask, lay, ones) if lay else _count(b, mask, axes)
        setattr(so, "unit_low" if side == "low" else "unit_high", count)
    if rows is not None:
        so.row_kept, so.row_top, so.row_peaked = rows.kept, rows.top, rows.peaked
        so.row_sample = _row_sample(b, x, list(site.softmax_axes), rank)
    return so


def _run_lengths(lay: Layout, dims: Optional[tuple]) -> list[Optional[int]]:
    """The lengths of the run axes (sum axis first) where shape inference knows them."""
    if lay.merged:  # known, or the layout would not merge
        return [math.prod(dims[lay.unit + 1:])]
    if not dims or len(dims) != lay.rank:
        return [None] * len(lay.runs())
    axes = [lay.sum_axis] + [a for a in lay.runs() if a != lay.sum_axis]
    return [dims[a] if isinstance(dims[a], int) and dims[a] > 0 else None for a in axes]


def _runtime(b: GraphBuilder, tensor: Optional[str], cast_to: Optional[int]) -> Optional[str]:
    """A run-time threshold tensor, in x's measuring type (an Identity: a graph output of its
    own)."""
    if not tensor:
        return None
    return b.op("Cast", [tensor], "thr", to=cast_to) if cast_to else b.op("Identity", [tensor])


def _count(b: GraphBuilder, mask: str, axes: Optional[list[int]]) -> str:
    """Count of true values over `axes` (all of them for None; [] keeps every value a unit)."""
    as_int = b.op("Cast", [mask], "i32", to=TensorProto.INT32)
    return as_int if axes == [] else b.reduce("ReduceSum", as_int, axes)


def _sampler(b: GraphBuilder, size: str, rank: Optional[int]) -> Callable[[str], str]:
    """t -> every k-th value of t flattened, k odd, about SAMPLE_TARGET values in all, for
    tensors of `size` values (the stride is built once per site).

    Flattened to [1, n] by Flatten where the rank is known (one node fewer than Reshape with
    a reshaped step, and nothing for onnxruntime's ReshapeFusion pass to examine).
    """
    step: list[str] = []

    def sample(t: str) -> str:
        if rank:
            flat, axis = b.op("Flatten", [t], axis=0), 1
        else:
            flat, axis = b.op("Reshape", [t, b.const(np.array([-1], np.int64), "flat")]), 0
        if b.opset < 10:
            return flat
        if not step:
            half = b.op("Div", [size, b.const(np.array([2 * SAMPLE_TARGET], np.int64))])
            step.append(b.op("Add", [b.op("Mul", [half, b.const(np.array([2], np.int64))]),
                                     b.const(np.array([1], np.int64))]))
        return b.op("Slice", [flat, b.const(np.array([0], np.int64)),
                              b.const(np.array([_INT64_MAX], np.int64)),
                              b.const(np.array([axis], np.int64)), step[0]])
    return sample


def _row_sample(b: GraphBuilder, x: str, axes: list[int], rank: Optional[int]) -> Optional[str]:
    """The first ROWS_PER_BATCH rows of logits as a [rows, classes] matrix."""
    if rank is None or b.opset < 10:
        return None
    if len(axes) == 1 and axes[0] != rank - 1:
        perm = [a for a in range(rank) if a != axes[0]] + [axes[0]]
        x = b.op("Transpose", [x], perm=perm)
        axes = [rank - 1]
    flat = b.op("Flatten", [x], axis=axes[0])
    return b.op("Slice", [flat, b.const(np.array([0], np.int64)),
                          b.const(np.array([ROWS_PER_BATCH], np.int64)),
                          b.const(np.array([0], np.int64))])
