"""Plain onnxruntime inference over a calibration file: the whole-process floor.

    python benchmarks/plain_infer.py MODEL.onnx DATA.npz BATCH_SIZE [THREADS]

What a user would write without saturate: load the data, build a session, run every batch.
"""

from __future__ import annotations

import sys

import numpy as np
import onnxruntime as ort


def main(argv: list[str]) -> int:
    model, data, size = argv[0], argv[1], int(argv[2])
    threads = int(argv[3]) if len(argv) > 3 else 0
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    with np.load(data) as npz:
        arrays = {k: npz[k] for k in npz.files}
    total = next(iter(arrays.values())).shape[0]
    for start in range(0, total, size):
        session.run(None, {k: v[start:start + size] for k, v in arrays.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
