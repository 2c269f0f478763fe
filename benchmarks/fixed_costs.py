"""Where a whole `saturate inspect` goes before and around the loop: imports, model read,
checker, shape inference, pattern search, instrumented graph, staging, session creation (If
branches included), batches, report.

    .venv/bin/python benchmarks/fixed_costs.py [--reps 5] [MODEL.onnx:DATA.npz:BATCH ...]

Each repetition is a fresh process running the command in-process with timers wrapped around
the named functions (cumulative wall time, outermost call only, so nested stages are not
counted twice inside one stage). Default models: the benchmark models and the largest zoo
models. Medians in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZOO = HERE / ".cache" / "zoo"
DEFAULT = [f"{HERE / '.cache' / n}.onnx:{HERE / '.cache' / n}_4x8.npz:8"
           for n in ("resnet18", "resnet50")] + [
    f"{HERE / '.cache' / 'bert.onnx'}:{HERE / '.cache' / 'bert_4x8.npz'}:8",
    f"{ZOO / 'pypi/ch_PP-OCRv4_rec_infer.onnx'}:{ZOO / 'pypi/ch_PP-OCRv4_rec_infer.onnx.npz'}:0",
    f"{ZOO / 'pypi/ch_PP-OCRv4_det_infer.onnx'}:{ZOO / 'pypi/ch_PP-OCRv4_det_infer.onnx.npz'}:0",
    f"{ZOO / 'whisper/legacy_op14.onnx'}:{ZOO / 'whisper/legacy_op14.npz'}:0",
]
# stage -> (module, qualified name); patched wherever the module's object is bound
STAGES = {
    "sha256 of the model file": ("saturate_cli.paths", "sha256_of"),
    "onnx.load (parse)": ("onnx", "load"),
    "checker": ("onnx.checker", "check_model"),
    "shape inference": ("onnx.shape_inference", "infer_shapes"),
    "read_model (all)": ("saturate_cli.model.onnx.load", "read_model"),
    "pattern search": ("saturate_cli.model.onnx.sites", "discover"),
    "producers": ("saturate_cli.model.onnx.producer", "find_producer"),
    "analyse (all)": ("saturate_cli.model.onnx.analysis", "analyse"),
    "memory estimate": ("saturate_cli.model.onnx.memory", "estimate_peak"),
    "If branches (pick)": ("saturate_cli.model.onnx.branches", "read_conditions"),
    "instrumented graph": ("saturate_cli.model.onnx.instrument", "instrumented"),
    "staging (serialise)": ("saturate_cli.model.onnx.session", "Staged.__init__"),
    "session creation": ("onnxruntime", "InferenceSession.__init__"),
    "session.run (batches)": ("onnxruntime", "InferenceSession.run"),
    "per-batch statistics (Python)": ("saturate_cli.model.onnx.measure", "graph_batch"),
    "report build": ("saturate_cli.report.build", "build_report"),
    "render (json)": ("saturate_cli.render.json_", "render"),
}
CONTEXTS = {"instrumented graph"}  # context managers: the time to enter them
IMPORTS = ("typer", "rich", "numpy", "onnx", "onnxruntime")


def _timed(fn, stage: str, totals: dict, active: set):
    def wrapper(*args, **kwargs):
        if stage in active:
            return fn(*args, **kwargs)
        active.add(stage)
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[stage] = totals.get(stage, 0.0) + time.perf_counter() - start
            active.discard(stage)
    return wrapper


def _timed_context(fn, stage: str, totals: dict):
    import contextlib

    @contextlib.contextmanager
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        with fn(*args, **kwargs) as value:
            totals[stage] = totals.get(stage, 0.0) + time.perf_counter() - start
            yield value
    return wrapper


def _patch(totals: dict) -> None:
    import importlib

    active: set = set()
    for stage, (mod_name, qual) in STAGES.items():
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        owner, attr = mod, qual
        if "." in qual:
            cls, attr = qual.split(".")
            owner = getattr(mod, cls)
        original = getattr(owner, attr, None)
        if original is None:
            continue
        wrapped = (_timed_context(original, stage, totals) if stage in CONTEXTS
                   else _timed(original, stage, totals, active))
        setattr(owner, attr, wrapped)
        if owner is mod:  # `from module import name` copies elsewhere
            for other in list(sys.modules.values()):
                if getattr(other, attr, None) is original:
                    setattr(other, attr, wrapped)


def child(target: str) -> None:
    """One profile in this fresh process: imports, then the command with stage timers."""
    born = time.perf_counter()
    imports = {}
    for name in IMPORTS:
        start = time.perf_counter()
        __import__(name)
        imports[f"import {name}"] = time.perf_counter() - start
    start = time.perf_counter()
    import saturate_cli.cli  # noqa: F401
    import saturate_cli.pipeline  # noqa: F401
    imports["import saturate_cli (cli, pipeline)"] = time.perf_counter() - start
    totals: dict = {}
    _patch(totals)
    model, data, batch = target.rsplit(":", 2)
    argv = ["inspect", model, "-c", data, "--format", "json", "-q"]
    argv += ["-b", batch] if int(batch) else []
    from saturate_cli.cli import main

    start = time.perf_counter()
    sys.argv = ["saturate", *argv]
    try:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    command = time.perf_counter() - start
    in_process = time.perf_counter() - born
    import onnxruntime as ort

    start = time.perf_counter()
    ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    totals["plain session creation (reference)"] = time.perf_counter() - start
    print(json.dumps({"imports": imports, "stages": totals, "command": command, "exit": code,
                      "in_process": in_process}))


def _benchmark_data(data: Path) -> None:
    """Write a benchmark model's `NAME_BxS.npz` (whole.data_file) where it is missing."""
    import re

    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import models
    import whole

    found = re.fullmatch(rf"({'|'.join(models.NAMES)})_(\d+)x(\d+)\.npz", data.name)
    if found and data.parent == HERE / ".cache" and not data.exists():
        whole.data_file(found[1], int(found[2]), int(found[3]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", default=DEFAULT, help="MODEL:DATA:BATCH (0: default)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    from procs import child_env  # bytecode on in the children, as users have it

    for t in args.targets:
        _benchmark_data(Path(t.rsplit(":", 2)[1]))
    runs: dict = {t: [] for t in args.targets if Path(t.rsplit(":", 2)[0]).exists()}
    for _ in range(args.reps):  # interleaved
        for t, kept in runs.items():
            start = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--child", t], capture_output=True,
                                 text=True, check=False, env=child_env())
            wall = time.perf_counter() - start  # the reference session is taken off later
            line = [x for x in out.stdout.splitlines() if x.startswith('{"imports"')]
            if line:
                kept.append(dict(json.loads(line[-1]), wall=wall))
            else:
                print(f"{t}: failed: {out.stderr[-300:]}", file=sys.stderr)
    print(render(runs, args.reps))
    return 0


def render(runs: dict, reps: int) -> str:
    names = [Path(t.rsplit(":", 2)[0]) for t in runs]
    heads = [f"{p.parent.name}/{p.stem}" if p.parent.name not in (".cache", "pypi") else p.stem
             for p in names]
    lines = [f"Milliseconds, medians of {reps} fresh processes.", "",
             "| stage | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    keys = ["whole process (wall)", "interpreter start", *[f"import {m}" for m in IMPORTS],
            "import saturate_cli (cli, pipeline)", "command (after imports)", *STAGES,
            "plain session creation (reference)"]

    def value(r: dict, key: str):
        ref = r["stages"].get("plain session creation (reference)", 0.0)
        if key == "whole process (wall)":
            return r["wall"] - ref
        if key == "interpreter start":  # and exit
            return r["wall"] - ref - r["in_process"]
        if key == "command (after imports)":
            return r["command"]
        return r["imports"].get(key, r["stages"].get(key))

    for key in keys:
        cells = []
        for rs in runs.values():
            vals = [v for v in (value(r, key) for r in rs) if v is not None]
            cells.append(f"{statistics.median(vals) * 1000:.0f}" if vals else "–")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
