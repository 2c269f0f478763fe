"""The command line a user expects: unreadable models in a multi-model run, -q, `saturate fix`
reporting what it left, report file permissions, clear messages, a self-contained `make test`."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from conftest import ROOT, SAMPLES, run_cli

GOOD = str(SAMPLES / "mlp_sigmoid_xavier.onnx")
OTHER = str(SAMPLES / "softmax_hot.onnx")
FAST = ("-n", "16", "-b", "16")
FORMATS = ("text", "json", "ndjson", "sarif", "github", "gitlab", "junit", "markdown")


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a model at all")
    return str(path)


# --- several models, one unreadable ----------------------------------------------------------

def test_one_unreadable_model_does_not_stop_the_others(broken):
    result = run_cli("inspect", GOOD, broken, OTHER, *FAST, "-f", "json")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and broken in lines[0]
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 2
    paths = [r["model"]["path"] for r in doc["reports"]]
    assert paths == [GOOD, broken, OTHER]
    record = doc["reports"][1]
    assert record["summary"]["exit_code"] == 2 and broken in record["error"]
    assert doc["reports"][2]["sites"]  # the model after it was inspected


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_names_the_unreadable_model(broken, fmt):
    result = run_cli("inspect", GOOD, broken, *FAST, "-f", fmt)
    assert result.exit_code == 2
    assert "broken.onnx" in result.stdout and "not inspected" in result.stdout


def test_a_single_unreadable_model_is_still_one_line_and_no_report(broken):
    result = run_cli("inspect", broken, *FAST, "-f", "json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("saturate: error:")


# --- -q ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_quiet_changes_no_report_and_prints_nothing_else(tmp_path, fmt):
    (tmp_path / "saturate.toml").write_text("seed = 0\n")
    config = ("--config", str(tmp_path / "saturate.toml"))
    loud = run_cli("inspect", GOOD, *FAST, "-f", fmt, "-v", *config)
    quiet = run_cli("inspect", GOOD, *FAST, "-f", fmt, "-q", *config)
    assert quiet.exit_code == loud.exit_code == 0
    assert quiet.stderr == "" and "config:" in loud.stderr
    same = [re.sub(r"\d+\.\d+e?-?\d*", "N", r.stdout) for r in (loud, quiet)]
    assert same[0] == same[1]


# --- saturate fix --------------------------------------------------------------------------------

def test_fix_reports_the_step_limit(tmp_path):
    result = run_cli("fix", str(SAMPLES / "mlp_sigmoid_badinit.onnx"), "-o",
                     str(tmp_path / "f.onnx"), "--max-steps", "1", "-n", "32", "--json")
    left = json.loads(result.stdout)["not_attempted"]
    assert left and all("--max-steps 1" in x["reason"] for x in left)
    text = run_cli("fix", str(SAMPLES / "mlp_sigmoid_badinit.onnx"), "-o",
                   str(tmp_path / "f.onnx"), "--max-steps", "1", "-n", "32")
    assert "step limit" in text.stdout and "3 errors" in text.stdout


def test_fix_reports_findings_without_remedy(tmp_path):
    """A ReLU whose input is a constant offset of the data has no producer to fix."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8])
    shift = helper.make_tensor("shift", TensorProto.FLOAT, [8], [-50.0] * 8)
    graph = helper.make_graph([helper.make_node("Add", ["x", "shift"], ["a"]),
                               helper.make_node("Relu", ["a"], ["y"], name="r")],
                              "g", [x], [y], [shift])
    path = tmp_path / "dead.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    result = run_cli("fix", str(path), "-o", str(tmp_path / "f.onnx"), "-n", "32")
    assert result.exit_code == 1
    assert "r: SAT101 not fixed: no automatic remedy" in result.stdout
    assert "1 error," in result.stdout  # not "1 errors"


# --- permissions ---------------------------------------------------------------------------------

@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_report_and_baseline_files_honour_the_umask(tmp_path, umask_022):
    out, base = tmp_path / "r.json", tmp_path / "base.json"
    result = run_cli("inspect", GOOD, *FAST, "-f", "json", "-o", str(out), "--baseline",
                     str(base), "--update-baseline")
    assert result.exit_code == 0, result.output
    for path in (out, base):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


# --- messages ------------------------------------------------------------------------------------

def test_python_file_without_factory_says_so():
    result = run_cli("inspect", str(SAMPLES / "models.py"))
    assert result.exit_code == 2
    assert ":FACTORY" in result.stderr and "Wire format" not in result.stderr


def test_a_model_given_as_calibration_data_says_so():
    result = run_cli("inspect", GOOD, "-c", OTHER)
    assert result.exit_code == 2 and "is a model, not calibration data" in result.stderr


# --- make test in a clean clone --------------------------------------------------------------------

def test_ci_runs_make_test_and_the_makefile_installs_from_the_repository():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    test_rule = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "pytest" in test_rule and ".." not in test_rule
    assert '-e ".[$(EXTRAS)]"' in makefile and "../" not in makefile
    extras = re.search(r"^EXTRAS \?= (.*)$", makefile, re.M).group(1).split(",")
    assert {"torch", "images", "dev"} <= set(extras)



def test_counts_and_shares_are_worded_right():
    from saturate_cli.render import percent, plural

    assert [plural(n, "site") for n in (0, 1, 2)] == ["0 sites", "1 site", "2 sites"]
    assert plural(1, "batch") == "1 batch" and plural(3, "batch") == "3 batches"
    assert [percent(x) for x in (0, 0.004, 0.3, 0.996, 1)] == ["0%", "<1%", "30%", ">99%", "100%"]
