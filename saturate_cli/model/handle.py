"""What every loaded model offers the rest of saturate, whatever its format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Protocol, Union

from saturate_cli.stats.site_stats import SiteStats

Dim = Union[int, str, None]


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, shape (ints, symbolic names or None) and numpy dtype name."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str
    vocab: Optional[int] = None  # for integer inputs that index an embedding table


@dataclass(frozen=True)
class Producer:
    """The parameterised layer whose output feeds an activation."""

    name: str
    op: str
    weight: str
    fan_in: int
    fan_out: int
    weight_std: float
    bias: Optional[str] = None
    norm: Optional[str] = None  # a normalisation between the layer and the activation
    norm_op: Optional[str] = None
    channels: int = 0  # output channels / features (the unit count it produces)
    norm_scale: Optional[str] = None  # the norm's gamma / beta tensors (parameter names)
    norm_bias: Optional[str] = None
    # parameters other layers read too: ((parameter, (other layer, ...)), ...); a change to
    # one of them needs a private copy first
    shared_with: tuple = ()
    layer: Optional[str] = None  # the layer's module path, where the exporter recorded it


@dataclass(frozen=True)
class Site:
    """One activation call whose input distribution is measured."""

    name: str
    input: str
    op: str
    kind: str
    params: dict = field(default_factory=dict)
    producer: Optional[Producer] = None
    unit_axis: Optional[int] = None
    softmax_axes: Optional[tuple[int, ...]] = None
    rank: Optional[int] = None
    # thresholds read at run time, per batch: tensors holding a Clip's min / max, and a PRelu's
    # slope (the low tail x <= 0 counts only where |slope| < tau)
    low_from: Optional[str] = None
    high_from: Optional[str] = None
    slope_from: Optional[str] = None

    @property
    def dynamic(self) -> tuple[str, ...]:
        """The tensors this site's thresholds are read from at run time."""
        return tuple(t for t in (self.low_from, self.high_from, self.slope_from) if t)


@dataclass(frozen=True)
class NotCovered:
    """An activation (or construct) saturate saw but could not measure, and why."""

    name: str
    op: str
    reason: str


Batch = dict  # input name -> numpy array
Progress = Callable[[int], None]


class ModelHandle(Protocol):
    """A loaded model that can list its activation sites and measure them."""

    path: str
    format: str
    inputs: list[InputSpec]
    sites: list[Site]
    not_covered: list[NotCovered]
    notes: list[str]  # what the report should say about how the model was measured
    interrupted: bool  # collect stopped by Ctrl-C: its statistics cover whole batches only

    @property
    def has_branches(self) -> bool:
        """Sites are still to be learnt from the data (If branches, a probe on real data):
        collect must run even while `sites` is empty."""
        ...

    def estimate_peak(self, shapes: dict) -> Optional[int]:
        """Bytes a run on inputs of these shapes may need; None when it cannot tell."""
        ...

    def collect(
        self, batches: Iterable[Batch], tau: float, softmax_tau: float,
        progress: Optional[Progress] = None,
    ) -> dict[str, SiteStats]:
        """Run the batches and return merged statistics per site name."""
        ...
