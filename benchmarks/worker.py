"""Run one benchmark method in this (fresh) process and print one JSON line.

    python benchmarks/worker.py METHOD MODEL BATCHES BATCH_SIZE [THREADS]

Batches cycle through a small pool of distinct inputs, so the data itself costs the same memory
whatever the batch count (memory growth then belongs to the method).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import models  # noqa: E402
from methods import METHODS, Unavailable  # noqa: E402

POOL = 2


def main(argv: list[str]) -> int:
    method, name, count, size = argv[0], argv[1], int(argv[2]), int(argv[3])
    threads = int(argv[4]) if len(argv) > 4 else 0
    pool = [models.example_inputs(name, size, seed) for seed in range(POOL)]

    def batches():
        return (pool[i % POOL] for i in range(count))

    try:
        result = {"seconds": METHODS[method](name, batches, threads)}
    except Unavailable as exc:
        result = {"skipped": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a peer that crashes is a result too
        result = {"error": f"{type(exc).__name__}: {str(exc)[:160]}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
