"""Input specs of a PyTorch model, which (unlike ONNX) rarely declares them.

Order of evidence: `--input-shape NAME=DIMS`; the first parameterised layer (Linear in_features
-> [batch, in]; ConvNd in_channels -> [batch, C, size...] with symbolic spatial sizes;
Embedding -> int64 token ids [batch, seq] with the table's vocabulary); an input named like a
mask next to token ids gets the same shape. Anything else is an error asking for --input-shape.
"""

from __future__ import annotations

import inspect
from typing import Iterable, Optional

from saturate_cli.errors import ModelLoadError
from saturate_cli.model.handle import InputSpec

_SPATIAL = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_INT_HINTS = ("ids", "mask", "token", "position", "segment")


def forward_names(forward) -> list[str]:
    """The required positional parameters of a forward method."""
    try:
        params = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]


def from_layer(name: str, class_name: str, weight) -> Optional[InputSpec]:
    """The input a model whose first parameterised layer is this one most likely takes."""
    shape = tuple(weight.shape)
    if class_name == "Linear" and len(shape) == 2:
        return InputSpec(name, ("batch", int(shape[1])), "float32")
    if class_name in ("Conv1d", "Conv2d", "Conv3d") and len(shape) >= 3:
        return InputSpec(name, ("batch", int(shape[1])) + _SPATIAL[len(shape) - 2], "float32")
    if class_name == "Embedding" and len(shape) == 2:
        return InputSpec(name, ("batch", "seq"), "int64", vocab=int(shape[0]))
    return None


def _first_layer(layers: Iterable[tuple[str, object]]) -> tuple[Optional[str], object]:
    for class_name, weight in layers:
        if weight is not None and hasattr(weight, "shape"):
            return class_name, weight
    return None, None


def infer_specs(target: str, names: list[str], layers: Iterable[tuple[str, object]],
                given: dict) -> list[InputSpec]:
    """One spec per input name (see the module docstring for the evidence used)."""
    if not names:
        names = list(given)
    if not names:
        raise ModelLoadError(f"{target}: cannot tell the model's inputs from its forward(); "
                             "give --input-shape NAME=DIMS for each")
    class_name, weight = _first_layer(layers)
    first = from_layer(names[0], class_name, weight) if class_name else None
    specs = []
    for i, name in enumerate(names):
        spec = first if i == 0 else _companion(name, first)
        if name in given:
            dims = tuple(given[name])
            int_like = (spec is not None and spec.dtype == "int64") or any(
                h in name.lower() for h in _INT_HINTS)
            spec = InputSpec(name, ("batch",) + dims[1:], "int64" if int_like else "float32",
                             spec.vocab if spec is not None else None)
        if spec is None:
            raise ModelLoadError(
                f"{target}: cannot tell the shape of input '{name}' (first layer: "
                f"{class_name or 'none found'}); give --input-shape {name}=1x...")
        specs.append(spec)
    return specs


def _companion(name: str, first: Optional[InputSpec]) -> Optional[InputSpec]:
    """A padding mask next to token ids: same shape, int64."""
    if first is not None and first.dtype == "int64" and "mask" in name.lower():
        return InputSpec(name, first.shape, "int64")
    return None
