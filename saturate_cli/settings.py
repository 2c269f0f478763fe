"""Every tunable number in one place: the single source of defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

SEVERITIES = ("info", "warning", "error")
SYNTHETIC_SAMPLES = 128  # samples of synthetic data when --samples is not given
# The default batch size is halved while one batch's largest activation input exceeds this:
# the statistics' passes then run on tensors a CPU cache share holds (ResNet-50, 128 images:
# batches of 4 instead of 16, peak RSS 1118 -> 482 MB, 5% faster). A batch size given is kept.
BATCH_WORKING_SET = 16 * 2**20
FAIL_ON = ("info", "warning", "error", "never")


def default_memory_budget() -> int:
    """Half of the machine's physical memory (bytes), or 8 GiB when it cannot be read."""
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


# A softmax logit is masked (attention masks add -1e4, -1e9, the dtype's minimum or -inf) when
# it lies this far below its row's maximum (half the smallest additive mask, so that a masked
# position's own score cannot lift it back), or below half the dtype's most negative value.
# Masked logits stay out of the input statistics; a row with at most one unmasked logit is
# one-hot by construction (causal attention's first row) and stays out of the collapse count.
MASKED_GAP = 5e3


@dataclass(frozen=True)
class Thresholds:
    """Where a measurement becomes a finding, and of which severity."""

    saturated_warning: float = 0.10  # fraction of values in a tail (bounded kinds)
    saturated_error: float = 0.30
    dead_unit_fraction: float = 0.99  # a unit is dead when this share of its values is flat
    dead_units_warning: float = 0.05  # fraction of dead units
    dead_units_error: float = 0.25
    collapsed_warning: float = 0.10  # fraction of softmax rows with max prob > 1 - softmax_tau
    collapsed_error: float = 0.50
    shift_sigmas: float = 1.0  # |mean| beyond the tail by this many std: off-centre
    linear_std: float = 0.1  # std below this share of the sweet range: linear regime
    vanishing_std: float = 1e-6  # std below this share of the kind's sweet half-range (1 for
    # kinds bounded on one side at 0, like ReLU): the signal has vanished


@dataclass(frozen=True)
class FixDefaults:
    """What `saturate fix` changes at most and how it proves it."""

    max_steps: int = 32  # at most this many sites are changed
    holdout: float = 0.2  # share of the calibration batches kept back for the proof
    tolerance: float = 1e-5  # function-preserving remedies: max |after - before| / max(1, |before|)
    bn_epsilon: float = 1e-5  # the epsilon of an inserted BatchNorm / LayerNorm


@dataclass(frozen=True)
class OverTimeDefaults:
    """When a change over training counts (`saturate diff`, `saturate trend`)."""

    max_worsening: float = 0.05  # diff: a site's saturated share may grow this much (exit 1)
    own_change: float = 0.05  # trend: a producer moved when ||P - P0|| / ||P0|| reached this
    moved: float = 0.5  # trend: a site's input drifted (shift or scale score) at least this much


FIX = FixDefaults()
OVER_TIME = OverTimeDefaults()


@dataclass(frozen=True)
class Settings:
    """What one `saturate inspect` run uses; echoed in the report."""

    tau: float = 0.05
    softmax_tau: float = 0.01
    samples: Optional[int] = None  # None: all the data given, or SYNTHETIC_SAMPLES synthetic
    batch_size: int = 16
    seed: int = 0
    synthetic: str = "normal"
    default_dim: int = 16  # symbolic dims other than batch, for synthetic data
    input_shapes: dict = field(default_factory=dict)
    calibration: tuple = ()
    int_range: Optional[tuple] = None  # synthetic integer inputs: [lo, hi) (over the vocab)
    mask_padding: bool = False  # synthetic attention masks: trailing zero padding per row
    mean: tuple = (0.485, 0.456, 0.406)  # image folders: per-channel mean (ImageNet)
    std: tuple = (0.229, 0.224, 0.225)  # image folders: per-channel std (ImageNet)
    layout: str = "auto"  # image folders: auto | nchw | nhwc
    image_size: int = 224  # image folders: H and W when the model does not fix them
    fail_on: str = "error"
    threads: int = 0
    memory_budget: int = field(default_factory=default_memory_budget)
    thresholds: Thresholds = field(default_factory=Thresholds)
    trust_pickle: bool = False
    device: Optional[str] = None
    weights: Optional[str] = None  # state dict for a module:factory target
    factory_args: tuple = ()  # ((key, value), ...) keyword arguments of the factory ("key=value"
    # texts are parsed when the settings are made)
    text: Optional[str] = None  # --text FILE: samples tokenized by the checkpoint's tokenizer
    text_field: str = "text"  # the sample's key in a .jsonl --text file
    max_length: int = 512  # tokens per text sample at most (and the model's own limit)
    attn: Optional[str] = None  # Hugging Face attn_implementation (eager: softmax measured)
    select: tuple = ()  # rule selectors (code or prefix); empty: all rules
    ignore: tuple = ()
    per_site_ignores: dict = field(default_factory=dict)  # site glob -> selectors
    baseline_tolerance: float = 0.05  # a baselined finding counts again past this growth
    shard: Optional[str] = None  # --shard K/N: only batches K, K+N, ... (shard/select.py)
    workers: int = 0  # --workers N: shards on a local Dask cluster (shard/dask_engine.py)
    scheduler: Optional[str] = None  # --scheduler ADDRESS: shards on a running Dask cluster

    def __post_init__(self):
        if any(isinstance(a, str) for a in self.factory_args):
            from saturate_cli.option_text import parse_factory_args

            object.__setattr__(self, "factory_args", parse_factory_args(self.factory_args))

    def echo(self) -> dict:
        """The settings as they appear in the report."""
        return {
            "tau": self.tau,
            "softmax_tau": self.softmax_tau,
            "fail_on": self.fail_on,
            "thresholds": asdict(self.thresholds),
            "select": list(self.select),
            "ignore": list(self.ignore),
            "per_site_ignores": {k: list(v) for k, v in self.per_site_ignores.items()},
        }


DEFAULTS = Settings()  # what the CLI shows as defaults; the one source of them
