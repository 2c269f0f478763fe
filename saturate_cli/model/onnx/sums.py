"""Sums, sums of squares and per-unit tail counts of a site's input, for about one read of it.

Exact float64 moments cast the whole tensor to float64 (writing twice its size) and reduce the
copy twice: ~3.7 ns per value on a 2-core machine, against ~0.5 ns here. The fast path takes
the values about a shift c (the mean of the histogram subsample, so |mean - c| is a small part
of the spread and the squares do not cancel) and sums d = x - c and d^2 in float32 runs of at
most RUN_CAP values (relative error ~1e-7): the squares along the last axis, the sums along
the last axis (the one before where units are last), or along every axis after the unit axis
where shape inference knows they hold at most RUN_CAP values together (one run per unit per
sample: fewer, shorter outputs). The run sums are graph outputs, accumulated in float64 on the
host (`fold_moments`: no cast or final reduction nodes). There is no branch in the graph: the
caller checks each batch's results (onnx/trust.py) and measures a batch exactly from the raw
tensor where they cannot be trusted (a run sum overflowed or met NaN/Inf, d is off-centre after
all, a run is longer than RUN_CAP, or the spread is too small for float32 squares). Tail counts
are exact: the boolean mask, cast to uint8, is contracted with a vector of ones by
MatMulInteger (int32 per run, int64 on the host: `fold_count`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from onnx import TensorProto, numpy_helper

from saturate_cli.model.handle import Site
from saturate_cli.model.onnx.builder import GraphBuilder

RUN_CAP = 4096  # longest float32 run: worst-case relative error ~RUN_CAP/16 * 6e-8
FAST_OPSET = 10  # MatMulInteger, ConstantOfShape, Slice with steps


@dataclass(frozen=True)
class Layout:
    """Where the float32 runs go in one site's tensor."""

    rank: int
    unit: Optional[int]  # the unit (channel / feature) axis, non-negative
    sum_axis: int  # runs of sums and counts: the last axis, or the one before if units are last
    sq_axis: int  # runs of squares: always the last axis (the fastest reduction)
    merged: bool = False  # sums and counts run over every axis after the unit axis at once

    def runs(self) -> list[int]:
        """The axes float32 runs go along (their lengths must stay within RUN_CAP)."""
        return sorted({self.sum_axis, self.sq_axis})

    def sum_axes(self) -> list[int]:
        """The axes one run sum covers."""
        return list(range(self.unit + 1, self.rank)) if self.merged else [self.sum_axis]

    def count_rank(self) -> int:
        """The rank of the per-run counts (a merged mask is contracted as [..., unit, run])."""
        return self.unit + 2 if self.merged else self.rank

    def others(self) -> list[int]:
        """Axes of the per-run counts summed away to leave one per unit (all without units)."""
        return [a for a in range(self.count_rank()) if a != self.unit]


def layout_for(site: Site, opset: int, dims: Optional[tuple] = None) -> Optional[Layout]:
    """The layout of the fast path, or None where the exact path is the only one. `dims`: the
    input's dims from shape inference (None where unknown): where every axis after the unit
    axis is known and they hold at most RUN_CAP values together, sums and counts run over all
    of them (one run per unit per sample: fewer, shorter outputs, and faster here)."""
    rank = site.rank
    if rank is None or rank < 1 or opset < FAST_OPSET:
        return None
    unit = site.unit_axis % rank if site.unit_axis is not None else None
    sum_axis = rank - 1 if unit != rank - 1 else rank - 2
    if sum_axis < 0:
        return None
    merged = (unit is not None and unit < rank - 2 and site.softmax_axes is None
              and _merges(dims, unit, rank))
    return Layout(rank, unit, sum_axis, rank - 1, merged)


def _merges(dims: Optional[tuple], unit: int, rank: int) -> bool:
    """Whether the axes after `unit` are known and hold at most RUN_CAP values together."""
    if not dims or len(dims) != rank:
        return False
    tail = dims[unit + 1:]
    return all(isinstance(d, int) and d > 0 for d in tail) and math.prod(tail) <= RUN_CAP


