"""Image folders: resize + center crop, scaling, normalisation, NCHW/NHWC, Pillow missing."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import SAMPLES, run_cli
from test_calibration_fixtures import batches_for, nhwc_model

PIL = pytest.importorskip("PIL.Image")
CNN = SAMPLES / "cnn_relu_deadbias.onnx"  # x [batch, 3, 32, 32]
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def _solid(path, size, rgb):
    PIL.new("RGB", size, rgb).save(path)
    return path


def test_solid_images_normalised_nchw(tmp_path):
    colours = [(255, 0, 0), (0, 128, 255), (10, 20, 30)]
    for i, rgb in enumerate(colours):  # different sizes and aspect ratios, PNG and JPEG
        _solid(tmp_path / f"img{i}.{'png' if i != 1 else 'jpg'}", (40 + 20 * i, 33), rgb)
    batches, info = batches_for(CNN, calibration=(str(tmp_path),), batch_size=2)
    assert [b["x"].shape for b in batches] == [(2, 3, 32, 32), (1, 3, 32, 32)]
    x = np.concatenate([b["x"] for b in batches])
    for i, rgb in enumerate(colours):
        expected = (np.array(rgb) / 255.0 - MEAN) / STD
        tol = 0.05 if i == 1 else 1e-4  # JPEG is lossy; float32 otherwise
        np.testing.assert_allclose(x[i].mean(axis=(1, 2)), expected, atol=tol)
    assert x.dtype == np.float32 and info.source.startswith("images:")


def test_center_crop_keeps_the_middle(tmp_path):
    """A 64x32 image: left and right quarters red, middle half blue -> after resizing the
    shorter side to 32 and cropping 32x32 from the centre, only blue is left."""
    pixels = np.zeros((32, 64, 3), np.uint8)
    pixels[:, :16] = pixels[:, 48:] = (255, 0, 0)
    pixels[:, 16:48] = (0, 0, 255)
    PIL.fromarray(pixels).save(tmp_path / "wide.png")
    batches, _ = batches_for(CNN, calibration=(str(tmp_path / "wide.png"),), mean=(0.0,),
                             std=(1.0,))
    np.testing.assert_allclose(batches[0]["x"][0, 2], 1.0)  # blue channel everywhere
    np.testing.assert_allclose(batches[0]["x"][0, 0], 0.0)


def test_nhwc_layout_from_the_input_shape(tmp_path):
    model = nhwc_model(tmp_path)
    (tmp_path / "imgs").mkdir()
    _solid(tmp_path / "imgs" / "a.png", (10, 10), (255, 255, 0))
    batches, _ = batches_for(model, calibration=(str(tmp_path / "imgs"),), mean=(0.5,),
                             std=(0.5,))
    assert batches[0]["x"].shape == (1, 8, 8, 3)
    np.testing.assert_allclose(batches[0]["x"][0, 3, 3], [1.0, 1.0, -1.0])


def test_image_folder_end_to_end_with_class_subfolders(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            _solid(tmp_path / cls / f"{i}.png", (32, 32), (50 * i, 100, 200))
    result = run_cli("inspect", str(CNN), "-c", str(tmp_path), "-b", "4", "-f", "json", "-q")
    assert result.exit_code in (0, 1), result.stderr
    cal = json.loads(result.stdout)["calibration"]
    assert (cal["samples"], cal["batches"], cal["shapes"]) == (6, 2, {"x": [4, 3, 32, 32]})


def test_layout_that_cannot_be_told(tmp_path):
    model = SAMPLES / "mlp_sigmoid_badinit.onnx"
    _solid(tmp_path / "a.png", (8, 8), (0, 0, 0))
    result = run_cli("inspect", str(model), "-c", str(tmp_path), "-q")
    assert result.exit_code == 2 and "needs a 4-d image input" in result.stderr


def test_corrupt_image(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    result = run_cli("inspect", str(CNN), "-c", str(tmp_path), "-q")
    assert result.exit_code == 2 and "bad.jpg: cannot read the image" in result.stderr


def test_missing_pillow_gives_the_install_hint(tmp_path, monkeypatch):
    _solid(tmp_path / "a.png", (8, 8), (0, 0, 0))
    monkeypatch.setitem(sys.modules, "PIL", None)
    result = run_cli("inspect", str(CNN), "-c", str(tmp_path), "-q")
    assert result.exit_code == 2
    assert "needs Pillow: pip install 'saturate-cli[images]'" in result.stderr
