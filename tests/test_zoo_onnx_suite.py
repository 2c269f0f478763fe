"""Every activation case of the ONNX backend test suite shipped in the `onnx` package
(node, pytorch-operator, pytorch-converted) through `saturate inspect` with its own
test_data_set_0 inputs, against truth computed without the tool (tests/zoo/truth.py).

Counts exact; mean, std, min, max within 1e-3 relative; saturated fraction within 1e-3
absolute (softmax: the share of collapsed rows); every explicit activation node reported."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.zoo import truth
from tests.zoo.check import check_onnx
from tests.zoo.onnx_suite import cases

CASES = cases()


def test_suite_found():
    suites = {cid.split("/")[0] for cid, _ in CASES}
    assert {"node", "pytorch-converted"} <= suites and len(CASES) > 100


@pytest.mark.parametrize("cid,folder", CASES, ids=[c for c, _ in CASES])
def test_backend_case(cid, folder):
    code, sites, diffs = check_onnx(folder / "model.onnx", folder / "test_data_set_0")
    assert not diffs, f"{cid} ({sites} activation nodes): " + "; ".join(diffs)


def _sig(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("name,grad,side", [
    ("sigmoid", lambda x: _sig(x) * (1 - _sig(x)), "high"),
    ("tanh", lambda x: 1 - np.tanh(x) ** 2, "high"),
    ("softplus", _sig, "low"),
    ("softsign", lambda x: 1 / (1 + np.abs(x)) ** 2, "high"),
])
def test_closed_forms_match_numeric(name, grad, side):
    """The closed-form thresholds agree with a float64 scan of |f'| < tau max|f'|."""
    assert math.isclose(truth.closed_forms()[name], truth.numeric_threshold(grad, side),
                        abs_tol=1e-6)


def test_brief_thresholds():
    """The thresholds the truth uses are the published ones (4 decimals)."""
    cf = truth.closed_forms()
    want = {"sigmoid": 4.3565, "tanh": 2.1782, "softplus": -2.9444, "softsign": 3.4721,
            "gelu": -2.2785, "gelu_tanh": -2.2857, "silu": -3.9298, "mish": -3.9812}
    for k, v in want.items():
        assert abs(cf[k] - v) < 2e-4, k


def _fd(f, h=1e-6):
    return lambda x: (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("name,f,want", [
    ("elu(2)", lambda x: np.where(x > 0, x, 2 * (np.exp(x) - 1)), math.log(0.05)),
    ("elu(0.5)", lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1)), math.log(0.1)),
    ("celu(2)", lambda x: np.maximum(0, x) + np.minimum(0, 2 * (np.exp(x / 2) - 1)),
     2 * math.log(0.05)),
    ("selu", lambda x: np.where(x > 0, x, truth.SELU_ALPHA * (np.exp(x) - 1)),
     math.log(0.05 * truth.SELU_ALPHA / truth.SELU_ALPHA)),
    ("swish(2)", lambda x: x / (1 + np.exp(-2 * x)), truth.closed_forms()["silu"] / 2),
])
def test_tail_thresholds_by_finite_differences(name, f, want):
    """The closed forms the truth uses for the ELU family and Swish(alpha), against float64
    finite differences of the function itself."""
    assert abs(truth.numeric_threshold(_fd(f), "low") - want) < 5e-4, name  # grid: 1e-4
