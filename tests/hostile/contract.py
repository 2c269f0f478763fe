"""The contract every input must honour (issue #7), checked on one CLI run.

Exit 2: exactly one non-empty stderr line, "saturate: error: ...", naming the file; no output
file. Exit 0/1: a report was written. Always: no traceback, no uncaught exception.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from conftest import run_cli

FAST = ("-n", "8", "-b", "4", "--quiet")


def inspect(args, out: Path, *extra: str):
    """`saturate inspect ARGS -o OUT --format json` in-process, with few samples."""
    return run_cli("inspect", *args, "-o", str(out), "--format", "json", *FAST, *extra)


def error_line(result) -> str:
    """The one error line of a failed run (asserts there is exactly one)."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert lines[0].startswith("saturate: error: "), lines[0]
    return lines[0]


def check(result, out: Path, allowed=(0, 1, 2), names=None,
          internal_ok: bool = False) -> Optional[dict]:
    """Assert the contract; return the JSON report when the run succeeded, else None.

    `names`: a file name (or several, any of which will do) the error line must contain."""
    text = result.stdout + result.stderr
    assert "Traceback" not in text, text[-2000:]
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), f"uncaught {exc!r}"
    assert result.exit_code in allowed, (result.exit_code, text[-2000:])
    if result.exit_code == 2:
        line = error_line(result)
        assert internal_ok or "internal error" not in line, line
        wanted = (names,) if isinstance(names, str) else names or ()
        if wanted:
            assert any(n in line for n in wanted), f"the error names none of {wanted}: {line}"
        assert not out.exists(), "an output file was written for a failed run"
        return None
    assert out.is_file(), "a successful run wrote no report"
    return json.loads(out.read_text())


def codes_of(report: dict) -> set[str]:
    """Every rule code in a JSON report (site and model findings)."""
    codes = {f["code"] for f in report.get("model_findings", [])}
    for site in report.get("sites", []):
        codes.update(f["code"] for f in site.get("findings", []))
    return codes
