"""Markdown tables of a benchmark run: medians, ratios to the plain-inference floor, memory."""

from __future__ import annotations

import os
import platform
from importlib import metadata

BASELINE = {"plain-torch": "plain-torch", "saturate-torch": "plain-torch",
            "torchlens": "plain-torch"}
WHOLE = "plain-onnx (whole process)"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if "model name" in line)
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()}"


def versions() -> dict:
    out = {}
    for pkg in ("onnxruntime", "onnx", "numpy", "torch", "polygraphy", "torchlens"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _base(method: str) -> str:
    if "whole process" in method:
        return WHOLE
    return BASELINE.get(method, "plain-onnx")


def _ratio(a, b) -> str:
    return f"{a / b:.2f}×" if a is not None and b else "–"


def render(info: dict, timing: dict, memory: dict) -> str:
    lines = [f"Machine: {info['machine']}; Python {info['python']}; "
             + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
             f"Medians of {info['reps']} interleaved runs, each in a fresh process; "
             f"threads={info['threads'] or 'default'}.", ""]
    for name, rows in timing.items():
        n, b = info["sizes"][name]
        lines += [f"### {name}: {n} batches of {b}", "",
                  "| method | time (s) | × floor | peak RSS (MB) | × floor |",
                  "|---|---|---|---|---|"]
        for method, e in rows.items():
            base = rows.get(_base(method), {})
            if "note" in e:
                lines.append(f"| {method} | {e['note'][:70]} | – | – | – |")
                continue
            lines.append(f"| {method} | {e['seconds']:.2f} | {_ratio(e['seconds'], base.get('seconds'))}"
                         f" | {e['peak_mb']:.0f} | {_ratio(e['peak_mb'], base.get('peak_mb'))} |")
        lines += _speedups(rows) + [""]
    if memory:
        lines += ["### N then 2N batches: peak RSS, and the time each extra batch costs", "",
                  "N is the timing run above; 2N is run "
                  f"{next(iter(next(iter(memory.values())).values()))['reps']} times. "
                  "Time per extra batch = (median at 2N − median at N) / N: the loop's steady "
                  "cost without session set-up.", "",
                  "| model | method | peak N (MB) | peak 2N (MB) | growth | s per extra batch "
                  "| × floor |", "|---|---|---|---|---|---|---|"]
        for name, rows in memory.items():
            n = info["sizes"][name][0]
            marginal = {}
            for method, e2 in rows.items():
                e1 = timing[name].get(method, {})
                if "note" in e1 or "note" in e2 or "seconds" not in e1:
                    note = e2.get("note") or e1.get("note") or "–"
                    lines.append(f"| {name} | {method} | {note[:60]} | – | – | – | – |")
                    continue
                marginal[method] = (e2["seconds"] - e1["seconds"]) / n
                floor = marginal.get(BASELINE.get(method, "plain-onnx"))
                lines.append(f"| {name} | {method} | {e1['peak_mb']:.0f} | {e2['peak_mb']:.0f} | "
                             f"{_ratio(e2['peak_mb'], e1['peak_mb'])} | {marginal[method]:.3f} | "
                             f"{_ratio(marginal[method], floor)} |")
        lines.append("")
    lines.append(f"`saturate --help` (whole process, median): {info['help_seconds']:.3f} s")
    return "\n".join(lines)


def _speedups(rows: dict) -> list[str]:
    """Each ONNX peer's time against saturate's, whole and over the plain floor (the extra
    time each spends measuring)."""
    sat = rows.get("saturate-onnx", {}).get("seconds")
    plain = rows.get("plain-onnx", {}).get("seconds")
    out = []
    for peer in ("ort-entropy", "ort-percentile", "ort-minmax", "polygraphy"):
        t = rows.get(peer, {}).get("seconds")
        if sat and t:
            line = f"{peer} takes {t / sat:.2f}× the time of saturate-onnx"
            if plain and sat > plain:
                extra = (t - plain) / (sat - plain)
                line += f"; its time over plain inference is {extra:.1f}× saturate's"
            out.append(line + ".")
    return [""] + out if out else []
