"""Regenerate every file in ``sample_models/`` (deterministically, byte for byte).

Run from the repository root::

    python sample_models/generate.py            # writes next to this script
    python sample_models/generate.py --out DIR  # writes elsewhere (e.g. to diff)

Models (factories in ``sample_models/models.py``, all built with seed 0):

- ``mlp_sigmoid_badinit``  MLP 784-128x4-10, Sigmoid, weights and biases N(0, 1):
  saturated, the mean gain collapses with depth.  Input ``x`` float32 [batch, 784].
- ``mlp_sigmoid_xavier``   same MLP, Xavier-uniform weights, zero biases: healthy.
- ``cnn_relu_deadbias``    Conv-ReLU(inplace)-Conv-F.relu-pool-Linear, He init; conv1
  channels 0-5 and conv2 channels 3, 7 have bias -100 (dead).  Input ``x`` [batch, 3, 32, 32].
- ``transformer_block``    Embedding + one encoder block (explicit 4-head attention with an
  additive finfo.min padding mask, softmax, post-LN, erf-GELU FFN).  Inputs ``input_ids`` and
  ``attention_mask``, int64 [batch, seq]; output [batch, seq, 64].
- ``cnn_silu_hardswish``   Conv-SiLU, Conv-Hardswish, Conv-F.silu, pool, Linear.  Input ``x``
  [batch, 3, 32, 32].
- ``mlp_mixed``            MLP 16-32x13-10, one activation per layer (Tanh, ELU, SELU, CELU,
  Softplus, Softsign, LeakyReLU(0.01), ReLU6, Hardtanh, Hardsigmoid, PReLU, Mish,
  GELU(tanh)) and a LogSoftmax head, Xavier init.  Input ``x`` float32 [batch, 16].
- ``softmax_hot``          Linear(16, 10) with weights x50, then Softmax: collapsed rows.
  Input ``x`` float32 [batch, 16].

Files per model ``<name>``:

- ``<name>.onnx``            legacy TorchScript exporter (``dynamo=False``), opset 13 (opset
  17 for ``mlp_mixed``), dynamic ``batch`` (and ``seq``) axes, output ``logits`` for the
  classifiers and ``output`` otherwise, doc strings cleared.
- ``<name>.state_dict.pt``   ``torch.save(model.state_dict())``; rebuild with the factory.
- ``<name>.ts``              ``torch.jit.trace`` + ``torch.jit.save``, minus the ``*.debug_pkl``
  records (source ranges with absolute paths; ``torch.jit.load`` does not need them).
- ``<name>.pt2``             ``torch.export.export`` (dynamic batch/seq) + ``torch.export.save``,
  node ``stack_trace`` metadata removed (absolute paths).

The bytes do not depend on the checkout or venv location, only on the library versions
(torch 2.13.0, onnx 1.23.2 when generated).

Calibration data (``data/``, numpy ``.npz`` written with fixed zip timestamps):

- ``mlp_calib.npz``          ``x``: 64 x 784 float32, N(0, 1), ``numpy.random.default_rng(0)``.
- ``transformer_calib.npz``  ``input_ids``: 16 x 12 int64 in [0, 1000) (rng seed 0) and
  ``attention_mask``: 16 x 12 int64, rows keep 12, 9, 6, 3, 12, ... tokens (trailing zeros).

Every saved form is loaded back and compared with the eager model on fresh inputs of another
batch (and sequence) size; every ONNX file is checked with ``onnx.checker`` and run with
onnxruntime.  The ONNX node list of each model is printed.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import BUILDERS  # noqa: E402

SEED = 0
EXPORT_SIZES = {"batch": 2, "seq": 12}
CHECK_SIZES = {"batch": 3, "seq": 7}
VOCAB = 1000
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
Args = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, symbolic shape (str entries are dynamic axes) and value kind."""

    name: str
    shape: tuple[int | str, ...]
    kind: str  # "normal" (float32 N(0,1)), "ids" (int64 token ids) or "mask" (int64 padding mask)


@dataclass(frozen=True)
class ModelSpec:
    """How to export one factory model."""

    name: str
    inputs: tuple[InputSpec, ...]
    output: str = "logits"
    opset: int = 13


