"""Staging a model read from disk as a hollow copy (onnx/origin.py, onnx/hollow.py): its
initializers are external-data references to the bytes already in the model's files, so the
weights are not serialised again. Each session is checked against a plain onnxruntime session
on the file itself, and against the old way (the whole model serialised)."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import SAMPLES, run_cli
from onnx import TensorProto, external_data_helper, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from saturate_cli.errors import CalibrationError, ModelLoadError
from saturate_cli.model.onnx import runner as runner_module
from saturate_cli.model.onnx import session as session_module
from saturate_cli.model.onnx.load import read_model
from saturate_cli.model.onnx.runner import Runner

CPU = ["CPUExecutionProvider"]
BUDGET = 2**33


def _mlp(width: int, layers: int, seed: int = 0, typed: int = -1):
    """x -> (MatMul w_i, Add b_i, Tanh) * layers; layer `typed` keeps its weight in float_data."""
    rng = np.random.default_rng(seed)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        b = rng.standard_normal(width).astype(np.float32)
        inits.append(helper.make_tensor(f"w{i}", TensorProto.FLOAT, w.shape, w.ravel().tolist())
                     if i == typed else numpy_helper.from_array(w, f"w{i}"))
        inits.append(numpy_helper.from_array(b, f"b{i}"))
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"h{i}"]),
                  helper.make_node("Tanh", [f"h{i}"], [f"a{i}"], name=f"tanh{i}")]
        x = f"a{i}"
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", width])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["n", width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _with_branch(width: int = 64):
    """An If whose then-branch multiplies by its own (subgraph) initializer."""
    model = _mlp(width, 1)
    w = np.random.default_rng(5).standard_normal((width, width)).astype(np.float32)
    then = helper.make_graph([helper.make_node("MatMul", ["a0", "wt"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)],
                             [numpy_helper.from_array(w, "wt")])
    other = helper.make_graph([helper.make_node("Neg", ["a0"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    g = model.graph
    g.node.append(helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other))
    g.input.append(helper.make_tensor_value_info("c", TensorProto.BOOL, []))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", width]))
    return model


def _with_function(width: int = 64):
    """The last activation inside a model-local function (read_model inlines it)."""
    model = _mlp(width, 2)
    fn = helper.make_function("local", "Act", ["a"], ["b"],
                              [helper.make_node("Sigmoid", ["a"], ["b"])],
                              [helper.make_opsetid("", 17)])
    model.functions.append(fn)
    model.opset_import.append(helper.make_opsetid("local", 1))
    g = model.graph
    g.node.append(helper.make_node("Act", ["a1"], ["y"], domain="local"))
    g.output[0].name = "y"
    return model


def _save(model, path, external=None):
    """Save; `external`: names of the initializers written to 'w.bin' beside the model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for t in model.graph.initializer:
        if external is not None and t.name in external:
            external_data_helper.set_external_data(t, "w.bin")
    onnx.save(model, str(path))
    return path


def _feed(path, seed=1):
    model = onnx.load(str(path), load_external_data=False)
    rng = np.random.default_rng(seed)
    feed = {}
    for vi in model.graph.input:
        if vi.name in {t.name for t in model.graph.initializer}:
            continue
        elem = vi.type.tensor_type.elem_type
        dims = [d.dim_value or 3 for d in vi.type.tensor_type.shape.dim]
        if elem == TensorProto.BOOL:
            feed[vi.name] = np.array(True)
        elif elem == TensorProto.INT64:
            feed[vi.name] = rng.integers(0, 8, dims).astype(np.int64)
        else:
            feed[vi.name] = rng.standard_normal(dims).astype(np.float32)
    return feed


def _plain(path, feed):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=CPU).run(None, feed)


def _stage(path, consume=True):
    model = read_model(path, BUDGET)
    runner = Runner(str(path), 17, [], threads=1)
    return model, runner, runner.stage(model, consume=consume)


def _hollow_model(staged) -> onnx.ModelProto:
    assert isinstance(staged.source, bytes)
    return onnx.ModelProto.FromString(staged.source)


def _referenced(staged) -> set:
    return {t.name for t in _hollow_model(staged).graph.initializer
            if t.data_location == TensorProto.EXTERNAL}


