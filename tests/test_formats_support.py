"""Shared by the CI-format, config, baseline and exit-code tests: sample reports, hand-made ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from saturate_cli.report.model import FindingReport, Report, SiteReport

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
SARIF_SCHEMA = ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json"  # OASIS SARIF 2.1.0
NASTY_SITE = "enc,1:attn%25\nsoftmax\r|x`<b>"  # every character a CI format must escape
FAST = ("-n", "16", "-b", "16", "-q")


def site(name: str, findings=(), kind: str = "sigmoid", fraction: float = 0.5) -> SiteReport:
    return SiteReport(
        name=name, input=f"{name}_in", op="Sigmoid", kind=kind, params={}, producer=None,
        stats={"count": 10, "mean": 0.0, "std": 1.0, "min": -1.0, "max": 1.0, "nan": 0,
               "inf": 0, "p01": -1.0, "p50": 0.0, "p99": 1.0},
        histogram={"edges": [], "counts": []},
        saturation={"low": -4.0, "high": 4.0, "fraction": fraction, "fraction_low": 0.0,
                    "fraction_high": fraction, "mean_gain": 0.5, "units": 4, "dead_units": 0,
                    "rows": 0, "collapsed_rows": 0},
        findings=tuple(FindingReport(code, "rule-name", sev, f"{sev} at {name}", name)
                       for code, sev in findings))


def report(sites=(), path: str = "models/m.onnx", fail_on: str = "error",
           model_findings=()) -> Report:
    return Report(tool={"name": "saturate", "version": "0"},
                  model={"path": path, "format": "onnx", "sha256": None, "inputs": []},
                  calibration={"source": "synthetic:normal", "samples": 1, "batches": 1},
                  settings={"tau": 0.05}, sites=tuple(sites), model_findings=tuple(model_findings),
                  fail_on=fail_on)


def with_worst(severity):
    """A one-site report whose worst finding has this severity (None: clean)."""
    return report([site("s", [("SAT001", severity)] if severity else [])])


def nasty_report(fail_on: str = "error") -> Report:
    return report([site(NASTY_SITE, [("SAT201", "error"), ("SAT003", "info")]),
                   site("plain", [("SAT001", "warning")])], path="models/a,b:c%.onnx",
                  fail_on=fail_on)


@pytest.fixture(scope="session")
def sample_reports() -> dict:
    """Each bundled ONNX sample inspected once per session (small calibration)."""
    from saturate_cli.pipeline import inspect_model
    from saturate_cli.settings import Settings

    settings = Settings(samples=32, batch_size=16)
    return {p.stem: inspect_model(os.path.relpath(p), settings)
            for p in sorted(SAMPLES.glob("*.onnx"))}


def run_in(folder: Path, *args: str, git: bool = True):
    """The CLI in-process with `folder` as working directory (a .git stops config discovery)."""
    from typer.testing import CliRunner

    from saturate_cli.cli import app

    if git:
        (folder / ".git").mkdir(exist_ok=True)
    old = os.getcwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)
