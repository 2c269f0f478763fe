"""Start-up stays light: the CLI module imports no numerical library, and inspecting an ONNX
model never imports torch. Checked in fresh subprocesses (sys.modules of this test process is
already polluted by other tests)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import SAMPLES

HEAVY = ("numpy", "onnx", "onnxruntime", "torch")


def _modules_after(code: str) -> list[str]:
    """Run `code` in a fresh interpreter; return which HEAVY modules it left imported."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_cli_module_imports_no_heavy_library():
    assert _modules_after("import saturate_cli.cli") == []


def test_help_imports_no_heavy_library():
    code = ("import sys\nsys.argv = ['saturate', '--help']\nfrom saturate_cli.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    assert _modules_after(code) == []


def test_inspecting_onnx_never_imports_torch():
    model = SAMPLES / "transformer_block.onnx"
    code = ("import sys\n"
            f"sys.argv = ['saturate', 'inspect', {str(model)!r}, '-n', '8', '-b', '4', "
            "'--format', 'json', '-q']\n"
            "from saturate_cli.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    loaded = _modules_after(code)
    assert "onnxruntime" in loaded  # the inspection really ran
    assert "torch" not in loaded
