"""A peer calibrating a calibration file as a whole process (what its user would run).

    python benchmarks/peer_whole.py KIND MODEL.onnx DATA.npz BATCH_SIZE TENSORS.json

KIND: minmax | entropy (onnxruntime.quantization calibrators) | polygraphy (every tensor
marked as an output, onnxruntime runner, every batch's results kept). The ORT calibrators are
restricted to the tensors in TENSORS.json (saturate's activation inputs, listed beforehand so
this process never imports saturate).
"""

from __future__ import annotations

import json
import sys
import tempfile

import numpy as np


def batches(data: str, size: int) -> list[dict]:
    with np.load(data) as npz:
        arrays = {k: npz[k] for k in npz.files}
    total = next(iter(arrays.values())).shape[0]
    return [{k: v[s:s + size] for k, v in arrays.items()} for s in range(0, total, size)]


def ort_calibrator(kind: str, model: str, feed: list[dict], wanted: set[str]) -> None:
    from onnxruntime.quantization import calibrate as cal

    cls = {"minmax": cal.MinMaxCalibrater, "entropy": cal.EntropyCalibrater}[kind]
    with tempfile.TemporaryDirectory() as tmp:
        calibrator = cls(model, augmented_model_path=f"{tmp}/aug.onnx")
        select = calibrator.select_tensors_to_calibrate

        def only_sites(m):
            tensors, infos = select(m)
            return tensors & wanted, infos

        calibrator.select_tensors_to_calibrate = only_sites

        class Reader(cal.CalibrationDataReader):
            def __init__(self):
                self.it = iter(feed)

            def get_next(self):
                return next(self.it, None)

        calibrator.augment_graph()
        calibrator.create_inference_session()
        calibrator.collect_data(Reader())
        calibrator.compute_data()


def polygraphy(model: str, feed: list[dict]) -> None:
    from polygraphy import constants
    from polygraphy.backend.onnx import BytesFromOnnx, ModifyOutputs, OnnxFromPath
    from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx
    from polygraphy.comparator import Comparator
    from polygraphy.logger import G_LOGGER

    G_LOGGER.module_severity = G_LOGGER.ERROR
    marked = BytesFromOnnx(ModifyOutputs(OnnxFromPath(model), outputs=constants.MARK_ALL))
    runner = OnnxrtRunner(SessionFromOnnx(marked, providers=["CPUExecutionProvider"]))
    Comparator.run([runner], data_loader=feed)


def main(argv: list[str]) -> int:
    kind, model, data, size = argv[0], argv[1], argv[2], int(argv[3])
    feed = batches(data, size)
    if kind == "polygraphy":
        polygraphy(model, feed)
    else:
        with open(argv[4]) as fh:
            ort_calibrator(kind, model, feed, set(json.load(fh)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
