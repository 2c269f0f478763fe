"""The catalogue of rule codes: stable identifiers, default severities, what each means."""

from __future__ import annotations

from dataclasses import dataclass

from saturate_cli.settings import DEFAULTS
from saturate_cli.wording import percent

_T = DEFAULTS.thresholds  # the texts quote the default thresholds; all are configurable


def _pct(x: float) -> str:
    return f"{percent(x)}"


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
         f"Warning at {_pct(_T.saturated_warning)} of values in a tail, error at "
         f"{_pct(_T.saturated_error)} (configurable).",
         "Rescale the producing layer's weight and bias by the factor given (Xavier init for the "
         "kind), or insert a BatchNorm/LayerNorm before the activation."),
    Rule("SAT002", "off-centre-inputs", "error",
         "Activation inputs are centred inside a tail (shift)",
         f"The mean of the inputs lies in a saturated tail, more than {_T.shift_sigmas:g} standard "
         "deviation(s) from the sweet range: a missing or wrong bias, or drift that normalisation "
         "would remove. When the inputs, re-centred, would still leave "
         f"{_pct(_T.saturated_warning)} or more in a tail (normal model), the spread is too wide "
         "as well (cause shift+scale).",
         "Add the given amount to the producing layer's bias; when the spread is too wide as well, "
         "first multiply weight and bias by the factor given, then add the amount (computed for "
         "the rescaled layer). Or insert a normalisation (BatchNorm for channel-first layouts, "
         "LayerNorm for token models)."),
    Rule("SAT003", "linear-regime", "info",
         "Inputs are so narrow the non-linearity is unused",
         "A bounded activation sees inputs confined to a sliver around its centre (std below "
         f"{_T.linear_std:g} of its sweet half-range), where it is nearly linear; the layer adds "
         "little expressive power.",
         "Scale the producing layer's weights up by the factor given."),
    Rule("SAT004", "vanishing-signal", "warning",
         "The input signal has all but vanished (std near zero)",
         f"The std of the inputs is below {_T.vanishing_std:g} times the kind's sweet half-range "
         "(half its width; for kinds bounded on one side, the bound's distance from 0, or 1 "
         "when that is 0, as for ReLU): the activation passes almost nothing that varies, and "
         "gradients through it vanish with it.",
         "Multiply the producing layer's weight and bias by the factor given (then add the "
         "amount given when the rescaled inputs would be off-centre), or insert a normalisation."),
    Rule("SAT101", "dead-units", "error",
         "Units whose inputs are in the flat region on nearly every sample (dead)",
         f"A unit (channel or feature) is dead when at least {_pct(_T.dead_unit_fraction)} of its "
         "inputs fall in the flat region (x <= 0 for ReLU). 50% negative inputs is normal for "
         f"ReLU. Warning at {_pct(_T.dead_units_warning)} dead units, error at "
         f"{_pct(_T.dead_units_error)}.",
         "Shift the producing layer's bias by the amount given, insert BatchNorm before the "
         "activation, or use He initialisation; LeakyReLU keeps a gradient on the negative side."),
    Rule("SAT201", "collapsed-softmax", "error",
         "Softmax rows are one-hot (max probability > 1 - tau')",
         "The logits are so large that the softmax puts almost all mass on one entry; its "
         "gradient vanishes. Rows with at most one unmasked logit (attention masks) are one-hot "
         f"by construction and not judged. Warning at {_pct(_T.collapsed_warning)} of rows, error "
         f"at {_pct(_T.collapsed_error)}.",
         "Divide the logits by the temperature given (scale the producing weight and bias by "
         "1/T); the suggestion says what share of the sampled rows stays collapsed at that "
         "temperature. Or normalise the inputs of the logit layer."),
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
    Rule("SAT903", "nothing-measured", "error",
         "Nothing in the model was measured",
         "No activation saturate can measure was found (or every one is listed as not covered), "
         "or every site saw no values on the calibration data: the report has nothing to judge, "
         "so it cannot call the model clean.",
         "Check the activations are explicit ops (not fused into kernels or custom ops) and the "
         "calibration data reaches them; inspect the sub-model that holds them; for a model with "
         "no activation by design, ignore the rule (--ignore SAT903)."),
    Rule("SAT904", "unexercised-inputs", "warning",
         "Synthetic data cannot exercise the model",
         "Integer inputs (token ids) got synthetic values from a guessed range because the "
         "vocabulary could not be told from the model: only a few embedding rows are used, so "
         "the statistics may not reflect the model's behaviour on real inputs.",
         "Give real data (--calibration) or the vocabulary (--int-range 0,VOCAB)."),
]}


def rule(code: str) -> Rule:
    """Look up a rule by code."""
    return RULES[code]
