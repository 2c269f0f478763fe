"""Records -> checked arrays per input -> batches (see plan.py), streamed shard by shard."""

from __future__ import annotations

from typing import Iterable, Iterator, Optional

import numpy as np

from saturate_cli.calibration.dtypes import cast, numpy_dtype
from saturate_cli.calibration.plan import Plan, is_fixed, is_named, make_plan
from saturate_cli.calibration.readers import Record
from saturate_cli.calibration.source import Batch, CalibrationInfo
from saturate_cli.calibration.walk import position
from saturate_cli.errors import CalibrationError
from saturate_cli.types import InputSpec


def show(shape) -> str:
    """[batch, 3, 224, 224] with '?' for unnamed dynamic dims."""
    return "[" + ", ".join(str(d) if d not in (None, "") else "?" for d in shape) + "]"


def assign(where: str, record: Record, specs: list[InputSpec],
           defaults: Optional[dict] = None) -> dict[str, np.ndarray]:
    """Map a record's keys to the model's inputs: by name, else by position (input_K, arr_K);
    inputs it lacks come from `defaults` (the first record's fixed inputs)."""
    names = [s.name for s in specs]
    if len(specs) == 1 and len(record) == 1:
        return {names[0]: next(iter(record.values()))}
    out: dict[str, np.ndarray] = {}
    for key, array in record.items():
        pos = position(key)
        name = key if key in names else names[pos] if pos is not None and pos < len(names) \
            else None
        if name is None or name in out:
            raise CalibrationError(
                f"{where}: {'unknown' if name is None else 'a second'} array '{key}' (arrays "
                f"{[str(k) for k in record]}); the model's inputs are {names}")
        out[name] = array
    for name, array in (defaults or {}).items():
        out.setdefault(name, array)
    missing = [n for n in names if n not in out]
    if missing:
        raise CalibrationError(f"{where}: no data for input(s) {missing} (arrays "
                               f"{[str(k) for k in record]}); the model's inputs are {names}")
    return {n: out[n] for n in names}


def conform(where: str, arrays: dict[str, np.ndarray], specs: list[InputSpec],
            info: CalibrationInfo, given: dict) -> dict[str, np.ndarray]:
    """Check emptiness, rank, fixed dims after the first and named dims shared across inputs
    (never anonymous ones: '?', empty, unnamed); cast dtypes. Data one rank short is one sample,
    unless the model fixes its leading dim above 1."""
    out, symbols = {}, {}
    for spec in specs:
        a = arrays[spec.name]
        if a.size == 0:
            raise CalibrationError(f"{where}: the data for input '{spec.name}' is empty "
                                   f"(shape {list(a.shape)})")
        want = _wanted_shape(spec, given)
        if want and a.ndim == len(want) - 1 and not (is_fixed(want[0]) and want[0] > 1):
            a = a[None]
            info.note(f"input '{spec.name}': data of rank {a.ndim - 1} taken as one sample")
        if want and a.ndim != len(want):
            raise CalibrationError(f"{where}: input '{spec.name}' expects rank {len(want)} "
                                   f"{show(want)}, the data has shape {list(a.shape)}")
        for i, (dim, got) in enumerate(zip(want, a.shape)):
            if i and isinstance(dim, int) and dim > 0 and dim != got:
                raise CalibrationError(
                    f"{where}: input '{spec.name}' expects shape {show(want)}, the data has shape "
                    f"{list(a.shape)} (dim {i}: {dim} vs {got})")
            if i and is_named(dim):
                seen = symbols.setdefault(dim, (spec.name, got))
                if seen[1] != got:
                    raise CalibrationError(
                        f"{where}: dim '{dim}' is {seen[1]} in input '{seen[0]}' but {got} in "
                        f"input '{spec.name}' (shapes must agree)")
        if spec.dtype != "unknown":
            a = cast(a, numpy_dtype(spec.dtype, spec.name), spec.name, where, info.note)
        out[spec.name] = a
    return out


def _wanted_shape(spec: InputSpec, given: dict) -> tuple:
    if spec.name in given and (not spec.shape or len(given[spec.name]) == len(spec.shape)):
        dims = given[spec.name]
        return (spec.shape[0] if spec.shape else None,) + tuple(dims[1:])
    return tuple(spec.shape)


