"""`saturate inspect` on the sample models: verdicts, exit codes, the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from conftest import SAMPLES, run_cli

VERDICTS = {  # model -> (exit code, rule codes that must appear)
    "mlp_sigmoid_badinit": (1, {"SAT001"}),
    "mlp_sigmoid_xavier": (0, set()),
    "cnn_relu_deadbias": (1, {"SAT101"}),
    "cnn_silu_hardswish": (0, set()),
    "softmax_hot": (1, {"SAT201"}),
    "transformer_block": (0, set()),
}


@pytest.fixture(scope="module")
def schema():
    out = run_cli("schema")
    assert out.exit_code == 0
    return json.loads(out.stdout)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_verdict_exit_code_and_schema(name, schema, tmp_path):
    code, rules = VERDICTS[name]
    out = tmp_path / "r.json"
    result = run_cli("inspect", str(SAMPLES / f"{name}.onnx"), "-f", "json", "-o", str(out),
                     "-n", "64")
    assert result.exit_code == code, result.stderr
    report = json.loads(out.read_text())
    jsonschema.validate(report, schema)
    found = {f["code"] for s in report["sites"] for f in s["findings"]}
    assert rules <= found
    if code == 0:
        assert not [f for s in report["sites"] for f in s["findings"] if f["severity"] == "error"]
    assert report["summary"]["exit_code"] == code


def test_dead_channels_are_named_by_index(tmp_path):
    result = run_cli("inspect", str(SAMPLES / "cnn_relu_deadbias.onnx"), "-f", "json", "-n", "32")
    sites = json.loads(result.stdout)["sites"]
    assert sites[0]["saturation"]["dead_unit_indices"] == [0, 1, 2, 3, 4, 5]
    assert {3, 7} <= set(sites[1]["saturation"]["dead_unit_indices"])


def test_flagged_sites_carry_numeric_suggestions():
    result = run_cli("inspect", str(SAMPLES / "mlp_sigmoid_badinit.onnx"), "-f", "json")
    for site in json.loads(result.stdout)["sites"]:
        for f in site["findings"]:
            assert f["suggestions"], f
            assert any(isinstance(s.get("factor"), float) or isinstance(s.get("amount"), float)
                       for s in f["suggestions"])


def test_text_output_has_table_and_reason():
    result = run_cli("inspect", str(SAMPLES / "mlp_sigmoid_badinit.onnx"))
    assert result.exit_code == 1
    assert "SAT001" in result.stdout and "fc1" in result.stdout
    assert "status error" in result.stdout


def test_fail_on_and_exit_zero():
    model = str(SAMPLES / "cnn_relu_deadbias.onnx")  # one error, one warning
    assert run_cli("inspect", model, "--fail-on", "never").exit_code == 0
    assert run_cli("inspect", model, "--exit-zero").exit_code == 0
    assert run_cli("inspect", model, "--fail-on", "warning").exit_code == 1


def test_output_file_written_only_on_success(tmp_path):
    out = tmp_path / "r.json"
    result = run_cli("inspect", str(tmp_path / "missing.onnx"), "-f", "json", "-o", str(out))
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr.strip().count("\n") == 0 and "missing.onnx" in result.stderr


def test_version_rules_and_help():
    assert run_cli("--version").stdout.startswith("saturate ")
    listing = run_cli("rules").stdout
    assert "SAT001" in listing and "SAT101" in listing
    assert "Remedy" in run_cli("rules", "SAT201").stdout
    assert run_cli("rules", "SAT999").exit_code == 2


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "saturate_cli", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("saturate ")


def test_baseline_and_multi_model_reports_validate(schema, tmp_path):
    model = str(SAMPLES / "cnn_relu_deadbias.onnx")
    first = tmp_path / "base.json"
    assert run_cli("inspect", model, "-f", "json", "-o", str(first), "-n", "16").exit_code == 1
    again = run_cli("inspect", model, "-f", "json", "-n", "16", "--baseline", str(first))
    assert again.exit_code == 0
    doc = json.loads(again.stdout)
    jsonschema.validate(doc, schema)
    assert doc["summary"]["suppressed"] == 2
    both = run_cli("inspect", model, str(SAMPLES / "mlp_sigmoid_xavier.onnx"), "-f", "json",
                   "-n", "16")
    multi = json.loads(both.stdout)
    jsonschema.validate(multi, schema)
    assert len(multi["reports"]) == 2 and multi["exit_code"] == both.exit_code == 1


def test_verbose_keeps_full_site_names_in_the_text_table(monkeypatch):
    from conftest import SAMPLES

    monkeypatch.setenv("COLUMNS", "80")
    model = str(SAMPLES / "mlp_mixed.onnx")
    short = run_cli("inspect", model, "-q", "--exit-zero").stdout
    full = run_cli("inspect", model, "-q", "--exit-zero", "-v").stdout
    assert "…/LeakyRelu" in short and "…" not in full  # folded over two lines, never cut
    assert "/leaky_relu/Leaky" in full and "/softplus/Softplu" in full
