"""The on-device reductions (torch_reduce) against the exact numpy float64 path.

Counts, min, max, tail and per-unit counts must be identical; mean and std within 1e-5
(relative to max(|mean|, std)); per-unit sums within float32 cascade accuracy; a batch with
NaN/Inf falls back to the numpy path; -3.4e38 (attention masks) stays on the fast path.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from saturate_cli.model.torch.reduce import Plan, batch_stats, reduce_tensor  # noqa: E402
from saturate_cli.stats.reductions import sample_step, stats_from_reductions  # noqa: E402
from saturate_cli.stats.site_stats import stats_of_array  # noqa: E402

from stats_truth import REL, assert_matches  # noqa: E402

PLANS = {
    "relu": Plan(0.0, None, 1, None),
    "tanh": Plan(-2.1782, 2.1782, -1, None),
    "gelu": Plan(-2.2785, None, None, None),
    "softmax": Plan(None, None, None, -1),
    "none": Plan(None, None, None, None),
}


def _truth(x: torch.Tensor, plan: Plan, tau: float = 0.01):
    a = x.numpy()
    unit = plan.unit_axis if a.ndim >= 1 else None
    axis = plan.softmax_axis if a.ndim >= 1 else None
    return stats_of_array(a, plan.low, plan.high, unit, axis, tau, sample_step(a.size))


def _check(x: torch.Tensor, plan: Plan) -> None:
    assert_matches(batch_stats(x, plan, 0.01), _truth(x, plan), x.numpy())


shapes = st.lists(st.integers(1, 7), min_size=1, max_size=4)


@settings(max_examples=80, deadline=None)
@given(shape=shapes, offset=st.sampled_from([0.0, 3.0, -50.0, 1e3, 1e6]),
       scale=st.sampled_from([1e-3, 1.0, 10.0]), kind=st.sampled_from(sorted(PLANS)),
       seed=st.integers(0, 2**31 - 1), zeros=st.booleans())
def test_random_tensors_match_numpy(shape, offset, scale, kind, seed, zeros):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * scale + offset
    if zeros:  # exact tail thresholds: ties must count the same way
        x.view(-1)[::3] = 0.0
    _check(x, PLANS[kind])


@settings(max_examples=40, deadline=None)
@given(shape=shapes, kind=st.sampled_from(sorted(PLANS)), seed=st.integers(0, 2**31 - 1),
       special=st.sampled_from([math.nan, math.inf, -math.inf, -3.4e38, 3.4e38,
                                -torch.finfo(torch.float32).max]))
def test_special_values_match_numpy(shape, kind, seed, special):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g)
    positions = torch.randperm(x.numel(), generator=g)[: max(1, x.numel() // 3)]
    x.view(-1)[positions] = special
    _check(x, PLANS[kind])


def test_attention_mask_stays_on_the_fast_path():
    x = torch.randn(2, 3, 8, 16)
    x[..., 10:] = torch.finfo(torch.float32).min
    r = reduce_tensor(x, PLANS["softmax"], 0.01)
    assert stats_from_reductions(r) is not None  # finite: no numpy fallback
    _check(x, PLANS["softmax"])


def test_non_finite_falls_back_to_numpy():
    x = torch.randn(4, 5)
    x[1, 2] = math.nan
    x[3, 0] = math.inf
    assert stats_from_reductions(reduce_tensor(x, PLANS["tanh"], 0.01)) is None
    stats = batch_stats(x, PLANS["tanh"], 0.01)
    assert (stats.nan, stats.inf, stats.finite) == (1, 1, 18)
    _check(x, PLANS["tanh"])


@pytest.mark.parametrize("shape", [(0,), (0, 4), (3, 0, 2)])
@pytest.mark.parametrize("kind", sorted(PLANS))
def test_empty_tensors(shape, kind):
    stats = batch_stats(torch.zeros(shape), PLANS[kind], 0.01)
    assert stats.count == 0 and stats.finite == 0


@pytest.mark.parametrize("kind", sorted(PLANS))
def test_one_dimensional_and_scalar(kind):
    _check(torch.linspace(-5, 5, 101), PLANS[kind])
    if PLANS[kind].softmax_axis is None:
        _check(torch.tensor(-3.0), PLANS[kind])


def test_float64_and_half_inputs():
    x = torch.randn(3, 4, 5, dtype=torch.float64) * 1e100
    _check(x, PLANS["tanh"])
    _check(torch.randn(3, 4, 5).half(), PLANS["relu"])


def test_25m_values_with_a_large_offset():
    """Float32 sums of squares about zero would lose std here (cancellation); shifted, not."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 64, 110, 111, generator=g).add_(1e3)
    stats = batch_stats(x, PLANS["relu"], 0.01)
    xd = x.numpy().astype(np.float64)
    mean = xd.mean()
    std = math.sqrt(((xd - mean) ** 2).mean())
    assert stats.count == xd.size
    assert abs(stats.mean - mean) <= REL * abs(mean)
    assert math.isclose(stats.std, std, rel_tol=REL)
    unit_sum = xd.sum(axis=(0, 2, 3))
    np.testing.assert_allclose(stats.unit_sum, unit_sum, rtol=1e-6)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows_read_off_the_call_output(log):
    """The capture hands over softmax's own output: same rows and collapsed rows as numpy."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 6, 9, generator=g) * torch.tensor([0.1, 1.0, 8.0, 30.0]).view(4, 1, 1)
    plan = Plan(None, None, None, -1, log)
    out = torch.log_softmax(x, -1) if log else torch.softmax(x, -1)
    got = batch_stats(x, plan, 0.01, out)
    assert_matches(got, _truth(x, plan), x.numpy())
    assert 0 < got.collapsed_rows < got.rows


def test_tiny_values_keep_their_spread():
    """±2^-80: float32 squares (2^-160) underflow to 0; scaled first, the std survives."""
    signs = torch.where(torch.arange(20) % 2 == 0, 1.0, -1.0)
    x = (signs * 2.0**-80).expand(8, 6, 20).contiguous().float()
    stats = batch_stats(x, PLANS["relu"], 0.01)
    assert stats.std == pytest.approx(2.0**-80, rel=1e-9, abs=0)
    _check(x, PLANS["relu"])
