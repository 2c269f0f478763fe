"""Read one calibration file into records: {key: array}, keyed by input name or position.

A record is one set of arrays for the model's inputs (a shard).  Keys are input names, file
stems, or integer positions; `assign` in arrays.py maps them to the model's inputs.  Nothing here
loads pickles: .npy/.npz with allow_pickle=False, .pt with torch.load(weights_only=True).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from saturate_cli.budget import refuse_over, zip_unpacked_size
from saturate_cli.errors import CalibrationError

Record = dict  # key (str name/stem or int position) -> array
ARRAY_SUFFIXES = (".npy", ".npz", ".pt", ".pth", ".pb")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_records(path: Path, names: list[str], budget: int | None = None) -> Iterator[Record]:
    """The records one file holds (most files hold one; a .pt list of dicts holds several).

    A .pb tensor is keyed by its TensorProto name when that is one of the model's input `names`,
    else by its file stem (input_0, input_1 ... map by position). A zip (.npz, .pt) that would
    unpack to more than `budget` bytes is refused before anything is decompressed.
    """
    _check_unpacked_size(path, budget)
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth"):
        yield from _torch_records(path)
    elif suffix == ".pb":
        name, array = _read_pb(path)
        yield {name if name in names else path.stem: array}
    else:
        yield _numpy_record(path)


def _check_unpacked_size(path: Path, budget: int | None) -> None:
    unpacked = zip_unpacked_size(path) if budget is not None else None
    if unpacked is not None:
        refuse_over(path, unpacked, budget, "unpacks to")


def _numpy_record(path: Path) -> Record:
    try:
        if path.suffix.lower() == ".npz" or zipfile.is_zipfile(path):
            with np.load(path, allow_pickle=False) as data:
                record = {k: data[k] for k in data.files}
        else:  # memory-mapped: batches are copied out of it one at a time
            record = {path.stem: np.load(path, mmap_mode="r", allow_pickle=False)}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError,
            RuntimeError, zlib.error) as exc:  # zipfile: unsupported/encrypted/corrupt members
        raise CalibrationError(f"{path}: not a readable .npy/.npz file "
                               f"({' '.join(str(exc).split())[:200]})") from None
    if not record:
        raise CalibrationError(f"{path}: the file holds no arrays")
    for key, value in record.items():
        if not isinstance(value, np.ndarray):  # NpzFile hands back raw bytes for junk members
            raise CalibrationError(f"{path}: member '{key}' is not a .npy array")
    return record


def _read_pb(path: Path) -> tuple[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    tensor = onnx.TensorProto()
    try:
        tensor.ParseFromString(path.read_bytes())
        array = numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own DecodeError
        raise CalibrationError(f"{path}: not an ONNX TensorProto file "
                               f"({' '.join(str(exc).split())[:200]})") from None
    return tensor.name, array


def _torch_records(path: Path) -> Iterator[Record]:
    try:
        import torch
    except ImportError:
        raise CalibrationError(f"{path}: reading .pt/.pth calibration files needs PyTorch: "
                               "pip install 'saturate-cli[torch]'") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise CalibrationError(f"{path}: cannot load with torch.load(weights_only=True) "
                               f"({' '.join(str(exc).split())[:200]})") from None
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(o, (dict, list, tuple))
                                                       for o in obj):
        for item in obj:  # a list of batches
            yield _torch_record(path, item)
    else:
        yield _torch_record(path, obj)


def _torch_record(path: Path, obj) -> Record:
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, (list, tuple)):
        items = list(enumerate(obj))
    else:
        items = [(path.stem, obj)]
    if not items:
        raise CalibrationError(f"{path}: the file holds no tensors")
    return {k if isinstance(k, int) else str(k): _to_numpy(path, k, v) for k, v in items}


def _to_numpy(path: Path, key, value) -> np.ndarray:
    import torch

    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, torch.Tensor):
        raise CalibrationError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
    value = value.detach().cpu()
    if value.dtype == torch.bfloat16:
        import ml_dtypes

        return value.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return value.numpy()
