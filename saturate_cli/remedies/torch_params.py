"""Read and write a loaded PyTorch model's parameters and buffers, run it, and save it in the
form it came in (the accessors fix needs on top of model/torch/)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from saturate_cli.errors import UsageError


def module_of(handle) -> torch.nn.Module:
    """The module a TorchModel runs: eager module, .pt2 GraphModule or ScriptModule."""
    runner = handle.runner
    for name in ("model", "gm", "module"):
        if getattr(runner, name, None) is not None:
            return getattr(runner, name)
    raise UsageError(f"{handle.path}: the model's module cannot be reached")


def tensor(module: torch.nn.Module, name: str) -> Optional[torch.Tensor]:
    """A parameter or buffer by its dotted name (None when there is none)."""
    found = dict(module.named_parameters(remove_duplicate=False))
    found.update(dict(module.named_buffers(remove_duplicate=False)))
    return found.get(name)


def read(module, name: str) -> Optional[np.ndarray]:
    t = tensor(module, name)
    return None if t is None else t.detach().cpu().to(torch.float64).numpy()


def write(module, name: str, value: np.ndarray) -> None:
    """Set a parameter or buffer in place (keeping its dtype and device)."""
    t = tensor(module, name)
    with torch.no_grad():
        t.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(t.dtype))


def run(handle, module, batch: dict):
    """The module's outputs on one batch, inputs bound as the handle binds them."""
    tensors = {}
    for spec in handle.inputs:
        array = np.ascontiguousarray(batch[spec.name])
        if array.dtype == np.float64 and spec.dtype != "float64":
            array = array.astype(np.float32)
        tensors[spec.name] = torch.from_numpy(array).to(handle.device)
    keywords = getattr(handle, "keywords", ())
    args = tuple(t for n, t in tensors.items() if n not in keywords)
    kwargs = {n: t for n, t in tensors.items() if n in keywords}
    with torch.inference_mode():
        return module(*args, **kwargs)


def _bytes(obj, save) -> bytes:
    buffer = io.BytesIO()
    save(obj, buffer)
    return buffer.getvalue()


def _state(module) -> dict:
    return {k: v.detach().cpu().clone().contiguous() for k, v in module.state_dict().items()}


def payload(handle, module, settings, output: Path) -> bytes:
    """The fixed model as a file of the input's form: a state dict for a factory (.pt, or
    .safetensors when the weights or the output are), the pickled module, the .pt2 program
    or the TorchScript archive."""
    fmt = handle.format
    if fmt == "pytorch":
        weights = str(getattr(settings, "weights", "") or "")
        if output.suffix == ".safetensors" or (weights.endswith(".safetensors") and
                                               output.suffix != ".pt"):
            from safetensors.torch import save

            return save(_state(module))
        return _bytes(_state(module), torch.save)
    if fmt == "pytorch-pickle":
        return _bytes(module, torch.save)
    if fmt == "torchscript":
        return _bytes(module, torch.jit.save)
    if fmt == "torch.export":
        program = torch.export.load(handle.path)
        fixed = module.state_dict()
        for table in (program.state_dict, program.constants):
            for name, value in table.items():
                if name in fixed and isinstance(value, torch.Tensor):
                    with torch.no_grad():
                        value.copy_(fixed[name].to(value.device, value.dtype))
        return _bytes(program, torch.export.save)
    raise UsageError(f"{handle.path}: cannot save a {fmt} model")
