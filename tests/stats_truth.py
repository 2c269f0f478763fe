"""Compare a SiteStats measured by a fast path with the exact numpy float64 one."""

from __future__ import annotations

import math

import numpy as np

REL = 1e-5


def assert_matches(got, want, values: np.ndarray) -> None:
    """Counts, min, max, tails and per-unit counts identical; mean and std within REL
    (relative to max(|mean|, std)); per-unit sums within float32-run accuracy."""
    assert (got.count, got.finite, got.nan, got.inf) == (want.count, want.finite, want.nan,
                                                         want.inf)
    assert (got.min, got.max) == (want.min, want.max)
    assert (got.low, got.high, got.per_unit) == (want.low, want.high, want.per_unit)
    assert (got.rows, got.collapsed_rows) == (want.rows, want.collapsed_rows)
    if want.unit_saturated is None:
        assert got.unit_saturated is None
    else:
        np.testing.assert_array_equal(got.unit_saturated, want.unit_saturated)
    if want.finite:
        scale = max(abs(want.mean), want.std, 1e-30)
        assert abs(got.mean - want.mean) <= REL * scale
        assert math.isclose(got.std, want.std, rel_tol=REL, abs_tol=REL * scale)
    if want.unit_sum is not None:
        v = values.astype(np.float64)
        spread = np.abs(v[np.isfinite(v)]).sum() / max(len(want.unit_sum), 1)
        np.testing.assert_allclose(got.unit_sum, want.unit_sum, rtol=1e-5, atol=1e-5 * spread)
    np.testing.assert_array_equal(got.histogram, want.histogram)
    if want.row_sample is not None:
        np.testing.assert_array_equal(got.row_sample, want.row_sample)
