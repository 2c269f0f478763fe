"""Where a PyTorch layer's output units go, read from a torch.fx graph: through per-unit ops
(activations, eval-mode norms, pooling, dropout, flatten) to the weighted layers reading them.

Eager modules are traced with torch.fx.symbolic_trace; a .pt2 program is already a graph.
"""

from __future__ import annotations

from typing import Optional, Union

import torch

PER_UNIT = {"relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "sigmoid",
            "tanh", "hardtanh", "hardswish", "hardsigmoid", "mish", "softplus", "softsign",
            "prelu", "dropout", "identity", "batch_norm", "max_pool1d", "max_pool2d",
            "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
            "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool2d", "clone",
            "contiguous", "detach", "_native_batch_norm_legit_no_training", "getitem",
            "max_pool2d_with_indices"}
FLATTEN = {"flatten", "view", "reshape", "_unsafe_view"}
WEIGHTED = {"linear", "conv1d", "conv2d", "conv3d", "convolution", "_convolution"}
MODULES = {"Linear": "linear", "Conv1d": "conv1d", "Conv2d": "conv2d", "Conv3d": "conv3d",
           "BatchNorm1d": "batch_norm", "BatchNorm2d": "batch_norm", "BatchNorm3d": "batch_norm",
           "Flatten": "flatten", "Identity": "identity", "Dropout": "dropout"}


def _base(name: str) -> str:
    """'aten.relu_.default' / 'relu_' / 'torch.nn.functional.relu' -> 'relu'."""
    name = name.replace("aten.", "").split(".")[0] if name.startswith("aten.") else \
        name.rsplit(".", 1)[-1]
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def op_of(gm: torch.fx.GraphModule, node: torch.fx.Node) -> str:
    """A node's operation by one name for modules, functions and methods."""
    if node.op == "call_module":
        sub = gm.get_submodule(node.target)
        cls = type(sub).__name__
        if cls in MODULES:
            return MODULES[cls]
        return "activation" if sub.__module__.startswith("torch.nn.modules.activation") or \
            "Pool" in cls else cls
    if node.op in ("call_function", "call_method"):
        text = str(node.target)
        return _base(text if text.startswith("aten.") else
                     getattr(node.target, "__name__", None) or text)
    return node.op


def weight_of(gm: torch.fx.GraphModule, node: torch.fx.Node) -> Optional[str]:
    """The weight parameter a Linear/Conv node reads (dotted name), if it is one."""
    if node.op == "call_module" and op_of(gm, node) in WEIGHTED:
        sub = gm.get_submodule(node.target)
        return f"{node.target}.weight" if getattr(sub, "groups", 1) == 1 else None
    if node.op == "call_function" and op_of(gm, node) in WEIGHTED and len(node.args) > 1:
        w = node.args[1]
        groups = node.args[-1] if op_of(gm, node) == "convolution" else \
            (node.args[6] if len(node.args) > 6 else node.kwargs.get("groups", 1))
        if isinstance(w, torch.fx.Node) and w.op == "get_attr" and groups in (1, None):
            return str(w.target)
    return None


def trace(module: torch.nn.Module) -> Union[torch.fx.GraphModule, str]:
    """The module as an fx graph, or why it cannot be traced."""
    if isinstance(module, torch.fx.GraphModule):
        return module
    try:
        return torch.fx.symbolic_trace(module)
    except Exception as exc:  # noqa: BLE001 - tracing user code can fail in many ways
        return f"torch.fx cannot trace the model ({type(exc).__name__}: {str(exc)[:120]})"


def consumers(gm: torch.fx.GraphModule, weight: str) -> Union[str, list]:
    """(weight name, flattened?) of every layer the units of `weight`'s layer reach, or why
    they reach something else (a residual add, the output)."""
    start = next((n for n in gm.graph.nodes if weight_of(gm, n) == weight), None)
    if start is None:
        return f"the layer of {weight} was not found in the traced graph"
    found, todo, seen = [], [(start, False)], {start}
    while todo:
        node, flat = todo.pop()
        for user in node.users:
            if user in seen:
                continue
            seen.add(user)
            op = op_of(gm, user)
            if weight_of(gm, user) and user.args and user.args[0] is node:
                found.append((weight_of(gm, user), flat))
            elif (op in PER_UNIT or op == "activation") and user.args and user.args[0] is node:
                todo.append((user, flat))
            elif op in FLATTEN and user.args and user.args[0] is node:
                todo.append((user, True))
            else:
                return (f"the units' values reach {op} {user.name} (a residual or mixing "
                        "path, or the output): recycling would change the outputs")
    return found or "no layer reads the units"
