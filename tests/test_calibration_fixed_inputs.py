"""Inputs that are not batched: parameters, recurrent state, scalars, fully fixed models.

Truth is the user's arrays: the batches must hold exactly them (batched inputs cut along axis 0,
fixed ones unchanged), and a site's statistics must equal onnxruntime run on the whole file.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.errors import CalibrationError
from saturate_cli.pipeline import inspect_model
from saturate_cli.settings import Settings
from test_calibration_fixtures import batches_for, joined, save_model, sigmoid_of_sum, write_pb

F = TensorProto.FLOAT
RNG = np.random.default_rng(3)


def _vi(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def prelu_model(tmp, x_shape=("N", 4), slope_shape=(4,)):
    """x -> MatMul w -> PRelu(slope, a graph input) -> Tanh."""
    w = numpy_helper.from_array(RNG.standard_normal((4, 4)).astype(np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("PRelu", ["h", "slope"], ["p"]),
             helper.make_node("Tanh", ["p"], ["y"])]
    return save_model(tmp / "prelu.onnx", nodes,
                      [_vi("x", list(x_shape)), _vi("slope", list(slope_shape))], [w])


def sum_model(tmp, inputs: dict, name="sum.onnx"):
    """Each input reduced to its mean, the means added, then Sigmoid: runs on any shapes."""
    nodes = [helper.make_node("ReduceMean", [n], [f"{n}_m"], keepdims=0) for n in inputs]
    nodes += sigmoid_of_sum([f"{n}_m" for n in inputs])
    return save_model(tmp / name, nodes, [_vi(n, s) for n, s in inputs.items()])


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_prelu_slope_is_fed_unchanged_and_stats_match_onnxruntime(tmp_path):
    model = prelu_model(tmp_path)
    x, slope = _f32(37, 4), np.array([0.1, 0.5, 1.0, 2.0], np.float32)
    data = _npz(tmp_path / "d.npz", x=x, slope=slope)
    batches, info = batches_for(model, calibration=(data,), batch_size=16)
    assert [b["x"].shape[0] for b in batches] == [16, 16, 5]
    np.testing.assert_array_equal(joined(batches, "x"), x)
    assert all(np.array_equal(b["slope"], slope) for b in batches)
    assert (info.samples, info.batches) == (37, 3)
    assert "input 'slope' is fixed: fed unchanged with every batch (shape [4])" in info.notes

    report = inspect_model(str(model), Settings(calibration=(data,), batch_size=16)).to_dict()
    site = next(s for s in report["sites"] if s["op"] == "Tanh")
    truth = _run(model, {"x": x, "slope": slope}, site["input"]).astype(np.float64)
    assert site["stats"]["count"] == truth.size
    assert site["stats"]["mean"] == pytest.approx(truth.mean(), rel=1e-5, abs=1e-6)
    assert site["stats"]["std"] == pytest.approx(truth.std(), rel=1e-5)
    assert (site["stats"]["min"], site["stats"]["max"]) == (truth.min(), truth.max())


def _run(path, feed: dict, output: str) -> np.ndarray:
    """onnxruntime on the whole arrays at once, the tensor `output` exposed."""
    m = onnx.load(str(path))
    del m.graph.output[:]
    m.graph.output.append(helper.make_empty_tensor_value_info(output))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run([output], feed)[0]


def test_recurrent_state_is_fixed_next_to_a_symbolic_sequence(tmp_path):
    hidden, x_in = 8, 4
    weights = [numpy_helper.from_array(_f32(2, 3 * hidden, d) * 0.3, n)
               for n, d in (("W", x_in), ("R", hidden))]
    nodes = [helper.make_node("GRU", ["x", "W", "R", "", "", "h0"], ["out"], hidden_size=hidden,
                              direction="bidirectional"),
             helper.make_node("Tanh", ["out"], ["y"])]
    model = save_model(tmp_path / "gru.onnx", nodes,
                       [_vi("x", ["seq", 1, x_in]), _vi("h0", [2, 1, hidden])], weights)
    x, h0 = _f32(20, 1, x_in), _f32(2, 1, hidden)
    data = _npz(tmp_path / "d.npz", x=x, h0=h0)
    batches, info = batches_for(model, calibration=(data,), batch_size=16)
    np.testing.assert_array_equal(joined(batches, "x"), x)
    assert all(np.array_equal(b["h0"], h0) for b in batches)
    assert (info.samples, info.batches) == (20, 2)
    report = inspect_model(str(model), Settings(calibration=(data,))).to_dict()
    assert report["calibration"]["samples"] == 20 and report["sites"]


def test_scalar_input_is_never_batched(tmp_path):
    nodes = [helper.make_node("Mul", ["x", "gain"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["y"])]
    model = save_model(tmp_path / "gain.onnx", nodes, [_vi("x", ["N", 4]), _vi("gain", [])])
    x, gain = _f32(10, 4), np.array(2.5, np.float32)
    batches, info = batches_for(model, calibration=(_npz(tmp_path / "d.npz", x=x, gain=gain),),
                                batch_size=4)
    assert [b["x"].shape[0] for b in batches] == [4, 4, 2]
    assert all(b["gain"].shape == () and b["gain"] == gain for b in batches)
    assert info.samples == 10
    synthetic, sinfo = batches_for(model)  # batches of 16, not of the scalar's "size" 1
    assert (sinfo.samples, sinfo.batches) == (128, 8)
    assert all(b["gain"].shape == () for b in synthetic)
    assert len({float(b["gain"]) for b in synthetic}) == 1  # drawn once, fed with every batch


def test_one_dimensional_input_is_n_samples(tmp_path):
    model = sum_model(tmp_path, {"v": ["n"]})
    v = _f32(50)
    batches, info = batches_for(model, calibration=(_npz(tmp_path / "d.npz", v=v),))
    assert [b["v"].shape for b in batches] == [(16,)] * 3 + [(2,)]
    np.testing.assert_array_equal(joined(batches, "v"), v)
    assert info.samples == 50


@pytest.mark.parametrize("anonymous", ["?", None])
def test_anonymous_dims_are_never_unified(tmp_path, anonymous):
    model = sum_model(tmp_path, {"a": ["batch", anonymous], "b": ["batch", anonymous]})
    a, b = _f32(6, 3), _f32(6, 5)
    batches, info = batches_for(model, calibration=(_npz(tmp_path / "d.npz", a=a, b=b),))
    assert [(x["a"].shape, x["b"].shape) for x in batches] == [((6, 3), (6, 5))]
    assert info.samples == 6


def test_named_dims_are_still_unified(tmp_path):
    model = sum_model(tmp_path, {"a": ["batch", "seq"], "b": ["batch", "seq"]})
    data = _npz(tmp_path / "d.npz", a=_f32(6, 3), b=_f32(6, 5))
    with pytest.raises(CalibrationError, match="dim 'seq' is 3 in input 'a' but 5 in input 'b'"):
        batches_for(model, calibration=(data,))


def test_anonymous_leading_dims_that_disagree_feed_the_record_whole(tmp_path):
    model = sum_model(tmp_path, {"a": ["?", 3], "b": [None]})
    a, b = _f32(6, 3), _f32(4)
    batches, info = batches_for(model, calibration=(_npz(tmp_path / "d.npz", a=a, b=b),))
    assert len(batches) == 1
    np.testing.assert_array_equal(batches[0]["a"], a)
    np.testing.assert_array_equal(batches[0]["b"], b)
    assert (info.samples, info.batches) == (1, 1)
    assert any("no input is batched" in n for n in info.notes)


def _test_data_sets(folder, sets: list[list[np.ndarray]]):
    for i, arrays in enumerate(sets):
        for k, array in enumerate(arrays):
            write_pb(folder / f"test_data_set_{i}" / f"input_{k}.pb", array)
    return str(folder)


def test_fully_fixed_model_feeds_each_record_whole(tmp_path):
    model = sum_model(tmp_path, {"x": [2, 4], "bias": [4]})
    sets = [[_f32(2, 4), _f32(4)], [_f32(2, 4), _f32(4)]]
    batches, info = batches_for(model, calibration=(_test_data_sets(tmp_path / "data", sets),))
    assert len(batches) == 2
    for batch, (x, bias) in zip(batches, sets):  # each record's own values
        np.testing.assert_array_equal(batch["x"], x)
        np.testing.assert_array_equal(batch["bias"], bias)
    assert (info.samples, info.batches) == (2, 2)  # leading dims differ: 1 sample per record
    _, synthetic = batches_for(model, samples=5)
    assert synthetic.shapes == {"x": [2, 4], "bias": [4]} and synthetic.batches == 5


def test_fully_fixed_inputs_sharing_the_leading_dim_count_it(tmp_path):
    model = sum_model(tmp_path, {"x": [2, 4], "m": [2]})
    folder = _test_data_sets(tmp_path / "data", [[_f32(2, 4), _f32(2)]])
    batches, info = batches_for(model, calibration=(folder,))
    assert len(batches) == 1 and (info.samples, info.batches) == (2, 1)


def test_a_fixed_batch_is_cut_while_a_parameter_is_fixed(tmp_path):
    model = sum_model(tmp_path, {"x": [2, 4], "w": [3]})
    x, w = _f32(6, 4), _f32(3)
    batches, info = batches_for(model, calibration=(_npz(tmp_path / "d.npz", x=x, w=w),))
    assert [b["x"].shape for b in batches] == [(2, 4)] * 3
    assert all(np.array_equal(b["w"], w) for b in batches)
    np.testing.assert_array_equal(joined(batches, "x"), x)
    assert (info.samples, info.batches) == (6, 3)


def test_inputs_that_fix_different_batches_without_fitting_data_are_refused(tmp_path):
    model = sum_model(tmp_path, {"x": [2, 4], "y": [3, 4]})
    data = _npz(tmp_path / "d.npz", x=_f32(6, 4), y=_f32(9, 4))
    with pytest.raises(CalibrationError, match="inputs fix different batch sizes"):
        batches_for(model, calibration=(data,))


def test_each_record_feeds_its_own_fixed_values(tmp_path):
    model = prelu_model(tmp_path)
    x1, x2, s1, s2 = _f32(10, 4), _f32(10, 4), _f32(4), _f32(4)
    _npz(tmp_path / "shard_1.npz", x=x1, slope=s1)
    _npz(tmp_path / "shard_2.npz", x=x2, slope=s2)
    batches, info = batches_for(model, calibration=(str(tmp_path),), batch_size=16)
    assert [b["x"].shape[0] for b in batches] == [10, 10]  # never one batch with two slopes
    np.testing.assert_array_equal(batches[0]["slope"], s1)
    np.testing.assert_array_equal(batches[1]["slope"], s2)
    assert info.samples == 20


def test_later_records_may_leave_out_fixed_inputs(tmp_path):
    model = prelu_model(tmp_path)
    slope = _f32(4)
    _npz(tmp_path / "shard_1.npz", x=_f32(5, 4), slope=slope)
    _npz(tmp_path / "shard_2.npz", x=_f32(7, 4))
    batches, info = batches_for(model, calibration=(str(tmp_path),))
    assert len(batches) == 1 and batches[0]["x"].shape == (12, 4)
    np.testing.assert_array_equal(batches[0]["slope"], slope)


def test_a_later_fixed_input_of_the_wrong_shape_is_refused(tmp_path):
    model = prelu_model(tmp_path, slope_shape=("k",))
    _npz(tmp_path / "shard_1.npz", x=_f32(5, 4), slope=_f32(4))
    _npz(tmp_path / "shard_2.npz", x=_f32(5, 4), slope=_f32(5, 4))
    with pytest.raises(CalibrationError, match="shard_2.npz"):
        batches_for(model, calibration=(str(tmp_path),))


def test_synthetic_fixed_inputs_get_their_own_shape(tmp_path):
    model = prelu_model(tmp_path, slope_shape=(4,))
    batches, info = batches_for(model, samples=40)
    assert [b["x"].shape for b in batches] == [(16, 4), (16, 4), (8, 4)]
    assert all(b["slope"].shape == (4,) for b in batches)
    assert info.samples == 40 and any("'slope' is fixed" in n for n in info.notes)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, 59), max_size=5, unique=True), batch=st.integers(1, 25))
def test_any_split_into_shards_gives_the_same_feed(tmp_path_factory, cuts, batch):
    folder = tmp_path_factory.mktemp("shards")
    model = prelu_model(folder)
    x, slope = _f32(60, 4), _f32(4)
    for i, part in enumerate(np.split(x, sorted(cuts))):
        _npz(folder / f"shard_{i}.npz", x=part, slope=slope)
    batches, info = batches_for(model, calibration=(str(folder),), batch_size=batch)
    np.testing.assert_array_equal(joined(batches, "x"), x)
    assert all(np.array_equal(b["slope"], slope) for b in batches)
    assert all(b["x"].shape[0] == batch for b in batches[:-1])
    assert (info.samples, info.batches) == (60, -(-60 // batch))


def test_whole_records_must_each_hold_every_input(tmp_path):
    model = sum_model(tmp_path, {"x": [2, 4], "bias": [4]})
    write_pb(tmp_path / "data" / "test_data_set_0" / "input_0.pb", _f32(2, 4))
    write_pb(tmp_path / "data" / "test_data_set_0" / "input_1.pb", _f32(4))
    write_pb(tmp_path / "data" / "test_data_set_1" / "input_0.pb", _f32(2, 4))
    with pytest.raises(CalibrationError, match=r"no data for input\(s\) \['bias'\]"):
        batches_for(model, calibration=(str(tmp_path / "data"),))
