"""The in-graph reductions (float32 runs about a shift, float64 accumulation, an exact redo from
the raw tensor where a batch cannot be trusted) against numpy.

Each case builds a one-node model, measures its input as a site the way the ONNX handle does
(graph_measurer, with the exposed-tensor measurer for untrusted batches) and compares the
batch's SiteStats with the exact numpy float64 path: counts, min, max, tails and per-unit
counts identical; mean and std within 1e-5. The off-centre, huge-magnitude and long-run cases
are the ones where float32 runs alone would be wrong.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from saturate_cli.activations import TailBook
from saturate_cli.types import Site
from saturate_cli.model.onnx.measure import Observed, Plan
from saturate_cli.model.onnx.measurers import exposed_measurer, graph_measurer
from saturate_cli.model.onnx.instrument import instrumented
from saturate_cli.model.onnx.runner import Runner
from saturate_cli.model.onnx.sums import RUN_CAP
from saturate_cli.stats.reductions import sample_step
from saturate_cli.stats.site_stats import stats_of_array

from stats_truth import assert_matches

TAU = 0.01
# kind -> (low, high, unit axis, softmax axis)
PLANS = {
    "relu": (0.0, None, 1, None),
    "tanh": (-2.1782, 2.1782, -1, None),
    "gelu": (-2.2785, None, None, None),
    "softmax": (None, None, None, -1),
    "units_first": (-1.0, 1.0, 0, None),
}


def _measure(x: np.ndarray, kind: str, dynamic: bool = False, opset: int = 17,
             redone: list | None = None):
    """(measured, numpy's) SiteStats of x as one site; `redone` collects the sites measured
    again from the raw tensor."""
    low, high, unit, axis = PLANS[kind]
    rank = x.ndim
    unit = unit % rank if unit is not None and rank else None
    axes = (axis % rank,) if axis is not None and rank else None
    dims = [f"d{i}" for i in range(rank)] if dynamic else list(x.shape)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    site = Site("s", "x", "Identity", kind, unit_axis=unit, softmax_axes=axes, rank=rank)
    plans = [Plan(site, low, high)]
    runner, observed = Runner("test.onnx", opset, []), Observed()

    def exact():
        measure = exposed_measurer(runner, model, plans, 0.05, TAU, observed, lambda t: None)

        def counted(batch, only=None):
            (redone if redone is not None else []).extend(sorted(only or ()))
            return measure(batch, only=only)
        return counted

    known = ({"x": TensorProto.FLOAT}, {"x": tuple(None if dynamic else d for d in x.shape)})
    measure = graph_measurer(runner, model, plans, known, opset, 0.05, TAU, observed,
                             False, lambda: None, exact)
    got = measure({"x": x})["s"]
    want = stats_of_array(x, low, high, unit, axes[0] if axes else None, TAU,
                          sample_step(x.size))
    return got, want


def _check(x: np.ndarray, kind: str, **kw) -> list:
    """Compares measured with numpy; the sites measured again from the raw tensor."""
    redone: list = []
    got, want = _measure(x, kind, redone=redone, **kw)
    assert_matches(got, want, x)
    return redone


shapes = st.lists(st.integers(1, 9), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, offset=st.sampled_from([0.0, 3.0, -50.0, 1e3, 1e6]),
       scale=st.sampled_from([1e-3, 1.0, 10.0, 1e20]), kind=st.sampled_from(sorted(PLANS)),
       seed=st.integers(0, 2**31 - 1), zeros=st.booleans(), dynamic=st.booleans())
def test_random_tensors_match_numpy(shape, offset, scale, kind, seed, zeros, dynamic):
    x = (np.random.default_rng(seed).standard_normal(shape) * scale + offset).astype(np.float32)
    if zeros:  # exact tail thresholds: ties must count the same way
        x.reshape(-1)[::3] = 0.0
    redone = _check(x, kind, dynamic=dynamic)
    # the raw tensor is read again only where float32 squares of x - mean could overflow
    assert not redone or scale >= 1e20


@settings(max_examples=30, deadline=None)
@given(shape=shapes, kind=st.sampled_from(sorted(PLANS)), seed=st.integers(0, 2**31 - 1),
       special=st.sampled_from([-3.4e38, 3.4e38, -np.finfo(np.float32).max, 1e30]))
def test_huge_values_match_numpy(shape, kind, seed, special):
    """Attention masks put -3.4e38 into softmax inputs: float32 squares would overflow (other
    sites are measured again from the raw tensor; softmax leaves its masked logits out)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[rng.permutation(x.size)[: max(1, x.size // 3)]] = special
    redone = _check(x, kind)
    if kind == "softmax" and special < -1e38:
        assert not redone


def test_attention_mask_is_exact():
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 16)).astype(np.float32)
    x[..., 10:] = np.finfo(np.float32).min
    assert _check(x, "softmax") == []  # measured in the graph: masked logits left out


@pytest.mark.parametrize("offset", [4.0, 30.0, 1e4])
@pytest.mark.parametrize("kind", ["relu", "tanh", "softmax"])
def test_off_centre_keeps_its_std(offset, kind):
    """|mean| up to 1e4 std: a float32 sum of squares about zero keeps no digit of the
    variance; about the shift it keeps ~1e-7, in the graph (no second read of the tensor)."""
    x = (np.random.default_rng(1).standard_normal((16, 8, 300)) + offset).astype(np.float32)
    redone: list = []
    got, _ = _measure(x, kind, redone=redone)
    xd = x.astype(np.float64)
    assert redone == []
    assert got.std == pytest.approx(xd.std(), rel=1e-6)
    assert got.mean == pytest.approx(xd.mean(), rel=1e-6 * xd.std() / abs(xd.mean()))


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 40), min_size=2, max_size=4),
       offset=st.floats(-1e3, 1e3), scale=st.sampled_from([1e-3, 1.0, 50.0]),
       kind=st.sampled_from(["relu", "tanh", "gelu"]), seed=st.integers(0, 2**31 - 1))
