"""In-graph softmax rows: masked logits, masked rows and collapsed rows, as stats/softmax_rows.py
defines them, plus the unmasked logits the site's statistics are taken over."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from onnx import TensorProto

from saturate_cli.model.onnx.builder import GraphBuilder
from saturate_cli.settings import MASKED_GAP


@dataclass(frozen=True)
class SoftmaxNodes:
    """Names of one softmax site's unmasked logits and of its per-row vectors (the rows are
    tallied in Python: stats/softmax_rows.tally_rows, onnx/measure.py)."""

    values: str  # x (less the shift, where shifted) with masked logits set to 0, for the sums
    sample: str  # the histogram subsample, masked logits as NaN (not binned)
    low: str  # min of the unmasked logits
    kept: str  # per row: unmasked logits (int64)
    top: str  # per row: the largest logit (its max over the unmasked ones)
    peaked: str  # per row: the largest probability exceeds 1 - tau (bool)
    shift: Optional[str] = None  # the mean of the unmasked logits of the histogram subsample


def softmax_nodes(b: GraphBuilder, x: str, axes: list[int], dtype, floor: float,
                  tau: float, probs: Optional[tuple[str, str]],
                  sample: Callable[[str], str], shifted: bool = False,
                  rank: Optional[int] = None) -> SoftmaxNodes:
    """The nodes; `floor` is the mask floor of the logits' own dtype, `probs` (op, output) the
    node's own output when it can be read instead of recomputing the softmax, `sample` takes
    the histogram subsample of a tensor.

    Passes over the full tensor are what cost (BERT's attention scores), and onnxruntime's
    Where is ~30x slower than arithmetic on them (35 ms against ~0.5 ms for 786k values), so
    the big tensors are masked by arithmetic on exact 0/1 factors: the row maximum, one
    comparison with a per-row threshold (the gap below the maximum, or the floor), its cast
    and one minus it, x raised to that threshold (masked logits, -inf among them, become
    finite; NaN stays NaN), the zeroed copy for the sums and the copy whose masked logits are
    the row maximum (+inf in rows without any) for the minimum. The maximum, the sample and
    the per-row vectors (counted in Python) work on small tensors. `shifted`: the values for
    the sums are taken less a shift (onnx/sums.py); `rank`: x's, where known (the minimum then
    keeps the first axis: GraphBuilder.extreme)."""
    top = b.reduce("ReduceMax", x, axes, keepdims=1)
    cutoff = b.op("Sub", [top, b.const(np.array(MASKED_GAP, dtype=dtype))])
    gap = b.op("Less", [cutoff, top])  # false where the gap is lost to rounding, inf and NaN
    floor_c = b.const(np.array(floor, dtype=dtype))
    limit = b.op("Where", [gap, b.op("Max", [cutoff, floor_c]), floor_c])  # per row, finite
    masked = b.compare(x, limit, "low")
    wide = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    gone = b.op("Cast", [masked], "gone", to=wide)  # 1 for masked logits
    keep = b.op("Sub", [b.const(np.array(1, dtype=dtype)), gone], "keep")  # 1 for the others
    kept = b.op("Cast", [b.reduce("ReduceSum", keep, axes)], "n", to=TensorProto.INT64)
    if probs is not None:
        peaked = _collapsed_from_probs(b, *probs, axes, dtype, tau)
    else:
        mass = b.reduce("ReduceSum", b.op("Exp", [b.op("Sub", [x, top])]), axes)
        peaked = b.op("Less", [mass, b.const(np.array(1.0 / (1.0 - tau), dtype=dtype))])
    raised = b.op("Max", [x, limit], "raised")  # masked logits at the (finite) threshold

    in_sample, sampled = sample(masked), sample(raised)  # raised: x where not masked
    shift = _kept_mean(b, sampled, sample(keep)) if shifted else None
    # masked logits count as their row's maximum in the minimum (+inf in rows without any)
    stand_in = b.op("Where", [b.op("Greater", [top, limit]), top,
                              b.const(np.array(np.inf, dtype=dtype))])  # per row
    for_min = b.op("Add", [b.op("Mul", [raised, keep]), b.op("Mul", [stand_in, gone])],
                   "for_min")
    return SoftmaxNodes(
        values=b.op("Mul", [b.op("Sub", [raised, shift], "shifted") if shift else raised, keep],
                    "unmasked"),
        sample=b.op("Where", [in_sample, b.const(np.array(np.nan, dtype=dtype)), sampled],
                    "shown"),
        low=b.extreme("ReduceMin", for_min, rank), kept=kept, top=top, peaked=peaked,
        shift=shift)


def _kept_mean(b: GraphBuilder, raised: str, keep: str) -> str:
    """The mean of the unmasked logits of the subsample (0 where all are masked)."""
    total = b.reduce("ReduceSum", b.op("Mul", [raised, keep]), None)
    n = b.op("Max", [b.reduce("ReduceSum", keep, None), b.const(np.array(1.0, np.float32))])
    return b.op("Div", [total, n], "shift")


def _collapsed_from_probs(b: GraphBuilder, op: str, probs: str, axes: list[int], dtype,
                          tau: float) -> str:
    """Rows whose max probability exceeds 1 - tau, read off the node's own output."""
    top = b.reduce("ReduceMax", probs, axes)
    limit = 1.0 - tau if op == "Softmax" else math.log1p(-tau)
    return b.op("Greater", [top, b.const(np.array(limit, dtype=dtype))])
