"""The activation registry against independent references: the design table, finite
differences of f itself, and torch's calculate_gain."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saturate_cli.activations import KINDS, derive_tails, get_kind

# DESIGN.md §2, computed there with autograd in float64 for tau = 0.05
TABLE = {
    "sigmoid": (-4.3565, 4.3565),
    "tanh": (-2.1782, 2.1782),
    "relu": (0.0, None),
    "relu6": (0.0, 6.0),
    "hardtanh": (-1.0, 1.0),
    "leaky_relu": (0.0, None),
    "elu": (-2.9957, None),
    "celu": (-2.9957, None),
    "selu": (-2.9957, None),
    "gelu": (-2.2785, None),
    "gelu_tanh": (-2.2857, None),
    "silu": (-3.9298, None),
    "mish": (-3.9812, None),
    "softplus": (-2.9444, None),
    "softsign": (-3.4721, 3.4721),
    "hardswish": (-3.0, None),
}
SMOOTH = [k for k in KINDS.values() if k.f is not None]


def fd_derivative(kind, x, params, h=1e-6):
    """Central difference of f: independent of the registry's analytic f'."""
    p = kind.params(params)
    return (kind.f(x + h, **p) - kind.f(x - h, **p)) / (2 * h)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_tails_match_design_table(name):
    t = get_kind(name).tails(tau=0.05)
    low, high = TABLE[name]
    for got, want in ((t.low, low), (t.high, high)):
        if want is None:
            assert got is None
        else:
            assert got == pytest.approx(want, abs=1.5e-4)


def test_hardsigmoid_onnx_and_torch_parameters():
    k = get_kind("hardsigmoid")
    onnx_default = k.tails(tau=0.05)
    torch_like = k.tails({"alpha": 1 / 6, "beta": 0.5}, tau=0.05)
    assert (onnx_default.low, onnx_default.high) == pytest.approx((-2.5, 2.5))
    assert (torch_like.low, torch_like.high) == pytest.approx((-3.0, 3.0))


def test_leaky_relu_tail_depends_on_alpha():
    k = get_kind("leaky_relu")
    assert k.tails({"alpha": 0.01}, 0.05).low == 0.0
    assert k.tails({"alpha": 0.2}, 0.05).low is None


def test_clip_bounds_are_the_tails():
    t = get_kind("clip").tails({"min": -0.5, "max": 2.0}, 0.05)
    assert (t.low, t.high) == (-0.5, 2.0)


@pytest.mark.parametrize("kind", SMOOTH, ids=lambda k: k.name)
def test_analytic_derivative_matches_finite_differences(kind):
    # avoid the kinks of piecewise-linear kinds
    x = np.linspace(-7.3, 7.1, 397)
    x = x[np.min(np.abs(x[:, None] - np.array([0.0, 6.0, -1.0, 1.0, -3.0, 3.0, -2.5, 2.5])),
                 axis=1) > 1e-3]
    p = kind.params()
    np.testing.assert_allclose(kind.fprime(x, **p), fd_derivative(kind, x, {}), atol=2e-6)


@settings(max_examples=25, deadline=None)
@given(tau=st.floats(0.005, 0.3), name=st.sampled_from(sorted(TABLE)))
def test_tails_are_flat_beyond_and_not_before(tau, name):
    """Beyond the threshold |f'| < tau max|f'| everywhere; just inside, it is not."""
    kind = get_kind(name)
    t = kind.tails(tau=tau)
    grid = np.linspace(-40, 40, 160001)
    g = np.abs(fd_derivative(kind, grid, {}))
    peak = g.max()
    for edge, beyond in ((t.low, grid < (t.low or 0) - 1e-3), (t.high, grid > (t.high or 0) + 1e-3)):
        if edge is None:
            continue
        assert np.all(g[beyond] < tau * peak * (1 + 1e-3))
        inside = np.abs(grid - edge) < 0.02
        assert g[inside].max() >= tau * peak * (1 - 1e-3)


@pytest.mark.parametrize("name", [k.name for k in SMOOTH if k.closed_form is not None])
@pytest.mark.parametrize("tau", [0.01, 0.05, 0.2])
def test_closed_forms_agree_with_numeric_derivation(name, tau):
    kind = get_kind(name)
    closed = kind.tails(tau=tau)
    numeric = derive_tails(kind.fprime, kind.params(), tau)
    for a, b in ((closed.low, numeric.low), (closed.high, numeric.high)):
        assert (a is None) == (b is None)
        if a is not None:
            assert a == pytest.approx(b, abs=1e-6)


def test_gains_match_torch_calculate_gain():
    torch = pytest.importorskip("torch")
    gain = torch.nn.init.calculate_gain
    assert get_kind("sigmoid").gain({}) == pytest.approx(gain("sigmoid"))
    assert get_kind("tanh").gain({}) == pytest.approx(gain("tanh"))
    assert get_kind("relu").gain({}) == pytest.approx(gain("relu"))
    assert get_kind("selu").gain({}) == pytest.approx(gain("selu"))
    lk = get_kind("leaky_relu")
    assert lk.gain(lk.params({"alpha": 0.2})) == pytest.approx(gain("leaky_relu", 0.2))


def test_mean_gain_is_one_in_the_linear_part_and_zero_in_tails():
    k = get_kind("relu")
    np.testing.assert_allclose(k.gain_of(np.array([-3.0, 2.0])), [0.0, 1.0])
    s = get_kind("sigmoid")
    assert s.gain_of(np.array([0.0]))[0] == pytest.approx(1.0)
    assert s.gain_of(np.array([20.0]))[0] < 1e-7
