"""Data that does not fit the model: exit 2 and one line naming both sides; NaN only warns."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto

from conftest import SAMPLES, run_cli
from saturate_cli import pipeline
from saturate_cli.settings import Settings
from test_calibration_fixtures import typed_model

MLP = str(SAMPLES / "mlp_sigmoid_badinit.onnx")
TRANSFORMER = str(SAMPLES / "transformer_block.onnx")


def _error(*args) -> str:
    result = run_cli("inspect", *args, "-q")
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("saturate: error: "), result.stderr
    return lines[0]


def _npz(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def test_wrong_input_name_lists_the_models_inputs(tmp_path):
    data = _npz(tmp_path / "d.npz", input_ids=np.zeros((2, 4), np.int64),
                mask=np.ones((2, 4), np.int64))
    line = _error(TRANSFORMER, "-c", data)
    assert "'mask'" in line and "['input_ids', 'attention_mask']" in line


def test_missing_input(tmp_path):
    data = _npz(tmp_path / "d.npz", input_ids=np.zeros((2, 4), np.int64))
    line = _error(TRANSFORMER, "-c", data)
    assert "no data for input(s) ['attention_mask']" in line


def test_wrong_rank(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28, 1), np.float32))
    line = _error(MLP, "-c", str(tmp_path / "x.npy"))
    assert "expects rank 2 [batch, 784]" in line and "[2, 28, 28, 1]" in line


def test_wrong_shape(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 780), np.float32))
    line = _error(MLP, "-c", str(tmp_path / "x.npy"))
    assert "expects shape [batch, 784]" in line and "[2, 780]" in line and "784 vs 780" in line


def test_symbolic_dims_must_agree_across_inputs(tmp_path):
    data = _npz(tmp_path / "d.npz", input_ids=np.zeros((2, 5), np.int64),
                attention_mask=np.ones((2, 4), np.int64))
    line = _error(TRANSFORMER, "-c", data)
    assert "dim 'seq' is 5 in input 'input_ids' but 4 in input 'attention_mask'" in line


def test_float_to_int_is_refused(tmp_path):
    data = _npz(tmp_path / "d.npz", input_ids=np.zeros((2, 4), np.float32),
                attention_mask=np.ones((2, 4), np.int64))
    line = _error(TRANSFORMER, "-c", data)
    assert "'input_ids' expects int64, the data is float32" in line and "refusing" in line


def test_float64_is_cast_with_a_note(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 784), np.float64))
    result = run_cli("inspect", MLP, "-c", str(tmp_path / "x.npy"), "-f", "json", "-q")
    assert result.exit_code in (0, 1), result.stderr
    notes = json.loads(result.stdout)["calibration"]["notes"]
    assert "input 'x': float64 data cast to float32 (precision reduced)" in notes


def test_int_values_that_do_not_fit_are_refused(tmp_path):
    model = typed_model(tmp_path, {"ids": (TensorProto.INT32, ["batch", 3])})
    np.save(tmp_path / "ids.npy", np.array([[0, 1, 2**40]], np.int64))
    line = _error(str(model), "-c", str(tmp_path / "ids.npy"))
    assert "expects int32, the data is int64" in line and "do not fit" in line


def test_empty_file(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((0, 784), np.float32))
    line = _error(MLP, "-c", str(tmp_path / "x.npy"))
    assert "empty" in line and "x.npy" in line


def test_unreadable_file(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"not numpy")
    line = _error(MLP, "-c", str(tmp_path / "x.npy"))
    assert "not a readable .npy/.npz file" in line


def test_missing_path_and_empty_folder(tmp_path):
    assert "no such calibration file or folder" in _error(MLP, "-c", str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    assert "no calibration files in the folder" in _error(MLP, "-c", str(tmp_path / "empty"))


def test_different_sample_counts(tmp_path):
    data = _npz(tmp_path / "d.npz", input_ids=np.zeros((3, 4), np.int64),
                attention_mask=np.ones((2, 4), np.int64))
    line = _error(TRANSFORMER, "-c", data)
    assert "different sample counts" in line and "'input_ids': 3" in line \
        and "'attention_mask': 2" in line


def test_nan_is_counted_not_an_error(tmp_path):
    x = np.zeros((4, 784), np.float32)
    x[0, :3] = np.nan
    x[2, 7] = np.nan
    np.save(tmp_path / "x.npy", x)
    result = run_cli("inspect", MLP, "-c", str(tmp_path / "x.npy"), "-f", "json", "-q")
    assert result.exit_code in (0, 1), result.stderr
    assert "4 NaN values in the calibration data" in json.loads(result.stdout)["calibration"][
        "notes"]


def test_bad_options(tmp_path):
    assert "--int-range '9,3'" in _error(TRANSFORMER, "--int-range", "9,3")
    assert "--std '0,1,1'" in _error(MLP, "--std", "0,1,1")
    assert "--layout 'chw'" in _error(MLP, "--layout", "chw")
    assert "--input-shape names unknown input(s) ['y']" in _error(MLP, "--input-shape", "y=2x3")


def test_mixed_images_and_arrays(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 784), np.float32))
    (tmp_path / "a.png").write_bytes(b"")
    line = _error(MLP, "-c", str(tmp_path / "x.npy"), "-c", str(tmp_path / "a.png"))
    assert "mix images and arrays" in line


# --- Ctrl-C ----------------------------------------------------------------------------------

def _interrupt_after(n: int, monkeypatch):
    real = pipeline.make_batches

    def make_batches(specs, settings, *rest):
        batches, info = real(specs, settings, *rest)

        def stream():
            for i, batch in enumerate(batches):
                if i == n:
                    raise KeyboardInterrupt
                yield batch
        return stream(), info

    monkeypatch.setattr(pipeline, "make_batches", make_batches)


def test_ctrl_c_keeps_the_batches_seen_and_marks_partial(monkeypatch):
    _interrupt_after(3, monkeypatch)
    report = pipeline.inspect_model(MLP, Settings(samples=128, batch_size=8))
    cal = report.calibration
    assert (cal["partial"], cal["batches"], cal["samples"]) == (True, 3, 24)
    assert any("interrupted" in n for n in cal["notes"])
    assert {s["stats"]["count"] for s in report.to_dict()["sites"]} <= {24 * 128, 24 * 10}


def test_ctrl_c_before_any_batch_is_an_interrupt(monkeypatch):
    _interrupt_after(1, monkeypatch)  # the first batch goes to the rank probe/first run
    report = pipeline.inspect_model(MLP, Settings(samples=64, batch_size=8))
    assert report.calibration["batches"] == 1
    _interrupt_after(0, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        pipeline.inspect_model(MLP, Settings(samples=64, batch_size=8))


def test_ctrl_c_on_the_pytorch_path_keeps_whole_batches(monkeypatch):
    pytest.importorskip("torch")
    _interrupt_after(2, monkeypatch)
    factory = str(MLP).replace("mlp_sigmoid_badinit.onnx", "models.py:build_mlp_sigmoid_badinit")
    report = pipeline.inspect_model(factory, Settings(samples=64, batch_size=8))
    cal = report.calibration
    assert (cal["partial"], cal["batches"], cal["samples"]) == (True, 2, 16)
    assert {s["stats"]["count"] for s in report.to_dict()["sites"]} == {16 * 128}
