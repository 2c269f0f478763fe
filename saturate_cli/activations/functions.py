"""Activation functions and their derivatives as vectorised float64 numpy code.

Each derivative takes ``(x, **params)`` and returns f'(x). They are the single source the
registry, the tail derivation and the mean-gain measure use; tests check them against finite
differences of the functions themselves.
"""

from __future__ import annotations

import math

import numpy as np

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_C = 0.044715
_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """Exact (libm) error function, vectorised; fine for the grid sizes used here."""
    return _erf(np.asarray(x, dtype=np.float64)).astype(np.float64)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def softplus(x: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """log(1 + exp(beta x)) / beta, stable for large |x|."""
    bx = beta * np.asarray(x, dtype=np.float64)
    return (np.maximum(bx, 0.0) + np.log1p(np.exp(-np.abs(bx)))) / beta


# --- functions -----------------------------------------------------------------------------


def f_sigmoid(x, **_):
    return sigmoid(x)


def f_tanh(x, **_):
    return np.tanh(x)


def f_relu(x, **_):
    return np.maximum(x, 0.0)


def f_clip(x, min=-math.inf, max=math.inf, **_):  # noqa: A002 - ONNX attribute names
    return np.clip(x, min, max)


def f_thresholded_relu(x, alpha=1.0, **_):
    return np.where(np.asarray(x) > alpha, x, 0.0)


def f_leaky_relu(x, alpha=0.01, **_):
    return np.where(x > 0, x, alpha * x)


def f_elu(x, alpha=1.0, **_):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def f_celu(x, alpha=1.0, **_):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0) / alpha))


def f_selu(x, alpha=1.6732632423543772, gamma=1.0507009873554805, **_):
    return gamma * f_elu(x, alpha=alpha)


def f_gelu(x, **_):
    return 0.5 * x * (1.0 + erf(np.asarray(x) / math.sqrt(2.0)))


def f_gelu_tanh(x, **_):
    return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_C * x**3)))


def f_silu(x, alpha=1.0, **_):
    """x * sigmoid(alpha x): SiLU/Swish at alpha 1, QuickGELU at 1.702."""
    return x * sigmoid(alpha * np.asarray(x, dtype=np.float64))


def f_mish(x, **_):
    return x * np.tanh(softplus(x))


def f_softplus(x, beta=1.0, **_):
    return softplus(x, beta)


def f_softsign(x, **_):
    return x / (1.0 + np.abs(x))


def f_hardsigmoid(x, alpha=0.2, beta=0.5, **_):
    return np.clip(alpha * np.asarray(x, dtype=np.float64) + beta, 0.0, 1.0)


def f_hardswish(x, alpha=1.0 / 6.0, beta=0.5, **_):
    return x * f_hardsigmoid(x, alpha=alpha, beta=beta)


# --- derivatives ---------------------------------------------------------------------------


def d_sigmoid(x, **_):
    s = sigmoid(x)
    return s * (1.0 - s)


def d_tanh(x, **_):
    return 1.0 - np.tanh(x) ** 2


def d_relu(x, **_):
    return (np.asarray(x) > 0).astype(np.float64)


def d_clip(x, min=-math.inf, max=math.inf, **_):  # noqa: A002
    x = np.asarray(x)
    return ((x > min) & (x < max)).astype(np.float64)


def d_thresholded_relu(x, alpha=1.0, **_):
    return np.where(np.asarray(x) > alpha, 1.0, 0.0)


def d_leaky_relu(x, alpha=0.01, **_):
    return np.where(np.asarray(x) > 0, 1.0, alpha)


def d_elu(x, alpha=1.0, **_):
    return np.where(np.asarray(x) > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def d_celu(x, alpha=1.0, **_):
    return np.where(np.asarray(x) > 0, 1.0, np.exp(np.minimum(x, 0.0) / alpha))


def d_selu(x, alpha=1.6732632423543772, gamma=1.0507009873554805, **_):
    return gamma * d_elu(x, alpha=alpha)


def d_gelu(x, **_):
    x = np.asarray(x, dtype=np.float64)
    cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


def d_gelu_tanh(x, **_):
    x = np.asarray(x, dtype=np.float64)
    t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_C * x**3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (
        1.0 + 3.0 * _GELU_TANH_C * x * x
    )


def d_silu(x, alpha=1.0, **_):
    s = sigmoid(alpha * np.asarray(x, dtype=np.float64))
    return s + alpha * x * s * (1.0 - s)


def d_mish(x, **_):
    t = np.tanh(softplus(x))
    return t + x * (1.0 - t * t) * sigmoid(x)


def d_softplus(x, beta=1.0, **_):
    return sigmoid(beta * np.asarray(x, dtype=np.float64))


def d_softsign(x, **_):
    return 1.0 / (1.0 + np.abs(x)) ** 2


def d_hardsigmoid(x, alpha=0.2, beta=0.5, **_):
    y = alpha * np.asarray(x, dtype=np.float64) + beta
    return np.where((y > 0) & (y < 1), alpha, 0.0)


def d_hardswish(x, alpha=1.0 / 6.0, beta=0.5, **_):
    x = np.asarray(x, dtype=np.float64)
    y = alpha * x + beta
    return np.where(y >= 1, 1.0, np.where(y <= 0, 0.0, y + alpha * x))
