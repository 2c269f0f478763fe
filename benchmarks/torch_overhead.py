"""What saturate's PyTorch capture costs over plain eager inference, as a ratio in one run.

    python benchmarks/torch_overhead.py [--quick] [--reps N] [--models resnet18,bert]
                                        [--batches N] [--batch-size B] [--profile]

For each model (benchmarks/models.py: a ResNet-18-shaped CNN on 224x224 images and a BERT-size
encoder at sequence length 128 with padded, -3.4e38-masked attention), the same calibration
batches are run (a) by plain eager inference under torch.no_grad() on a model without hooks and
(b) through the batch loop (`batch_loop.collect` over a TorchModel: capture + on-device reductions + merging), alternating a and b for
each repetition. Printed: the median seconds of each over the repetitions and their ratio.
`--profile` prints a cProfile of one collect run per model instead of the tables' timing.

Default (about 5 minutes on 2 cores): batch 8, 2 batches, 5 repetitions. `--quick`: 1 batch of
4, 5 repetitions (about a minute).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

import models  # noqa: E402  (benchmarks/models.py)
from saturate_cli.batch_loop import collect
from saturate_cli.model.load import load_model  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402


def _handle(name: str, batch: int):
    shapes = {k: (batch, *v[1:]) for k, v in models.SHAPES[name].items()}
    settings = Settings(input_shapes=shapes, batch_size=batch)
    return load_model(f"{HERE / 'models.py'}:{name}", settings), settings


def _plain(model, batches) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        for batch in batches:
            model(*(torch.from_numpy(v) for v in batch.values()))
    return time.perf_counter() - start


def _collect(handle, batches, settings) -> float:
    start = time.perf_counter()
    collect(handle, iter(batches), settings.tau, settings.softmax_tau)
    return time.perf_counter() - start


def measure(name: str, batch: int, count: int, reps: int) -> tuple[float, float]:
    plain_model = models.build_torch(name)  # no capture hooks on it
    handle, settings = _handle(name, batch)
    batches = [models.example_inputs(name, batch, seed=i) for i in range(count)]
    _plain(plain_model, batches[:1])  # warm-up both
    _collect(handle, batches[:1], settings)
    plain, collect = [], []
    for _ in range(reps):
        plain.append(_plain(plain_model, batches))
        collect.append(_collect(handle, batches, settings))
    return statistics.median(plain), statistics.median(collect)


def profile(name: str, batch: int, count: int) -> None:
    handle, settings = _handle(name, batch)
    batches = [models.example_inputs(name, batch, seed=i) for i in range(count)]
    _collect(handle, batches[:1], settings)
    prof = cProfile.Profile()
    prof.enable()
    _collect(handle, batches, settings)
    prof.disable()
    print(f"== {name} batch {batch} x {count}")
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--models", default="resnet18,bert")
    ap.add_argument("--batches", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)
    batch = args.batch_size or (4 if args.quick else 8)
    count = args.batches or (1 if args.quick else 2)
    names = [n for n in args.models.split(",") if n]
    if args.profile:
        for name in names:
            profile(name, batch, count)
        return 0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.reps} interleaved runs, {count} batch(es) of {batch}")
    print("| model | batch | batches | plain eager no_grad (s) | saturate collect (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for name in names:
        plain, collect = measure(name, batch, count, args.reps)
        print(f"| {name} | {batch} | {count} | {plain:.3f} | {collect:.3f} | "
              f"{collect / plain:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
