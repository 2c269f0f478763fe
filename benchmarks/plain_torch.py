"""Plain eager PyTorch inference over a calibration file: the whole-process floor of the
PyTorch path.

    python benchmarks/plain_torch.py FILE.py:FACTORY DATA.npz BATCH_SIZE [THREADS]

What a user would write without saturate: build the module, load the data, run every batch
under no_grad.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import torch


def build(target: str):
    path, factory = target.rsplit(":", 1)
    spec = importlib.util.spec_from_file_location("bench_factory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, factory)().eval()


def main(argv: list[str]) -> int:
    target, data, size = argv[0], argv[1], int(argv[2])
    if len(argv) > 3 and int(argv[3]):
        torch.set_num_threads(int(argv[3]))
    model = build(target)
    with np.load(data) as npz:
        arrays = [npz[k] for k in npz.files]
    total = arrays[0].shape[0]
    with torch.no_grad():
        for start in range(0, total, size):
            model(*(torch.from_numpy(a[start:start + size]) for a in arrays))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
