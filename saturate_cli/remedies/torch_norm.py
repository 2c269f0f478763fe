"""Insert a normalisation before an activation module of an eager PyTorch model: the module is
replaced by Sequential(norm, activation) in the module tree. A functional activation cannot be
replaced from outside the code: the code change is named instead."""

from __future__ import annotations

import re
from typing import Union

import numpy as np
import torch

from saturate_cli.remedies.options import BN_EPSILON
from saturate_cli.remedies.unit_moments import UnitMoments

EAGER = ("pytorch", "pytorch-pickle")


def _norm_class(tip: dict) -> tuple[str, str]:
    """('BatchNorm2d', '16') from the suggestion's 'nn.BatchNorm2d(16)'."""
    found = re.match(r"nn\.(\w+)\((\d+)", str(tip.get("layer", "")))
    if found:
        return found.group(1), found.group(2)
    return ("LayerNorm" if tip["kind"] == "insert_layernorm" else "BatchNorm1d",
            str(tip.get("channels", 0)))


def activation_module(module: torch.nn.Module, site_name: str, fmt: str, tip: dict
                      ) -> Union[str, tuple]:
    """(parent, attribute, activation module) for a module site, or why it cannot be
    replaced (with the code change for a functional site)."""
    cls, size = _norm_class(tip)
    if fmt not in EAGER:
        return (f"inserting a norm into a {fmt} model is not supported: add nn.{cls}({size}) "
                "before the activation in the source and export again")
    if ":" in site_name:
        owner, _, call = site_name.partition(":")
        fn = call.split("#")[0]
        return (f"functional call {fn}() in {owner or 'the top-level module'}'s forward: "
                f"change the code to self.norm = nn.{cls}({size}) in __init__ and "
                f"{fn}(self.norm(x)) in forward")
    if "#" in site_name:
        return ("the activation module is called at several sites; give each call its own "
                "module first (one norm per site)")
    parent_path, _, leaf = site_name.rpartition(".")
    try:
        parent = module.get_submodule(parent_path)
        act = getattr(parent, leaf)
    except AttributeError:
        return f"no module {site_name} to replace"
    return parent, leaf, act


def build_norm(tip: dict, mode: str, moments: UnitMoments) -> torch.nn.Module:
    """The norm for the site: BatchNorm with the calibration statistics (normalize: gamma 1,
    beta 0; preserve: gamma sqrt(var + eps), beta mean, an identity) or a fresh LayerNorm."""
    cls, _ = _norm_class(tip)
    units = int(moments.mean.shape[0])
    if cls == "LayerNorm":
        return torch.nn.LayerNorm(units, eps=BN_EPSILON).eval()
    norm = getattr(torch.nn, cls)(units, eps=BN_EPSILON).eval()
    with torch.no_grad():
        norm.running_mean.copy_(torch.from_numpy(moments.mean))
        norm.running_var.copy_(torch.from_numpy(moments.var))
        if mode == "preserve":
            norm.weight.copy_(torch.from_numpy(np.sqrt(moments.var + BN_EPSILON)))
            norm.bias.copy_(torch.from_numpy(moments.mean))
    return norm


def site_inputs(act: torch.nn.Module, run_batch, batches: list):
    """The activation module's inputs on each batch (a forward pre-hook)."""
    seen: list = []
    hook = act.register_forward_pre_hook(lambda _m, args: seen.append(
        args[0].detach().cpu().to(torch.float64).numpy()))
    try:
        for batch in batches:
            run_batch(batch)
            yield from seen
            seen.clear()
    finally:
        hook.remove()
