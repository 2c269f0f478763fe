"""Shared fixtures: paths to the bundled sample models and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"


@pytest.fixture
def samples() -> Path:
    return SAMPLES


def run_cli(*args: str):
    """Invoke the CLI in-process; returns typer's Result (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from saturate_cli.cli import app

    return CliRunner().invoke(app, list(args))


def learn_sites(handle, settings=None) -> list[str]:
    """Run one small synthetic batch through the handle (sites of a PyTorch model are learnt as
    it runs); the site names in call order."""
    from dataclasses import replace

    from saturate_cli.batch_loop import collect
    from saturate_cli.calibration import make_batches
    from saturate_cli.settings import Settings

    tiny = replace(settings or Settings(), calibration=(), samples=2, batch_size=2)
    collect(handle, make_batches(handle.inputs, tiny)[0])
    return [s.name for s in handle.sites]
