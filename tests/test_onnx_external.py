"""ONNX models whose weights are external data (every model over 2 GB is): a small generated one
goes through the same path (external files read from the model's folder, the staged copy for
onnxruntime written with external weights as past 2 GiB) and reports what the same model with
embedded weights reports, and numpy float64 on the same inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from conftest import run_cli
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.model.onnx import session

WIDTH = 256


def _graph(width: int, layers: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = [(rng.standard_normal((width, width)) * 2 / np.sqrt(width)).astype(np.float32)
               for _ in range(layers)]
    nodes, x = [], "x"
    for i in range(layers):
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"], name=f"fc{i}"),
                  helper.make_node("Tanh", [f"h{i}"], [f"a{i}"], name=f"tanh{i}")]
        x = f"a{i}"
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", width])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["n", width])],
        [numpy_helper.from_array(w, f"w{i}") for i, w in enumerate(weights)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, weights


def _save(model, folder, external: bool):
    folder.mkdir()
    path = folder / "model.onnx"
    model = onnx.ModelProto.FromString(model.SerializeToString())  # saving moves weights out
    if external:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                  location="model.weights", size_threshold=1024)
    else:
        onnx.save(model, str(path))
    return path


def _report(path, calib) -> dict:
    got = run_cli("inspect", str(path), "-c", str(calib), "-b", "8", "-f", "json")
    assert got.exit_code in (0, 1), got.stderr
    return json.loads(got.stdout)


def test_external_weights_report_what_embedded_ones_do(tmp_path, monkeypatch):
    model, weights = _graph(WIDTH, 3)
    external = _save(model, tmp_path / "ext", True)
    embedded = _save(model, tmp_path / "emb", False)
    assert external.stat().st_size < 2000 < (tmp_path / "ext" / "model.weights").stat().st_size
    x = np.random.default_rng(1).standard_normal((40, WIDTH)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    want = _report(embedded, tmp_path / "x.npy")
    # the path of a model past 2 GiB: staged for onnxruntime through a file, weights external
    monkeypatch.setattr(session, "_IN_MEMORY", 1024)
    monkeypatch.setattr(session, "_PROTOBUF_LIMIT", 4096)
    got = _report(external, tmp_path / "x.npy")
    assert got["sites"] == want["sites"] and got["summary"] == want["summary"]
    h = x.astype(np.float64)  # the truth, in float64
    for site, w in zip(got["sites"], weights):
        h_in = h @ w.astype(np.float64)
        assert site["stats"]["count"] == h_in.size
        assert site["stats"]["mean"] == pytest.approx(h_in.mean(), abs=1e-5 * h_in.std())
        assert site["stats"]["std"] == pytest.approx(h_in.std(), rel=1e-5)
        assert site["producer"]["weight_std"] == pytest.approx(float(w.std()), rel=1e-5)
        h = np.tanh(h_in)


def test_external_data_stays_inside_the_model_folder(tmp_path):
    model, _ = _graph(64, 1)
    path = _save(model, tmp_path / "m", True)
    stored = onnx.load(str(path), load_external_data=False)
    for entry in stored.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../secret.bin"
    onnx.save(stored, str(path))
    (tmp_path / "secret.bin").write_bytes(b"\0" * 64 * 64 * 4)
    got = run_cli("inspect", str(path), "-n", "8")
    assert got.exit_code == 2 and "outside the model's folder" in got.stderr
    (tmp_path / "m" / "model.weights").unlink()
    got = run_cli("inspect", str(_save(model, tmp_path / "n", True)), "-n", "8")
    assert got.exit_code in (0, 1)
    (tmp_path / "n" / "model.weights").unlink()
    got = run_cli("inspect", str(tmp_path / "n" / "model.onnx"), "-n", "8")
    assert got.exit_code == 2 and "is missing" in got.stderr and "\n" not in got.stderr.strip()


HWM = ("print([int(l.split()[1]) * 1024 for l in open('/proc/self/status') "
       "if l.startswith('VmHWM')][0])")
IDLE = ("import numpy, onnx, onnxruntime, saturate_cli.cli, saturate_cli.pipeline, "
        "saturate_cli.model.onnx.handle\n")
INSPECT = """
import sys
from saturate_cli.cli import app
sys.argv = ['saturate', 'inspect', {model!r}, '-n', '16', '-b', '8', '-f', 'json', '-o', {out!r}]
try:
    app()
except SystemExit:
    pass
"""
PLAIN = """
import numpy as np, onnxruntime as ort
s = ort.InferenceSession({model!r}, providers=["CPUExecutionProvider"])
x = np.ones((8, {width}), np.float32)
for _ in range(2):
    s.run(None, {{s.get_inputs()[0].name: x}})
"""


def _peak(code: str) -> int:
    run = subprocess.run([sys.executable, "-c", code + HWM], capture_output=True, text=True,
                         check=True)
    return int(run.stdout.split()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("layers", [8, 32])  # 128 and 512 MiB of external weights
def test_peak_memory_is_about_the_weights_plus_one_batch(tmp_path, layers):
    """The peak over an idle process with the same imports is the weights plus a constant
    (Python's copy is released before onnxruntime loads its own), close to plain
    onnxruntime's on the same file."""
    model, weights = _graph(2048, layers)
    path = str(_save(model, tmp_path / "big", True))
    size = sum(w.nbytes for w in weights)
    ours = _peak(INSPECT.format(model=path, out=str(tmp_path / "r.json"))) - _peak(IDLE)
    plain = _peak(PLAIN.format(model=path, width=2048)) - _peak("import numpy, onnxruntime\n")
    assert ours <= size + 96 * 2**20, ours / size
    assert ours <= plain + 64 * 2**20, (ours - plain) / 2**20
