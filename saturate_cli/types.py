"""The types every layer shares: model inputs, activation sites, their producers, batches.

This is the bottom module: it imports nothing from saturate_cli, and calibration/, diagnose/,
report/ and model/ all read these types from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Callable, Optional, Union

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
VALID_POSITIONS = "__valid_positions__"  # a text batch's mask of real tokens [batch, sequence]
Progress = Callable[[int], None]

# The first calibration record's arrays by name, for loaders whose input specs yield to the data
# (given the names the model's forward() takes); None where there is no array data.
Peek = Callable[[list], dict]

_POSITIONAL = re.compile(r"(?:input|arr)_(\d+)")


def input_position(key) -> Optional[int]:
    """The input position a record key names (3, 'input_3', 'arr_3'), else None."""
    if isinstance(key, int):
        return key
    match = _POSITIONAL.fullmatch(str(key))
    return int(match.group(1)) if match else None
