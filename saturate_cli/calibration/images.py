"""An image folder as calibration data: resize, center-crop, scale, normalise, lay out.

Each image is resized so it covers the model's H x W (the shorter side fits), center-cropped to
H x W, scaled to [0, 1] and normalised with (x - mean) / std per channel.  Inputs of dtype uint8
get the raw 0-255 pixels instead.  Pillow is the optional extra `images`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from saturate_cli.calibration.readers import Record
from saturate_cli.errors import CalibrationError
from saturate_cli.types import InputSpec

LAYOUTS = ("auto", "nchw", "nhwc")


def image_geometry(spec: InputSpec, layout: str, given: dict, default_size: int,
                   note) -> tuple[str, int, int, int]:
    """(layout, channels, height, width) for the model's image input."""
    shape = tuple(given.get(spec.name, spec.shape))
    if len(shape) != 4:
        raise CalibrationError(f"an image folder needs a 4-d image input; input '{spec.name}' "
                               f"has shape {list(shape)}")
    if layout not in LAYOUTS:
        raise CalibrationError(f"--layout '{layout}': choose one of {', '.join(LAYOUTS)}")
    if layout == "auto":
        layout = "nchw" if shape[1] in (1, 3) else "nhwc" if shape[3] in (1, 3) else ""
        if not layout:
            raise CalibrationError(f"cannot tell whether input '{spec.name}' {list(shape)} is NCHW "
                                   "or NHWC (no channel dim of size 1 or 3); give --layout")
    c, h, w = (shape[1], shape[2], shape[3]) if layout == "nchw" else (shape[3], shape[1], shape[2])
    if not isinstance(c, int) or c <= 0:
        c = 3
        note(f"input '{spec.name}': channel count not fixed by the model, using 3 (RGB)")
    if c not in (1, 3):
        raise CalibrationError(f"input '{spec.name}' {list(shape)} ({layout.upper()}) has {c} "
                               "channels; images give 1 (grayscale) or 3 (RGB)")
    size = []
    for dim in (h, w):
        size.append(dim if isinstance(dim, int) and dim > 0 else default_size)
    if size != [h, w]:
        note(f"input '{spec.name}': image size not fixed by the model, using {size[0]}x{size[1]} "
             "(give --input-shape to choose)")
    return layout, c, size[0], size[1]


def channel_stats(values: tuple[float, ...], channels: int, option: str) -> np.ndarray:
    """--mean/--std values as a per-channel vector (one value for all; a 1-channel input takes
    the average of three)."""
    v = np.asarray(values, np.float32)
    if v.size == channels:
        return v
    if v.size == 1 or channels == 1:
        return np.full(channels, v.mean(), np.float32)
    raise CalibrationError(f"{option} has {v.size} values, the model's input has {channels} "
                           "channels")


def image_records(files: Iterable[Path], spec: InputSpec, geometry: tuple[str, int, int, int],
                  mean: np.ndarray, std: np.ndarray) -> Iterator[tuple[str, Record]]:
    """One record (a batch of one) per image file."""
    image_module = _pillow()
    layout, c, h, w = geometry
    raw = spec.dtype == "uint8"
    for path in files:
        pixels = _load(image_module, path, c, h, w)
        x = pixels if raw else (pixels.astype(np.float32) / 255.0 - mean) / std
        x = x.transpose(2, 0, 1) if layout == "nchw" else x
        yield str(path), {spec.name: x[None]}


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise CalibrationError("reading an image folder needs Pillow: "
                               "pip install 'saturate-cli[images]'") from None
    return Image


def _load(image_module, path: Path, channels: int, h: int, w: int) -> np.ndarray:
    """H x W x C uint8 pixels: resized to cover h x w, center-cropped."""
    try:
        with image_module.open(path) as img:
            img = img.convert("RGB" if channels == 3 else "L")
            scale = max(h / img.height, w / img.width)
            nw, nh = max(w, round(img.width * scale)), max(h, round(img.height * scale))
            img = img.resize((nw, nh), image_module.BILINEAR)
            left, top = (nw - w) // 2, (nh - h) // 2
            pixels = np.asarray(img.crop((left, top, left + w, top + h)), np.uint8)
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path}: cannot read the image ({' '.join(str(exc).split())[:200]})"
                               ) from None
    return pixels.reshape(h, w, channels)
