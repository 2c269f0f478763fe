"""The README's Python API examples run exactly as written, and print what they say."""

from __future__ import annotations

import contextlib
import io
import re
from importlib.util import find_spec

import pytest

from conftest import ROOT


def _blocks() -> list[str]:
    section = (ROOT / "README.md").read_text().split("### Python API", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def _run(code: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own README
    return out.getvalue().splitlines()


def _promised(code: str) -> list[str]:
    """The values the README writes after `# ` on each print line."""
    return [line.split("# ")[-1].strip() for line in code.splitlines()
            if line.startswith("print(") and "# " in line]


def test_the_onnx_example(monkeypatch):
    monkeypatch.chdir(ROOT)
    code = _blocks()[0]
    assert _run(code) == _promised(code) and len(_promised(code)) == 3


@pytest.mark.skipif(find_spec("torch") is None, reason="the PyTorch example needs torch")
def test_the_pytorch_example():
    code = _blocks()[1]
    assert _run(code) == _promised(code)
