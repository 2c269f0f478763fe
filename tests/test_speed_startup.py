"""Start-up stays light for every command's help: `saturate inspect --help` (and each other
command's) imports no numerical library, no rich and no pydantic (typer 0.29 converts options
through it: 120-180 ms a command, see pyproject.toml), so it costs what `saturate --help` costs
(≈0.15 s here, against ≈1 s once numpy, onnx and onnxruntime load). Fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "onnx", "onnxruntime", "torch", "rich", "pydantic")
COMMANDS = ("inspect", "fix", "diff", "trend", "show", "merge")


def _loaded_after_help(command: str) -> tuple[int, list[str]]:
    probe = (
        "import contextlib, io, json, sys\n"
        f"sys.argv = ['saturate', {command!r}, '--help']\n"
        "from saturate_cli.cli import main\n"
        "code = 0\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main()\n    except SystemExit as exc:\n        code = exc.code\n"
        f"print(json.dumps([code, [m for m in {HEAVY!r} if m in sys.modules]]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True)
    code, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    return code, loaded


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_imports_nothing_heavy(command):
    code, loaded = _loaded_after_help(command)
    assert code == 0  # the help was printed
    assert loaded == []