@dataclass
class Moments:
    """Names of the graph outputs that carry the moments: float64 sum, sum of squares and
    (with units) per-unit sums (the exact path), or float32 run sums of d and of d^2 that
    `fold_moments` accumulates in float64 (the fast path, `runs` True)."""

    total: str
    total_sq: str
    unit_sum: Optional[str] = None
    runs: bool = False


def exact_moments(b: GraphBuilder, x: str, unit_axes: Optional[list[int]],
                  is_double: bool = False) -> Moments:
    """Float64 sums of a float64 copy of x (per-unit sums first: the total comes from them).

    `unit_axes` are the axes reduced per unit: None without units, [] when every value is a unit.
    """
    xd = x if is_double else b.op("Cast", [x], "f64", to=TensorProto.DOUBLE)
    unit_sum = None if unit_axes is None else (
        b.reduce("ReduceSum", xd, unit_axes) if unit_axes else xd)
    return Moments(b.reduce("ReduceSum", unit_sum or xd, None),
                   b.reduce("ReduceSumSquare", xd, None), unit_sum)


def run_moments(b: GraphBuilder, d: str, lay: Layout) -> Moments:
    """Float32 run sums of d (the shifted values) and of d^2, for `fold_moments`."""
    return Moments(b.reduce("ReduceSum", d, lay.sum_axes()),
                   b.reduce("ReduceSumSquare", d, [lay.sq_axis]), runs=True)


def fold_moments(runs, runs_sq, lay: Layout) -> tuple[float, float, Optional[np.ndarray]]:
    """(sum, sum of squares, per-unit sums or None) in float64 from the float32 run sums."""
    runs = np.asarray(runs, np.float64)
    unit_sum = None
    if lay.unit is not None:
        unit = lay.unit - sum(a < lay.unit for a in lay.sum_axes())
        rest = tuple(a for a in range(runs.ndim) if a != unit)
        unit_sum = runs.sum(axis=rest) if rest else runs
    total = float(np.sum(unit_sum if unit_sum is not None else runs))
    return total, float(np.sum(np.asarray(runs_sq, np.float64))), unit_sum


def run_ones(b: GraphBuilder, lay: Layout, shape: str, length: Optional[int]) -> str:
    """A uint8 vector of ones as long as one run, shaped to contract the run axis (a constant
    where shape inference knows the run's `length`, always so for a merged layout)."""
    last = lay.merged or lay.sum_axis == lay.rank - 1
    if length:
        return b.const(np.ones((length, 1) if last else (1, length), np.uint8), "ones")
    a = lay.sum_axis
    run = b.op("Slice", [shape, b.const(np.array([a], np.int64)),
                         b.const(np.array([a + 1], np.int64))])
    one = b.const(np.array([1], np.int64))
    return b.op("ConstantOfShape", [b.op("Concat", [run, one] if last else [one, run], axis=0)],
                value=numpy_helper.from_array(np.array([1], np.uint8)))


def fast_count(b: GraphBuilder, mask: str, lay: Layout, ones: str) -> str:
    """int32 counts of true values per run of a boolean mask, for `fold_count`."""
    as_u8 = b.op("Cast", [mask], "u8", to=TensorProto.UINT8)
    if lay.merged:  # [..., unit, run]: a view, no copy
        as_u8 = b.op("Reshape", [as_u8, b.const(
            np.array([0] * (lay.unit + 1) + [-1], np.int64), "merge")], "merged")
    last = lay.merged or lay.sum_axis == lay.rank - 1
    return b.op("MatMulInteger", [as_u8, ones] if last else [ones, as_u8])


def fold_count(counts, lay: Layout) -> np.ndarray:
    """Exact count of true values per unit (or in all, without units) from the run counts."""
    return np.asarray(counts, np.int64).sum(axis=tuple(lay.others()))
