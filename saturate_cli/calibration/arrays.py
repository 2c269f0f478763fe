"""Records -> checked arrays per input -> batches of --batch-size, streamed shard by shard."""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from saturate_cli.calibration.dtypes import cast, numpy_dtype
from saturate_cli.calibration.readers import Record
from saturate_cli.calibration.source import Batch, CalibrationInfo
from saturate_cli.calibration.walk import position
from saturate_cli.errors import CalibrationError
from saturate_cli.model.handle import InputSpec


def show(shape) -> str:
    """[batch, 3, 224, 224] with '?' for unnamed dynamic dims."""
    return "[" + ", ".join(str(d) if d not in (None, "") else "?" for d in shape) + "]"


def assign(where: str, record: Record, specs: list[InputSpec]) -> dict[str, np.ndarray]:
    """Map a record's keys to the model's inputs: by name, else by position (input_K, arr_K)."""
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
    missing = [n for n in names if n not in out]
    if missing:
        raise CalibrationError(f"{where}: no data for input(s) {missing} (arrays "
                               f"{[str(k) for k in record]}); the model's inputs are {names}")
    return {n: out[n] for n in names}


def conform(where: str, arrays: dict[str, np.ndarray], specs: list[InputSpec],
            info: CalibrationInfo, given: dict) -> dict[str, np.ndarray]:
    """Check emptiness, rank, fixed dims, shared symbolic dims and sample counts; cast dtypes."""
    out, counts, symbols = {}, {}, {}
    for spec in specs:
        a = arrays[spec.name]
        if a.size == 0:
            raise CalibrationError(f"{where}: the data for input '{spec.name}' is empty "
                                   f"(shape {list(a.shape)})")
        want = _wanted_shape(spec, given)
        if want and a.ndim == len(want) - 1:
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
            if i and isinstance(dim, str) and dim:
                seen = symbols.setdefault(dim, (spec.name, got))
                if seen[1] != got:
                    raise CalibrationError(
                        f"{where}: dim '{dim}' is {seen[1]} in input '{seen[0]}' but {got} in "
                        f"input '{spec.name}' (shapes must agree)")
        if spec.dtype != "unknown":
            a = cast(a, numpy_dtype(spec.dtype, spec.name), spec.name, where, info.note)
        out[spec.name] = a
        counts[spec.name] = a.shape[0] if a.ndim else 1
    if len(set(counts.values())) > 1:
        raise CalibrationError(f"{where}: inputs have different sample counts {counts}")
    return out


def _wanted_shape(spec: InputSpec, given: dict) -> tuple:
    if spec.name in given and (not spec.shape or len(given[spec.name]) == len(spec.shape)):
        dims = given[spec.name]
        return (spec.shape[0] if spec.shape else None,) + tuple(dims[1:])
    return tuple(spec.shape)


def fixed_batch(specs: list[InputSpec]) -> int | None:
    """The batch size the model fixes in its first dim (e.g. 1), if any input fixes one."""
    fixed = {s.shape[0] for s in specs if s.shape and isinstance(s.shape[0], int)
             and s.shape[0] > 0}
    if len(fixed) > 1:
        raise CalibrationError(f"inputs fix different batch sizes {sorted(fixed)}")
    return fixed.pop() if fixed else None


def rebatch(records: Iterable[tuple[str, Record]], specs: list[InputSpec], samples: int,
            batch_size: int, info: CalibrationInfo, given: dict) -> Iterator[Batch]:
    """Batches of `batch_size` across record boundaries (the last one partial), at most
    `samples` samples; only the current record and one batch are held in memory."""
    fixed = fixed_batch(specs)
    if fixed and fixed != batch_size:
        info.note(f"the model fixes batch {fixed}: --batch-size {batch_size} not used")
        batch_size = fixed
    left, parts, have, yielded = samples, [], 0, False
    for where, record in records:
        arrays = conform(where, assign(where, record, specs), specs, info, given)
        n, start = next(iter(arrays.values())).shape[0], 0
        while start < n and left > 0:
            take = min(batch_size - have, n - start, left)
            parts.append({k: v[start:start + take] for k, v in arrays.items()})
            have, start, left = have + take, start + take, left - take
            if have == batch_size:
                yield _join(parts)
                parts, have, yielded = [], 0, True
        if left <= 0:
            if start < n:
                info.note(f"--samples {samples} reached: the rest of the data was not used")
            break
        # hold only copies of a pending partial batch, so this shard is freed before the next
        parts = [{k: np.array(v) for k, v in p.items()} for p in parts]
        del record, arrays
    if parts and not fixed:
        yield _join(parts)
        yielded = True
    elif parts:
        info.note(f"last {have} samples dropped: the model fixes batch {fixed}")
    if not yielded:
        raise CalibrationError(f"no usable calibration samples in {info.source}")


def _join(parts: list[dict]) -> Batch:
    if len(parts) == 1:  # a copy: memory-mapped shards are not kept alive by the batch
        return {k: np.array(v) for k, v in parts[0].items()}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
