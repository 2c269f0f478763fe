"""In-graph softmax rows: masked logits, masked rows and collapsed rows, as stats/softmax_rows.py
defines them, plus the unmasked logits the site's statistics are taken over."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from onnx import TensorProto

from saturate_cli.model.onnx_builder import GraphBuilder
from saturate_cli.settings import MASKED_GAP


@dataclass(frozen=True)
class SoftmaxNodes:
    """Names of one softmax site's row counts and of its unmasked logits."""

    values: str  # x with masked logits set to 0 (for the sums)
    shown: str  # x with masked logits set to NaN (for the histogram sample)
    count: str  # unmasked logits
    masked: str
    low: str  # min and max of the unmasked logits
    high: str
    rows: str
    collapsed: str
    masked_rows: str


def softmax_nodes(b: GraphBuilder, x: str, size: str, axes: list[int], dtype, floor: float,
                  tau: float, probs: Optional[tuple[str, str]]) -> SoftmaxNodes:
    """The nodes; `floor` is the mask floor of the logits' own dtype, `probs` (op, output) the
    node's own output when it can be read instead of recomputing the softmax."""
    top = b.reduce("ReduceMax", x, axes, keepdims=1)
    cutoff = b.op("Sub", [top, b.const(np.array(MASKED_GAP, dtype=dtype))])
    gap = b.op("Less", [cutoff, top])  # false where the gap is lost to rounding, inf and NaN
    below = b.op("And", [b.compare(x, cutoff, "low"), gap])
    masked = b.op("Or", [below, b.compare(x, np.array(floor, dtype=dtype), "low")])
    valid = b.op("Not", [masked])
    as_int = b.op("Cast", [valid], "valid", to=TensorProto.INT64)
    count = b.reduce("ReduceSum", as_int, None)
    lonely = b.op("Less", [b.reduce("ReduceSum", as_int, axes), b.const(np.array(2, np.int64))])
    if probs is not None:
        collapsed_row = _collapsed_from_probs(b, *probs, axes, dtype, tau)
    else:
        mass = b.reduce("ReduceSum", b.op("Exp", [b.op("Sub", [x, top])]), axes)
        collapsed_row = b.op("Less", [mass, b.const(np.array(1.0 / (1.0 - tau), dtype=dtype))])
    judged = b.op("And", [collapsed_row, b.op("Not", [lonely])])

    def where(fill: float, hint: str) -> str:
        return b.op("Where", [valid, x, b.const(np.array(fill, dtype=dtype))], hint)

    return SoftmaxNodes(
        values=where(0.0, "unmasked"), shown=where(np.nan, "shown"), count=count,
        masked=b.op("Sub", [size, count]),
        low=b.reduce("ReduceMin", where(np.inf, "for_min"), None),
        high=b.reduce("ReduceMax", where(-np.inf, "for_max"), None),
        rows=b.op("Size", [lonely], "rows"), collapsed=_total(b, judged),
        masked_rows=_total(b, lonely))


def _total(b: GraphBuilder, mask: str) -> str:
    return b.reduce("ReduceSum", b.op("Cast", [mask], "i64", to=TensorProto.INT64), None)


def _collapsed_from_probs(b: GraphBuilder, op: str, probs: str, axes: list[int], dtype,
                          tau: float) -> str:
    """Rows whose max probability exceeds 1 - tau, read off the node's own output."""
    top = b.reduce("ReduceMax", probs, axes)
    limit = 1.0 - tau if op == "Softmax" else math.log1p(-tau)
    return b.op("Greater", [top, b.const(np.array(limit, dtype=dtype))])