def rebatch(records: Iterable[tuple[str, Record]], specs: list[InputSpec],
            samples: Optional[int], batch_size: int, info: CalibrationInfo,
            given: dict) -> Iterator[tuple[Batch, int]]:
    """(batch, its samples): the batched inputs cut into `batch_size` across record boundaries
    (the last one partial), the fixed inputs of each record fed unchanged with its batches; at
    most `samples` samples (None: all); only the current record and one batch are in memory."""
    yielded = False
    for feed in _feeds(records, specs, samples, batch_size, info, given):
        yielded = True
        yield feed
    if not yielded:
        raise CalibrationError(f"no usable calibration samples in {info.source}")


def _feeds(records, specs, samples, batch_size, info, given) -> Iterator[tuple[Batch, int]]:
    plan, first, left, pending = None, {}, samples, _Pending([s.name for s in specs])
    for where, record in records:
        if left is not None and left <= 0:
            info.note(f"--samples {samples} reached: the rest of the data was not used")
            break
        arrays = conform(where, assign(where, record, specs, first), specs, info, given)
        shapes = {k: v.shape for k, v in arrays.items()}
        if plan is None:
            plan = make_plan(where, specs, shapes, given)
            for text in plan.notes(shapes):
                info.note(text)
            if plan.batch and plan.batch != batch_size:
                info.note(f"the model fixes batch {plan.batch}: --batch-size {batch_size} not used")
            batch_size = plan.batch or batch_size
            first = {} if plan.whole else {n: np.array(arrays[n]) for n in plan.fixed}
        else:
            plan.check(where, specs, shapes)
        if plan.whole:
            yield _join([arrays]), plan.samples(shapes)
            left = None if left is None else left - plan.samples(shapes)
            continue
        fixed = {n: arrays[n] for n in plan.fixed}
        if pending.parts and not _same(fixed, pending.fixed):  # new values: not mixed in a batch
            yield from pending.flush(plan, info)
        pending.fixed = {k: np.array(v) for k, v in fixed.items()}
        n, start = shapes[plan.batched[0]][0], 0
        while start < n and (left is None or left > 0):
            take = min(batch_size - pending.have, n - start, n if left is None else left)
            pending.add({k: arrays[k][start:start + take] for k in plan.batched}, take)
            start += take
            left = None if left is None else left - take
            if pending.have == batch_size:
                yield pending.take()
        if start < n:
            info.note(f"--samples {samples} reached: the rest of the data was not used")
            break
        # hold only copies of a pending partial batch, so this shard is freed before the next
        pending.parts = [{k: np.array(v) for k, v in p.items()} for p in pending.parts]
        del record, arrays
    if plan is not None and not plan.whole:
        yield from pending.flush(plan, info)


class _Pending:
    """The parts of the batch being filled, and the fixed arrays fed with it."""

    def __init__(self, names: list[str]) -> None:
        self.names, self.parts, self.have, self.fixed = names, [], 0, {}

    def add(self, part: dict, n: int) -> None:
        self.parts.append(part)
        self.have += n

    def take(self) -> tuple[Batch, int]:
        batch, n = _join(self.parts + [self.fixed]), self.have
        self.parts, self.have = [], 0
        return {k: batch[k] for k in self.names}, n

    def flush(self, plan: Plan, info: CalibrationInfo) -> Iterator[tuple[Batch, int]]:
        """The partial batch, unless the model fixes the batch size (then it is dropped)."""
        if self.parts and plan.batch:
            info.note(f"last {self.have} samples of a record dropped: the model fixes batch "
                      f"{plan.batch}")
            self.parts, self.have = [], 0
        elif self.parts:
            yield self.take()


def _same(a: dict, b: dict) -> bool:
    return all(np.shape(a[k]) == np.shape(b[k]) and np.array_equal(a[k], b[k]) for k in a)


def _join(parts: list[dict]) -> Batch:
    """One batch from parts holding the batched inputs (concatenated) or fixed ones (copied:
    memory-mapped shards are not kept alive by the batch)."""
    names = dict.fromkeys(k for p in parts for k in p)
    out = {}
    for k in names:
        pieces = [p[k] for p in parts if k in p]
        out[k] = np.array(pieces[0]) if len(pieces) == 1 else np.concatenate(pieces)
    return out
