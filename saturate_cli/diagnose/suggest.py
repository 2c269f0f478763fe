"""Remedies with numbers: rescale factors, init calls, bias shifts, norms, temperatures."""

from __future__ import annotations

import math
from typing import Optional

from saturate_cli.activations import ActivationKind
from saturate_cli.model.handle import Producer, Site


def init_stds(kind: ActivationKind, params: dict, producer: Producer) -> dict:
    """Xavier and He standard deviations for the producer, with the kind's gain."""
    gain = kind.gain(kind.params(params))
    return {
        "gain": gain,
        "xavier_std": gain * math.sqrt(2.0 / (producer.fan_in + producer.fan_out)),
        "he_std": gain / math.sqrt(producer.fan_in),
    }


def init_call(kind: ActivationKind, params: dict) -> str:
    """The torch.nn.init call that matches the kind."""
    gain = kind.gain(kind.params(params))
    if kind.init == "xavier":
        return f"nn.init.xavier_uniform_(layer.weight, gain={gain:.4g})"
    return "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu')" if math.isclose(
        gain, math.sqrt(2.0)) else f"nn.init.normal_(layer.weight, std={gain:.4g} / sqrt(fan_in))"


def rescale(site: Site, kind: ActivationKind, std: float, target_std: float) -> dict:
    """Multiply the producing weight (and bias) by k so the pre-activation std reaches target."""
    k = target_std / std
    p = site.producer
    out = {
        "kind": f"{kind.init}_rescale",
        "target": p.weight if p else None,
        "factor": k,
        "current_std": p.weight_std if p else None,
        "recommended_std": p.weight_std * k if p else None,
        "pre_activation_std": std,
        "target_pre_activation_std": target_std,
        "rationale": (f"pre-activation std {std:.3g} is {std / target_std:.3g}x the "
                      f"{target_std:.3g} that keeps {kind.name} in its sweet range; multiply "
                      f"{_weights_of(p)} by {k:.3g}"),
    }
    if p is not None:
        out.update(init_stds(kind, site.params, p))
        out["init_call"] = init_call(kind, site.params)
        if p.norm:
            out["target"] = p.norm_scale or p.norm
            out["rationale"] += f" (a {p.norm_op} precedes the site: scale its gamma instead)"
    return out


def _shift_target(p: Optional[Producer]) -> Optional[str]:
    """What a bias shift changes: the norm's beta when a norm precedes the site, else the bias."""
    if p is None:
        return None
    if p.norm:
        return p.norm_bias or f"{p.norm}.beta"
    return p.bias


def _weights_of(p: Optional[Producer]) -> str:
    if p is None:
        return "the producing layer's weight and bias"
    return f"{p.weight}" + (f" and {p.bias}" if p.bias else "") + f" ({p.name})"


def shift_bias(site: Site, mean: float, centre: float) -> dict:
    """Subtract (mean - centre) from the producing bias to re-centre the inputs."""
    p = site.producer
    amount = mean - centre
    target = _shift_target(p)
    return {
        "kind": "shift_bias",
        "target": target,
        "amount": -amount,
        "rationale": (f"inputs are centred at {mean:.3g}; adding {-amount:.3g} to "
                      f"{target or 'the bias'} re-centres them at {centre:.3g}"),
    }


def shift_units(site: Site, units: list[int], means: list[float]) -> dict:
    """Re-centre each listed unit at 0 by adding minus its mean input to its bias entry."""
    p = site.producer
    amounts = [-m for m in means]
    target = _shift_target(p)
    return {
        "kind": "shift_bias",
        "target": target,
        "amount": sum(amounts) / len(amounts),
        "units": units,
        "amounts": amounts,
        "rationale": (f"the {len(units)} dead units have mean inputs from {min(means):.3g} to "
                      f"{max(means):.3g}; adding minus its mean to each unit's entry of "
                      f"{target or 'the bias'} re-centres it at 0"),
    }


def insert_norm(site: Site) -> Optional[dict]:
    """BatchNorm after conv/linear layers, LayerNorm for token models (rank >= 3 MatMul)."""
    p = site.producer
    if p is not None and p.norm:
        return None
    token_model = (site.rank or 0) >= 3 and (p is None or p.op in ("MatMul", "Linear")) and (
        site.unit_axis is None or site.unit_axis == (site.rank or 0) - 1)
    channels = p.channels if p else None
    if token_model:
        layer = f"nn.LayerNorm({channels or 'features'})"
        kind = "insert_layernorm"
    else:
        conv = p is not None and p.op in ("Conv", "ConvTranspose", "Conv2d", "Conv1d", "Conv3d")
        dims = (site.rank or 4) - 2 if conv else 1
        layer = f"nn.BatchNorm{max(dims, 1)}d({channels or 'channels'})"
        kind = "insert_batchnorm"
    return {
        "kind": kind,
        "target": p.name if p else site.name,
        "layer": layer,
        "channels": channels,
        "rationale": (f"insert {layer} between {p.name if p else 'the producing layer'} and "
                      f"the activation to re-centre and re-scale its inputs"),
    }


def scale_logits(site: Site, temperature: float) -> dict:
    """Divide logits by T (or scale the producing weights by 1/T)."""
    p = site.producer
    return {
        "kind": "scale_logits",
        "target": p.weight if p else site.input,
        "temperature": temperature,
        "factor": 1.0 / temperature,
        "rationale": (f"dividing the logits by {temperature:.3g} brings the max probability under "
                      "the collapse threshold on the calibration data"),
    }