def test_moments_are_within_float32_accuracy(shape, offset, scale, kind, seed):
    """Mean and std within 2e-6 of their own size, wherever the values sit (the shifted sums:
    stated as ~1e-7, bounded here with float32 runs' worst case)."""
    x = (np.random.default_rng(seed).standard_normal(shape) * scale + offset).astype(np.float32)
    got, _ = _measure(x, kind)
    xd = x.astype(np.float64)
    if xd.std() > 0:
        assert abs(got.std - xd.std()) <= 2e-6 * xd.std()
    assert abs(got.mean - xd.mean()) <= 2e-6 * max(xd.std(), 1e-7 * abs(xd.mean()))


@pytest.mark.parametrize("dynamic", [False, True])
def test_runs_longer_than_the_cap_are_exact(dynamic):
    x = (np.random.default_rng(2).standard_normal((2, 3 * RUN_CAP)) * 2 + 0.5).astype(np.float32)
    redone: list = []
    got, want = _measure(x, "gelu", dynamic=dynamic, redone=redone)
    # known to be too long: exact in the graph; told only at run time: measured again
    assert redone == (["s"] if dynamic else [])
    xd = x.astype(np.float64)
    assert got.mean == pytest.approx(xd.mean(), rel=1e-12)
    assert got.std == pytest.approx(xd.std(), rel=1e-12)
    assert_matches(got, want, x)


@pytest.mark.parametrize("special", [math.nan, math.inf, -math.inf])
def test_non_finite_is_left_to_the_numpy_path(special):
    x = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    x[1, 2] = special
    redone: list = []
    got, want = _measure(x, "tanh", redone=redone)
    assert redone == ["s"]
    assert (got.nan, got.inf, got.count) == (want.nan, want.inf, want.count)


@pytest.mark.parametrize("kind", sorted(PLANS))
def test_one_dimensional(kind):
    _check(np.linspace(-5, 5, 101, dtype=np.float32), kind)


