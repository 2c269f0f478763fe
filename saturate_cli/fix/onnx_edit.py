"""Apply rescale and bias-shift suggestions to an ONNX model's initializers and verify.

Sites are fixed one at a time in execution order, re-measuring after each change (LSUV style:
fixing a layer changes what every later layer sees). Each change writes a fresh initializer
for the one layer it touches, so weights shared with other layers are never altered.
Normalisation insertion is suggested but not applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import onnx
from onnx import numpy_helper

from saturate_cli.model.onnx.graph import GraphView
from saturate_cli.model.onnx.handle import OnnxModel
from saturate_cli.pipeline import inspect_handle
from saturate_cli.report.model import Report, SiteReport
from saturate_cli.settings import Settings

APPLICABLE = ("xavier_rescale", "he_rescale", "shift_bias")


@dataclass
class FixResult:
    """The report before, after, what was changed, and the fixed model."""

    before: Report
    after: Report
    model: onnx.ModelProto
    applied: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def _ancestors(g: GraphView, tensor: str, depth: int = 10) -> list[onnx.NodeProto]:
    """Nodes on the single-input path back from an activation input (bias adds, norms)."""
    out = []
    for _ in range(depth):
        node = g.producer.get(tensor)
        if node is None:
            break
        out.append(node)
        tensor = node.input[0] if node.input else ""
    return out


def _rewire(model: onnx.ModelProto, g: GraphView, node: onnx.NodeProto, index: int,
            value: np.ndarray, hint: str) -> str:
    """Point one node input at a fresh initializer holding `value`."""
    taken = {t.name for t in model.graph.initializer}
    name, n = f"{hint}__saturate_fix", 0
    while name in taken:
        n += 1
        name = f"{hint}__saturate_fix{n}"
    model.graph.initializer.append(numpy_helper.from_array(value, name))
    node.input[index] = name
    return name


def _transform_input(model, g, nodes, initializer: str, change) -> Optional[str]:
    """Replace the input of the first node in `nodes` that reads `initializer` (or the fresh
    copy an earlier change of this run made of it) by change(value)."""
    for node in nodes:
        for i, tensor in enumerate(node.input):
            origin = _origin(g, tensor) if tensor else ""
            if origin and (origin == initializer or
                           origin.startswith(f"{initializer}__saturate_fix")):
                value = g.constant(tensor)
                if value is None:
                    return None
                fixed = change(value.astype(np.float64)).astype(value.dtype)
                return _rewire(model, g, node, i, fixed, initializer)
    return None


def apply_suggestion(model: onnx.ModelProto, site: SiteReport, tip: dict) -> Optional[str]:
    """Apply one suggestion in place; returns None when done, else why it was not."""
    producer = site.producer
    if producer is None:
        return "no producing layer found"
    g = GraphView(model)
    path = _ancestors(g, site.input)
    if producer.get("norm"):
        return _apply_to_norm(model, g, path, producer, tip)
    layer = [n for n in path if g.node_name(n) == producer["name"]]
    if not layer:
        return "producing layer not found"
    if tip["kind"] == "shift_bias":
        if not producer.get("bias"):
            return "the layer has no bias"
        done = _transform_input(model, g, path, _origin(g, producer["bias"]), _shift(tip))
        return None if done else "bias is not a constant initializer"
    k = tip["factor"]
    if _transform_input(model, g, layer, producer["weight"], lambda w: w * k) is None:
        return "weight is not a constant initializer"
    if producer.get("bias"):
        _transform_input(model, g, path, _origin(g, producer["bias"]), lambda b: b * k)
    return None


def _apply_to_norm(model, g, path, producer: dict, tip: dict) -> Optional[str]:
    """A normalisation precedes the site: its gamma and beta set the pre-activation's scale
    and centre, so scale both by k (rescale) or move beta (shift)."""
    norm = [n for n in path if g.node_name(n) == producer["norm"]]
    gamma, beta = producer.get("norm_scale"), producer.get("norm_bias")
    if not norm or not gamma:
        return "the normalisation's parameters were not found"
    if tip["kind"] == "shift_bias":
        if not beta:
            return "the normalisation has no beta"
        done = _transform_input(model, g, norm, _origin(g, beta), _shift(tip))
        return None if done else "beta is not a constant initializer"
    k = tip["factor"]
    if _transform_input(model, g, norm, _origin(g, gamma), lambda w: w * k) is None:
        return "gamma is not a constant initializer"
    if beta:
        _transform_input(model, g, norm, _origin(g, beta), lambda b: b * k)
    return None


def _shift(tip: dict):
    """The bias change: one amount for every entry, or per unit for the listed units."""
    if "units" not in tip:
        return lambda b: b + tip["amount"]

    def per_unit(b: np.ndarray) -> np.ndarray:
        out = b.reshape(-1).copy()  # a bias reshaped for broadcasting ([1, C, 1, 1]) too
        out[tip["units"]] += tip["amounts"]
        return out.reshape(b.shape)

    return per_unit


def _origin(g: GraphView, tensor: str) -> str:
    """The constant behind a tensor reached through ops that only move values."""
    return g.origin(tensor)


def _next_fix(report: Report, done: set) -> Optional[tuple[SiteReport, list[dict]]]:
    """The next site to change and its remedy: the first applicable suggestion, with the
    shift that the report says follows a rescale (`after_factor`), applied in that order."""
    for site in report.sites:
        if site.name in done:
            continue
        remedies = [r for r in (_remedy(f.suggestions) for f in site.findings
                                if f.severity != "info") if r]
        if remedies:  # a rescale-then-shift answers a shift and a scale finding at once
            return site, max(remedies, key=len)
    return None


def _remedy(tips) -> list[dict]:
    """A finding's first applicable suggestion, and the shift that follows it (if any)."""
    for i, tip in enumerate(tips):
        if tip["kind"] in APPLICABLE:
            then = [t for t in tips[i + 1:] if t.get("after_factor") is not None
                    and t["kind"] in APPLICABLE]
            return [tip] + then[:1]
    return []


