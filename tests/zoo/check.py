"""Run `saturate inspect` on one ONNX model with its own data and compare with the truth."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import numpy as np
import onnx

from tests.zoo.compare import compare
from tests.zoo.onnx_suite import load_feeds
from tests.zoo.truth import model_truth

ALL = "1000000000"  # samples and batch size: every sample, in one batch


def inspect_json(model, calib: Path, in_process: bool = True,
                 exe: Optional[str] = None, extra: tuple = ()) -> tuple:
    """(exit code, report dict or None, stderr tail) of `saturate inspect -f json`."""
    args = ["inspect", str(model), "-c", str(calib), "-f", "json", "--fail-on", "never",
            "-n", ALL, "-b", ALL, *extra]
    if in_process:
        from tests.conftest import run_cli
        r = run_cli(*args)
        out, err, code = r.stdout, _stderr(r), r.exit_code
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            err = f"{type(r.exception).__name__}: {r.exception}"
    else:
        p = subprocess.run([exe or shutil.which("saturate") or "saturate", *args],
                           capture_output=True, text=True, timeout=1800)
        out, err, code = p.stdout, p.stderr, p.returncode
    try:
        report = json.loads(out) if code in (0, 1) else None
    except json.JSONDecodeError:
        report = None
    return code, report, (err or "").strip().splitlines()[-1:] or [""]


def _stderr(r) -> str:
    try:
        return r.stderr
    except (ValueError, AttributeError):
        return r.output


def feeds_from(model: onnx.ModelProto, calib: Path) -> dict:
    """The data the tool gets: a test_data_set folder of .pb files or an .npz."""
    if calib.is_dir():
        return load_feeds(model, calib)
    with np.load(calib) as z:
        return {k: z[k] for k in z.files}


def check_onnx(model_path: Path, calib: Path, runner=None) -> tuple:
    """(exit code, number of truth sites, differences) for one model and its data;
    `runner(model, calib)` -> (code, report, stderr tail) replaces the in-process CLI."""
    model = onnx.load(str(model_path))
    truths = model_truth(model, feeds_from(model, calib))
    code, report, err = (runner or inspect_json)(model_path, calib)
    if report is None:
        return code, len(truths), [f"exit {code}: {err[0]}"]
    if len(report.get("reports", [report])) != 1:
        return code, len(truths), ["several reports for one model"]
    return code, len(truths), compare(report, truths)
