"""Run one command in a fresh process: wall time, peak RSS of that child alone, and stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

OWNPEAK = str(Path(__file__).resolve().parent / "ownpeak.py")
PYCACHE = Path(__file__).resolve().parent / ".cache" / "pycache"  # git-ignored


@dataclass
class Run:
    wall: float  # seconds, whole process
    peak_mb: float  # the child's own peak resident set (VmHWM read by the child at exit)
    code: int
    result: Optional[dict] = None  # the worker's JSON line, when it prints one


def measured(cmd: list[str]) -> list[str]:
    """`cmd` (a Python command: [python, script | -m module, args...]) run through ownpeak.py,
    so the child records its own peak instead of inheriting the parent's."""
    if cmd[0] != sys.executable:
        return cmd
    return [cmd[0], OWNPEAK] + cmd[1:]


def child_env(env: Optional[dict] = None) -> dict:
    """`env` (default: this process's) for a measured child, with bytecode on.

    This environment, like many CI images, sets PYTHONDONTWRITEBYTECODE, so every fresh child
    would compile saturate's modules again (~85 in one inspect; importing cli + pipeline took
    271 ms instead of 191, medians of 11 on 2 busy cores), which users never pay: pip compiles
    bytecode when it installs. The children keep theirs under
    benchmarks/.cache/pycache (PYTHONPYCACHEPREFIX, git-ignored), not in __pycache__ folders of
    the tree; the first child after a fresh clone or an upgrade fills it (for site-packages too:
    with a prefix, Python reads bytecode from there only)."""
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def run(cmd: list[str], capture: bool = True, env: Optional[dict] = None) -> Run:
    """Start `cmd` through ownpeak.py (bytecode on: child_env), wait for it, return its
    figures."""
    fd, peak_file = tempfile.mkstemp(prefix="bench-peak-")
    os.close(fd)
    env = dict(child_env(env), BENCH_PEAK_FILE=peak_file)
    try:
        start = time.perf_counter()
        out = subprocess.PIPE if capture else subprocess.DEVNULL
        proc = subprocess.Popen(measured(cmd), stdout=out, stderr=subprocess.DEVNULL, env=env)
        stdout = proc.stdout.read() if capture else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        text = Path(peak_file).read_text().strip()
    finally:
        os.unlink(peak_file)
    code = os.waitstatus_to_exitcode(status)
    peak_kb = int(text) if text else usage.ru_maxrss  # ru_maxrss: an upper bound only
    result = None
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        if line.startswith('{"'):
            try:
                result = json.loads(line)
            except ValueError:
                continue
            break
    return Run(wall, peak_kb / 1024, code, result)
