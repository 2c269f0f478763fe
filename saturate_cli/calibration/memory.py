"""Calibration data held in memory (the Python API): an array, a dict of arrays, or any
iterable of batches (a DataLoader yielding tensors, (inputs, labels) tuples or dicts).

Each item becomes a record like one read from a file, so batching, fixed inputs and shape
checks are the same as for files. Tensors are converted with `.numpy()` (no torch import).
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from saturate_cli.calibration.readers import Record
from saturate_cli.errors import CalibrationError
from saturate_cli.types import Peek

SOURCE = "memory"


def _array(value: Any, where: str) -> np.ndarray:
    """A numpy array from an array, a tensor (any device) or a nested list of numbers."""
    if hasattr(value, "detach"):  # a torch tensor: to the host without importing torch
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - arbitrary user objects
        raise CalibrationError(f"{where}: not an array ({type(value).__name__}: {exc})") from None
    if array.dtype == object:
        raise CalibrationError(f"{where}: not an array of numbers ({type(value).__name__})")
    return array


def _record(item: Any, where: str, inputs: int) -> Record:
    """One item as a record: a dict by input name, a tuple/list by position (entries past the
    model's inputs, such as labels, are left out), anything else as the first input."""
    if isinstance(item, dict):
        return {k: _array(v, f"{where}['{k}']") for k, v in item.items()}
    if isinstance(item, (tuple, list)) and item and not np.isscalar(item[0]) \
            and not isinstance(item[0], (tuple, list)):
        return {i: _array(v, f"{where}[{i}]") for i, v in enumerate(item[:max(inputs, 1)])}
    return {0: _array(item, where)}


def is_batches(data: Any) -> bool:
    """An iterable of batches rather than one array or one dict of arrays."""
    if isinstance(data, dict) or hasattr(data, "__array__") or hasattr(data, "detach"):
        return False
    return hasattr(data, "__iter__") and not isinstance(data, (str, bytes))


class MemoryData:
    """In-memory calibration data. An iterator is read once: the items read before `settle()`
    are kept, so the pipeline may start again at a smaller batch size (memory budget)."""

    def __init__(self, data: Any):
        self._batches = is_batches(data)
        self._items: Iterator = iter(data) if self._batches else iter([data])
        self._kept: list = []
        self._settled = False

    def _head(self):
        if not self._kept:
            item = next(self._items, None)
            if item is None:
                return None
            self._kept.append(item)
        return self._kept[0]

    def settle(self) -> None:
        """The batches now read will be the last start: kept items need not stay."""
        self._settled = True

    def _stream(self) -> Iterator:
        kept = list(self._kept)
        if self._settled:
            self._kept = []
        yield from kept
        for item in self._items:
            if not self._settled:
                self._kept.append(item)
            yield item

    def peek(self, inputs: int = 1) -> Peek:
        """The first record's arrays, keyed by name or position (for PyTorch loaders)."""
        def look(names: list) -> dict:
            head = self._head()
            if head is None:
                return {}
            record = _record(head, "calibration batch 0", max(inputs, len(names)))
            return {f"input_{k}" if isinstance(k, int) else k: v for k, v in record.items()}

        return look

    def records(self, inputs: int) -> Iterator[tuple[str, Record]]:
        """(where, record) for every item, in order."""
        for index, item in enumerate(self._stream()):
            where = f"calibration batch {index}" if self._batches else "calibration data"
            yield where, _record(item, where, inputs)