@pytest.mark.parametrize("name", ["transformer_block", "cnn_relu_deadbias", "mlp_mixed"])
def test_sample_models_run_as_the_file_does(name):
    path = SAMPLES / f"{name}.onnx"
    model, runner, staged = _stage(path)
    big = {t.name for t in model.graph.initializer
           if t.HasField("raw_data") and len(t.raw_data) >= 1024}
    assert big and _referenced(staged) == big
    feed = _feed(path)
    with staged:
        got = runner.open_checked(staged).run(None, feed)
    for a, b in zip(got, _plain(path, feed)):
        np.testing.assert_array_equal(a, b)


CASES = {
    "inline": lambda d: _save(_mlp(64, 3), d / "m.onnx"),
    "external": lambda d: _save(_mlp(64, 3), d / "m.onnx", {"w0", "w1", "w2", "b0"}),
    "mixed": lambda d: _save(_mlp(64, 3), d / "m.onnx", {"w1"}),
    "float_data": lambda d: _save(_mlp(64, 3, typed=1), d / "m.onnx"),
    "subgraph": lambda d: _save(_with_branch(), d / "m.onnx"),
    "function": lambda d: _save(_with_function(), d / "m.onnx"),
}
REFERENCED = {"inline": {"w0", "w1", "w2"}, "external": {"w0", "w1", "w2"},
              "mixed": {"w0", "w1", "w2"}, "float_data": {"w0", "w2"}, "subgraph": {"w0"},
              "function": {"w0", "w1"}}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hollow_session_equals_the_file_and_the_old_way(tmp_path, case):
    path = CASES[case](tmp_path)
    model, runner, staged = _stage(path)
    assert _referenced(staged) == REFERENCED[case]  # float_data, subgraphs, biases: inline
    feed = _feed(path)
    with staged:
        got = runner.open_checked(staged).run(None, feed)
    with session_module.Staged(model) as old:  # the whole model serialised
        assert old.source != staged.source
        before = runner.open_checked(old).run(None, feed)
    for a, b, c in zip(got, _plain(path, feed), before):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_large_model_goes_as_a_few_bytes(tmp_path):
    """Past 8 MiB the old way wrote a temporary file; the hollow copy is bytes, without the
    weights, and the caller may drop its copy before onnxruntime loads its own."""
    path = _save(_mlp(1100, 2), tmp_path / "big.onnx")  # 2 x 4.8 MB of weights
    model, runner, staged = _stage(path)
    assert sum(len(t.raw_data) for t in model.graph.initializer) > session_module._IN_MEMORY
    assert len(staged.source) < 4096 and staged._folder is None and staged.consumed
    del model
    feed = _feed(path)
    with staged:
        got = runner.open_checked(staged).run(None, feed)
    np.testing.assert_array_equal(got[0], _plain(path, feed)[0])


def test_the_old_way_past_2_gib_still_runs(tmp_path, monkeypatch):
    """A model that cannot be referenced (not the one read) takes the external-data route of
    models past 2 GiB (limits lowered to reach it)."""
    monkeypatch.setattr(session_module, "_IN_MEMORY", 1024)
    monkeypatch.setattr(session_module, "_PROTOBUF_LIMIT", 4096)
    path = _save(_mlp(64, 3), tmp_path / "m.onnx")
    model = read_model(path, BUDGET)
    runner = Runner(str(path), 17, [], threads=1)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    staged = runner.stage(copy, consume=True)
    assert isinstance(staged.source, str) and staged.consumed  # a file, weights moved out
    feed = _feed(path)
    with staged:
        got = runner.open_checked(staged).run(None, feed)
    np.testing.assert_array_equal(got[0], _plain(path, feed)[0])


def test_only_the_model_read_from_the_file_is_referenced(tmp_path):
    path = _save(_mlp(64, 2), tmp_path / "m.onnx")
    model, runner, staged = _stage(path, consume=False)  # not vouched for: the old way
    assert staged._origin is None
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.graph.initializer[0].raw_data = bytes(len(copy.graph.initializer[0].raw_data))
    staged = runner.stage(copy, consume=True)  # same names and shapes, another object
    assert staged._origin is None
    feed = _feed(path)
    with staged:
        got = runner.open_checked(staged).run(None, feed)
    np.testing.assert_allclose(got[0], ReferenceEvaluator(copy).run(None, feed)[0], rtol=1e-5,
                               atol=1e-6)
    assert not np.allclose(got[0], _plain(path, feed)[0])


