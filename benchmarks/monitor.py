"""What the training-loop monitor (saturate_cli.over_time.watch) costs a training step.

    python benchmarks/monitor.py [--quick] [--steps N] [--rounds R] [--memory-steps N]

Step time (forward, backward, SGD step) of a plain loop against the same loop with
`watch(model, every=k)` for k = 1, 10, 50, on a ResNet-18-shaped CNN (benchmarks/models.py,
32x32 images, batch 4) and a small transformer encoder (2 layers, d=128, 4 heads, GELU,
sequence 32, batch 4), on one thread (steadier on a shared machine). Each round runs every
variant for the same steps, interleaved in a rotating order; every step is timed. A
variant's step time is that of one period of k steps from medians (the recorded step's and
the off-steps'), so other processes' bursts on a shared machine stay out; the overhead is
its ratio to the plain step's median. `off_step`: an
off-step against a plain step (the cost of the monitor between records).
Then memory: a small MLP trained --memory-steps steps with every=10 and a JSON-lines log;
the process's resident memory at 10% of the run and at its end (flat: no growth with steps).
Default about 4 minutes on an idle 2-core machine; --quick about 1 minute.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import models  # noqa: E402  (benchmarks/models.py)
import torch  # noqa: E402

from saturate_cli.over_time.watch import watch  # noqa: E402

EVERY = (1, 10, 50)


def transformer():
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, activation="gelu",
                                             batch_first=True)
    return torch.nn.Sequential(torch.nn.Linear(32, 128), torch.nn.TransformerEncoder(
        layer, 2, enable_nested_tensor=False), torch.nn.Linear(128, 10))


CASES = {
    "resnet18 (32x32, batch 4)": (lambda: models.build_torch("resnet18"),
                                  lambda: torch.randn(4, 3, 32, 32)),
    "transformer (2x128, seq 32, batch 4)": (transformer, lambda: torch.randn(4, 32, 32)),
}


def _loop(model, x, steps: int, every=None) -> list[float]:
    """Seconds of each training step."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    monitor = watch(model, every=every) if every else None
    times = []
    with monitor if monitor is not None else _Nothing() as w:
        for _ in range(steps):
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            model(x).float().pow(2).mean().backward()
            opt.step()
            if w is not None:
                w.step()
            times.append(time.perf_counter() - start)
    return times


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


def _per_step(times: dict, every: int) -> float:
    """Mean step time of a period of `every` steps from medians: one recorded step (the
    first) and every - 1 off-steps; medians keep other processes' bursts out."""
    recorded = [t for run in times for i, t in enumerate(run) if i % every == 0]
    off = [t for run in times for i, t in enumerate(run) if i % every]
    rest = statistics.median(off) if off else 0.0
    return (statistics.median(recorded) + (every - 1) * rest) / every


def overhead(steps: int, rounds: int) -> list[dict]:
    rows = []
    for name, (build, data) in CASES.items():
        model, x = build().train(), data()
        _loop(model, x, 3)  # warm up
        times: dict = {k: [] for k in (None, *EVERY)}
        order = list(times)
        for r in range(rounds):  # the order rotates: no variant always runs first
            for every in order[r % len(order):] + order[:r % len(order)]:
                times[every].append(_loop(model, x, steps, every))
        plain = statistics.median(t for run in times[None] for t in run)
        row = {"model": name, "plain_ms": 1e3 * plain}
        for every in EVERY:
            row[f"every={every}"] = _per_step(times[every], every) / plain - 1.0
        off = [t for run in times[EVERY[-1]] for i, t in enumerate(run) if i % EVERY[-1]]
        row["off_step"] = statistics.median(off) / plain - 1.0
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _line(row: dict) -> str:
    cells = "  ".join(f"{k} {100 * v:+.1f}%" for k, v in row.items()
                      if k.startswith("every") or k == "off_step")
    return f"{row['model']}: plain {row['plain_ms']:.1f} ms/step  {cells}"


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory(steps: int) -> dict:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Tanh(),
                                torch.nn.Linear(256, 256), torch.nn.Sigmoid(),
                                torch.nn.Linear(256, 10)).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    x = torch.randn(32, 64)
    marks = {}
    with tempfile.TemporaryDirectory() as tmp, \
            watch(model, every=10, log=Path(tmp) / "sat.jsonl") as w:
        for step in range(1, steps + 1):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
            w.step()
            if step in (steps // 10, steps):
                marks[step] = _rss_mib()
        records = w.records
    first, last = marks[steps // 10], marks[steps]
    out = {"steps": steps, "records": records, "rss_early_mib": first, "rss_end_mib": last,
           "growth_mib": last - first}
    print(f"memory: {steps} steps, {records} records: RSS {first:.1f} MiB at step "
          f"{steps // 10}, {last:.1f} MiB at the end ({last - first:+.1f} MiB)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--memory-steps", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    steps = args.steps or (50 if args.quick else 100)
    rounds = args.rounds or (3 if args.quick else 5)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {steps} steps x "
          f"{rounds} rounds per variant", flush=True)
    overhead(steps, rounds)
    memory(args.memory_steps)


if __name__ == "__main__":
    main()