IMAGE = (InputSpec("x", ("batch", 3, 32, 32), "normal"),)
TOKENS = (
    InputSpec("input_ids", ("batch", "seq"), "ids"),
    InputSpec("attention_mask", ("batch", "seq"), "mask"),
)
SPECS = (
    ModelSpec("mlp_sigmoid_badinit", (InputSpec("x", ("batch", 784), "normal"),)),
    ModelSpec("mlp_sigmoid_xavier", (InputSpec("x", ("batch", 784), "normal"),)),
    ModelSpec("cnn_relu_deadbias", IMAGE),
    ModelSpec("transformer_block", TOKENS, output="output"),
    ModelSpec("cnn_silu_hardswish", IMAGE),
    ModelSpec("mlp_mixed", (InputSpec("x", ("batch", 16), "normal"),), output="output", opset=17),
    ModelSpec("softmax_hot", (InputSpec("x", ("batch", 16), "normal"),), output="output"),
)


def padding_mask(batch: int, seq: int) -> np.ndarray:
    """int64 [batch, seq]: 1s then trailing 0s; row i keeps seq - (i % 4) * (seq // 4) tokens."""
    lengths = seq - (np.arange(batch) % 4) * (seq // 4)
    return (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)


def make_inputs(spec: ModelSpec, sizes: dict[str, int], seed: int) -> dict[str, np.ndarray]:
    """Deterministic numpy inputs for ``spec`` with the dynamic axes set from ``sizes``."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for inp in spec.inputs:
        shape = tuple(sizes[d] if isinstance(d, str) else d for d in inp.shape)
        if inp.kind == "normal":
            arrays[inp.name] = rng.standard_normal(shape, dtype=np.float32)
        elif inp.kind == "ids":
            arrays[inp.name] = rng.integers(0, VOCAB, shape, dtype=np.int64)
        else:
            arrays[inp.name] = padding_mask(*shape)
    return arrays


def as_args(arrays: dict[str, np.ndarray]) -> Args:
    """Positional torch arguments, in input order."""
    return tuple(torch.from_numpy(a.copy()) for a in arrays.values())


def dynamic_axes(inp: InputSpec) -> dict[int, str]:
    """Axis index -> axis name, for the dynamic axes of one input."""
    return {i: d for i, d in enumerate(inp.shape) if isinstance(d, str)}


def onnx_dynamic_axes(spec: ModelSpec) -> dict[str, dict[int, str]]:
    """``dynamic_axes`` for the legacy exporter; the batch axis of the output too."""
    axes = {inp.name: dynamic_axes(inp) for inp in spec.inputs}
    axes[spec.output] = dict(axes[spec.inputs[0].name])
    return axes


def export_dynamic_shapes(spec: ModelSpec) -> tuple[dict[int, object], ...]:
    """``dynamic_shapes`` for ``torch.export``: one shared ``Dim`` per axis name."""
    dims = {
        "batch": torch.export.Dim("batch", min=1, max=4096),
        "seq": torch.export.Dim("seq", min=1, max=512),
    }
    return tuple({i: dims[d] for i, d in dynamic_axes(inp).items()} for inp in spec.inputs)


def strip_doc_strings(model: onnx.ModelProto) -> None:
    """Clear doc strings (they may carry source locations) from the model, graph and nodes."""
    model.doc_string = ""
    model.graph.doc_string = ""
    for node in model.graph.node:
        node.doc_string = ""


def save_onnx(model: nn.Module, spec: ModelSpec, args: Args, path: Path) -> None:
    """Export with the legacy TorchScript exporter, then normalise and check the file."""
    torch.onnx.export(
        model,
        args,
        str(path),
        dynamo=False,
        opset_version=spec.opset,
        input_names=[inp.name for inp in spec.inputs],
        output_names=[spec.output],
        dynamic_axes=onnx_dynamic_axes(spec),
    )
    proto = onnx.load(str(path))
    strip_doc_strings(proto)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))


def save_state_dict(model: nn.Module, spec: ModelSpec, args: Args, path: Path) -> None:
    """``torch.save`` of the state dict."""
    torch.save(model.state_dict(), path)


def drop_debug_records(path: Path) -> None:
    """Rewrite a TorchScript archive without its ``*.debug_pkl`` records (absolute source paths).

    The writer adds ``version`` and ``.data/serialization_id`` itself, so those are not copied.
    """
    reader = torch._C.PyTorchFileReader(str(path))
    skip = {"version", ".data/serialization_id"}
    records = [
        (name, reader.get_record(name))
        for name in reader.get_all_records()
        if name not in skip and not name.endswith(".debug_pkl")
    ]
    del reader
    writer = torch._C.PyTorchFileWriter(str(path))
    for name, data in records:
        writer.write_record(name, data, len(data))
    writer.write_end_of_file()


def save_torchscript(model: nn.Module, spec: ModelSpec, args: Args, path: Path) -> None:
    """Trace and save as TorchScript, without path-dependent debug records."""
    torch.jit.save(torch.jit.trace(model, args), str(path))
    drop_debug_records(path)


def save_exported(model: nn.Module, spec: ModelSpec, args: Args, path: Path) -> None:
    """``torch.export`` with dynamic batch (and seq) axes, then ``torch.export.save``."""
    program = torch.export.export(model, args, dynamic_shapes=export_dynamic_shapes(spec))
    for node in program.graph.nodes:
        node.meta.pop("stack_trace", None)  # absolute source paths
    torch.export.save(program, path)


def run_onnx(spec: ModelSpec, path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Run the ONNX file with onnxruntime (CPU)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([spec.output], arrays)[0]


def run_state_dict(spec: ModelSpec, path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Load the state dict into a model built with another seed, then run it."""
    model = BUILDERS[spec.name](seed=SEED + 1)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model(*as_args(arrays)).numpy()


def run_torchscript(spec: ModelSpec, path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Run the saved TorchScript module."""
    return torch.jit.load(str(path))(*as_args(arrays)).numpy()


def run_exported(spec: ModelSpec, path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Run the saved ExportedProgram."""
    return torch.export.load(path).module()(*as_args(arrays)).numpy()


Saver = Callable[[nn.Module, ModelSpec, Args, Path], None]
Runner = Callable[[ModelSpec, Path, dict[str, np.ndarray]], np.ndarray]
FORMS: tuple[tuple[str, Saver, Runner], ...] = (
    (".onnx", save_onnx, run_onnx),
    (".state_dict.pt", save_state_dict, run_state_dict),
    (".ts", save_torchscript, run_torchscript),
    (".pt2", save_exported, run_exported),
)


def describe_onnx(path: Path) -> None:
    """Print the (op_type, name) of every node, in graph order."""
    graph = onnx.load(str(path)).graph
    print(f"  {path.name}: {len(graph.node)} nodes")
    for node in graph.node:
        print(f"    {node.op_type:<20} {node.name}")


def generate_model(spec: ModelSpec, out: Path) -> list[str]:
    """Write every form of one model, reload each and compare with eager; return the failures."""
    model = BUILDERS[spec.name](seed=SEED)
    args = as_args(make_inputs(spec, EXPORT_SIZES, SEED))
    check = make_inputs(spec, CHECK_SIZES, SEED + 1)
    with torch.no_grad():
        expected = model(*as_args(check)).numpy()
        failures = []
        for suffix, save, run in FORMS:
            path = out / f"{spec.name}{suffix}"
            try:
                save(model, spec, args, path)
                np.testing.assert_allclose(run(spec, path, check), expected, rtol=1e-4, atol=1e-4)
            except Exception as exc:  # report every broken form, keep going
                failures.append(f"{path.name}: {type(exc).__name__}: {exc}")
    onnx_path = out / f"{spec.name}.onnx"
    if onnx_path.exists():
        describe_onnx(onnx_path)
    return failures


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez`` but with fixed zip timestamps, so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH), buffer.getvalue())


def generate_calibration(out: Path) -> None:
    """Write ``data/mlp_calib.npz`` and ``data/transformer_calib.npz``."""
    specs = {spec.name: spec for spec in SPECS}
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    save_npz(data / "mlp_calib.npz", make_inputs(specs["mlp_sigmoid_badinit"], {"batch": 64}, SEED))
    tokens = make_inputs(specs["transformer_block"], {"batch": 16, "seq": 12}, SEED)
    save_npz(data / "transformer_calib.npz", tokens)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--out", type=Path, default=here, help="output folder (default: here)")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    failures = []
    for spec in SPECS:
        failures += generate_model(spec, out)
    generate_calibration(out)
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
