"""A hollow copy of an ONNX model for onnxruntime: initializers whose bytes still sit in the
files the model was read from (onnx/origin.py) become external-data references to them, so
staging serialises the graph but not the weights.

Only a tensor that is provably the one on disk is referenced: a top-level initializer of the
same name (unique), data type, dims and byte length, holding its values in raw_data. Anything
else (saturate's own constants, typed fields such as float_data, subgraph initializers, string
and sub-byte types) stays inline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Optional

import onnx
from onnx import TensorProto

from saturate_cli.model.onnx.lazy import left_in_file
from saturate_cli.model.onnx.load import all_tensors, tensor_nbytes
from saturate_cli.model.onnx.origin import Origin, Ref

MIN_BYTES = 1024  # smaller initializers stay inline (as onnx's external-data writer does)
_TYPED = ("float_data", "int32_data", "string_data", "int64_data", "double_data",
          "uint64_data")
_UNREFERENCED = {TensorProto.UNDEFINED, TensorProto.STRING} | {
    getattr(TensorProto, n) for n in ("INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2")
    if hasattr(TensorProto, n)}


@dataclass
class Hollow:
    model: onnx.ModelProto
    referenced: int  # initializers pointing at the files
    inline_bytes: int  # tensor bytes still inside the copy


def hollow_copy(model: onnx.ModelProto, origin: Origin) -> Optional[Hollow]:
    """The hollow copy, or None when no initializer can be referenced (or weights a lazy read
    left in the file lie outside the origin's folder). References a lazy read made
    (onnx/lazy.py) are kept as they are."""
    refs = origin.refs()
    graph = model.graph
    names = Counter(t.name for t in graph.initializer)
    picked = [t for t in graph.initializer
              if names[t.name] == 1 and _same(t, refs.get(t.name))]
    left = left_in_file(model, origin.folder)  # references already (onnx/lazy.py)
    if left is None or not picked and not left:
        return None
    light = onnx.ModelProto()
    _copy_fields(model, light, skip="graph")
    _copy_fields(graph, light.graph, skip="initializer")
    chosen = {t.name for t in picked + left}
    for t in graph.initializer:
        if t.name in chosen and t.data_location != TensorProto.EXTERNAL:
            _reference(light.graph.initializer.add(), t, refs[t.name])
        else:
            light.graph.initializer.append(t)
    inline = sum(tensor_nbytes(t) for t in graph.initializer if t.name not in chosen) + sum(
        tensor_nbytes(t) for t in all_tensors(graph, initializers=False))
    return Hollow(light, len(chosen), inline)


def _same(t: TensorProto, ref: Optional[Ref]) -> bool:
    """Whether `t` is, by everything but its bytes, the tensor `ref` locates."""
    return (ref is not None and t.data_type not in _UNREFERENCED
            and t.data_location != TensorProto.EXTERNAL and t.HasField("raw_data")
            and not t.HasField("segment") and not any(len(getattr(t, f)) for f in _TYPED)
            and t.data_type == ref.data_type and tuple(t.dims) == ref.dims
            and ref.length == tensor_nbytes(t) >= MIN_BYTES)


def _reference(out: TensorProto, t: TensorProto, ref: Ref) -> None:
    out.name, out.data_type = t.name, t.data_type
    out.dims.extend(t.dims)
    out.data_location = TensorProto.EXTERNAL
    for key, value in (("location", ref.location), ("offset", str(ref.offset)),
                       ("length", str(ref.length))):
        entry = out.external_data.add()
        entry.key, entry.value = key, value


def _copy_fields(src, dst, skip: str) -> None:
    """Every set field of `src` but one into `dst` (message fields copied, not shared)."""
    for field, value in src.ListFields():
        if field.name == skip:
            continue
        if field.is_repeated:
            getattr(dst, field.name).extend(value)
        elif field.type == field.TYPE_MESSAGE:
            getattr(dst, field.name).CopyFrom(value)
        else:
            setattr(dst, field.name, value)
