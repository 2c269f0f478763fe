"""Independent truth for ONNX models: the input of every explicit activation node, exposed as
a graph output, run by onnxruntime (or onnx.reference) and summarised with numpy in float64.

Nothing here imports saturate_cli: thresholds are closed forms derived from tau = 0.05 (see
`closed_forms`, double-checked by finite differences in `numeric_threshold`)."""

from __future__ import annotations

import functools
import math
from typing import Callable, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

from tests.zoo import composites

TAU = 0.05
SOFTMAX_TAU = 0.01
ACT_OPS = {"Sigmoid", "Tanh", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu",
           "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish", "Clip", "Softmax",
           "LogSoftmax", "ThresholdedRelu", "Swish"}
SELU_ALPHA = 1.6732632423543772848170429916717


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


@functools.lru_cache(maxsize=None)
def closed_forms(tau: float = TAU) -> dict:
    """Saturation thresholds in closed form (or a one-dimensional root where none exists)."""
    c = tau * 0.25  # sigmoid: s(1-s) < c
    s = (1 + math.sqrt(1 - 4 * c)) / 2
    return {
        "sigmoid": math.log(s / (1 - s)),
        "tanh": math.atanh(math.sqrt(1 - tau)),
        "softplus": math.log(tau / (1 - tau)),
        "softsign": math.sqrt(1 / tau) - 1,
        "gelu": numeric_threshold(_gelu_grad, "low", tau),
        "gelu_tanh": numeric_threshold(_gelu_tanh_grad, "low", tau),
        "silu": numeric_threshold(lambda x: _sig(x) * (1 + x * (1 - _sig(x))), "low", tau),
        "mish": numeric_threshold(_mish_grad, "low", tau),
    }


def _gelu_grad(x):
    from math import erf, pi, sqrt
    phi = np.exp(-x * x / 2) / sqrt(2 * pi)
    return 0.5 * (1 + np.vectorize(erf)(x / sqrt(2))) + x * phi


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _gelu_tanh_grad(x, h=1e-5):
    return (_gelu_tanh(x + h) - _gelu_tanh(x - h)) / (2 * h)


def _mish(x):
    return x * np.tanh(np.logaddexp(0, x))


def _mish_grad(x, h=1e-5):
    return (_mish(x + h) - _mish(x - h)) / (2 * h)


def numeric_threshold(grad: Callable, side: str, tau: float = TAU, lo=-30.0, hi=30.0) -> float:
    """The point beyond which |f'| < tau max|f'| everywhere, found on a float64 grid and
    refined by bisection (finite differences where no analytic derivative is given)."""
    x = np.linspace(lo, hi, 600001)
    g = np.abs(grad(x))
    small = g < tau * g.max()
    if side == "low":
        i = int(np.argmin(small))  # first index not small
        a, b = x[max(i - 1, 0)], x[i]
    else:
        j = len(x) - 1 - int(np.argmin(small[::-1]))
        a, b = x[j], x[min(j + 1, len(x) - 1)]
    lim = tau * g.max()
    for _ in range(60):
        m = (a + b) / 2
        if (abs(grad(np.array([m]))[0]) < lim) == (side == "low"):
            a = m
        else:
            b = m
    return float((a + b) / 2)


# ---------------------------------------------------------------- running the model

