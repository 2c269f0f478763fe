"""Read an ONNX file safely: clear errors, external data confined to the model's folder,
a size budget checked before anything large is allocated. Where the weights came from is
recorded (onnx/origin.py) so staging need not serialise them again."""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Optional

import onnx
from onnx import external_data_helper

from saturate_cli.budget import refuse_over
from saturate_cli.errors import ModelLoadError, first_line
from saturate_cli.model.onnx.origin import Ref, plain_location, remember, stamp_of


def all_tensors(graph: onnx.GraphProto, initializers: bool = True):
    """Initializers (of the top graph too unless `initializers` is False) and Constant-node
    tensors of a graph and its subgraphs."""
    if initializers:
        yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                yield a.t
            elif a.type == onnx.AttributeProto.GRAPH:
                yield from all_tensors(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from all_tensors(g)


def tensor_nbytes(t: onnx.TensorProto) -> int:
    """Bytes the tensor needs once loaded, from its declared dims."""
    n = 1
    for d in t.dims:
        n *= max(int(d), 0)
    return n * _itemsize(t.data_type)


@functools.cache
def _itemsize(data_type: int) -> int:
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(data_type).itemsize
    except Exception:  # noqa: BLE001 - unknown/string types: count one byte each
        return 1


def _external_location(t: onnx.TensorProto, folder: Path, path: Path) -> Path:
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if not location:
        raise ModelLoadError(f"{path}: tensor '{t.name}' declares external data without a location")
    if os.path.isabs(location) or location.startswith(("/", "\\")):
        raise ModelLoadError(
            f"{path}: external data of tensor '{t.name}' has an absolute path '{location}'; "
            "only files inside the model's folder are read"
        )
    target = (folder / location).resolve()
    if folder.resolve() not in target.parents:
        raise ModelLoadError(
            f"{path}: external data of tensor '{t.name}' points outside the model's folder "
            f"('{location}'); refused"
        )
    if not target.is_file():
        raise ModelLoadError(f"{path}: external data file '{location}' of tensor '{t.name}' "
                             "is missing")
    return target


def read_model(path: Path, memory_budget: int, notes: Optional[list] = None,
               lazy: bool = False) -> onnx.ModelProto:
    """Parse, confine, size-check, load external data and validate an ONNX model.

    What the checker alone objects to goes into `notes`: onnxruntime decides whether the model
    runs (the checker is stricter, e.g. on a graph output without a shape). `lazy`: a model
    without external data of its own comes back with its large weights left in the file
    (onnx/lazy.py)."""
    try:
        stamp = stamp_of(path)
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(1)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size == 0 or not head:
        raise ModelLoadError(f"{path}: the file is empty")
    refuse_over(path, size, memory_budget, "the file is")
    light = _parse_light(path, stamp) if lazy else None
    model = light if light is not None else _parse(path)
    left = set() if light is None else {t.name for t in model.graph.initializer
                                        if t.data_location == onnx.TensorProto.EXTERNAL}
    if not model.HasField("graph") or model.ir_version == 0:
        raise ModelLoadError(f"{path}: the file parses as protobuf but holds no ONNX model "
                             "(no graph or IR version)")
    _check_opset(model, path)
    names = tuple(t.name for t in model.graph.initializer)
    external, stamps = _load_external(model, path, memory_budget, left)
    _check(model, path, notes if notes is not None else [])
    model = _inline_functions(model, path, bool(left))
    remember(path, model, stamp, names, external, stamps)
    return model


def _parse(path: Path) -> onnx.ModelProto:
    from saturate_cli.model.onnx.lazy import unmark

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises many types
        raise ModelLoadError(f"{path}: not a readable model (tried: PyTorch zip or pickle, "
                             f"ONNX protobuf: {first_line(exc)})") from None
    unmark(model)
    return model


def _parse_light(path: Path, stamp: Optional[tuple]) -> Optional[onnx.ModelProto]:
    """The model with its large weights left in the file, or None (then parsed whole): not
    a file the wire reader follows, or one with external data of its own."""
    from saturate_cli.model.onnx.lazy import parse_light

    if stamp is None:
        return None
    try:
        with open(path, "rb") as fh:
            return parse_light(fh, path, stamp)
    except OSError:
        return None


def _inline_functions(model: onnx.ModelProto, path: Path, light: bool) -> onnx.ModelProto:
    """Inline model-local functions (dynamo exports use them) so their activations are seen
    (`light`: the model's weights were left in the file, the inlined copy must say so)."""
    if not model.functions:
        return model
    try:
        from onnx import inliner

        inlined = inliner.inline_local_functions(model)
        if light:
            from saturate_cli.model.onnx.lazy import carry_mark

            carry_mark(model, inlined)
        return inlined
    except Exception as exc:  # noqa: BLE001 - keep the model as it is; sites inside stay hidden
        raise ModelLoadError(f"{path}: cannot inline its local functions ({first_line(exc)})"
                             ) from None


def _check_opset(model: onnx.ModelProto, path: Path) -> None:
    """Refuse an ai.onnx opset newer than the installed onnx knows (the runtime lags further)."""
    newest = onnx.defs.onnx_opset_version()
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version > newest:
            raise ModelLoadError(f"{path}: uses ONNX opset {imp.version}, newer than the {newest} "
                                 "this installation supports; upgrade onnx and onnxruntime or "
                                 "export with a lower opset")


def _load_external(model: onnx.ModelProto, path: Path, memory_budget: int,
                   left: set) -> tuple[dict, dict]:
    """Load the external data (but not the weights `left` in the model file); return where
    each top-level initializer's came from (name -> Ref) and the stamps of those files, taken
    before they were read."""
    folder = path.parent
    total = 0
    external = False
    for t in all_tensors(model.graph):
        total += tensor_nbytes(t)
        if t.data_location == onnx.TensorProto.EXTERNAL and t.name not in left:
            external = True
            _external_location(t, folder, path)
    refuse_over(path, total, memory_budget, "the weights need")
    if not external:
        return {}, {}
    refs, stamps = _external_refs(model, folder)
    try:
        external_data_helper.load_external_data_for_model(model, str(folder))
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{path}: cannot load external data ({first_line(exc)})") from None
    return refs, stamps


def _external_refs(model: onnx.ModelProto, folder: Path) -> tuple[dict, dict]:
    """Where the external data of each top-level initializer lies (before loading erases it)."""
    refs, stamps = {}, {}
    for t in model.graph.initializer:
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        if t.data_location != onnx.TensorProto.EXTERNAL or not plain_location(location):
            continue
        target = str((folder / location).resolve())
        stamp = stamps.get(target) or stamp_of(target)
        try:
            offset = int(info.get("offset") or 0)
            length = int(info.get("length") or 0) or (stamp[0] - offset if stamp else 0)
        except ValueError:  # onnx's loader says what is wrong
            continue
        if stamp is not None and offset >= 0 and length > 0:
            stamps[target] = stamp
            refs[t.name] = Ref(location, offset, length, t.data_type, tuple(t.dims))
    return refs, stamps


_TYPED_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data",
                 "uint64_data")
