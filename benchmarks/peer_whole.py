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


def ort_calibrator(kind: str, model: str, folder: str, wanted: set[str]):
    """onnxruntime's `kind` calibrator of `model`, restricted to the tensors `wanted`."""
    from onnxruntime.quantization import calibrate as cal

    cls = {"minmax": cal.MinMaxCalibrater, "entropy": cal.EntropyCalibrater,
           "percentile": cal.PercentileCalibrater}[kind]
    calibrator = cls(model, augmented_model_path=f"{folder}/aug.onnx")
    select = calibrator.select_tensors_to_calibrate

    def only_sites(m):
        tensors, infos = select(m)
        return tensors & wanted, infos

    calibrator.select_tensors_to_calibrate = only_sites
    return calibrator


def calibrate(calibrator, feed) -> None:
    """Augment, open the session, read every batch of the iterable `feed`, compute."""
    from onnxruntime.quantization import calibrate as cal

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
        with open(argv[4]) as fh, tempfile.TemporaryDirectory() as tmp:
            calibrate(ort_calibrator(kind, model, tmp, set(json.load(fh))), feed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
