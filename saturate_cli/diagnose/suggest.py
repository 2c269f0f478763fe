"""Remedies with numbers: rescale factors, init calls, bias shifts, norms, temperatures."""

from __future__ import annotations

import math
from typing import Optional

from saturate_cli.activations import ActivationKind
from saturate_cli.types import Producer, Site
from saturate_cli.wording import percent


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
        changed = (p.weight, p.bias)
        if p.norm:
            out["target"] = p.norm_scale
            changed = (p.norm_scale, p.norm_bias)
            out["rationale"] += (f" ({p.norm_op} {p.norm} precedes the site: multiply its "
                                 f"{_names(changed, 'scale and shift')} instead)")
        _note_shared(out, p, changed)
    return out


def _names(names, what: str) -> str:
    """The model's own parameter names, or what they are when the model names none."""
    known = [n for n in names if n]
    return " and ".join(known) if known else f"{what} (not found in the model)"


def _note_shared(tip: dict, p: Producer, changed) -> None:
    """Say when a changed parameter is read by other layers too, and propose a private copy."""
    shared = dict(p.shared_with)
    hit = [n for n in changed if n and n in shared]
    if not hit:
        return
    others = sorted({o for n in hit for o in shared[n]})
    tip["shared_with"] = others
    tip["rationale"] += (f"; {', '.join(hit)} is also read by {', '.join(others)}: give "
                         f"{p.name} a private copy and change only that (saturate fix does), "
                         "or the change reaches those layers too")


def _shift_target(p: Optional[Producer]) -> Optional[str]:
    """What a bias shift changes: the norm's shift when a norm precedes the site, else the bias."""
    if p is None:
        return None
    return p.norm_bias if p.norm else p.bias


def _anonymous(tensor: str) -> bool:
    """Exporter-made names (`onnx::Conv_501`, `_val_12`, `123`): a person cannot find them."""
    return tensor.startswith(("onnx::", "_val", "val_")) or tensor.isdigit()


def label(p: Producer, tensor: Optional[str], role: str) -> Optional[str]:
    """A parameter as a person finds it: its name, with the layer it belongs to when the
    exporter gave it none (a folded BatchNorm's bias becomes `onnx::Conv_501`)."""
    if not tensor or not _anonymous(tensor):
        return tensor
    return f"{tensor} (the {role} of {p.layer or p.name})"


def _weights_of(p: Optional[Producer]) -> str:
    if p is None:
        return "the producing layer's weight and bias"
    return (f"{label(p, p.weight, 'weight')}" + (f" and {label(p, p.bias, 'bias')}" if p.bias
                                                  else "") + f" ({p.name})")


def _shift_tip(site: Site, amount: float, rationale: str, **extra) -> dict:
    p = site.producer
    target = _shift_target(p)
    tip = {"kind": "shift_bias", "target": target, "amount": amount, **extra,
           "rationale": rationale.format(target=(label(p, target, "bias") if p else target)
                                         or _names((), "the normalisation's shift"
                                                   if p is not None and p.norm else "the bias"))}
    if p is not None:
        _note_shared(tip, p, (target,))
    return tip


def shift_bias(site: Site, mean: float, centre: float, after_factor: Optional[float] = None
               ) -> dict:
    """Add (centre - mean) to the producing bias to re-centre the inputs.

    With after_factor k, `mean` is the mean once weight and bias are multiplied by k: the shift
    is applied after that rescale.
    """
    amount = centre - mean
    if after_factor is None:
        return _shift_tip(site, amount, f"inputs are centred at {mean:.3g}; adding {amount:.3g} "
                          f"to {{target}} re-centres them at {centre:.3g}")
    return _shift_tip(site, amount, f"after multiplying by {after_factor:.3g} the inputs are "
                      f"centred at {mean:.3g}; then adding {amount:.3g} to {{target}} re-centres "
                      f"them at {centre:.3g}", after_factor=after_factor)


def shift_units(site: Site, units: list[int], means: list[float]) -> dict:
    """Re-centre each listed unit at 0 by adding minus its mean input to its bias entry."""
    amounts = [-m for m in means]
    return _shift_tip(site, sum(amounts) / len(amounts),
                      f"the {len(units)} dead units have mean inputs from {min(means):.3g} to "
                      f"{max(means):.3g}; adding minus its mean to each unit's entry of {{target}} "
                      "re-centres it at 0", units=units, amounts=amounts)


_BATCHNORM = {2: "nn.BatchNorm1d", 3: "nn.BatchNorm1d", 4: "nn.BatchNorm2d", 5: "nn.BatchNorm3d"}


def insert_norm(site: Site, units: int = 0) -> Optional[dict]:
    """The normalisation for the site's layout, sized from the producer or the measured units.

    Channels first ([N, C], [N, C, L], [N, C, H, W], [N, C, D, H, W]): BatchNorm1d/2d/3d.
    Units on the last axis of rank >= 3 ([batch, seq, features] token inputs): LayerNorm.
    """
    p = site.producer
    if p is not None and p.norm:
        return None
    rank = site.rank or (4 if p is not None and p.op.startswith("Conv") else 2)
    axis = site.unit_axis
    if axis is None:
        axis = 1 if rank in (4, 5) or (p is not None and p.op.startswith("Conv")) else rank - 1
    size = (p.channels if p is not None and p.channels else 0) or units or None
    if rank >= 3 and axis == rank - 1:
        layer, kind = f"nn.LayerNorm({size or 'features'})", "insert_layernorm"
    else:
        layer, kind = f"{_BATCHNORM.get(rank, 'nn.BatchNorm1d')}({size or 'channels'})", \
            "insert_batchnorm"
    return {
        "kind": kind,
        "target": p.name if p else site.name,
        "layer": layer,
        "channels": size,
        "rationale": (f"insert {layer} between {p.name if p else 'the producing layer'} and "
                      f"the activation at {site.name} to re-centre and re-scale its inputs"),
    }


def scale_logits(site: Site, temperature: float, before: float, after: float, sampled: int
                 ) -> dict:
    """Divide logits by T (scale the producing weight and bias by 1/T); what that achieves."""
    p = site.producer
    return {
        "kind": "scale_logits",
        "target": p.weight if p else site.input,
        "temperature": temperature,
        "factor": 1.0 / temperature,
        "sampled_rows": sampled,
        "collapsed_before": before,
        "collapsed_after": after,
        "rationale": (f"dividing the logits by {temperature:.3g} (multiplying {_weights_of(p)} "
                      f"by {1.0 / temperature:.3g}) leaves {percent(after)} of the {sampled} sampled "
                      f"rows collapsed, from {percent(before)}"),
    }
