"""Ctrl-C is not green: a partial report exits 130 whatever --fail-on says, and every format
says "partial"."""

from __future__ import annotations

import json

import pytest

from conftest import SAMPLES, run_cli
from saturate_cli.model.onnx.handle import OnnxModel

CLEAN = str(SAMPLES / "mlp_sigmoid_xavier.onnx")  # no finding: a full run exits 0
FORMATS = ("text", "json", "ndjson", "sarif", "github", "gitlab", "junit", "markdown")


@pytest.fixture
def ctrl_c_after_first_batch(monkeypatch):
    """Ctrl-C arrives while the second batch is measured."""
    real = OnnxModel.measure
    calls: dict = {}

    def measure(self, batch):
        calls[id(self)] = calls.get(id(self), 0) + 1
        if calls[id(self)] == 2:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(OnnxModel, "measure", measure)


@pytest.mark.parametrize("fmt", FORMATS)
def test_partial_run_exits_130_and_says_partial(ctrl_c_after_first_batch, fmt):
    result = run_cli("inspect", CLEAN, "-n", "64", "-b", "16", "--fail-on", "never", "-f", fmt)
    assert result.exit_code == 130, result.output
    assert "partial" in result.stdout.lower()
    assert "interrupted" in result.stderr


def test_partial_json_summary(ctrl_c_after_first_batch):
    result = run_cli("inspect", CLEAN, "-n", "64", "-b", "16", "-f", "json", "--exit-zero")
    doc = json.loads(result.stdout)
    assert doc["summary"]["partial"] is True and doc["summary"]["exit_code"] == 130
    assert doc["calibration"]["batches"] == 1
    assert "1 batch;" in " ".join(doc["notes"])  # singular


def test_partial_run_stops_the_other_models(ctrl_c_after_first_batch):
    result = run_cli("inspect", CLEAN, CLEAN, CLEAN, "-n", "32", "-f", "json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 130 and doc["exit_code"] == 130
    assert [r["summary"]["exit_code"] for r in doc["reports"]] == [130, 2, 2]
    assert "interrupted" in doc["reports"][1]["error"]


def test_ci_formats_mark_the_run_incomplete(ctrl_c_after_first_batch):
    sarif = json.loads(run_cli("inspect", CLEAN, "-n", "32", "-f", "sarif").stdout)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 130
    junit = run_cli("inspect", CLEAN, "-n", "32", "-f", "junit").stdout
    assert '<error type="partial"' in junit and 'errors="1"' in junit
    gitlab = json.loads(run_cli("inspect", CLEAN, "-n", "32", "-f", "gitlab").stdout)
    assert [i["check_name"] for i in gitlab] == ["saturate"]


def test_a_full_run_is_not_partial():
    result = run_cli("inspect", CLEAN, "-n", "32", "-f", "sarif")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["runs"][0]["invocations"][0]["executionSuccessful"]
