"""Issue #6: the composite GitHub Action's check script and the pre-commit hook, run locally.

The script of the action's `check` step is cut out of action.yml (no YAML library needed) and run
with bash the way the runner would, with the inputs in env variables.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_formats_support import ROOT, SAMPLES

ACTION = ROOT / "action.yml"


def step_script(step_id: str) -> str:
    """The `run: |` block of the step with this id."""
    lines = ACTION.read_text().splitlines()
    start = lines.index(f"      id: {step_id}")
    begin = next(i for i in range(start, len(lines)) if lines[i].strip() == "run: |") + 1
    block = []
    for line in lines[begin:]:
        if line.strip() and not line.startswith(" " * 8):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)) + "\n"


def test_inputs_never_interpolated_into_scripts():
    text = ACTION.read_text()
    # ${{ }} only as env values, `with:` inputs, conditions and outputs: never inside a script
    for line in text.splitlines():
        if "${{" in line:
            assert re.match(r"^ +(SATURATE_[A-Z_]+|python-version|sarif_file|value):", line), line
    assert "${{" not in step_script("check")
    for name in ("model", "fail-on", "format", "baseline"):
        assert re.search(rf"^  {name}:$", text, re.M), name
    assert "github/codeql-action/upload-sarif" in text
    assert 'default: "sarif"' in text


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    (ws / "models").mkdir()
    for stem in ("cnn_relu_deadbias", "softmax_hot"):
        shutil.copy(SAMPLES / f"{stem}.onnx", ws / "models")
    return ws


def run_action(ws: Path, **inputs) -> tuple[int, dict, str, str]:
    (ws / "out.txt").write_text("")
    (ws / "summary.md").write_text("")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               GITHUB_OUTPUT=str(ws / "out.txt"), GITHUB_STEP_SUMMARY=str(ws / "summary.md"))
    for key in ("model", "fail_on", "format", "output", "baseline", "args"):
        env[f"SATURATE_INPUT_{key.upper()}"] = inputs.get(key, "")
    env["SATURATE_INPUT_FORMAT"] = inputs.get("format", "sarif")
    env["SATURATE_INPUT_FAIL_ON"] = inputs.get("fail_on", "error")
    proc = subprocess.run(["bash", "-c", step_script("check")], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=120)
    outputs = dict(line.split("=", 1) for line in (ws / "out.txt").read_text().splitlines())
    return proc.returncode, outputs, proc.stdout, (ws / "summary.md").read_text()


def test_action_sarif_run_on_a_glob(workspace):
    rc, outputs, _, summary = run_action(workspace, model="models/*.onnx", args="-n 16 -q")
    assert rc == 0  # the step records the code; the last step exits with it
    assert outputs == {"exit-code": "1", "report": "saturate.sarif"}
    doc = json.loads((workspace / "saturate.sarif").read_text())
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in doc["runs"][0]["results"]}
    assert uris == {"models/cnn_relu_deadbias.onnx", "models/softmax_hot.onnx"}
    assert "| models/softmax_hot.onnx |" in summary


def test_action_github_annotations_fail_on_never_and_bad_input(workspace):
    rc, outputs, stdout, _ = run_action(workspace, model="models/softmax_hot.onnx",
                                        format="github", fail_on="never", args="-n 16")
    assert outputs["exit-code"] == "0" and stdout.startswith("::error file=models/softmax_hot")
    rc, outputs, _, summary = run_action(workspace, model="models/missing.onnx")
    assert outputs["exit-code"] == "2" and summary == ""


def test_pre_commit_hook_declares_the_entry():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "- id: saturate" in text and "entry: saturate inspect" in text
    assert "language: python" in text and "require_serial: true" in text
