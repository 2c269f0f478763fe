"""Read a state dict safely (torch.load weights_only / safetensors) and load it into a model."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import torch

from saturate_cli.errors import ModelLoadError, first_line

TRUST_HINT = ("--trust-pickle would unpickle it fully, which RUNS ANY CODE the file contains: "
              "use it only for files you trust")
_SHOWN = 4


def read_state_dict(path: Path, trust_pickle: bool) -> dict:
    """The tensors of a checkpoint, unwrapping {"state_dict": ...} / {"model": ...}."""
    if not path.is_file():
        raise ModelLoadError(f"--weights {path}: no such file")
    if _is_safetensors(path):
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"--weights {path}: not a readable safetensors file: "
                                 f"{first_line(exc)}") from None
    data = safe_load(path, trust_pickle, "--weights ")
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if isinstance(data, torch.nn.Module):
        data = data.state_dict()
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ModelLoadError(f"--weights {path}: not a state dict (a mapping of names to "
                             "tensors, possibly under 'state_dict' or 'model')")
    return data


def safe_load(path: Path, trust_pickle: bool, label: str = ""):
    """torch.load with weights_only=True unless the user trusts the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(str(path), map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as exc:
        if not trust_pickle and "weights only" in str(exc).lower():
            raise ModelLoadError(f"{label}{path}: the file holds Python objects beyond tensors "
                                 f"and was refused; {TRUST_HINT}") from None
        raise ModelLoadError(f"{label}{path}: not a readable PyTorch file ({first_line(exc)})"
                             ) from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise ModelLoadError(f"{label}{path}: torch.load cannot read it ({first_line(exc)})"
                             ) from None


def _is_safetensors(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") > 0


def _strip_prefix(state: dict, expected: set) -> dict:
    """Drop a 'module.' prefix (DataParallel / DDP checkpoints) when that makes keys match."""
    if state and not set(state) & expected and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def _listed(keys) -> str:
    keys = sorted(keys)
    more = f", … {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def apply_state_dict(model: torch.nn.Module, state: dict, source: str) -> None:
    """Load `state` strictly; mismatched keys or shapes -> one clear error."""
    expected = model.state_dict()
    state = _strip_prefix(state, set(expected))
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_listed(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_listed(unexpected)}")
    shapes = [f"{k} {list(state[k].shape)} vs model {list(v.shape)}"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if shapes:
        problems.append(f"{len(shapes)} shape mismatch(es): {'; '.join(shapes[:_SHOWN])}")
    if problems:
        raise ModelLoadError(f"{source} does not fit the model: {'; '.join(problems)}")
    model.load_state_dict(state, strict=True)
