"""Issue #6: the exit-code matrix. 0 clean, 1 findings at or above --fail-on, 2 bad input always.

The pure matrix runs on hand-made reports; the CLI matrix on bundled samples: a clean one, an
error one, and the dead-bias CNN made warning-only through a config threshold.
"""

from __future__ import annotations

import json

import pytest

from saturate_cli.report.model import MultiReport
from test_formats_support import FAST, SAMPLES, run_in, with_worst

# worst finding -> {fail-on: exit code}, written out by hand
MATRIX = {
    None: {"error": 0, "warning": 0, "info": 0, "never": 0},
    "info": {"error": 0, "warning": 0, "info": 1, "never": 0},
    "warning": {"error": 0, "warning": 1, "info": 1, "never": 0},
    "error": {"error": 1, "warning": 1, "info": 1, "never": 0},
}


@pytest.mark.parametrize("worst", list(MATRIX))
@pytest.mark.parametrize("fail_on", ["error", "warning", "info", "never"])
def test_report_exit_code_matrix(worst, fail_on):
    from dataclasses import replace

    assert replace(with_worst(worst), fail_on=fail_on).exit_code == MATRIX[worst][fail_on]


def test_many_models_exit_with_the_worst():
    assert MultiReport((with_worst(None), with_worst("error"), with_worst("info"))).exit_code == 1
    assert MultiReport((with_worst(None), with_worst("warning"))).exit_code == 0
    assert MultiReport(()).exit_code == 0


CLEAN = str(SAMPLES / "mlp_sigmoid_xavier.onnx")
ERROR = str(SAMPLES / "mlp_sigmoid_badinit.onnx")
DEADBIAS = str(SAMPLES / "cnn_relu_deadbias.onnx")
# dead units never reach "error" with this threshold: the CNN's SAT101 findings become warnings
WARNING_ONLY_CONFIG = "[thresholds]\ndead-units-error = 1.0\n"


@pytest.fixture
def warn_dir(tmp_path):
    (tmp_path / "saturate.toml").write_text(WARNING_ONLY_CONFIG)
    return tmp_path


@pytest.mark.parametrize("fail_on", ["error", "warning", "info", "never"])
def test_cli_matrix(tmp_path, warn_dir, fail_on):
    for model, folder, worst in ((CLEAN, tmp_path, None), (ERROR, tmp_path, "error"),
                                 (DEADBIAS, warn_dir, "warning")):
        result = run_in(folder, "inspect", model, *FAST, "--fail-on", fail_on, "-f", "json")
        assert result.exit_code == MATRIX[worst][fail_on], (model, result.output)
        doc = json.loads(result.stdout)
        assert doc["summary"]["status"] == (worst or "clean")
        assert doc["summary"]["exit_code"] == result.exit_code


def test_cli_many_models_one_exit_code(tmp_path):
    result = run_in(tmp_path, "inspect", CLEAN, ERROR, *FAST, "-f", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [r["summary"]["exit_code"] for r in doc["reports"]] == [0, 1]
    assert doc["exit_code"] == 1


def test_exit_zero_and_config_fail_on(tmp_path):
    assert run_in(tmp_path, "inspect", ERROR, *FAST, "--exit-zero").exit_code == 0
    (tmp_path / "saturate.toml").write_text('fail-on = "never"\n')
    assert run_in(tmp_path, "inspect", ERROR, *FAST).exit_code == 0
    # the command line beats the config
    assert run_in(tmp_path, "inspect", ERROR, *FAST, "--fail-on", "error").exit_code == 1


@pytest.mark.parametrize("extra", [(), ("--exit-zero",), ("--fail-on", "never")])
def test_bad_input_is_two_whatever_fail_on(tmp_path, extra):
    result = run_in(tmp_path, "inspect", str(tmp_path / "missing.onnx"), *FAST, *extra)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_config_and_unknown_key_exit_two(tmp_path):
    (tmp_path / "saturate.toml").write_text("samples = [unclosed\n")
    result = run_in(tmp_path, "inspect", CLEAN, "--exit-zero")
    assert result.exit_code == 2 and "invalid TOML" in result.stderr
    (tmp_path / "saturate.toml").write_text("samplez = 3\n")
    result = run_in(tmp_path, "inspect", CLEAN, "--exit-zero")
    assert result.exit_code == 2 and "'samplez'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_baseline_suppression_exit_codes(tmp_path):
    base = tmp_path / "baseline.json"
    first = run_in(tmp_path, "inspect", ERROR, *FAST, "--baseline", str(base), "--update-baseline")
    assert first.exit_code == 0 and base.is_file()
    again = run_in(tmp_path, "inspect", ERROR, *FAST, "--baseline", str(base), "-f", "json")
    assert again.exit_code == 0
    doc = json.loads(again.stdout)
    assert doc["summary"]["findings"] == {"error": 0, "warning": 0, "info": 0}
    assert len(doc["suppressed"]) == doc["summary"]["suppressed"] == 4
    # a finding the baseline does not know still fails
    other = run_in(tmp_path, "inspect", DEADBIAS, *FAST, "--baseline", str(base))
    assert other.exit_code == 1
    base.write_text("{not json")
    assert run_in(tmp_path, "inspect", ERROR, *FAST, "--baseline", str(base)).exit_code == 2
