"""The user's data is used whole: --samples caps it only when given; synthetic keeps 128."""

from __future__ import annotations

import json

import numpy as np
from onnx import TensorProto, helper

from conftest import run_cli
from saturate_cli.calibration import make_batches
from saturate_cli.model.load import load_model
from saturate_cli.settings import DEFAULTS, SYNTHETIC_SAMPLES, Settings
from test_calibration_fixtures import batches_for, joined, save_model


def _model(tmp, shape):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    return save_model(tmp / "m.onnx", [helper.make_node("Sigmoid", ["x"], ["y"])], [x])


def _calibration(*args) -> dict:
    result = run_cli("inspect", *args, "-f", "json", "-q")
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    return json.loads(result.stdout)["calibration"]


def test_a_file_is_used_whole_unless_samples_caps_it(tmp_path):
    model = str(_model(tmp_path, ["N", 4]))
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((300, 4), np.float32))
    whole = _calibration(model, "-c", str(tmp_path / "x.npy"))
    assert (whole["samples"], whole["batches"]) == (300, 19)
    assert not any("--samples" in n for n in whole["notes"])
    capped = _calibration(model, "-c", str(tmp_path / "x.npy"), "--samples", "50")
    assert capped["samples"] == 50
    assert "--samples 50 reached: the rest of the data was not used" in capped["notes"]


def test_synthetic_data_keeps_its_default_count(tmp_path):
    model = str(_model(tmp_path, ["N", 4]))
    assert SYNTHETIC_SAMPLES == 128 and DEFAULTS.samples is None
    assert _calibration(model)["samples"] == 128
    assert _calibration(model, "--samples", "50")["samples"] == 50


def test_samples_from_the_config_file_still_caps(tmp_path, monkeypatch):
    model = str(_model(tmp_path, ["N", 4]))
    np.save(tmp_path / "x.npy", np.zeros((300, 4), np.float32))
    (tmp_path / "saturate.toml").write_text("samples = 40\n")
    monkeypatch.chdir(tmp_path)
    assert _calibration(model, "-c", str(tmp_path / "x.npy"))["samples"] == 40


def test_a_fixed_input_larger_than_the_synthetic_default_is_measured(tmp_path):
    model = _model(tmp_path, [10000])  # the ONNX test suite's test_mish
    x = np.random.default_rng(1).standard_normal(10000).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    batches, info = batches_for(model, calibration=(str(tmp_path / "x.npy"),))
    assert (info.samples, info.batches) == (10000, 1)
    np.testing.assert_array_equal(joined(batches, "x"), x)


def test_expected_batches_for_the_progress_bar(tmp_path):
    model = _model(tmp_path, ["N", 4])
    np.save(tmp_path / "x.npy", np.zeros((300, 4), np.float32))
    handle = load_model(str(model), Settings())

    def expected(**settings):
        return make_batches(handle.inputs, Settings(**settings))[1].expected

    assert expected() == 8 and expected(samples=40, batch_size=16) == 3
    assert expected(calibration=(str(tmp_path / "x.npy"),)) is None  # not known before reading
    assert expected(calibration=(str(tmp_path / "x.npy"),), samples=50) == 4
