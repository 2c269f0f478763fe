"""The catalogue of rule codes: stable identifiers, default severities, what each means."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One stable rule code."""

    code: str
    name: str
    severity: str  # the highest severity the rule reaches by default
    summary: str
    explanation: str
    remedy: str


RULES: dict[str, Rule] = {r.code: r for r in [
    Rule("SAT001", "saturated-tails", "error",
         "Activation inputs sit in the flat tails (too wide: scale)",
         "A bounded activation (sigmoid, tanh, softsign, hard-sigmoid, clip) receives inputs whose "
         "spread reaches far past its sweet range; the gradient there is below tau * max|f'|. "
         "Warning at 10% of values in a tail, error at 30% (configurable).",
         "Rescale the producing layer's weight and bias by the factor given (Xavier init for the "
         "kind), or insert a BatchNorm/LayerNorm before the activation."),
    Rule("SAT002", "off-centre-inputs", "error",
         "Activation inputs are centred inside a tail (shift)",
         "The mean of the inputs lies in a saturated tail, more than one standard deviation from "
         "the sweet range: a missing or wrong bias, or drift that normalisation would remove.",
         "Subtract the given amount from the producing layer's bias, or insert a normalisation "
         "(BatchNorm for conv/linear layers, LayerNorm for token models)."),
    Rule("SAT003", "linear-regime", "info",
         "Inputs are so narrow the non-linearity is unused",
         "A bounded activation sees inputs confined to a sliver around its centre, where it is "
         "nearly linear; the layer adds little expressive power.",
         "Scale the producing layer's weights up by the factor given."),
    Rule("SAT101", "dead-units", "error",
         "Units whose inputs are in the flat region on nearly every sample (dead)",
         "A unit (channel or feature) is dead when at least 99% of its inputs fall in the flat "
         "region (x <= 0 for ReLU). 50% negative inputs is normal for ReLU. Warning at 5% dead "
         "units, error at 25%.",
         "Shift the producing layer's bias by the amount given, insert BatchNorm before the "
         "activation, or use He initialisation; LeakyReLU keeps a gradient on the negative side."),
    Rule("SAT201", "collapsed-softmax", "error",
         "Softmax rows are one-hot (max probability > 1 - tau')",
         "The logits are so large that the softmax puts almost all mass on one entry; its "
         "gradient vanishes. Warning at 10% of rows, error at 50%.",
         "Divide the logits by the temperature given (scale the producing weights by 1/T), or "
         "normalise the inputs of the logit layer."),
    Rule("SAT301", "non-finite", "error",
         "NaN or Inf values reach the activation",
         "NaN or infinite values were found in the activation's input on the calibration data.",
         "Find the first site with non-finite values; check the data, overflow in fp16, and "
         "divisions or logs upstream."),
    Rule("SAT302", "constant-input", "warning",
         "Every input value is the same (std = 0)",
         "The activation's input did not vary across the calibration data: the unit passes no "
         "information and its gradient is the same for every sample.",
         "Check the calibration data and the producing layer (all-zero weights?)."),
    Rule("SAT901", "not-covered", "info",
         "An activation could not be measured",
         "The construct is listed but not instrumented: control-flow subgraphs, custom-domain or "
         "quantized ops, and activations fused inside recurrent or attention kernels.",
         "Export the model without the construct, or inspect the sub-model separately."),
    Rule("SAT902", "never-fired", "warning",
         "The site saw no values on the calibration data",
         "The activation's input was empty for every batch (e.g. a branch never taken).",
         "Use calibration data that reaches this part of the model."),
]}


def rule(code: str) -> Rule:
    """Look up a rule by code."""
    return RULES[code]
