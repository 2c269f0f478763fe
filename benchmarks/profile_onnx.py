"""Where saturate's ONNX overhead goes: onnxruntime's own profiler, per op type, for the plain
model and the instrumented one (nodes saturate appended are marked), same batches and options.

    .venv/bin/python benchmarks/profile_onnx.py resnet18 [--batches 4] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphs  # noqa: E402
import models  # noqa: E402


WARM_UP = 2  # the first runs fault in fresh memory, charged to whichever kernel touches it


def kernel_times(model_bytes: bytes, batches: list, names, prefix: str,
                 ours: bool = False) -> collections.Counter:
    """Milliseconds per batch per op type (saturate's nodes suffixed), the first WARM_UP runs
    left out; `ours`: the session options saturate's runner uses (onnx/runner.py)."""
    import onnxruntime as ort

    options = graphs.session_options(ours)
    options.enable_profiling = True
    options.profile_file_prefix = prefix
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    warm = batches[:WARM_UP]
    for batch in warm:
        session.run(names, batch)
    for batch in batches:
        session.run(names, batch)
    events = json.loads(Path(session.end_profiling()).read_text())
    starts = sorted(e["ts"] for e in events if e.get("name") == "model_run")
    counted = starts[len(warm)]  # the first counted run's start
    times: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= counted:
            op = e["args"].get("op_name", "?")
            if e["name"].startswith("__saturate_"):  # __saturate_<n>_<hint>_kernel_time
                hint = e["name"][: -len("_kernel_time")].split("_", 4)[-1]
                op += f" (saturate{', to ' + hint if op == 'Cast' else ''})"
            times[op] += e["dur"] / 1e3 / len(batches)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=models.NAMES)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args(argv)

    model, inst, names, _ = graphs.instrumented(args.model)
    batches = [models.example_inputs(args.model, args.batch_size, s) for s in range(args.batches)]
    with tempfile.TemporaryDirectory() as tmp:
        plain = kernel_times(model.SerializeToString(), batches, None, f"{tmp}/plain")
        added = kernel_times(inst, batches, names, f"{tmp}/inst", ours=True)
    base = sum(plain.values())
    print(f"{args.model}: {args.batches} batches of {args.batch_size}; kernel ms per batch")
    print(f"plain total {base:.1f} ms; instrumented total {sum(added.values()):.1f} ms "
          f"({sum(added.values()) / base:.2f}×)")
    print(f"{'op':34} {'plain':>9} {'instr.':>9} {'delta':>9}")
    for op in sorted(set(plain) | set(added), key=lambda k: -(added[k] - plain[k])):
        delta = added[op] - plain[op]
        if abs(delta) >= 0.05 * base / 100:
            print(f"{op:34} {plain[op]:9.1f} {added[op]:9.1f} {delta:+9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
