"""Benchmark saturate against plain inference and the peers, interleaved, in fresh processes.

    .venv/bin/python benchmarks/run.py            # the recorded run (~10 min on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # a 1-2 minute smoke run
    .venv/bin/python benchmarks/run.py --whole    # whole processes: what users time (~15 min)

Every measurement is one fresh process (peak RSS belongs to that method alone). Repetitions
are interleaved (rep 1 of every method, then rep 2, ...) so machine noise hits all alike; the
table shows medians and ratios to the plain-inference floor of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import models  # noqa: E402
import procs  # noqa: E402
import table  # noqa: E402
import whole  # noqa: E402

PY = sys.executable
SATURATE = [PY, "-m", "saturate_cli"]
LOOP_METHODS = ("plain-onnx", "saturate-onnx", "ort-minmax", "ort-entropy", "ort-percentile",
                "polygraphy", "plain-torch", "saturate-torch", "torchlens")
MEMORY_METHODS = ("plain-onnx", "saturate-onnx", "ort-minmax", "ort-percentile", "polygraphy",
                  "plain-torch", "saturate-torch")
SIZES = {"resnet18": (4, 8), "resnet50": (4, 8), "bert": (4, 4)}  # (batches, batch size)
QUICK_SIZES = {"resnet18": (3, 4), "resnet50": (3, 2), "bert": (3, 2)}
MEMORY_REPS = 3


def worker(method: str, name: str, batches: int, size: int, threads: int) -> list[str]:
    return [PY, str(HERE / "worker.py"), method, name, str(batches), str(size), str(threads)]


def whole_jobs(name: str, batches: int, size: int, threads: int) -> dict[str, list[str]]:
    """The two whole-process rows of the loop table (the --whole table has them all)."""
    cmds = whole.jobs(name, batches, size, "", threads)
    return {"plain-onnx (whole process)": cmds[whole.PLAIN_ONNX],
            "saturate inspect (whole process)": cmds["saturate inspect (ONNX)"]}


def interleaved(jobs: dict, reps: int, log, on_rep=None) -> dict[str, list[procs.Run]]:
    """Run every job `reps` times, one repetition of each at a time (`on_rep(runs)` after
    each repetition: partial results survive an interrupted run)."""
    runs: dict[str, list[procs.Run]] = {key: [] for key in jobs}
    for rep in range(reps):
        for key, cmd in jobs.items():
            env, cmd = cmd if isinstance(cmd, tuple) else ({}, cmd)
            r = procs.run(cmd, env={**os.environ, **env})
            runs[key].append(r)
            log(f"  rep {rep + 1}/{reps} {key[0]:<15} {key[1]:<42} {_brief(r)}")
            if r.result and ("skipped" in r.result or "error" in r.result):
                jobs = {k: v for k, v in jobs.items() if k != key}  # no use repeating
        if on_rep:
            on_rep(runs)
    return runs


def _brief(r: procs.Run) -> str:
    res = r.result or {}
    if "seconds" in res:
        return f"{res['seconds']:.2f} s loop, {r.wall:.2f} s wall, {r.peak_mb:.0f} MB"
    return res.get("skipped") or res.get("error") or f"exit {r.code}, {r.wall:.2f} s"


def summarise(runs: dict[str, list[procs.Run]]) -> dict:
    """Medians per (model, method)."""
    out = {}
    for (name, method), rs in runs.items():
        res = rs[0].result or {}
        entry = {"peak_mb": statistics.median(r.peak_mb for r in rs), "reps": len(rs)}
        if "skipped" in res or "error" in res:
            entry["note"] = res.get("skipped") or res.get("error")
        elif res.get("seconds") is not None:
            entry["seconds"] = statistics.median(r.result["seconds"] for r in rs)
        else:
            entry["seconds"] = statistics.median(r.wall for r in rs)
            entry["exit"] = rs[0].code
        out.setdefault(name, {})[method] = entry
    return out


def startup(reps: int, command: tuple = ()) -> float:
    """Median whole-process time of `saturate [command] --help`."""
    return statistics.median(procs.run(SATURATE + [*command, "--help"]).wall
                             for _ in range(reps))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small batches, 3 reps, no 2x mode")
    ap.add_argument("--whole", action="store_true", help="the whole-process table (7 reps)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5, quick 3)")
    ap.add_argument("--models", nargs="+", default=list(models.NAMES), choices=models.NAMES)
    ap.add_argument("--methods", nargs="+", default=list(LOOP_METHODS), choices=LOOP_METHODS)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: default)")
    ap.add_argument("--no-memory", action="store_true", help="skip the 2x-batches memory mode")
    ap.add_argument("--no-whole", action="store_true", help="loops only (no whole-process rows)")
    ap.add_argument("--json", type=Path, default=models.CACHE / "results.json")
    args = ap.parse_args(argv)
    if args.whole:
        return run_whole(args, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    reps = args.reps or (3 if args.quick else 5)
    sizes = QUICK_SIZES if args.quick else SIZES
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()

    log("building models (cached in benchmarks/.cache) ...")
    jobs = {}
    for name in args.models:
        models.onnx_path(name)
        n, b = sizes[name]
        for method in args.methods:
            jobs[(name, method)] = worker(method, name, n, b, args.threads)
        for label, cmd in ({} if args.no_whole else whole_jobs(name, n, b, args.threads)).items():
            jobs[(name, label)] = cmd
    log(f"timing: {reps} interleaved repetitions")
    timing = summarise(interleaved(jobs, reps, log))

    memory = {}  # the same methods on twice the batches (N itself is the timing run)
    if not (args.quick or args.no_memory):
        log("memory: twice as many batches")
        mem_jobs = {}
        for name in args.models:
            n, b = sizes[name]
            for method in (m for m in MEMORY_METHODS if m in args.methods):
                mem_jobs[(name, method)] = worker(method, name, 2 * n, b, args.threads)
        memory = summarise(interleaved(mem_jobs, MEMORY_REPS, log))

    help_s = startup(reps)
    info = {"machine": table.machine(), "python": platform.python_version(),
            "versions": table.versions(), "reps": reps, "sizes": {m: sizes[m] for m in args.models},
            "threads": args.threads, "help_seconds": help_s,
            "elapsed_s": round(time.perf_counter() - started, 1)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"info": info, "timing": timing, "memory": memory}, indent=1))
    print(table.render(info, timing, memory))  # memory: the 2N runs
    return 0


def run_whole(args, log) -> int:
    """Every case of whole.py as fresh whole processes, interleaved; one table."""
    reps = args.reps or (3 if args.quick else 7)
    cases = [c for c in (whole.QUICK_CASES if args.quick else whole.CASES) if c[0] in args.models]
    started = time.perf_counter()
    jobs = {}
    for name, n, b, extra in cases:
        for label, cmd in whole.jobs(name, n, b, extra, args.threads).items():
            jobs[(f"{name} {n}x{b}", label)] = cmd
    log(f"whole processes: {len(jobs)} commands, {reps} interleaved repetitions")
    partial = args.json.with_name("whole_partial.json")
    timing = summarise(interleaved(jobs, reps, log, lambda runs: partial.write_text(
        json.dumps(summarise({k: v for k, v in runs.items() if v}), indent=1))))
    info = {"machine": table.machine(), "python": platform.python_version(),
            "versions": table.versions(), "reps": reps, "threads": args.threads,
            "load": Path("/proc/loadavg").read_text().split()[:3],
            "help_seconds": startup(reps), "inspect_help_seconds": startup(reps, ["inspect"]),
            "elapsed_s": round(time.perf_counter() - started, 1)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.with_name("whole.json").write_text(json.dumps({"info": info, "timing": timing},
                                                            indent=1))
    head = (f"Machine: {info['machine']}; load {' '.join(info['load'])} at the end; "
            f"medians of {reps} interleaved fresh processes")
    tail = (f"`saturate --help` {info['help_seconds']:.3f} s, `saturate inspect --help` "
            f"{info['inspect_help_seconds']:.3f} s (medians)")
    print("\n".join([head, "", *whole.render(timing, cases), "", tail]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