def _rewrite_in_place(path, keep_mtime=True):
    """Zero the weights' bytes in the file, same size, the modification time put back."""
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    model = onnx.ModelProto.FromString(bytes(data))
    for t in model.graph.initializer:
        at = bytes(data).find(t.raw_data)
        data[at:at + len(t.raw_data)] = bytes(len(t.raw_data))
    with open(path, "r+b") as fh:
        fh.write(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("change", ["in place", "replaced"])
def test_a_file_changed_since_it_was_read_falls_back(tmp_path, change):
    path = _save(_mlp(64, 2), tmp_path / "m.onnx")
    feed = _feed(path)
    want = _plain(path, feed)
    model = read_model(path, BUDGET)
    if change == "in place":
        _rewrite_in_place(path)
    else:
        _save(_mlp(64, 2, seed=9), tmp_path / "new.onnx").replace(path)
    runner = Runner(str(path), 17, [], threads=1)
    staged = runner.stage(model, consume=True)
    assert staged._origin is None  # serialised from memory: the weights as they were read
    with staged:
        got = runner.open_checked(staged).run(None, feed)
    np.testing.assert_array_equal(got[0], want[0])
    assert not np.array_equal(_plain(path, feed)[0], want[0])


def test_a_file_changed_under_the_session_stops_with_one_line(tmp_path):
    path = _save(_mlp(64, 2), tmp_path / "m.onnx")
    feed = _feed(path)
    _, runner, staged = _stage(path)
    _rewrite_in_place(path)  # after staging, before the session: refused
    with staged, pytest.raises(ModelLoadError, match="changed on disk"):
        runner.open_checked(staged)
    path = _save(_mlp(64, 2), tmp_path / "n" / "m.onnx")
    _, runner, staged = _stage(path)
    with staged:
        session = runner.open_checked(staged)
    runner.run(session, None, feed)
    _rewrite_in_place(path, keep_mtime=False)  # while the session maps the weights
    with pytest.raises(ModelLoadError, match="changed on disk") as err:
        runner.run(session, None, feed)
    assert not isinstance(err.value, CalibrationError) and "\n" not in str(err.value)


def test_a_symbolic_link_to_the_model_is_followed(tmp_path):
    path = _save(_mlp(64, 2), tmp_path / "real" / "m.onnx")
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "model.onnx"
    try:
        link.symlink_to(path)
    except OSError:
        pytest.skip("no symbolic links here")
    _, runner, staged = _stage(link)
    assert _referenced(staged) == {"w0", "w1"}
    feed = _feed(path)
    with staged:
        got = runner.open_checked(staged).run(None, feed)
    np.testing.assert_array_equal(got[0], _plain(path, feed)[0])


def _report(path, calib) -> dict:
    got = run_cli("inspect", str(path), "-c", str(calib), "-b", "4", "-f", "json")
    assert got.exit_code in (0, 1), got.stderr
    return json.loads(got.stdout)


@pytest.mark.parametrize("case", ["inline", "external", "float_data"])
def test_inspect_reports_what_the_old_way_does(tmp_path, monkeypatch, case):
    """The instrumented session, staged hollow, measures what it measures serialised whole."""
    path = CASES[case](tmp_path / "model")
    np.save(tmp_path / "x.npy", np.random.default_rng(3).standard_normal((12, 64))
            .astype(np.float32))
    hollow = []
    real = session_module.Staged._hollow

    def spy(self, model, origin):
        hollow.append(real(self, model, origin))
        return hollow[-1]

    monkeypatch.setattr(session_module.Staged, "_hollow", spy)
    got = _report(path, tmp_path / "x.npy")
    assert hollow == [True]
    monkeypatch.setattr(runner_module, "origin_of", lambda path, model: None)
    want = _report(path, tmp_path / "x.npy")
    assert hollow == [True]  # the old way this time
    assert got["sites"] == want["sites"] and got["summary"] == want["summary"]
    assert [s["stats"]["count"] for s in got["sites"]] == [12 * 64] * 3
