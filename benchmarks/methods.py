"""The measured methods. Each takes (model name, batch list factory) and returns seconds spent
from a loaded model to its statistics: graph changes, session creation, every batch, and the
final computation. Model loading and site discovery are outside the clock for every method.

Run one method per fresh process (benchmarks/worker.py) so peak RSS belongs to it alone.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import models

Batches = Callable[[], Iterator[dict]]


def _clock(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ort_session(path: Path, threads: int):
    """The session plain inference uses: the same options saturate uses."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def plain_onnx(name: str, batches: Batches, threads: int) -> float:
    """Plain onnxruntime inference over the batches (the floor)."""
    path = models.onnx_path(name)

    def loop():
        session = _ort_session(path, threads)
        for batch in batches():
            session.run(None, batch)

    return _clock(loop)


def saturate_onnx(name: str, batches: Batches, threads: int) -> float:
    """saturate's calibration loop: the batch loop (batch_loop.collect) over OnnxModel on the same batches."""
    from saturate_cli.batch_loop import collect
    from saturate_cli.model.onnx.handle import OnnxModel
    from saturate_cli.settings import Settings

    handle = OnnxModel(models.onnx_path(name), Settings().memory_budget, threads)
    return _clock(lambda: collect(handle, batches(), 0.05, 0.01))


def site_inputs(name: str) -> set[str]:
    """The activation-input tensors saturate measures (the peers calibrate exactly these)."""
    from saturate_cli.model.onnx.handle import OnnxModel

    handle = OnnxModel(models.onnx_path(name), 2**40)
    return {s.input for s in handle.sites}


def _ort_calibrator(kind: str):
    def run(name: str, batches: Batches, threads: int) -> float:
        from peer_whole import calibrate, ort_calibrator

        with tempfile.TemporaryDirectory() as tmp:
            calibrator = ort_calibrator(kind, str(models.onnx_path(name)), tmp, site_inputs(name))
            return _clock(lambda: calibrate(calibrator, batches()))

    run.__doc__ = f"onnxruntime's {kind} calibrator, restricted to the activation inputs."
    return run


def plain_torch(name: str, batches: Batches, threads: int) -> float:
    """Plain eager inference under no_grad."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    model = models.build_torch(name)

    def loop():
        with torch.no_grad():
            for batch in batches():
                model(*(torch.from_numpy(v) for v in batch.values()))

    return _clock(loop)


def saturate_torch(name: str, batches: Batches, threads: int) -> float:
    """saturate's PyTorch capture on the same module and batches."""
    from saturate_cli.batch_loop import collect
    from saturate_cli.model.load import load_model
    from saturate_cli.settings import Settings

    target = f"{Path(models.__file__)}:{name}"
    handle = load_model(target, Settings(threads=threads, input_shapes=models.SHAPES[name]))
    return _clock(lambda: collect(handle, batches(), 0.05, 0.01))


def torchlens(name: str, batches: Batches, threads: int) -> float:
    """TorchLens logging every layer's activations (optional peer)."""
    try:
        import torchlens as tl
    except ImportError:
        raise Unavailable("torchlens is not installed") from None
    import torch

    model = models.build_torch(name)

    def loop():
        for batch in batches():
            log = tl.log_forward_pass(model, [torch.from_numpy(v) for v in batch.values()],
                                      layers_to_save="all")
            del log

    return _clock(loop)


def polygraphy_mark_all(name: str, batches: Batches, threads: int) -> float:
    """`polygraphy run --onnx-outputs mark all` as its Python API does it (optional peer): every
    tensor marked as an output, onnxruntime runner, every batch's results kept for comparison."""
    try:
        from polygraphy import constants
        from polygraphy.backend.onnx import BytesFromOnnx, ModifyOutputs, OnnxFromPath
        from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx
        from polygraphy.comparator import Comparator
        from polygraphy.logger import G_LOGGER
    except ImportError:
        raise Unavailable("polygraphy is not installed (pip install -e '.[bench]')") from None

    G_LOGGER.module_severity = G_LOGGER.ERROR  # its progress lines would go to our stdout
    loaded = OnnxFromPath(str(models.onnx_path(name)))()

    def loop():
        marked = BytesFromOnnx(ModifyOutputs(loaded, outputs=constants.MARK_ALL, copy=True))
        runner = OnnxrtRunner(SessionFromOnnx(marked, providers=["CPUExecutionProvider"]))
        Comparator.run([runner], data_loader=list(batches()))

    return _clock(loop)


class Unavailable(RuntimeError):
    """A method that cannot run here (optional peer missing)."""


METHODS = {
    "plain-onnx": plain_onnx,
    "saturate-onnx": saturate_onnx,
    "ort-minmax": _ort_calibrator("minmax"),
    "ort-entropy": _ort_calibrator("entropy"),
    "ort-percentile": _ort_calibrator("percentile"),
    "plain-torch": plain_torch,
    "saturate-torch": saturate_torch,
    "torchlens": torchlens,
    "polygraphy": polygraphy_mark_all,
}
