"""Which inputs are batched (cut along axis 0) and which are fixed (fed unchanged every batch).

From the model's input specs, and the first calibration record when there is one:

- a 0-d input is fixed; an input of unknown rank (no shape) with data of rank >= 1 is batched;
- an input whose leading dim is symbolic or unknown is batched (a 1-D input [n] is n samples);
- inputs whose leading dims are fixed sizes are batched together when no input is symbolic,
  they all fix the same size (a model fixing batch 1: [1, 3, 224, 224]) and their data agree
  on the sample count; otherwise each one whose data has exactly its shape (a PRelu slope [5],
  a recurrent state [2, 1, 128]) is fixed, and the others are batched in the size they fix;
- when batched inputs disagree on the sample count without sharing a named leading dim and all
  the data have the model's shapes, nothing is batched.

With nothing batched each record is one feed, passed unchanged: one batch, whose samples are the
leading dim all inputs of rank >= 1 share, else 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from saturate_cli.errors import CalibrationError
from saturate_cli.types import InputSpec

ANONYMOUS = (None, "", "?")  # dims that are unknown, never the same as another unknown dim


def is_named(dim) -> bool:
    """A symbolic dim with a name ('batch', 'seq'): equal names are equal sizes."""
    return isinstance(dim, str) and dim not in ANONYMOUS


def is_fixed(dim) -> bool:
    """A dim the model fixes to a size."""
    return isinstance(dim, int) and dim > 0


def fits(spec_shape: tuple, shape: tuple) -> bool:
    """True when `shape` has the rank of `spec_shape` and every size it fixes (leading one too)."""
    return len(shape) == len(spec_shape) and all(
        not is_fixed(d) or d == got for d, got in zip(spec_shape, shape))


@dataclass(frozen=True)
class Plan:
    """How the inputs are fed: `batched` ones cut into batches, `fixed` ones whole each time."""

    batched: tuple[str, ...]
    fixed: tuple[str, ...]
    batch: Optional[int] = None  # the batch size the model fixes, if any

    @property
    def whole(self) -> bool:
        """Nothing is batched: each record is one feed."""
        return not self.batched

    def samples(self, shapes: dict) -> int:
        """Samples in a feed of these shapes ({name: shape})."""
        if self.batched:
            return int(shapes[self.batched[0]][0])
        leads = {s[0] for s in shapes.values() if len(s)}
        return int(leads.pop()) if len(leads) == 1 else 1

    def notes(self, shapes: dict, unit: str = "record") -> list[str]:
        """What the report's calibration notes say about fixed inputs."""
        if self.whole:
            return [f"no input is batched: each {unit} is one feed of the model's input shapes, "
                    f"passed unchanged (inputs {list(self.fixed)})"]
        return [f"input '{n}' is fixed: fed unchanged with every batch (shape "
                f"{list(shapes[n])})" for n in self.fixed]

    def check(self, where: str, specs: list[InputSpec], shapes: dict) -> None:
        """A later record must fit the plan made from the first one."""
        for spec in specs:
            want = shapes_wanted(spec, shapes[spec.name])
            if (self.whole or spec.name in self.fixed) and not fits(want, shapes[spec.name]):
                raise CalibrationError(
                    f"{where}: input '{spec.name}' is fed unchanged and expects shape "
                    f"{list(want)}, the data has shape {list(shapes[spec.name])}")
        _same_counts(where, {n: shapes[n][0] for n in self.batched})


def shapes_wanted(spec: InputSpec, shape: tuple) -> tuple:
    """The spec's shape, or the data's own for an input of unknown rank."""
    return tuple(spec.shape) if spec.shape or not len(shape) else tuple([None] * len(shape))


def make_plan(where: str, specs: list[InputSpec], shapes: Optional[dict] = None,
              given: Optional[dict] = None) -> Plan:
    """The plan for these inputs; `shapes` are the first record's data shapes (None for
    synthetic data: the specs alone, `given` telling --input-shape)."""
    given = given or {}
    scalar, dynamic, leading = [], [], {}
    for spec in specs:
        if not spec.shape:
            ranked = len(shapes[spec.name]) if shapes else len(given.get(spec.name, ()))
            (dynamic if ranked else scalar).append(spec.name)
        elif not is_fixed(spec.shape[0]):
            dynamic.append(spec.name)
        else:
            leading[spec.name] = spec.shape[0]
    exact = {s.name for s in specs if shapes is None or fits(
        shapes_wanted(s, shapes[s.name]), shapes[s.name])}
    agree = not dynamic and len(set(leading.values())) == 1 and (
        shapes is None or len({shapes[n][0] for n in leading}) == 1)
    batched = set(dynamic) | {n for n in leading if agree or n not in exact}
    sizes = {leading[n] for n in batched if n in leading}
    if len(sizes) > 1:
        raise CalibrationError(
            f"{where}: inputs fix different batch sizes {sorted(sizes)} and their data is not "
            "of the model's shapes: " + ", ".join(
                f"'{n}' {list(spec_of(specs, n).shape)} vs {list(shapes[n])}"
                for n in sorted(batched) if n in leading))
    if shapes and not _counts_agree(where, specs, batched, shapes, exact):
        batched = set()
    names = [s.name for s in specs]
    return Plan(tuple(n for n in names if n in batched),
                tuple(n for n in names if n not in batched), sizes.pop() if sizes else None)


def spec_of(specs: list[InputSpec], name: str) -> InputSpec:
    """The spec of the input called `name`."""
    return next(s for s in specs if s.name == name)


def _counts_agree(where: str, specs, batched: set, shapes: dict, exact: set) -> bool:
    """True when the batched inputs' sample counts agree; False when they need not (nothing is
    batched then); a CalibrationError when they must."""
    counts = {s.name: int(shapes[s.name][0]) for s in specs if s.name in batched}
    if len(set(counts.values())) <= 1:
        return True
    named = {}
    for s in specs:
        if s.name in batched and s.shape and is_named(s.shape[0]):
            named.setdefault(s.shape[0], set()).add(counts[s.name])
    if len(exact) < len(specs) or any(len(v) > 1 for v in named.values()):
        _same_counts(where, counts)
    return False


def _same_counts(where: str, counts: dict) -> None:
    if len(set(counts.values())) > 1:
        raise CalibrationError(f"{where}: inputs have different sample counts {counts}")
