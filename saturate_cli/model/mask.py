"""How a site keeps only the real token positions of a text batch (not its padding).

A text batch (calibration/text.py) carries, next to the model's inputs, a boolean array
[batch, sequence] under VALID_POSITIONS: True for a token of the sample, False for padding. A
*token-wise* site is one whose input has those two leading dims and whose units (if any) lie
after them; its statistics keep exactly the valid positions. Softmax rows are not filtered
(attention masks hide padded keys already; masked logits are left out by their own rule).
Plain Python: both backends read it (the key itself lives in types.py, beside Batch).
"""

from __future__ import annotations

from typing import Optional

from saturate_cli.types import VALID_POSITIONS


def strip(batch: dict) -> tuple[dict, Optional[object]]:
    """(the model's inputs, the validity mask or None)."""
    if VALID_POSITIONS not in batch:
        return batch, None
    rest = {k: v for k, v in batch.items() if k != VALID_POSITIONS}
    return rest, batch[VALID_POSITIONS]


def token_wise(shape: tuple, valid_shape: tuple, unit_axis: Optional[int],
               softmax: bool) -> bool:
    """True when a site input of `shape` is measured on the valid positions only."""
    rank = len(shape)
    if softmax or rank < 3 or tuple(shape[:2]) != tuple(valid_shape):
        return False
    return unit_axis is None or unit_axis % rank >= 2


def kept_unit_axis(unit_axis: Optional[int], rank: int) -> Optional[int]:
    """The unit axis once [batch, sequence] are flattened into one axis of valid positions."""
    return None if unit_axis is None else unit_axis % rank - 1
