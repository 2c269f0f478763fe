"""Sums, sums of squares and per-unit tail counts of a site's input, for about one read of it.

Exact float64 moments cast the whole tensor to float64 (writing twice its size) and reduce the
copy twice: ~3.7 ns per value on a 2-core machine, against ~0.5 ns here. Values are summed in
float32 along one axis only, in runs of at most RUN_CAP values (relative error ~1e-7), and the
run sums are accumulated in float64. An If node redoes the batch in float64 whenever the runs
cannot be trusted: a run sum overflowed or met NaN/Inf, the values sit far off-centre (|mean| > OFF_CENTRE std, where the sum of squares would cancel), or a
run is longer than RUN_CAP (and when every value is tiny enough for float32 squares to
underflow). Tail counts are exact: the boolean mask, cast to uint8, is contracted
with a vector of ones by MatMulInteger (int32 per run, int64 after).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from onnx import TensorProto, numpy_helper

from saturate_cli.model.handle import Site
from saturate_cli.model.onnx.builder import GraphBuilder
from saturate_cli.stats.reductions import OFF_CENTRE

RUN_CAP = 4096  # longest float32 run: worst-case relative error ~RUN_CAP/16 * 6e-8
HUGE = 2.0**46  # beyond this magnitude float32 squares of a run could overflow (then: redo)
TINY = 2.0**-40  # below this magnitude throughout, float32 squares lose digits to underflow
FAST_OPSET = 10  # MatMulInteger, IsNaN, ConstantOfShape


@dataclass(frozen=True)
class Layout:
    """Where the float32 runs go in one site's tensor."""

    rank: int
    unit: Optional[int]  # the unit (channel / feature) axis, non-negative
    sum_axis: int  # runs of sums and counts: the last axis, or the one before if units are last
    sq_axis: int  # runs of squares: always the last axis (the fastest reduction)

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


def fast_moments(b: GraphBuilder, x: str, lay: Layout, size: str, shape: str,
                 lo: str, hi: str) -> Moments:
    """Float32 runs, float64 accumulation, an exact redo when needed (see the module doc).
    `lo` and `hi` are the tensor's min and max; `size` the number of values summed."""
    magnitude = b.op("Max", [b.op("Abs", [lo]), b.op("Abs", [hi])])
    return _checked_runs(b, x, lay, size, shape, magnitude)


def _checked_runs(b: GraphBuilder, x: str, lay: Layout, size: str, shape: str,
                  magnitude: str) -> Moments:
    """Float64 sums from float32 runs of x, replaced by exact ones where the runs cannot be
    trusted."""
    fast = _runs(b, x, lay)
    exact_b, keep_b = b.branch(), b.branch()
    exact = exact_moments(exact_b, x, lay.others() if lay.unit is not None else None)
    kept = [keep_b.op("Identity", [n]) for n in fast.names()]
    untrusted = _untrusted(b, fast, lay, size, shape, magnitude)
    results = b.if_node(untrusted, exact_b, exact.names(),
                        keep_b, kept, TensorProto.DOUBLE)
    return Moments(*results)  # unit_sum is the third result where there are units


def _runs(b: GraphBuilder, x: str, lay: Layout) -> Moments:
    """Float32 sums along one axis, accumulated in float64: total, squares, per-unit sums."""
    runs = b.op("Cast", [b.reduce("ReduceSum", x, [lay.sum_axis])], "f64", to=TensorProto.DOUBLE)
    unit_sum = None
    if lay.unit is not None:
        unit = lay.unit if lay.unit < lay.sum_axis else lay.unit - 1
        rest = [a for a in range(lay.rank - 1) if a != unit]
        unit_sum = b.reduce("ReduceSum", runs, rest) if rest else runs
    squares = b.op("Cast", [b.reduce("ReduceSumSquare", x, [lay.sq_axis])], "f64",
                   to=TensorProto.DOUBLE)
    return Moments(b.reduce("ReduceSum", unit_sum or runs, None),
                   b.reduce("ReduceSum", squares, None), unit_sum)


def _untrusted(b: GraphBuilder, fast: Moments, lay: Layout, size: str, shape: str,
               magnitude: str) -> str:
    """True when the float32 runs cannot be trusted for this batch (see the module doc);
    also when every value is below TINY in magnitude (float32 squares would underflow)."""
    both = b.op("Add", [fast.total, fast.total_sq])
    bad = b.op("IsNaN", [b.op("Sub", [both, both])])  # inf - inf and NaN - NaN are NaN
    tiny = b.op("Less", [magnitude, b.const(np.array(TINY, np.float32))])
    bad = b.op("Or", [bad, tiny])
    n = b.op("Cast", [size], "n", to=TensorProto.DOUBLE)
    # mean^2 > c^2 var  <=>  (c^2 + 1) total^2 > c^2 n sum_sq
    c2 = OFF_CENTRE ** 2
    lhs = b.op("Mul", [b.op("Mul", [fast.total, fast.total]), b.const(np.array(c2 + 1.0))])
    rhs = b.op("Mul", [b.op("Mul", [n, fast.total_sq]), b.const(np.array(c2))])
    bad = b.op("Or", [bad, b.op("Greater", [lhs, rhs])])
    runs = b.op("Gather", [shape, b.const(np.array(sorted({lay.sum_axis, lay.sq_axis}),
                                                   np.int64), "axes")])
    longest = b.reduce("ReduceMax", runs, None)
    return b.op("Or", [bad, b.op("Greater", [longest, b.const(np.array(RUN_CAP, np.int64))])])


def run_ones(b: GraphBuilder, lay: Layout, shape: str) -> str:
    """A uint8 vector of ones as long as one run, shaped to contract the run axis."""
    a = lay.sum_axis
    run = b.op("Slice", [shape, b.const(np.array([a], np.int64)),
                         b.const(np.array([a + 1], np.int64))])
    one = b.const(np.array([1], np.int64))
    last = a == lay.rank - 1
    return b.op("ConstantOfShape", [b.op("Concat", [run, one] if last else [one, run], axis=0)],
                value=numpy_helper.from_array(np.array([1], np.uint8)))


def fast_count(b: GraphBuilder, mask: str, lay: Layout, ones: str) -> str:
    """Exact count of true values per unit (or in all, without units) of a boolean mask."""
    as_u8 = b.op("Cast", [mask], "u8", to=TensorProto.UINT8)
    last = lay.sum_axis == lay.rank - 1
    counts = b.op("MatMulInteger", [as_u8, ones] if last else [ones, as_u8])
    wide = b.op("Cast", [counts], "i64", to=TensorProto.INT64)
    return b.reduce("ReduceSum", wide, lay.others())
