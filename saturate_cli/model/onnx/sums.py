"""Sums, sums of squares and per-unit tail counts of a site's input, for about one read of it.

Exact float64 moments cast the whole tensor to float64 (writing twice its size) and reduce the
copy twice: ~3.7 ns per value on a 2-core machine, against ~0.5 ns here. The fast path takes
the values about a shift c (the mean of the histogram subsample, so |mean - c| is a small part
of the spread and the squares do not cancel), sums d = x - c and d^2 in float32 along one axis
only, in runs of at most RUN_CAP values (relative error ~1e-7), and accumulates the run sums
in float64. There is no branch in the graph: the caller checks each batch's results
(onnx/trust.py) and measures a batch exactly from the raw tensor where they cannot be trusted
(a run sum overflowed or met NaN/Inf, d is off-centre after all, a run is longer than RUN_CAP,
or the spread is too small for float32 squares). Tail counts are exact: the boolean mask, cast
to uint8, is contracted with a vector of ones by MatMulInteger (int32 per run, int64 after).
"""

from __future__ import annotations

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

    def runs(self) -> list[int]:
        """The axes float32 runs go along (their lengths must stay within RUN_CAP)."""
        return sorted({self.sum_axis, self.sq_axis})

    def others(self) -> list[int]:
        """Axes reduced away to leave one value per unit (all of them without units)."""
        return [a for a in range(self.rank) if a != self.unit]


def layout_for(site: Site, opset: int) -> Optional[Layout]:
    """The layout of the fast path, or None where the exact path is the only one."""
    rank = site.rank
    if rank is None or rank < 1 or opset < FAST_OPSET:
        return None
    unit = site.unit_axis % rank if site.unit_axis is not None else None
    sum_axis = rank - 1 if unit != rank - 1 else rank - 2
    if sum_axis < 0:
        return None
    return Layout(rank, unit, sum_axis, rank - 1)


@dataclass
class Moments:
    """Names of the float64 sum, sum of squares and (with units) per-unit sums."""

    total: str
    total_sq: str
    unit_sum: Optional[str] = None

    def names(self) -> list[str]:
        return [n for n in (self.total, self.total_sq, self.unit_sum) if n]


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
    """Float64 sums of float32 runs of d (the shifted values): total, squares and per-unit
    sums (onnx/trust.py turns them into the moments of the values before the shift)."""
    runs = b.op("Cast", [b.reduce("ReduceSum", d, [lay.sum_axis])], "f64", to=TensorProto.DOUBLE)
    unit_sum = None
    if lay.unit is not None:
        unit = lay.unit if lay.unit < lay.sum_axis else lay.unit - 1
        rest = [a for a in range(lay.rank - 1) if a != unit]
        unit_sum = b.reduce("ReduceSum", runs, rest) if rest else runs
    squares = b.op("Cast", [b.reduce("ReduceSumSquare", d, [lay.sq_axis])], "f64",
                   to=TensorProto.DOUBLE)
    return Moments(b.reduce("ReduceSum", unit_sum or runs, None),
                   b.reduce("ReduceSum", squares, None), unit_sum)


def run_ones(b: GraphBuilder, lay: Layout, shape: str, length: Optional[int]) -> str:
    """A uint8 vector of ones as long as one run, shaped to contract the run axis (a constant
    where shape inference knows the run's `length`)."""
    last = lay.sum_axis == lay.rank - 1
    if length:
        return b.const(np.ones((length, 1) if last else (1, length), np.uint8), "ones")
    a = lay.sum_axis
    run = b.op("Slice", [shape, b.const(np.array([a], np.int64)),
                         b.const(np.array([a + 1], np.int64))])
    one = b.const(np.array([1], np.int64))
    return b.op("ConstantOfShape", [b.op("Concat", [run, one] if last else [one, run], axis=0)],
                value=numpy_helper.from_array(np.array([1], np.uint8)))


def fast_count(b: GraphBuilder, mask: str, lay: Layout, ones: str) -> str:
    """Exact count of true values per unit (or in all, without units) of a boolean mask."""
    as_u8 = b.op("Cast", [mask], "u8", to=TensorProto.UINT8)
    last = lay.sum_axis == lay.rank - 1
    counts = b.op("MatMulInteger", [as_u8, ones] if last else [ones, as_u8])
    wide = b.op("Cast", [counts], "i64", to=TensorProto.INT64)
    return b.reduce("ReduceSum", wide, lay.others())
