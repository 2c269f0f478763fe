"""The producing layers' parameters of a checkpoint, and how far they moved.

ONNX: initializers by the producer's `weight` / `bias` name (read safely, as inspect reads the
model). PyTorch: the state dict entry (`--weights` files, a `.pt2` program's state dict, a
TorchScript module's). The change of a layer is the relative Frobenius norm of weight and bias
together, ||P - P0|| / ||P0||: a bias that moved counts as the layer's own change.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np

Tensors = dict  # parameter name -> float64 numpy array


def producer_names(sites: dict) -> dict:
    """Layer weight name -> (weight, bias) parameter names, from a point's site dicts."""
    out = {}
    for site in sites.values():
        p = site.get("producer") or {}
        if p.get("weight"):
            out[p["weight"]] = (p["weight"], p.get("bias"))
    return out


def _onnx_tensors(path: Path, wanted: set, settings) -> Tensors:
    from onnx import numpy_helper

    from saturate_cli.model.onnx.load import read_model

    model = read_model(path, settings.memory_budget)
    return {t.name: numpy_helper.to_array(t).astype(np.float64)
            for t in model.graph.initializer if t.name in wanted}


def _torch_state(target: str, settings, weights: Optional[str]) -> dict:
    import torch

    if weights:
        from saturate_cli.model.torch.weights import read_state_dict

        return read_state_dict(Path(weights), settings.trust_pickle)
    from saturate_cli.model.torch.load import archive_kind

    kind = archive_kind(Path(target))
    if kind == "pt2":
        return dict(torch.export.load(str(target)).state_dict)
    if kind == "torchscript":
        return dict(torch.jit.load(str(target), map_location="cpu").state_dict())
    return {}


def read_parameters(target: str, settings, wanted: set, weights: Optional[str] = None
                    ) -> Tensors:
    """The wanted parameters of one checkpoint (those it does not hold are left out)."""
    import zipfile

    path = Path(target)
    if weights is None and path.is_file() and not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            pickle = fh.read(1) == b"\x80"
        if not pickle:
            return _onnx_tensors(path, wanted, settings)
    state = _torch_state(target, settings, weights)
    out = {}
    for key, value in state.items():
        name = key if key in wanted else next((w for w in wanted if key.endswith("." + w)), None)
        if name is not None and hasattr(value, "detach"):
            out[name] = value.detach().double().cpu().numpy()
    return out


def relative_change(now: dict, first: dict, weight: str, bias: Optional[str]
                    ) -> Optional[float]:
    """||(W, b) - (W0, b0)|| / ||(W0, b0)||; None when the weight is not in both. numpy
    arrays or torch tensors alike (the monitor computes it on the parameters' device)."""
    names = [n for n in (weight, bias) if n and n in now and n in first
             and tuple(now[n].shape) == tuple(first[n].shape)]
    if weight not in names:
        return None
    moved = sum(float(((now[n] - first[n]) ** 2).sum()) for n in names)
    size = sum(float((first[n] ** 2).sum()) for n in names)
    return math.sqrt(moved / size) if size > 0 else None