_SUB_BYTE = {getattr(onnx.TensorProto, n, -1) for n in ("INT4", "UINT4", "FLOAT4E2M1", "INT2",
                                                         "UINT2")}
_COMPLEX = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}


def _stored_values(t: onnx.TensorProto):
    """How many values a tensor's data holds (None when it cannot be told)."""
    if t.data_type in _SUB_BYTE or t.data_type == onnx.TensorProto.UNDEFINED:
        return None
    if t.HasField("raw_data"):
        if t.data_type == onnx.TensorProto.STRING:
            return None
        itemsize = tensor_nbytes(onnx.TensorProto(data_type=t.data_type, dims=[1]))
        return len(t.raw_data) // itemsize if itemsize else None
    count = max(len(getattr(t, f)) for f in _TYPED_FIELDS)
    return count // 2 if t.data_type in _COMPLEX else count


def _check_tensor_sizes(model: onnx.ModelProto, path: Path) -> None:
    """Every initializer / constant holds exactly the values its dims declare."""
    for t in all_tensors(model.graph):
        if t.data_location == onnx.TensorProto.EXTERNAL and not t.HasField("raw_data"):
            continue  # left in the file (onnx/lazy.py), its length checked against its dims
        if min(t.dims, default=0) < 0 or math.prod(max(int(d), 1) for d in t.dims) >= 2**59:
            raise ModelLoadError(f"{path}: tensor '{t.name}' declares impossible dims "
                                 f"{list(t.dims)}; the file is corrupt")
        want = math.prod(int(d) for d in t.dims)
        have = _stored_values(t)
        if have is not None and have != want:
            raise ModelLoadError(f"{path}: tensor '{t.name}' holds {have} values but its dims "
                                 f"{list(t.dims)} declare {want}; the file is corrupt")


def _check(model: onnx.ModelProto, path: Path, notes: list) -> None:
    """Tensor sizes here (a corrupt tensor is an error), the rest by onnx's checker on a
    weightless copy (the checker serialises what it checks: the weights would be copied, and
    over 2 GiB cannot be); what only the checker objects to becomes a note."""
    _check_tensor_sizes(model, path)
    try:
        onnx.checker.check_model(weightless(model))
    except Exception as exc:  # noqa: BLE001 - checker raises ValidationError and others
        notes.append(f"the ONNX checker objects ({first_line(exc)}); measured as onnxruntime "
                     "runs it")


SMALL_TENSOR = 4096  # initializers with fewer values keep them (shape inference reads them)


def weightless(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` whose large initializers are typed graph inputs instead: shape
    inference and the checker need their shapes, not their bytes (each would copy them)."""
    g = model.graph
    light = onnx.ModelProto(ir_version=model.ir_version, opset_import=model.opset_import,
                            functions=model.functions)
    lg = light.graph
    lg.name = g.name
    for field in ("node", "input", "output", "value_info", "sparse_initializer"):
        getattr(lg, field).extend(getattr(g, field))
    inputs = {vi.name for vi in g.input}
    for init in g.initializer:
        if math.prod(init.dims) < SMALL_TENSOR:  # small ones may be shapes inference reads
            lg.initializer.append(init)
        elif init.name not in inputs:
            lg.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type,
                                                               list(init.dims)))
    return light
