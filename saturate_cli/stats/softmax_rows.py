"""Softmax rows in numpy: masked logits, masked rows and collapsed rows (the reference every
fast path is tested against).

A logit is masked (an attention mask put it there) when it lies MASKED_GAP or more below its
row's finite maximum, or at or below half the dtype's most negative value (-inf included).
Masked logits are left out of the site's input statistics. A row with at most one unmasked
logit is one-hot by construction (the first row of causal attention) and is not judged; a
judged row is collapsed when its largest probability exceeds 1 - tau'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saturate_cli.settings import MASKED_GAP


@dataclass(frozen=True)
class RowCounts:
    """One batch's softmax rows along an axis."""

    rows: int
    collapsed: int  # among the judged rows
    masked_rows: int
    masked: np.ndarray  # boolean, x's shape: masked logits


def mask_floor(dtype) -> float:
    """Half the most negative value of the logits' own dtype (float32 when it has none)."""
    try:
        return 0.5 * float(np.finfo(dtype).min)
    except (TypeError, ValueError):
        try:
            import ml_dtypes

            return 0.5 * float(ml_dtypes.finfo(dtype).min)
        except (ImportError, TypeError, ValueError):
            return 0.5 * float(np.finfo(np.float32).min)


def softmax_rows(x: np.ndarray, axis: int, tau: float, dtype=None) -> RowCounts:
    """Rows along `axis` of float64 logits `x` (`dtype`: the logits' own type)."""
    floor = mask_floor(dtype if dtype is not None else x.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        top = np.max(x, axis=axis, keepdims=True)
        cutoff = np.where(np.isfinite(top), top - MASKED_GAP, -np.inf)
        masked = (x <= cutoff) | (x <= floor)
        mass = np.exp(x - top).sum(axis=axis)
    lonely = (~masked).sum(axis=axis) <= 1
    collapsed = (mass < 1.0 / (1.0 - tau)) & ~lonely
    return RowCounts(int(mass.size), int(collapsed.sum()), int(lonely.sum()), masked)