def opset_of(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 1


def activation_nodes(model: onnx.ModelProto) -> list:
    """The explicit activation nodes of the top-level graph (default domain)."""
    return [n for n in model.graph.node if n.op_type in ACT_OPS and n.domain in ("", "ai.onnx")]


def _needed(node) -> list:
    names = [node.input[0]]
    if node.op_type == "Clip":
        names += [n for n in node.input[1:3] if n]
    if node.op_type == "PRelu":
        names.append(node.input[1])
    return names


def site_values(model: onnx.ModelProto, feeds: dict, dtypes: Optional[dict] = None,
                extra: tuple = ()) -> dict:
    """name -> float64 array for every tensor the activation nodes read, and the `extra` ones
    (their own dtypes into `dtypes` when given)."""
    wanted = []
    for node in activation_nodes(model):
        wanted += [n for n in _needed(node) if n not in wanted]
    wanted += [n for n in extra if n not in wanted]
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    got = {n: feeds[n] for n in wanted if n in feeds}
    got.update({n: inits[n] for n in wanted if n not in got and n in inits})
    rest = [n for n in wanted if n not in got]
    if rest:
        outs = _run_exposed(model, feeds, rest)
        got.update(outs)
    if dtypes is not None:
        dtypes.update({k: np.asarray(v).dtype for k, v in got.items()})
    return {k: np.asarray(v).astype(np.float64) for k, v in got.items()}


def _exposed(model: onnx.ModelProto, names: list) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(m)
        types = {v.name: v.type for v in inferred.graph.value_info}
    except Exception:  # noqa: BLE001 - inference is only a help for the output types
        types = {}
    present = {o.name for o in m.graph.output}
    for n in names:
        if n in present:
            continue
        vi = onnx.ValueInfoProto(name=n)
        if n in types and types[n].tensor_type.elem_type:
            vi.type.tensor_type.elem_type = types[n].tensor_type.elem_type
        m.graph.output.append(vi)
    return m


def _run_exposed(model: onnx.ModelProto, feeds: dict, names: list) -> dict:
    m = _exposed(model, names)
    try:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        known = {i.name for i in sess.get_inputs()}
        vals = sess.run(names, {k: v for k, v in feeds.items() if k in known})
    except Exception:  # noqa: BLE001 - onnxruntime lacks the op or type: the reference runs it
        from onnx.reference import ReferenceEvaluator
        ref = ReferenceEvaluator(m)
        known = set(ref.input_names)
        vals = ref.run(names, {k: v for k, v in feeds.items() if k in known})
    return dict(zip(names, vals))


# ---------------------------------------------------------------- statistics

def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def saturated_mask(node, x: np.ndarray, vals: dict, opset: int) -> Optional[np.ndarray]:
    """Boolean mask of saturated values of x (float64), or None for softmax-like ops."""
    op, cf = node.op_type, closed_forms()
    if op == "Sigmoid":
        return np.abs(x) > cf["sigmoid"]
    if op == "Tanh":
        return np.abs(x) > cf["tanh"]
    if op == "Relu":
        return x <= 0
    if op == "LeakyRelu":
        alpha = _attr(node, "alpha", 0.01)
        return x <= 0 if abs(alpha) < TAU else np.zeros(x.shape, bool)
    if op == "PRelu":
        slope = np.abs(vals[node.input[1]])
        if opset < 7 and slope.ndim == 1 and x.ndim > 1 and slope.size == x.shape[1] > 1:
            slope = slope.reshape((1, -1) + (1,) * (x.ndim - 2))  # per channel before opset 7
        slope = np.broadcast_to(slope, x.shape)
        return (x <= 0) & (slope < TAU)
    if op in ("Elu", "Selu"):
        alpha = _attr(node, "alpha", 1.0 if op == "Elu" else SELU_ALPHA)
        return x < math.log(TAU * max(1.0, alpha) / alpha)
    if op == "Celu":
        return x < _attr(node, "alpha", 1.0) * math.log(TAU)
    if op == "Gelu":
        tanh = _attr(node, "approximate", b"none") in (b"tanh", "tanh")
        return x < cf["gelu_tanh" if tanh else "gelu"]
    if op == "Swish":
        return x < cf["silu"] / _attr(node, "alpha", 1.0)
    if op == "Mish":
        return x < cf["mish"]
    if op == "Softplus":
        return x < cf["softplus"]
    if op == "Softsign":
        return np.abs(x) > cf["softsign"]
    if op == "HardSigmoid":
        alpha, beta = _attr(node, "alpha", 0.2), _attr(node, "beta", 0.5)
        return (x < -beta / alpha) | (x > (1 - beta) / alpha)
    if op == "HardSwish":
        return x < -3.0
    if op == "ThresholdedRelu":
        return x <= _attr(node, "alpha", 1.0)
    if op == "Clip":
        lo, hi = _clip_bounds(node, vals, opset)
        return (x <= lo) | (x >= hi)
    return None


def _clip_bounds(node, vals: dict, opset: int):
    if opset < 11:
        return (float(_attr(node, "min", -np.inf)), float(_attr(node, "max", np.inf)))
    ins = list(node.input) + ["", ""]
    lo = float(vals[ins[1]].reshape(-1)[0]) if ins[1] else -np.inf
    hi = float(vals[ins[2]].reshape(-1)[0]) if ins[2] else np.inf
    return lo, hi


MASKED_GAP = 5e3  # a logit this far below its row's max is masked (the report's `masked`)


# the most negative finite value of each float format (IEEE 754 / bfloat16 by definition)
_MOST_NEGATIVE = {"float16": -65504.0, "bfloat16": -3.3895313892515355e38,
                  "float32": -3.4028234663852886e38, "float64": -1.7976931348623157e308}


def _floor(dtype) -> float:
    """Half the most negative value of the logits' dtype (float32 where it has none)."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = "float32"
    return 0.5 * _MOST_NEGATIVE.get(name, _MOST_NEGATIVE["float32"])


def softmax_truth(r: np.ndarray, dtype) -> dict:
    """Statistics of softmax logits `r` (rows x logits, float64). Masked logits (MASKED_GAP
    or more below the row's finite max, or at most half the dtype's minimum) are left out of
    count and moments; rows with at most one unmasked logit are not judged; a judged row
    collapses when its max probability exceeds 1 - 0.01."""
    with np.errstate(invalid="ignore", over="ignore"):
        top = r.max(axis=1, keepdims=True) if r.size else r[:, :1]
        masked = ((r <= top - MASKED_GAP) & np.isfinite(top)) | (r <= _floor(dtype))
        z = np.exp(r - top)
        p = z.max(axis=1) / z.sum(axis=1) if r.size else np.zeros(r.shape[0])
    kept = r[~masked]
    fin = kept[np.isfinite(kept)]
    lonely = (~masked).sum(axis=1) <= 1
    collapsed = int(((p > 1 - SOFTMAX_TAU) & ~lonely).sum())
    judged = int(r.shape[0] - lonely.sum())
    return {"count": int(kept.size), "mean": float(fin.mean()) if fin.size else None,
            "std": float(fin.std()) if fin.size else None,
            "min": float(fin.min()) if fin.size else None,
            "max": float(fin.max()) if fin.size else None,
            "rows": int(r.shape[0]), "masked_rows": int(lonely.sum()),
            "collapsed_rows": collapsed, "fraction": collapsed / judged if judged else 0.0}


def softmax_rows_of(node, x: np.ndarray, opset: int) -> np.ndarray:
    """The rows a Softmax/LogSoftmax normalises: along `axis` (opset >= 13), else the
    flattened dims from `axis` on (default 1)."""
    if x.ndim == 0:
        x = x.reshape(1)
    if opset >= 13:
        axis = _attr(node, "axis", -1) % x.ndim
        return np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])
    axis = _attr(node, "axis", 1) % max(x.ndim, 1)
    return x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)


def node_truth(node, vals: dict, opset: int, dtypes: Optional[dict] = None) -> dict:
    """count, mean, std (population, finite values), min, max and saturation of one site."""
    x = vals[node.input[0]]
    t = {"op": node.op_type, "input": node.input[0]}
    if node.op_type in ("Softmax", "LogSoftmax"):
        dtype = (dtypes or {}).get(node.input[0], np.float32)
        return dict(t, **softmax_truth(softmax_rows_of(node, x, opset), dtype))
    fin = x[np.isfinite(x)]
    t.update(count=int(x.size), mean=float(fin.mean()) if fin.size else None,
             std=float(fin.std()) if fin.size else None,
             min=float(fin.min()) if fin.size else None,
             max=float(fin.max()) if fin.size else None)
    mask = saturated_mask(node, x, vals, opset)
    t["fraction"] = float(mask.sum() / x.size) if x.size else 0.0
    return t


def composite_truth(c: composites.Composite, vals: dict) -> dict:
    """The truth of a written-out activation: its input x judged by the composite's tail."""
    x, cf = vals[c.x], closed_forms()
    low = {"silu": cf["silu"] / c.alpha, "mish": cf["mish"], "gelu_tanh": cf["gelu_tanh"],
           "hardswish": -c.beta / c.alpha}[c.kind]
    fin = x[np.isfinite(x)]
    return {"op": f"pattern:{c.kind}", "input": c.x, "count": int(x.size),
            "mean": float(fin.mean()) if fin.size else None,
            "std": float(fin.std()) if fin.size else None,
            "min": float(fin.min()) if fin.size else None,
            "max": float(fin.max()) if fin.size else None,
            "fraction": float((x < low).sum() / x.size) if x.size else 0.0}


def model_truth(model: onnx.ModelProto, feeds: dict) -> list:
    """The truth of every explicit activation node, in graph order; the nodes of a written-out
    activation (composites.py) give one truth for the composite instead."""
    dtypes = {}
    found = composites.find(model)
    vals = site_values(model, feeds, dtypes, tuple(c.x for c in found))
    graph = list(model.graph.node)  # indices identify nodes (protobuf wrappers are not stable)
    found = [c for c in found if c.kind != "gelu_tanh" or composites.confirm_gelu(
        vals[graph[c.nodes[0]].input[0]], vals[c.x])]
    owner = {index: c for c in found for index in c.nodes}
    opset = opset_of(model)
    out, done = [], set()
    for index, n in enumerate(graph):
        if n.op_type not in ACT_OPS or n.domain not in ("", "ai.onnx"):
            continue
        c = owner.get(index)
        if c is None:
            out.append(node_truth(n, vals, opset, dtypes))
        elif id(c) not in done:
            done.add(id(c))
            out.append(composite_truth(c, vals))
    return out