@pytest.mark.parametrize("opset", [9, 11, 13])  # exact path; fast with axes as attributes
@pytest.mark.parametrize("kind", ["relu", "tanh", "gelu", "softmax"])
def test_older_opsets(kind, opset):
    x = (np.random.default_rng(4).standard_normal((6, 5, 4)) * 3).astype(np.float32)
    x[0, 0, 0] = -3.4e38
    got, want = _measure(x, kind, opset=opset)
    if opset < 10:  # no Slice inputs before opset 10: no softmax row sample for the temperature
        assert got.row_sample is None
        want = replace(want, row_sample=None)
    assert_matches(got, want, x)


def test_per_unit_counts_in_every_layout():
    """Units first, in the middle (NCHW) and last (NHWC / [B, S, H]): exact per-unit counts."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 5, 7)).astype(np.float32)
    x[:, 2] = -1.0  # one dead channel in NCHW
    for kind in ("units_first", "relu", "tanh"):
        got, want = _measure(x, kind)
        np.testing.assert_array_equal(got.unit_saturated, want.unit_saturated)
        assert got.unit_saturated is not None


def test_the_model_is_restored_after_measuring(samples):
    """Statistics nodes sit next to their sites while the session is built, then are gone."""
    from saturate_cli.model.onnx.handle import OnnxModel

    handle = OnnxModel(samples / "transformer_block.onnx", 2**32)
    before = handle.model.SerializeToString()
    plan = [(p.site, p.low, p.high) for p in (handle._plan(s, TailBook(0.05)) for s in handle.sites)]
    with instrumented(handle.model, plan, handle._types, handle.graph.opset, TAU) as (m, outs):
        order = [n.name for n in m.graph.node]
        firsts = [min(i for i, name in enumerate(order) if name.startswith("__saturate_")
                      and outs[s.name].size == name) for s, *_ in plan]
        assert firsts == sorted(firsts) and firsts[-1] < len(order) - 10
    assert handle.model.SerializeToString() == before


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (3, 0, 2), (2, 3, 0), ()])
@pytest.mark.parametrize("kind", sorted(PLANS))
def test_empty_and_scalar_tensors(shape, kind):
    x = np.full(shape, -3.0, np.float32)
    if not shape and PLANS[kind][3] is not None:
        return  # a softmax needs an axis
    got, want = _measure(x, kind)
    assert got.count == want.count == x.size
    if x.size:
        assert_matches(got, want, x)


@pytest.mark.parametrize("kind", ["relu", "gelu"])
def test_tiny_values_keep_their_spread(kind):
    """±2^-80 in balanced runs: float32 run sums are exactly 0 and the squares (2^-160)
    underflow to 0, so the runs alone would report std 0; the batch is measured again from
    the raw tensor and keeps 2^-80."""
    signs = np.where(np.arange(20) % 2 == 0, 1.0, -1.0)
    x = np.broadcast_to(signs * 2.0**-80, (8, 6, 20)).astype(np.float32)
    got, want = _measure(np.ascontiguousarray(x), kind)
    assert want.std == pytest.approx(2.0**-80, abs=0)
    assert got.std == pytest.approx(want.std, rel=1e-9, abs=0)


@pytest.mark.parametrize("mask", [-np.inf, np.finfo(np.float32).min, -1e9])
def test_softmax_masks_of_every_kind_stay_in_the_graph(mask):
    """-inf, float32's minimum and -1e9 masks; whole rows masked next to partly masked ones and
    rows without a mask: exact counts and extremes, measured without a second read."""
    x = np.random.default_rng(7).standard_normal((2, 3, 6, 9)).astype(np.float32) * 4
    x[0, :, :, 5:] = mask  # padded keys
    x[1, 2, 3, :] = mask  # a row with nothing left
    x[1, 0, 0, :] = -50.0  # a low row without a mask (its minimum is the tensor's)
    assert _check(x, "softmax") == []


def test_softmax_nan_is_measured_from_the_raw_tensor():
    x = np.random.default_rng(8).standard_normal((2, 4, 5, 7)).astype(np.float32)
    x[1, 2, 3, 4] = np.nan
    redone: list = []
    got, want = _measure(x, "softmax", redone=redone)
    assert redone == ["s"]
    assert (got.nan, got.count, got.rows) == (want.nan, want.count, want.rows) and got.nan == 1


@pytest.mark.parametrize("shape, merged", [((3, 4, 8, 9), True), ((2, 3, 64, 64), True),
                                           ((2, 3, 64, 65), False), ((2, 5, 3, 4, 7), True)])
def test_axes_after_the_unit_merge_into_one_run_where_known(shape, merged):
    """NCHW with known H and W holding at most RUN_CAP values: sums and counts run over H and
    W at once (one run per sample and channel), the float64 accumulation is the host's (no
    float64 casts in the graph); longer tails keep runs along the last axis. Both exact."""
    from saturate_cli.model.onnx.sums import layout_for

    site = Site("s", "x", "Identity", "relu", unit_axis=1, rank=len(shape))
    lay = layout_for(site, 17, shape)
    assert lay.merged is merged
    assert layout_for(site, 17, (None,) + shape[1:]).merged is merged  # the batch may vary
    assert not layout_for(site, 17, shape[:2] + (None,) * (len(shape) - 2)).merged
    x = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    x[:, 1] -= 3.0  # a mostly dead channel
    redone = _check(x, "relu")
    assert redone == []
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with instrumented(model, [(site, 0.0, None)], {"x": TensorProto.FLOAT}, 17, TAU, 0.05,
                      {"x": shape}) as (m, outs):
        casts = [n for n in m.graph.node if n.op_type == "Cast"
                 and n.attribute[0].i == TensorProto.DOUBLE]
        reshaped = [n for n in m.graph.node if n.op_type == "Reshape"]
    assert casts == [] and len(reshaped) == int(merged)
    assert outs["s"].layout.merged is merged


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=5), data=st.data())
def test_host_folds_equal_numpy_over_the_whole_tensor(shape, data):
    """fold_moments / fold_count on the graph's per-run outputs (numpy standing in for the
    graph's float32 run sums and int32 run counts) equal float64 / int64 sums over the whole
    tensor, per unit and in all, for every layout layout_for can choose."""
    from saturate_cli.model.onnx.sums import fold_count, fold_moments, layout_for

    rank = len(shape)
    unit = data.draw(st.one_of(st.none(), st.integers(0, rank - 1)))
    site = Site("s", "x", "Identity", "relu", unit_axis=unit, rank=rank)
    lay = layout_for(site, 17, tuple(shape))
    if lay is None:
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    d = rng.standard_normal(shape)
    mask = rng.random(shape) < 0.3
    runs = d.sum(axis=tuple(lay.sum_axes()))
    runs_sq = (d * d).sum(axis=lay.sq_axis)
    if lay.merged:  # MatMulInteger's output: [..., unit, 1]
        counts = mask.reshape(shape[: lay.unit + 1] + [-1]).sum(axis=-1, keepdims=True)
    else:
        counts = mask.sum(axis=lay.sum_axis, keepdims=True)
    total, total_sq, unit_sum = fold_moments(runs, runs_sq, lay)
    assert total == pytest.approx(d.sum(), abs=1e-9)
    assert total_sq == pytest.approx((d * d).sum(), rel=1e-12)
    per_unit = fold_count(counts, lay)
    if unit is None:
        assert unit_sum is None and int(per_unit) == int(mask.sum())
    else:
        others = tuple(a for a in range(rank) if a != lay.unit)
        np.testing.assert_allclose(unit_sum, d.sum(axis=others), atol=1e-9)
        np.testing.assert_array_equal(per_unit, mask.sum(axis=others))


@pytest.mark.parametrize("values, op, want", [
    (np.array([3.0, -1.0, 2.0]), "ReduceMin", -1.0), (np.array([3.0, -1.0]), "ReduceMax", 3.0),
    (np.zeros(0), "ReduceMin", math.inf), (np.zeros(0), "ReduceMax", -math.inf),
    (np.float32(4.5), "ReduceMax", 4.5)])
def test_host_extreme_of_what_the_graph_left(values, op, want):
    from saturate_cli.model.onnx.builder import host_extreme

    assert host_extreme(values, op) == want
