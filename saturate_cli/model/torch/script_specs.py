"""Input specs of a TorchScript module: named by forward()'s parameters, sized by their users.

Each input is sized by the first layer that reads it directly in the inlined forward graph
(`aten::linear` / `aten::conv*` / `aten::embedding`, see torch_specs.from_layer), or by
`--input-shape`. An input that no layer reads directly is sized as torch_specs does for the
module's first layer (an error asking for --input-shape if that cannot tell) - unless calibration
data is given: then its shape and dtype are left to the data, and guesses yield to the data
(torch_specs.fit_to_data).
"""

from __future__ import annotations

from typing import Optional

import torch

from saturate_cli.errors import ModelLoadError
from saturate_cli.types import InputSpec, Peek
from saturate_cli.model.torch.specs import fit_to_data, infer_specs, share_batch

# operator -> (layer class it stands for, index of the weight argument, of the data argument)
_LAYER_OPS = {"aten::linear": ("Linear", 1, 0), "aten::embedding": ("Embedding", 0, 1),
              **{f"aten::{c}": ("Conv", 1, 0) for c in ("conv1d", "conv2d", "conv3d",
                                                         "_convolution", "convolution")}}


def _layers(module):
    for _, sub in module.named_modules():
        try:
            weight = getattr(sub, "weight", None)
        except Exception:  # noqa: BLE001 - scripted attribute access may raise
            weight = None
        if isinstance(weight, torch.Tensor):
            yield getattr(sub, "original_name", ""), weight


def _readers(module, graph) -> dict[int, tuple[str, torch.Tensor]]:
    """Input value id -> (class name, weight) of the first layer reading it directly."""
    modules, paths, found = dict(module.named_modules()), {}, {}
    inputs = list(graph.inputs())
    if inputs:
        paths[inputs[0].unique()] = ""
    wanted = {v.unique() for v in inputs[1:]}
    for node in graph.nodes():  # layers sit at the top level of a graph, not in blocks
        kind = node.kind()
        if kind == "prim::GetAttr" and node.inputsAt(0).unique() in paths:
            parent = paths[node.inputsAt(0).unique()]
            paths[node.output().unique()] = f"{parent}.{node.s('name')}".lstrip(".")
        elif kind in _LAYER_OPS:
            cls, w, d = _LAYER_OPS[kind]
            args = list(node.inputs())
            if len(args) <= max(w, d) or args[d].unique() not in wanted - set(found):
                continue
            weight = _weight(modules, paths.get(args[w].unique()))
            if weight is not None:
                found[args[d].unique()] = (f"Conv{weight.dim() - 2}d" if cls == "Conv" else cls,
                                           weight)
    return found


def _weight(modules, path: Optional[str]) -> Optional[torch.Tensor]:
    """The parameter at a dotted attribute path of the module, if it is one."""
    owner, _, attr = (path or "").rpartition(".")
    module = modules.get(owner)
    weight = getattr(module, attr, None) if module is not None and attr else None
    return weight if isinstance(weight, torch.Tensor) else None


def script_specs(target: str, module, settings, peek: Optional[Peek] = None) -> list[InputSpec]:
    """One spec per forward() input (see the module docstring)."""
    graph = module.forward.inlined_graph
    inputs = list(graph.inputs())[1:]
    names = [v.debugName().split(".")[0] for v in inputs]
    readers = _readers(module, graph)
    given, have_data = settings.input_shapes, peek is not None
    specs, fallback = [], None
    for name, value in zip(names, inputs):
        layer = readers.get(value.unique())
        try:
            spec = infer_specs(target, [name], [layer] if layer else [], given)[0]
        except ModelLoadError:
            if have_data:
                spec = InputSpec(name, (), "unknown")
            else:  # the usual evidence, or its error asking for --input-shape
                fallback = fallback or infer_specs(target, names, _layers(module), given)
                spec = fallback[names.index(name)]
        specs.append(spec)
    specs = fit_to_data(specs, peek, given, names) if have_data else specs
    return share_batch(specs, given)
