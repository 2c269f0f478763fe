"""Models read with their large weights left in the file (onnx/lazy.py, wire.without_raw):
checked against protobuf's own parse of the whole file, against the values onnx decodes, and
against the whole inspect run the old way."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from wire_bytes import field as _field
from wire_bytes import varint as _varint
from conftest import SAMPLES, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.errors import ModelLoadError
from saturate_cli.model.onnx import lazy
from saturate_cli.model.onnx.graph import GraphView
from saturate_cli.model.onnx.load import SMALL_TENSOR, read_model
from saturate_cli.model.onnx.wire import initializer_spans, without_raw

BUDGET = 2**33
_TYPES = [np.float32, np.float64, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64,
          np.uint64, np.bool_]


def _model(tensors, nodes=(), outputs=()) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "g", [], list(outputs), list(tensors))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _cleared(data: bytes, drop: set) -> bytes:
    """What protobuf makes of `data` with those initializers' raw_data cleared."""
    model = onnx.ModelProto.FromString(data)
    for i in drop:
        model.graph.initializer[i].ClearField("raw_data")
    return model.SerializeToString()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(range(len(_TYPES))),
                          st.lists(st.integers(0, 5), max_size=3), st.booleans(), st.booleans()),
                max_size=8), st.integers(0, 2**16))
def test_raw_bytes_left_out_are_exactly_those_asked_for(specs, seed):
    rng = np.random.default_rng(seed)
    tensors, drop = [], set()
    for i, (kind, dims, typed, dropped) in enumerate(specs):
        value = (rng.standard_normal(dims) * 9).astype(_TYPES[kind])
        if typed and value.dtype == np.float32:
            tensors.append(helper.make_tensor(f"t{i}", TensorProto.FLOAT, dims,
                                              value.ravel().tolist()))
        else:
            tensors.append(numpy_helper.from_array(value, f"t{i}"))
        if dropped:
            drop.add(i)
    data = _model(tensors).SerializeToString()
    got = without_raw(data, drop)
    assert got is not None and got == _cleared(data, drop)


def test_merged_graphs_and_repeated_raw_fields_are_left_out_whole():
    """A second graph field merges into the first; a tensor with two raw_data fields keeps
    the last: leaving it out leaves out both."""
    base = _model([numpy_helper.from_array(np.ones((4, 4), np.float32), "a")]).SerializeToString()
    tensor = (_field(8, b"b") + _varint(1 << 3) + _varint(24) + _varint(2 << 3)
              + _varint(TensorProto.UINT8) + _field(9, bytes(24)) + _field(9, bytes(range(24))))
    data = base + _field(7, _field(5, tensor))
    for drop in ({0}, {1}, {0, 1}):
        got = onnx.ModelProto.FromString(without_raw(data, drop))
        assert [t.HasField("raw_data") for t in got.graph.initializer] == \
            [i not in drop for i in range(2)]
        assert got.SerializeToString() == _cleared(data, drop)
    assert without_raw(data[:-3], {0}) is None


def _mixed(tmp_path) -> str:
    """Large and small tensors of several types, one large one in float_data (stays inline)."""
    rng = np.random.default_rng(0)
    tensors = [numpy_helper.from_array(rng.standard_normal((64, 96)).astype(np.float32), "w"),
               numpy_helper.from_array(rng.standard_normal(5000).astype(np.float16), "h"),
               numpy_helper.from_array(rng.integers(-9, 9, 4096).astype(np.int64), "i"),
               numpy_helper.from_array(rng.standard_normal(8192) > 0, "m"),
               numpy_helper.from_array(rng.standard_normal(7).astype(np.float64), "small"),
               helper.make_tensor("typed", TensorProto.FLOAT, [4096],
                                  rng.standard_normal(4096).astype(np.float32).tolist())]
    nodes = [helper.make_node("Identity", [t.name], [f"o_{t.name}"]) for t in tensors]
    outputs = [helper.make_empty_tensor_value_info(f"o_{t.name}") for t in tensors]
    path = tmp_path / "mixed.onnx"
    onnx.save(_model(tensors, nodes, outputs), path)
    return str(path)


@pytest.mark.parametrize("which", ["mixed"] + sorted(p.name for p in SAMPLES.glob("*.onnx")))
def test_a_lazy_read_is_the_whole_model_once_materialised(tmp_path, which):
    path = _mixed(tmp_path) if which == "mixed" else str(SAMPLES / which)
    whole = read_model(Path(path), BUDGET)
    light = read_model(Path(path), BUDGET, lazy=True)
    big = {t.name for t in whole.graph.initializer
           if np.prod(t.dims) >= SMALL_TENSOR and t.HasField("raw_data")}
    assert {t.name for t in light.graph.initializer if not t.HasField("raw_data")
            and not any(getattr(t, f) for f in ("float_data", "int64_data"))} == big
    view, want = GraphView(light), GraphView(whole)
    for t in whole.graph.initializer:
        got = view.constant(t.name)
        np.testing.assert_array_equal(got, want.constant(t.name))
        assert got.dtype == want.constant(t.name).dtype
    copy = onnx.ModelProto()
    copy.CopyFrom(light)  # a copy finds the bytes as well
    for model in (copy, light):
        assert lazy.materialise(model).SerializeToString() == whole.SerializeToString()


def test_a_lazy_read_holds_only_the_graph(tmp_path):
    path = tmp_path / "big.onnx"
    w = np.random.default_rng(1).standard_normal((512, 512)).astype(np.float32)
    onnx.save(_model([numpy_helper.from_array(w, "w")]), path)
    light = read_model(path, BUDGET, lazy=True)
    assert light.ByteSize() < 1000 < w.nbytes
    spans = initializer_spans(path.read_bytes())
    info = {e.key: e.value for e in light.graph.initializer[0].external_data}
    assert info == {"location": "big.onnx", "offset": str(spans[0].offset),
                    "length": str(w.nbytes)}


