"""What one `saturate fix` run may change, and how it is judged: the fix's own defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from saturate_cli.settings import FIX

NORM_MODES = ("normalize", "preserve")
MAX_STEPS, HOLDOUT, TOLERANCE, BN_EPSILON = (FIX.max_steps, FIX.holdout, FIX.tolerance,
                                             FIX.bn_epsilon)  # defaults: settings.py
RESCALES = ("xavier_rescale", "he_rescale", "scale_logits")  # weight and bias x factor
PARAMETER_REMEDIES = RESCALES + ("shift_bias",)
NORM_REMEDIES = ("insert_batchnorm", "insert_layernorm")


@dataclass(frozen=True)
class FixOptions:
    """The remedies a run applies and how it proves them."""

    max_steps: int = MAX_STEPS
    norm: Optional[str] = None  # None: no insertion; "normalize" or "preserve"
    recycle: bool = False  # dead units: re-draw (ReDo) instead of shifting their bias
    holdout: float = HOLDOUT
    tolerance: float = TOLERANCE
    seed: int = 0  # for the re-drawn weights of recycled units
