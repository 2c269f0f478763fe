"""Open whatever the user points at: an ONNX file or a PyTorch model in one of its forms."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Optional

from saturate_cli.budget import refuse_over, zip_unpacked_size
from saturate_cli.errors import ModelLoadError, SaturateError, UsageError, first_line
from saturate_cli.paths import sha256_in_background
from saturate_cli.settings import Settings
from saturate_cli.types import Peek


def _looks_like_factory(target: str) -> bool:
    """`pkg.module:fn` or `path/to/file.py:fn`."""
    if ":" not in target or Path(target).exists():
        return False
    module, _, fn = target.rpartition(":")
    return bool(module) and fn.isidentifier()


def load_model(target: str, settings: Settings, peek: Optional[Peek] = None):
    """A ModelHandle for the target; the format is detected from the content. `peek` gives the
    first calibration record to loaders whose input specs yield to the data (PyTorch). The
    file's hash is computed in the background while the model loads."""
    digest = sha256_in_background(_weights_file(Path(target)))  # None for a factory
    handle = _load(target, settings, peek)
    handle.sha256 = digest()
    return handle


def _weights_file(path: Path) -> Path:
    """The file a model's identity is hashed from: itself, or a checkpoint folder's model."""
    if not path.is_dir():
        return path
    from saturate_cli.model.torch.hf import WEIGHT_FILES  # plain Python: no torch import

    return next((path / n for n in ("model.onnx", *WEIGHT_FILES) if (path / n).is_file()), path)


def load_object(obj, settings: Settings, peek: Optional[Peek] = None):
    """A ModelHandle for a model held in memory (the Python API): an onnx.ModelProto, or a
    torch nn.Module / ScriptModule / ExportedProgram. Nothing is written to disk."""
    kind = type(obj).__module__.split(".")[0]
    label = f"<{type(obj).__name__}>"
    if kind == "onnx" and type(obj).__name__ == "ModelProto":
        from saturate_cli.model.onnx.handle import OnnxModel

        try:
            handle = OnnxModel(Path(label), settings.memory_budget, settings.threads,
                               _providers(settings), model=obj)
        except SaturateError:
            raise
        except Exception as exc:  # noqa: BLE001 - a malformed proto fails anywhere in analysis
            raise ModelLoadError(f"{label}: not a readable ONNX model: "
                                 f"{type(exc).__name__}: {first_line(exc)}") from None
    elif kind == "torch" or _is_torch_module(obj):
        handle = _torch_loader().load_object(obj, label, settings, peek)
    else:
        raise UsageError(f"{label}: not a model (give a path, an onnx.ModelProto, or a torch "
                         "nn.Module, ScriptModule or ExportedProgram)")
    handle.sha256 = None
    return handle


def _is_torch_module(obj) -> bool:
    """A user's nn.Module subclass lives in the user's module, not torch's."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _load(target: str, settings: Settings, peek: Optional[Peek]):
    if _looks_like_factory(target):
        return _torch_loader().load_factory(target, settings, peek)
    path = Path(target)
    if not path.exists():
        raise ModelLoadError(f"{target}: no such file")
    if path.is_dir():
        return _load_folder(path, settings)
    if _is_zip(path) or _is_pickle(path):  # torch.save / TorchScript / .pt2: zip or pickle
        _check_torch_budget(path, settings.memory_budget)
        return _torch_loader().load_file(path, settings, peek)
    from saturate_cli.model.onnx.handle import OnnxModel

    return OnnxModel(path, settings.memory_budget, settings.threads, _providers(settings))


def _load_folder(path: Path, settings: Settings):
    """An Optimum-style ONNX folder (model.onnx + tokenizer) or a Hugging Face checkpoint."""
    if (path / "model.onnx").is_file():
        from saturate_cli.model.onnx.optimum import load_onnx_folder

        return load_onnx_folder(path, settings, _providers(settings))
    from saturate_cli.model.torch.hf import is_checkpoint

    if not is_checkpoint(path):
        raise ModelLoadError(f"{path}: is a directory, not a model file (nor a Hugging Face "
                             "checkpoint: config.json with model.safetensors or "
                             "pytorch_model.bin; nor an ONNX folder with model.onnx)")
    _torch_loader()
    from saturate_cli.model.torch.hf import load_checkpoint

    return load_checkpoint(path, settings)


def _check_torch_budget(path: Path, budget: int) -> None:
    """A PyTorch file (or the zip it is) larger than the budget is refused before torch runs."""
    refuse_over(path, path.stat().st_size, budget, "is")
    refuse_over(path, zip_unpacked_size(path) or 0, budget, "unpacks to")


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _is_pickle(path: Path) -> bool:
    """A legacy (non-zip) torch.save file starts with a pickle protocol opcode (0x80 and the
    protocol number); an ONNX protobuf never does (its first byte is a field tag)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _providers(settings: Settings) -> list[str]:
    """onnxruntime execution providers for --device (cpu, cuda or cuda:N)."""
    device = settings.device or "cpu"
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if not (device == "cuda" or device.startswith("cuda:")):
        raise UsageError(f"--device {device}: choose cpu or cuda (cuda:N for one GPU)")
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise UsageError(f"--device {device}: this onnxruntime has no CUDA provider (install "
                         "onnxruntime-gpu in place of onnxruntime)")
    index = device.partition(":")[2]
    cuda = ("CUDAExecutionProvider", {"device_id": int(index)}) if index.isdigit() else \
        "CUDAExecutionProvider"
    return [cuda, "CPUExecutionProvider"]


def _torch_loader():
    """The PyTorch loaders, imported only when a PyTorch model is inspected."""
    try:
        from saturate_cli.model.torch import load as torch_load
    except ImportError as exc:
        raise ModelLoadError(
            f"PyTorch models need the torch extra: pip install 'saturate-cli[torch]' ({exc})"
        ) from None
    return torch_load
