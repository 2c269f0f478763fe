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


def cutoff_type(dtype):
    """The type the gap below the row maximum is computed in: float64 logits in float64, the
    others in float32 (as the in-graph path computes them)."""
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


def softmax_rows(x: np.ndarray, axis: int, tau: float, dtype=None) -> RowCounts:
    """Rows along `axis` of float64 logits `x` (`dtype`: the logits' own type). The gap
    applies only where it is representable (top - gap < top in the cutoff type)."""
    dtype = dtype if dtype is not None else x.dtype
    floor = mask_floor(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        top = np.max(x, axis=axis, keepdims=True)
        kind = cutoff_type(dtype) if np.issubdtype(np.dtype(dtype), np.floating) else np.float64
        top_k = top.astype(kind)
        cutoff = (top_k - kind(MASKED_GAP)).astype(np.float64)
        gap = np.isfinite(top) & (cutoff < top_k.astype(np.float64))
        masked = ((x <= cutoff) & gap) | (x <= floor)
        mass = np.exp(x - top).sum(axis=axis)
    rows = tally_rows((~masked).sum(axis=axis), mass < 1.0 / (1.0 - tau))
    return RowCounts(*rows, masked)


def tally_rows(kept: np.ndarray, peaked: np.ndarray) -> tuple[int, int, int]:
    """(rows, collapsed, masked rows) from each row's count of unmasked logits and whether
    its largest probability exceeds 1 - tau: a row with at most one unmasked logit is not
    judged."""
    lonely = np.asarray(kept) <= 1
    return int(lonely.size), int((np.asarray(peaked) & ~lonely).sum()), int(lonely.sum())