def fix_onnx(path: Path, settings: Settings, max_steps: int = 32,
             providers: Optional[list[str]] = None,
             progress: Optional[Callable[[int, str, str], None]] = None) -> FixResult:
    """Fix the model site by site; the result holds both reports and the fixed model.
    `progress(step, site, remedy)` is called before each change."""
    handle = OnnxModel(path, settings.memory_budget, settings.threads, providers)
    model = onnx.ModelProto()  # copied before measuring: If branches stay as they are
    model.CopyFrom(handle.model)
    before = report = inspect_handle(handle, str(path), settings)
    result = FixResult(before, before, model)
    done: set = set()
    for _ in range(max_steps):
        step = _next_fix(report, done)
        if step is None:
            break
        site, tips = step
        done.add(site.name)
        if progress:
            progress(len(done), site.name, "+".join(t["kind"] for t in tips))
        changed = False
        for tip in tips:
            why = apply_suggestion(model, site, tip)
            if why:
                result.skipped.append({"site": site.name, "suggestion": tip["kind"],
                                       "reason": why})
                break
            changed = True
            result.applied.append({"site": site.name, **{k: tip.get(k) for k in (
                "kind", "target", "factor", "amount", "units") if tip.get(k) is not None}})
        if not changed:
            continue
        handle = OnnxModel(path, settings.memory_budget, settings.threads, providers, model=model)
        report = inspect_handle(handle, str(path), settings)
    _drop_unused(model)
    result.after = report
    return result


def _drop_unused(model: onnx.ModelProto) -> None:
    """Remove initializers nothing reads any more (the originals of rewired inputs)."""
    used = {i for node in model.graph.node for i in node.input}
    used |= {o.name for o in model.graph.output}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
