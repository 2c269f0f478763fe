"""Mergeable statistics against plain numpy, and merge == concatenation (hypothesis)."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from saturate_cli.stats import histogram as hist
from saturate_cli.stats.site_stats import SiteStats, stats_of_array

finite = st.floats(-1e6, 1e6, allow_nan=False, width=32)
batch = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 5)), elements=finite)


def test_values_match_numpy():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((64, 10)) * 3 + 0.5).astype(np.float32)
    s = stats_of_array(x, low=-2.0, high=2.0, unit_axis=1)
    xd = x.astype(np.float64)
    assert s.count == x.size and s.finite == x.size
    assert s.mean == pytest.approx(xd.mean(), rel=1e-12)
    assert s.std == pytest.approx(xd.std(), rel=1e-12)
    assert (s.min, s.max) == (xd.min(), xd.max())
    assert s.low == int((xd <= -2).sum()) and s.high == int((xd >= 2).sum())
    np.testing.assert_array_equal(s.unit_saturated, ((xd <= -2) | (xd >= 2)).sum(axis=0))
    assert s.per_unit == 64


def test_non_finite_values_are_counted_not_averaged():
    x = np.array([1.0, np.nan, np.inf, -np.inf, 3.0], np.float32)
    s = stats_of_array(x, low=0.0, high=None, unit_axis=None)
    assert (s.count, s.finite, s.nan, s.inf) == (5, 2, 1, 2)
    assert s.mean == 2.0 and (s.min, s.max) == (1.0, 3.0)
    assert s.low == 1  # -inf is in the low tail, NaN in none


def test_mask_values_stay_out_of_the_statistics():
    """finfo.min is a mask: the moments are those of the unmasked logits, masked beside them."""
    x = np.array([[np.finfo(np.float32).min, 0.0, 1.0]] * 4, np.float32)
    s = stats_of_array(x, None, None, None, softmax_axis=-1)
    assert (s.count, s.masked, s.inf) == (8, 4, 0)
    assert s.mean == 0.5 and s.std == 0.5 and (s.min, s.max) == (0.0, 1.0)
    assert s.rows == 4 and s.collapsed_rows == 0 and s.masked_rows == 0  # p = 0.73 per row


@pytest.mark.parametrize("mask", [np.finfo(np.float32).min, -np.inf, -1e4, -1e9])
def test_causal_rows_are_masked_rows_not_collapse(mask):
    """Row i of a causal mask allows i + 1 positions: the first row is one-hot by construction."""
    seq = 6
    logits = np.random.default_rng(0).normal(0, 1, (3, seq, seq))
    causal = np.triu(np.ones((seq, seq), bool), k=1)
    x = np.where(causal, mask if np.isinf(mask) or mask < -1e30 else logits + mask, logits)
    s = stats_of_array(x.astype(np.float32), None, None, None, softmax_axis=-1)
    assert s.rows == 3 * seq and s.masked_rows == 3 and s.judged_rows == 3 * (seq - 1)
    assert s.masked == 3 * causal.sum() and s.count == 3 * (~causal).sum() and s.inf == 0
    kept = logits[:, ~causal].astype(np.float32).astype(np.float64)
    assert s.mean == pytest.approx(kept.mean()) and s.max == kept.max()


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(batch.filter(lambda a: True), min_size=1, max_size=4),
       low=st.floats(-10, 0), high=st.floats(0, 10))
def test_merge_equals_stats_of_concatenation(parts, low, high):
    cols = parts[0].shape[1]
    parts = [p[:, :cols] if p.shape[1] >= cols else np.resize(p, (p.shape[0], cols))
             for p in parts]
    merged = SiteStats()
    for p in parts:
        merged = merged.merge(stats_of_array(p, low, high, unit_axis=1))
    whole = stats_of_array(np.concatenate(parts), low, high, unit_axis=1)
    assert merged.count == whole.count and merged.finite == whole.finite
    assert (merged.min, merged.max, merged.low, merged.high) == (whole.min, whole.max,
                                                                 whole.low, whole.high)
    np.testing.assert_array_equal(merged.unit_saturated, whole.unit_saturated)
    np.testing.assert_array_equal(merged.histogram, whole.histogram)
    scale = max(1.0, float(np.abs(np.concatenate(parts)).max()))
    assert merged.mean == pytest.approx(whole.mean, rel=1e-9, abs=1e-9 * scale)
    assert merged.m2 == pytest.approx(whole.m2, rel=1e-7, abs=1e-9 * scale**2)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(200, 2000), elements=st.floats(-1e4, 1e4)),
       st.sampled_from([0.01, 0.5, 0.99]))
def test_histogram_quantile_is_within_one_bin(x, q):
    counts = hist.histogram(x)
    got = hist.quantile(counts, q)
    truth = np.quantile(x, q, method="inverted_cdf")
    # one bin is 0.04 wide in asinh(x / 0.05): relative 4% for large |x|, 0.002 near zero
    tol = 0.05 * abs(truth) + 0.003
    lo, hi = np.quantile(x, max(q - 1e-9, 0), method="lower"), np.quantile(x, q, method="higher")
    assert min(lo, truth) - tol <= got <= max(hi, truth) + tol


def test_histogram_bins_cover_float32_range():
    x = np.array([np.finfo(np.float32).min, -1.0, 0.0, 1.0, np.finfo(np.float32).max])
    idx = hist.bin_index(x)
    assert idx[0] == 0 or idx[0] > 0 and idx.min() >= 0
    assert idx.max() < hist.BINS and len(set(idx.tolist())) == 5
    edges = hist.bin_edges()
    assert edges[0] < np.finfo(np.float32).min and edges[-1] > np.finfo(np.float32).max


def test_coarsen_keeps_every_count():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5000) * 10
    counts = hist.histogram(x)
    edges, coarse = hist.coarsen(counts, x.min(), x.max(), groups=16)
    assert sum(coarse) == 5000 and len(edges) == len(coarse) + 1 and len(coarse) <= 17
    assert edges[0] <= x.min() and edges[-1] >= x.max()


def test_softmax_row_sample_is_bounded_for_large_vocabularies():
    from saturate_cli.stats.site_stats import ROW_ELEMENTS

    rng = np.random.default_rng(0)
    merged = SiteStats()
    for _ in range(6):
        logits = rng.standard_normal((64, 50_000)).astype(np.float32)
        merged = merged.merge(stats_of_array(logits, None, None, None, softmax_axis=-1))
    assert merged.row_sample.size <= ROW_ELEMENTS and merged.rows == 6 * 64
    assert merged.row_sample.shape[1] == 50_000
