"""The model file's SHA-256 (computed in the background while the model loads): the report's
`model.sha256` is hashlib's digest of the file's bytes, the load's own errors come first, and
an error met while hashing reaches the caller."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import SAMPLES, run_cli

from saturate_cli import paths
from saturate_cli.errors import ModelLoadError
from saturate_cli.model.load import load_model
from saturate_cli.settings import Settings

MODEL = SAMPLES / "mlp_mixed.onnx"


def test_report_sha256_is_the_digest_of_the_file_bytes():
    result = run_cli("inspect", str(MODEL), "-f", "json", "-q", "-n", "4", "-b", "4")
    assert result.exit_code in (0, 1), result.stderr
    want = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert json.loads(result.stdout)["model"]["sha256"] == want


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 7])
def test_background_digest_equals_hashlib(tmp_path, size):
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert paths.sha256_in_background(str(path))() == hashlib.sha256(data).hexdigest()


def test_no_file_no_digest(tmp_path):
    assert paths.sha256_in_background(str(tmp_path))() is None  # a folder
    assert paths.sha256_in_background("pkg.module:build")() is None  # a factory


def test_the_load_error_comes_first(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x0a\xff\xff not a model")
    with pytest.raises(ModelLoadError, match="bad.onnx"):
        load_model(str(bad), Settings())


def test_an_error_while_hashing_reaches_the_caller(monkeypatch):
    def unreadable(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(paths, "sha256_of", unreadable)
    with pytest.raises(PermissionError, match="Permission denied"):
        load_model(str(MODEL), Settings())
