"""Whole-process jobs: what a user times, `saturate inspect` against the scripts they would
write without it (plain onnxruntime, eager PyTorch) and the peers, each a fresh process over
the same `.npz` and batches.

Cases: 4-8 batches (fixed costs show), 32 batches (the loop dominates), small batches (BERT,
3 batches of 2: where set-up is everything).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import models

HERE = Path(__file__).resolve().parent
PY = sys.executable
OLD_ML_DTYPES = os.environ.get("BENCH_OLD_ML_DTYPES")  # a --target folder with ml_dtypes 0.7
# (model, batches, batch size, what else runs: "peers" (ORT MinMax, Entropy, Polygraphy),
# "minmax" only, "torch" (the PyTorch path), "old" (saturate with ml_dtypes 0.7.0),
# "default" (saturate also without --batch-size: the batch it picks itself))
CASES = (("resnet18", 4, 8, "peers torch"), ("resnet18", 32, 2, ""),
         ("resnet50", 4, 4, "minmax torch"), ("resnet50", 32, 1, ""),
         ("resnet50", 8, 16, "default"),  # the issue's own size: 128 images, 16 a batch
         ("bert", 4, 4, "minmax torch"), ("bert", 32, 1, ""), ("bert", 3, 2, "peers old"))
QUICK_CASES = (("resnet18", 3, 4, "peers torch old"), ("bert", 3, 2, "peers torch old"))
PLAIN_ONNX, PLAIN_TORCH = "plain onnxruntime script", "plain eager PyTorch script"
BASE = {"saturate inspect (PyTorch)": PLAIN_TORCH}


def data_file(name: str, batches: int, size: int) -> Path:
    """The calibration .npz every command of a case reads (batches cycle over two inputs)."""
    path = models.CACHE / f"{name}_{batches}x{size}.npz"
    if not path.exists():
        import numpy as np

        pool = [models.example_inputs(name, size, seed) for seed in range(2)]
        arrays = {k: np.concatenate([pool[i % 2][k] for i in range(batches)]) for k in pool[0]}
        np.savez(path, **arrays)
    return path


def site_file(name: str) -> Path:
    """saturate's activation inputs of a model, listed once (the ORT peers calibrate these)."""
    path = models.CACHE / f"{name}_sites.json"
    if not path.exists():
        from methods import site_inputs

        path.write_text(json.dumps(sorted(site_inputs(name))))
    return path


def jobs(name: str, batches: int, size: int, extra: str, threads: int) -> dict[str, list]:
    """Label -> command for one case (labels are the table's rows)."""
    model, data = str(models.onnx_path(name)), str(data_file(name, batches, size))
    unsized = ["-c", data, "-n", str(batches * size), "--format", "json", "-q", "--threads",
               str(threads)]
    opts = unsized + ["-b", str(size)]
    factory = f"{HERE / 'models.py'}:{name}"
    out = {PLAIN_ONNX: [PY, str(HERE / "plain_infer.py"), model, data, str(size), str(threads)],
           "saturate inspect (ONNX)": [PY, "-m", "saturate_cli", "inspect", model] + opts}
    if "default" in extra:  # the same data, the batch size saturate picks (pipeline.py)
        out["saturate inspect (ONNX), default batch"] = [PY, "-m", "saturate_cli", "inspect",
                                                          model] + unsized
    if OLD_ML_DTYPES and "old" in extra:
        out["saturate inspect (ONNX), ml_dtypes 0.7.0"] = (
            {"PYTHONPATH": OLD_ML_DTYPES}, out["saturate inspect (ONNX)"])
    if "peers" in extra or "minmax" in extra:
        sites = str(site_file(name))
        for kind in ("minmax", "entropy") if "peers" in extra else ("minmax",):
            out[f"ORT {kind} calibrator"] = [PY, str(HERE / "peer_whole.py"), kind, model, data,
                                             str(size), sites]
        if importlib.util.find_spec("polygraphy") and name != "bert":  # BERT: > 4.7 GB
            out["polygraphy mark all"] = [PY, str(HERE / "peer_whole.py"), "polygraphy", model,
                                          data, str(size), sites]
    if "torch" in extra and importlib.util.find_spec("torch"):
        out[PLAIN_TORCH] = [PY, str(HERE / "plain_torch.py"), factory, data, str(size),
                            str(threads)]
        out["saturate inspect (PyTorch)"] = [PY, "-m", "saturate_cli", "inspect", factory] + opts
    return out


def render(timing: dict, cases) -> list[str]:
    """One table over every case: medians, and ratios to the plain script of the same path."""
    lines = ["| model | batches × size | command | time (s) | × plain | peak RSS (MB) | × plain |",
             "|---|---|---|---|---|---|---|"]
    for name, n, b, _ in cases:
        rows = timing.get(f"{name} {n}x{b}", {})
        for label, e in rows.items():
            base = rows.get(BASE.get(label, PLAIN_TORCH if label == PLAIN_TORCH else PLAIN_ONNX),
                            {})
            ok = (0, 1) if label.startswith("saturate") else (0,)  # saturate: 1 = findings
            if e.get("exit") not in ok:
                lines.append(f"| {name} | {n} × {b} | {label} | exit {e.get('exit')} | – | – | – |")
                continue
            lines.append(f"| {name} | {n} × {b} | {label} | {e['seconds']:.2f} | "
                         f"{e['seconds'] / base['seconds']:.2f}× | {e['peak_mb']:.0f} | "
                         f"{e['peak_mb'] / base['peak_mb']:.2f}× |")
    return lines
