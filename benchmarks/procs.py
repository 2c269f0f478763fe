"""Run one command in a fresh process: wall time, peak RSS of that child alone, and stdout."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Optional


@dataclass
class Run:
    wall: float  # seconds, whole process
    peak_mb: float  # peak resident set size of the child (ru_maxrss)
    code: int
    result: Optional[dict] = None  # the worker's JSON line, when it prints one


def run(cmd: list[str], capture: bool = True, env: Optional[dict] = None) -> Run:
    """Start `cmd`, wait for it with wait4 (per-child rusage), return its figures."""
    start = time.perf_counter()
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
    stdout = proc.stdout.read() if capture else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = None
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        if line.startswith('{"'):
            try:
                result = json.loads(line)
            except ValueError:
                continue
            break
    return Run(wall, usage.ru_maxrss / 1024, proc.returncode, result)
