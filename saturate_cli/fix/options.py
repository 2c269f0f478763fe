"""What one `saturate fix` run may change, and how it is judged: the fix's own defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

NORM_MODES = ("normalize", "preserve")
MAX_STEPS = 32  # at most this many sites are changed
HOLDOUT = 0.2  # share of the calibration batches kept back for the proof
TOLERANCE = 1e-5  # function-preserving remedies: max |after - before| / max(1, max |before|)
BN_EPSILON = 1e-5  # the epsilon of an inserted BatchNormalization / LayerNormalization
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
