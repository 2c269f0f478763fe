"""What merely reading each activation input costs onnxruntime, before any statistic.

    .venv/bin/python benchmarks/read_floor.py resnet50 [--batch-size 8] [--reps 12]

Three sessions over the same batches, runs interleaved, medians per batch (the first two runs
of each left out):

- plain: the model as it is, onnxruntime's default options;
- one value read: the model plus, for every site saturate instruments, a graph output holding
  the first value of the site's input (Flatten + Slice: a few bytes, no pass over the tensor);
- saturate: the instrumented graph saturate runs (onnx/instrument.py), with its session options.

The middle row is a floor for any in-graph instrumentation of activation inputs: once a
second node reads a convolution's output, onnxruntime can no longer fuse the activation into
the NCHWc convolution, and it inserts a ReorderOutput (NCHWc to NCHW, a full copy) for the
reader. No choice of statistics nodes removes that cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphs  # noqa: E402
import models  # noqa: E402


def with_one_read(model, inputs: list[str]):
    """A copy of `model` with the first value of each tensor in `inputs` as a graph output."""
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    g.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), "__floor_0"),
                          numpy_helper.from_array(np.array([1], np.int64), "__floor_1")])
    names = []
    for i, x in enumerate(inputs):
        flat, first = f"__floor_flat_{i}", f"__floor_first_{i}"
        g.node.append(helper.make_node("Flatten", [x], [flat], axis=0))
        g.node.append(helper.make_node("Slice", [flat, "__floor_0", "__floor_1", "__floor_1"],
                                       [first]))
        names.append(first)
    g.output.extend(helper.make_empty_tensor_value_info(n) for n in names)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=models.NAMES)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--reps", type=int, default=12)
    args = ap.parse_args(argv)

    import onnxruntime as ort

    model, inst, inst_names, inputs = graphs.instrumented(args.model)

    def session(model_bytes: bytes, ours: bool):
        return ort.InferenceSession(model_bytes, graphs.session_options(ours),
                                    providers=["CPUExecutionProvider"])

    rows = {"plain": (session(model.SerializeToString(), False), None),
            "one value read per site input": (
                session(with_one_read(model, inputs).SerializeToString(), False), None),
            "saturate (instrumented)": (session(inst, True), inst_names)}
    batches = [models.example_inputs(args.model, args.batch_size, s) for s in range(2)]
    times: dict[str, list[float]] = {k: [] for k in rows}
    for rep in range(args.reps + 2):
        for label, (sess, names) in rows.items():
            start = time.perf_counter()
            sess.run(names, batches[rep % 2])
            if rep >= 2:
                times[label].append(time.perf_counter() - start)
    base = statistics.median(times["plain"])
    print(f"{args.model}, batches of {args.batch_size}, {len(inputs)} sites: ms per batch, "
          f"medians of {args.reps}")
    for label, ts in times.items():
        ms = statistics.median(ts)
        print(f"  {label:32} {ms * 1e3:8.1f}  {ms / base:5.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
