"""Run a script or module in this process and record this process's own peak RSS.

    python benchmarks/ownpeak.py -m saturate_cli inspect ...
    python benchmarks/ownpeak.py benchmarks/plain_infer.py ...

At exit the peak (Linux VmHWM of this process's address space, in kB) is written to the file
named by $BENCH_PEAK_FILE. The parent's `wait4` rusage cannot give it: a child started by
vfork/fork inherits the parent's high-water mark at exec, so every child read at least the
benchmark driver's own peak (the 802 MB of every method in the old `--quick` table).
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys


def vm_hwm_kb() -> int:
    """Peak resident set of this process (kB), 0 where /proc is unavailable."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


def _record() -> None:
    path = os.environ.get("BENCH_PEAK_FILE")
    if path:
        with open(path, "w") as fh:
            fh.write(str(vm_hwm_kb()))


def main() -> None:
    atexit.register(_record)
    args = sys.argv[1:]
    if args[0] == "-c":
        sys.argv = ["-c"] + args[2:]
        sys.path[0] = ""
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 - as -c
    elif args[0] == "-m":
        sys.argv = [args[1]] + args[2:]
        sys.path[0] = os.getcwd()  # as `python -m` sets it
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        sys.path[0] = os.path.dirname(os.path.abspath(args[0]))  # as `python script` sets it
        runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