@pytest.mark.parametrize("change", ["rewritten", "touched"])
def test_a_file_changed_after_a_lazy_read_is_refused_in_one_line(tmp_path, change):
    path = tmp_path / "m.onnx"
    w = np.random.default_rng(2).standard_normal((64, 64)).astype(np.float32)
    onnx.save(_model([numpy_helper.from_array(w, "w")]), path)
    light = read_model(path, BUDGET, lazy=True)
    if change == "rewritten":
        onnx.save(_model([numpy_helper.from_array(w * 2, "w")]), path)
    else:
        st_ = path.stat()
        os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))
    for read in (lambda: GraphView(light).constant("w"), lambda: lazy.materialise(light)):
        with pytest.raises(ModelLoadError, match="changed on disk") as err:
            read()
        assert "\n" not in str(err.value)


def test_a_files_own_mark_is_not_believed(tmp_path):
    """A file saying its weights lie elsewhere is read as any other file."""
    w = np.random.default_rng(3).standard_normal((64, 64)).astype(np.float32)
    model = _model([numpy_helper.from_array(w, "w")])
    entry = model.metadata_props.add()
    entry.key, entry.value = lazy.MARK, json.dumps({"file": "/etc/passwd", "stamp": [0]})
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    for light in (read_model(path, BUDGET, lazy=True), read_model(path, BUDGET)):
        marks = [json.loads(e.value)["file"] for e in light.metadata_props if e.key == lazy.MARK]
        assert marks in ([], [os.path.realpath(path)])
        np.testing.assert_array_equal(GraphView(light).constant("w"), w)


def test_inspect_reports_what_a_whole_read_does(tmp_path, monkeypatch):
    model = SAMPLES / "cnn_relu_deadbias.onnx"
    calib = tmp_path / "x.npy"
    np.save(calib, np.random.default_rng(4).standard_normal((8, 3, 32, 32)).astype(np.float32))
    args = ("inspect", str(model), "-c", str(calib), "-b", "4", "-f", "json")
    got = run_cli(*args)
    monkeypatch.setattr(lazy, "parse_light", lambda *a: None)
    want = run_cli(*args)
    assert got.exit_code == want.exit_code and got.exit_code in (0, 1), got.stderr
    a, b = json.loads(got.stdout), json.loads(want.stdout)
    assert a["sites"] == b["sites"] and a["summary"] == b["summary"]


def test_a_model_with_local_functions_keeps_its_weights_findable(tmp_path, monkeypatch):
    """Inlining rewrites the model: the copy still says where its weights lie (even where the
    inliner drops metadata)."""
    from onnx import inliner

    act = helper.make_function("local", "Act", ["a"], ["b"], [helper.make_node("Tanh", ["a"],
                                                                               ["b"])],
                               [helper.make_opsetid("", 17)])
    w = np.random.default_rng(5).standard_normal((64, 64)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]),
         helper.make_node("Act", ["h"], ["y"], domain="local")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, functions=[act], opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    path = tmp_path / "f.onnx"
    onnx.save(model, path)
    real = inliner.inline_local_functions

    def forgetful(m):
        out = real(m)
        del out.metadata_props[:]
        return out

    monkeypatch.setattr(inliner, "inline_local_functions", forgetful)
    light = read_model(path, BUDGET, lazy=True)
    assert not light.functions and [n.op_type for n in light.graph.node] == ["MatMul", "Tanh"]
    np.testing.assert_array_equal(GraphView(light).constant("w"), w)
    assert lazy.materialise(light).graph.initializer[0].raw_data == w.tobytes()


def test_a_file_name_that_is_not_utf8_is_read_whole(tmp_path):
    """A reference is a protobuf string: such a file is parsed whole instead, and measured."""
    name = os.fsdecode(b"r\xff.onnx")
    path = tmp_path / name
    try:
        w = np.random.default_rng(6).standard_normal((64, 64)).astype(np.float32)
        onnx.save(_model([numpy_helper.from_array(w, "w")]), path)
    except (OSError, UnicodeError):
        pytest.skip("this file system takes no such name")
    light = read_model(path, BUDGET, lazy=True)
    assert light.graph.initializer[0].raw_data == w.tobytes()
    assert not any(e.key == lazy.MARK for e in light.metadata_props)


def test_only_entries_this_process_wrote_are_believed(tmp_path):
    """An in-memory model whose metadata says its weights lie in some file is not read from
    there (the Python API takes any ModelProto)."""
    secret = tmp_path / "other.bin"
    secret.write_bytes(np.arange(4096, dtype=np.float32).tobytes())
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4096],
                    data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "other.bin"), ("offset", "0"), ("length", "16384")):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    model = _model([t])
    st_ = secret.stat()
    stamp = [st_.st_size, st_.st_mtime_ns, st_.st_ctime_ns, st_.st_ino, st_.st_dev]
    entry = model.metadata_props.add()
    entry.key, entry.value = lazy.MARK, json.dumps({"file": str(secret), "stamp": stamp})
    assert GraphView(model).constant("w") is None
    assert lazy.materialise(model).graph.initializer[0].data_location == TensorProto.EXTERNAL


def test_a_file_replaced_after_its_stamp_is_parsed_whole(tmp_path):
    path = tmp_path / "m.onnx"
    w = np.random.default_rng(7).standard_normal((64, 64)).astype(np.float32)
    onnx.save(_model([numpy_helper.from_array(w, "w")]), path)
    stale = tuple(os.stat(path)[i] for i in (6,)) + (0, 0, 0, 0)  # not the file's stamp
    with open(path, "rb") as fh:
        assert lazy.parse_light(fh, path, stale) is None
