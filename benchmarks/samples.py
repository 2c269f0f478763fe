"""Overhead of saturate on the bundled sample models: ONNX (plain onnxruntime vs the
instrumented calibration loop) and PyTorch (eager no_grad vs the capture), same batches.

    .venv/bin/python benchmarks/samples.py [--reps 7] [--samples 128] [--batch-size 16]

Medians of interleaved repetitions; the clock covers session creation and every batch (the
same for both sides), not model loading.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
MODELS = ["mlp_sigmoid_badinit", "transformer_block", "cnn_silu_hardswish", "cnn_relu_deadbias"]


def _batches(name: str, settings):
    from saturate_cli.calibration import make_batches
    from saturate_cli.model.onnx.handle import OnnxModel

    handle = OnnxModel(SAMPLES / f"{name}.onnx", settings.memory_budget)
    return handle, list(make_batches(handle.inputs, settings)[0])


def _clock(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def onnx_pair(name: str, settings):
    import onnxruntime as ort

    from saturate_cli.batch_loop import collect

    handle, batches = _batches(name, settings)

    def plain():
        session = ort.InferenceSession(str(SAMPLES / f"{name}.onnx"),
                                       providers=["CPUExecutionProvider"])
        for b in batches:
            session.run(None, b)

    return plain, lambda: collect(handle, iter(batches), settings.tau, settings.softmax_tau)


def torch_pair(name: str, settings):
    import importlib

    import torch

    from saturate_cli.batch_loop import collect
    from saturate_cli.calibration import make_batches
    from saturate_cli.model.load import load_model

    handle = load_model(f"{SAMPLES}/models.py:build_{name}", settings)
    batches = list(make_batches(handle.inputs, settings)[0])
    sys.path.insert(0, str(SAMPLES))
    model = getattr(importlib.import_module("models"), f"build_{name}")()
    tensors = [tuple(torch.from_numpy(b[s.name]) for s in handle.inputs) for b in batches]

    def plain():
        with torch.no_grad():
            for args in tensors:
                model(*args)

    return plain, lambda: collect(handle, iter(batches), settings.tau, settings.softmax_tau)


def main(argv=None) -> int:
    from saturate_cli.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    settings = Settings(samples=args.samples, batch_size=args.batch_size)
    print(f"{args.samples} samples in batches of {args.batch_size}; medians of {args.reps}")
    print("| model | path | plain (ms) | saturate (ms) | ratio |")
    print("|---|---|---|---|---|")
    for name in MODELS:
        for path, make in (("onnx", onnx_pair), ("torch", torch_pair)):
            pair = make(name, settings)
            if pair is None:
                continue
            times = {"plain": [], "saturate": []}
            for _ in range(args.reps):  # interleaved
                times["plain"].append(_clock(pair[0]))
                times["saturate"].append(_clock(pair[1]))
            p, s = (statistics.median(times[k]) * 1e3 for k in ("plain", "saturate"))
            print(f"| {name} | {path} | {p:.1f} | {s:.1f} | {s / p:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
