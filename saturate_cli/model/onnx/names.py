"""Site names people recognise: the PyTorch module path the exporter recorded.

torch.onnx's dynamo exporter names nodes `node_mul_236` but stores, per node, the module scopes
it came from (`pkg.torch.onnx.name_scopes`, e.g. `['', 'net', 'net.h.0.mlp', 'net.h.0.mlp.act',
'tanh']`) and their classes (`pkg.torch.onnx.class_hierarchy`). A site is then named as the
PyTorch capture names it: the module path when the owning module is an activation module
(`net.layer1.0.relu`; a second call gets `#1` like any repeated name), else
`path:function#k` for a functional call (`net.h.0.attn:softmax#0`).
"""

from __future__ import annotations

import ast
from collections import Counter
from typing import Optional

import onnx

SCOPES = "pkg.torch.onnx.name_scopes"
CLASSES = "pkg.torch.onnx.class_hierarchy"


def _meta(node: onnx.NodeProto, key: str) -> Optional[list]:
    for prop in node.metadata_props:
        if prop.key == key:
            try:
                value = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return None
            return value if isinstance(value, list) and value else None
    return None


def _is_activation_module(cls: str) -> bool:
    """torch.nn.modules.activation.* and look-alikes (transformers.activations.*)."""
    return ".activation" in cls or cls.rsplit(".", 1)[-1].endswith("Activation")


class ScopedNames:
    """Names from exporter metadata, counting functional calls per (module path, function)."""

    def __init__(self) -> None:
        self._calls: Counter = Counter()

    def name(self, node: onnx.NodeProto) -> Optional[str]:
        """The recognisable name of the site whose output node is `node`, or None."""
        scopes, classes = _meta(node, SCOPES), _meta(node, CLASSES)
        if not scopes or len(scopes) < 2:
            return None
        owner = scopes[-2]
        if classes and len(classes) >= 2 and _is_activation_module(str(classes[-2])):
            return owner or None
        fn = _function(classes[-1] if classes else "", scopes[-1])
        k = self._calls[(owner, fn)]
        self._calls[(owner, fn)] += 1
        return f"{owner}:{fn}#{k}"


def _function(op: str, fx_name: str) -> str:
    """`aten._softmax.default` -> `softmax`; without it the fx node name less its counter."""
    if op.startswith("aten."):
        return op.split(".")[1].strip("_")
    base = fx_name.rstrip("0123456789").rstrip("_")
    return base.strip("_") or fx_name


def module_path(node: onnx.NodeProto) -> Optional[str]:
    """The PyTorch module path a node came from: the dynamo exporter's scopes, else the
    TorchScript exporter's node name (`/net/layer1/layer1.0/conv1/Conv` -> `net.layer1.0.conv1`)."""
    scopes = _meta(node, SCOPES)
    if scopes and len(scopes) >= 2 and scopes[-2]:
        return str(scopes[-2])
    parts = [p for p in node.name.split("/") if p][:-1] if node.name.startswith("/") else []
    path, last = "", ""
    for part in parts:
        if last and part.startswith(last + "."):  # `layer1.0` inside `layer1`
            path = path[: len(path) - len(last)] + part
        else:
            path = f"{path}.{part}" if path else part
        last = part
    return path or None
