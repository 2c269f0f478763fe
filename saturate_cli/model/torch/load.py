"""Open a PyTorch model in any of its forms and return a TorchModel handle.

- `pkg.mod:fn` / `path/file.py:fn`: a factory (kwargs from --arg), optionally with --weights;
- a TorchScript archive (zip with `constants.pkl` / `code/`);
- a torch.export program (zip with `archive_format` / `models/model.json`);
- a torch.save file: loaded with weights_only=True; a whole pickled module only with
  --trust-pickle (unpickling runs code from the file); a bare state dict needs a factory.
The type is read from the content, not the extension.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import zipfile
from pathlib import Path
from typing import Optional

import torch

from saturate_cli.errors import ModelLoadError, UsageError, first_line
from saturate_cli.types import Peek
from saturate_cli.model.torch.capture import EagerCapture
from saturate_cli.model.torch.handle import TorchModel
from saturate_cli.model.torch.specs import data_keys, fit_to_data, infer_specs, \
    signature_of
from saturate_cli.model.torch.weights import TRUST_HINT, apply_state_dict, read_state_dict, \
    safe_load

TRIED = "tried: torch.export archive, TorchScript archive, torch.save zip, legacy torch.save"


def _device(settings) -> str:
    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    device = settings.device or "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"--device {device}: CUDA is not available to this torch build")
    try:
        torch.empty(0, device=device)
    except (RuntimeError, ValueError) as exc:
        raise ModelLoadError(f"--device {device}: {first_line(exc)}") from None
    return device


def _import(module: str):
    try:
        if module.endswith(".py") or "/" in module or "\\" in module:
            path = Path(module).resolve()
            if not path.is_file():
                raise ModelLoadError(f"{module}: no such Python file")
            name = f"_saturate_factory_{abs(hash(str(path)))}"
            spec = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(path.parent))  # its sibling imports (from models import ...)
            try:
                spec.loader.exec_module(mod)
            finally:
                sys.path.remove(str(path.parent))
            return mod
        return importlib.import_module(module)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module may raise anything
        raise ModelLoadError(f"{module}: cannot import: {type(exc).__name__}: "
                             f"{first_line(exc)}") from None


def _eager(target: str, fmt: str, model: torch.nn.Module, settings, device: str,
           peek: Optional[Peek]) -> TorchModel:
    """Inputs bound to forward()'s parameters by name: those it requires, and those the
    --input-shape or the calibration data names (any name, through **kwargs)."""
    model = model.eval().to(device)
    layers = [(type(m).__name__, m._parameters.get("weight")) for m in model.modules()
              if m._parameters.get("weight") is not None]
    given, sig = settings.input_shapes, signature_of(model.forward)
    keys = data_keys(peek, sig.names) if sig.optional else []
    names = sig.inputs(given, keys)
    if names and names[0] not in sig.names and names[0] not in given:
        layers = []  # a name only the data gives: its first layer is not known to read it
    specs = infer_specs(target, names, layers, given, have_data=peek is not None)
    if peek is not None:
        specs = fit_to_data(specs, peek, given, list(sig.names) or names)
    keywords = sig.keywords([s.name for s in specs])
    return TorchModel(target, fmt, EagerCapture(model), specs, device, keywords)


def load_factory(target: str, settings, peek: Optional[Peek] = None) -> TorchModel:
    """`module:fn` -> fn(**--arg) with --weights loaded into it."""
    module, _, name = target.rpartition(":")
    fn = getattr(_import(module), name, None)
    if not callable(fn):
        raise ModelLoadError(f"{target}: {module} has no callable '{name}'")
    try:
        model = fn(**dict(settings.factory_args))
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{target}: the factory raised {type(exc).__name__}: "
                             f"{first_line(exc)}") from None
    if not isinstance(model, torch.nn.Module):
        raise ModelLoadError(f"{target}: returned {type(model).__name__}, not a torch.nn.Module")
    weights = getattr(settings, "weights", None)
    if weights:
        state = read_state_dict(Path(weights), settings.trust_pickle)
        apply_state_dict(model, state, f"--weights {weights}")
    return _eager(target, "pytorch", model, settings, _device(settings), peek)


def archive_kind(path: Path) -> str:
    """'pt2', 'torchscript', 'torch_save' or 'legacy' from the file's content."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                names = [n.split("/", 1)[-1] for n in z.namelist()]
            if any(n in ("archive_format", "models/model.json") or
                   n.startswith("serialized_exported_program") for n in names):
                return "pt2"
            if "constants.pkl" in names or any(n.startswith("code/") for n in names):
                return "torchscript"
            if "data.pkl" in names:
                return "torch_save"
            raise ModelLoadError(f"{path}: a zip archive but not a PyTorch one ({TRIED})")
        with open(path, "rb") as fh:
            head = fh.read(2)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"{path}: cannot read: {first_line(exc)}") from None
    if head[:1] == b"\x80":  # a pickle stream (legacy torch.save or plain pickle)
        return "legacy"
    raise ModelLoadError(f"{path}: not a PyTorch model file ({TRIED}); ONNX models need the "
                         ".onnx extension")


def load_file(path, settings, peek: Optional[Peek] = None) -> TorchModel:
    """A TorchScript, .pt2, or torch.save file."""
    path = Path(path)
    kind = archive_kind(path)
    if kind == "pt2":
        from saturate_cli.model.torch.export import load_exported

        return load_exported(path, settings, _device(settings))
    if kind == "torchscript":
        from saturate_cli.model.torch.script import load_script

        return load_script(path, settings, _device(settings), peek)
    obj = safe_load(path, settings.trust_pickle)
    if isinstance(obj, torch.nn.Module):
        return _eager(str(path), "pytorch-pickle", obj, settings, _device(settings), peek)
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()) \
            or isinstance(obj, dict) and any(k in obj for k in ("state_dict", "model")):
        raise ModelLoadError(f"{path}: a state dict (weights without the network); name the "
                             f"factory that builds it: saturate inspect models.py:build "
                             f"--weights {path}")
    hint = "" if settings.trust_pickle else f" ({TRUST_HINT})"
    raise ModelLoadError(f"{path}: holds a {type(obj).__name__}, not a model{hint}")


def load_object(obj, label: str, settings, peek: Optional[Peek] = None) -> TorchModel:
    """A TorchModel for a model object in memory: an nn.Module (eager), a ScriptModule or an
    ExportedProgram. The caller restores the module's train/eval mode afterwards."""
    device = _device(settings)
    if isinstance(obj, torch.jit.ScriptModule):
        from saturate_cli.model.torch.script import script_handle

        return script_handle(label, obj.eval(), settings, device, peek)
    if isinstance(obj, torch.export.ExportedProgram):
        from saturate_cli.model.torch.export import exported_handle

        return exported_handle(label, obj, device)
    if isinstance(obj, torch.nn.Module):
        return _eager(label, "pytorch", obj, settings, device, peek)
    raise UsageError(f"{label}: a {type(obj).__name__} is not a model (give a path, an "
                     "onnx.ModelProto, an nn.Module, a ScriptModule or an ExportedProgram)")
