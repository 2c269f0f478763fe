"""Input specs of a PyTorch model, which (unlike ONNX) rarely declares them.

The inputs are forward()'s parameters, bound by name (`Signature`): the required ones, and the
optional ones (or, through `**kwargs`, any name) that `--input-shape` or the calibration data
names. Order of evidence for shapes: `--input-shape NAME=DIMS` (its first dim is the batch, and
every other batched input takes it); the first parameterised layer (Linear in_features ->
[batch, in]; ConvNd in_channels -> [batch, C, size...] with symbolic spatial sizes; Embedding ->
int64 token ids [batch, seq] with the table's vocabulary); an input named like a mask next to
token ids gets the same shape. Anything else is left to the calibration data when there is
some, else an error asking for --input-shape. Given data, guesses yield to it (fit_to_data).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import Iterable, Optional

from saturate_cli.errors import CalibrationError, ModelLoadError
from saturate_cli.types import InputSpec, Peek, input_position

_SPATIAL = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_INT_HINTS = ("ids", "mask", "token", "position", "segment")


@dataclass(frozen=True)
class Signature:
    """forward()'s named parameters, as far as binding inputs to them goes."""

    names: tuple[str, ...] = ()  # in order, without *args / **kwargs
    required: tuple[str, ...] = ()
    positional_only: tuple[str, ...] = ()
    var_keyword: bool = False  # **kwargs: takes any name
    known: bool = False  # the signature could be read

    @property
    def open(self) -> bool:
        """Any name may be an input (**kwargs, or a signature that could not be read)."""
        return self.var_keyword or not self.known

    def inputs(self, given: Iterable[str], data: Iterable) -> list[str]:
        """The inputs to feed: required parameters and those `given` or `data` name (a data
        key `arr_K` / `input_K` names the K-th parameter), in forward()'s order; then, for an
        open signature, the other names; else the first parameter."""
        named = list(given)
        for key in data:
            pos = input_position(key)
            named.append(self.names[pos] if pos is not None and pos < len(self.names)
                         else str(key))
        names = [n for n in self.names if n in self.required or n in named]
        names += [n for n in dict.fromkeys(named) if self.open and n not in self.names]
        return names or list(self.names[:1])

    def keywords(self, names: Iterable[str]) -> tuple[str, ...]:
        """The inputs passed by keyword: all but positional-only ones; none when the signature
        could not be read."""
        return tuple(n for n in names if self.known and n not in self.positional_only and
                     (n in self.names or self.var_keyword))

    @property
    def optional(self) -> bool:
        """True when inputs beyond the required ones may be fed."""
        return self.open or len(self.required) < len(self.names)


def signature_of(forward) -> Signature:
    """The Signature of a forward method (an open, empty one when it cannot be read)."""
    try:
        params = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return Signature()
    P = inspect.Parameter
    named = [p for p in params if p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD)]
    return Signature(tuple(p.name for p in named),
                     tuple(p.name for p in named if p.default is P.empty),
                     tuple(p.name for p in named if p.kind == P.POSITIONAL_ONLY),
                     any(p.kind == P.VAR_KEYWORD for p in params), True)


def data_keys(peek: Optional[Peek], candidates: Iterable[str]) -> list:
    """The array names of the first calibration record ([] without array data)."""
    return list(peek(list(candidates))) if peek is not None else []


def _fits(guess: tuple, got: tuple) -> bool:
    """The data's shape agrees with a guessed one (or is one sample of it)."""
    if len(got) == len(guess) - 1:
        got = (None,) + tuple(got)
    return len(got) == len(guess) and all(
        not isinstance(g, int) or g == d for g, d in zip(guess[1:], got[1:]))


