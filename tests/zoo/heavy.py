"""Check one entry of the heavy zoo (benchmarks/.cache/zoo/manifest.json) against its truth:
ONNX forms with tests/zoo/truth.py at run time, PyTorch forms with the forward-hook truth
recorded at build time (tests/zoo/torch_truth.py). The tool runs as a subprocess of the
current interpreter (`python -m saturate_cli`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.zoo.check import check_onnx
from tests.zoo.compare import cause

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "benchmarks" / ".cache" / "zoo"


def manifest(zoo: Path = ZOO) -> list:
    p = zoo / "manifest.json"
    return json.loads(p.read_text()) if p.exists() else []


def entry_id(e: dict) -> str:
    return f"{e['model']}-{e['format'].replace(' ', '_')}-{e['opset'] or ''}".rstrip("-")


def _run(target, calib, extra=()):
    args = ["inspect", str(target), "-c", str(calib), "-f", "json", "--fail-on", "never",
            "-n", "1000000000", "-b", "1000000000", *extra]
    p = subprocess.run([sys.executable, "-m", "saturate_cli", *args], capture_output=True,
                       text=True, timeout=1800)
    try:
        rep = json.loads(p.stdout) if p.returncode in (0, 1) else None
    except json.JSONDecodeError:
        rep = None
    err = (p.stderr or "").strip().splitlines()[-1:] or [""]
    return p.returncode, rep, err


def check_entry(e: dict, zoo: Path = ZOO) -> dict:
    """The table row of one entry: model, format, opset, sites, result, diffs."""
    row = {"model": e["model"], "format": e["format"], "opset": e["opset"], "sites": None}
    if e.get("build_error"):
        return dict(row, result=f"not built: {e['build_error']}", diffs=[])
    calib = zoo / e["calib"]
    if e["format"].startswith("onnx"):
        code, n, diffs = check_onnx(zoo / e["path"], calib, runner=_run)
    else:
        from tests.zoo.torch_truth import compare_named
        truths = json.loads((zoo / e["truth"]).read_text())
        target = e.get("target") or zoo / e["path"]
        code, rep, err = _run(target, calib, tuple(e.get("args", ())))
        n = len(truths)
        diffs = [f"exit {code}: {err[0]}"] if rep is None else compare_named(rep, truths)
    row["sites"] = n
    return dict(row, result="ok" if not diffs else cause(diffs), diffs=diffs)


def table(rows: list) -> str:
    """A markdown table: model, format, opset, sites, result (first difference)."""
    out = ["| model | format | opset | sites | result |", "|---|---|---|---|---|"]
    for r in rows:
        res = r["result"]
        if r["diffs"]:
            more = f" (+{len(r['diffs']) - 1} more)" if len(r["diffs"]) > 1 else ""
            first = r["diffs"][0].replace(str(ZOO) + "/", "").replace(str(ROOT) + "/", "")
            res = f"FAIL: {first[:150]}{more}"
        res = res.replace("|", "\\|")
        out.append(f"| {r['model']} | {r['format']} | {r['opset'] or ''} | "
                   f"{'' if r['sites'] is None else r['sites']} | {res} |")
    return "\n".join(out)