def fit_to_data(specs: list[InputSpec], peek: Optional[Peek], given: dict,
                names: list[str]) -> list[InputSpec]:
    """Specs guessed from layers yield to the calibration data: a guess the data contradicts
    (the layer read another tensor) is dropped, shape and dtype left to the data; one it fits
    keeps its dtype, but its named dims are no longer tied across inputs (two inputs of token
    ids may differ in length). `--input-shape` specs are the user's word, left alone."""
    try:
        record = peek(list(names)) if peek is not None else {}
    except CalibrationError:  # reported when the data is read for measuring
        record = {}
    arrays = {}
    for key, array in record.items():
        pos = input_position(key)
        arrays[str(key) if key in names or pos is None or pos >= len(names)
               else names[pos]] = array
    out = []
    for spec in specs:
        got = getattr(arrays.get(spec.name), "shape", None)
        if spec.name in given or not spec.shape or got is None:
            out.append(spec)
        elif _fits(spec.shape, tuple(got)):
            out.append(replace(spec, shape=spec.shape[:1] + tuple(
                d if isinstance(d, int) else None for d in spec.shape[1:])))
        else:
            out.append(InputSpec(spec.name, (), "unknown"))
    return out


def from_layer(name: str, class_name: str, weight) -> Optional[InputSpec]:
    """The input a model whose first parameterised layer is this one most likely takes."""
    shape = tuple(weight.shape)
    if class_name == "Linear" and len(shape) == 2:
        return InputSpec(name, ("batch", int(shape[1])), "float32")
    if class_name in ("Conv1d", "Conv2d", "Conv3d") and len(shape) >= 3:
        return InputSpec(name, ("batch", int(shape[1])) + _SPATIAL[len(shape) - 2], "float32")
    if class_name == "Embedding" and len(shape) == 2:
        return InputSpec(name, ("batch", "seq"), "int64", vocab=int(shape[0]))
    return None


def _first_layer(layers: Iterable[tuple[str, object]]) -> tuple[Optional[str], object]:
    for class_name, weight in layers:
        if weight is not None and hasattr(weight, "shape"):
            return class_name, weight
    return None, None


def infer_specs(target: str, names: list[str], layers: Iterable[tuple[str, object]],
                given: dict, have_data: bool = False) -> list[InputSpec]:
    """One spec per input name (see the module docstring for the evidence used)."""
    if not names:
        names = list(given)
    if not names:
        raise ModelLoadError(f"{target}: cannot tell the model's inputs from its forward(); "
                             "give --input-shape NAME=DIMS for each")
    class_name, weight = _first_layer(layers)
    first = from_layer(names[0], class_name, weight) if class_name else None
    specs: list[InputSpec] = []
    for i, name in enumerate(names):
        spec = first if i == 0 else _companion(name, specs[0] if specs[0].shape else first)
        if name in given:
            int_like = (spec is not None and spec.dtype == "int64") or any(
                h in name.lower() for h in _INT_HINTS)
            spec = InputSpec(name, tuple(given[name]), "int64" if int_like else "float32",
                             spec.vocab if spec is not None else None)
        if spec is None and have_data:
            spec = InputSpec(name, (), "unknown")  # shape and dtype left to the data
        if spec is None:
            raise ModelLoadError(
                f"{target}: cannot tell the shape of input '{name}' (first layer: "
                f"{class_name or 'none found'}); give --input-shape {name}=1x...")
        specs.append(spec)
    return share_batch(specs, given)


def share_batch(specs: list[InputSpec], given: dict) -> list[InputSpec]:
    """The batch an --input-shape asks for (its first dim), given to every batched input."""
    batch = next((given[s.name][0] for s in specs if given.get(s.name)), None)
    if batch is None:
        return specs
    return [replace(s, shape=(batch,) + s.shape[1:]) if s.shape and s.name not in given
            and not isinstance(s.shape[0], int) else s for s in specs]


def _companion(name: str, first: Optional[InputSpec]) -> Optional[InputSpec]:
    """A padding mask next to token ids: same shape, int64."""
    if first is not None and first.dtype == "int64" and "mask" in name.lower():
        return InputSpec(name, first.shape, "int64")
    return None
