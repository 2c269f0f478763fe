"""Generate the corpus of broken and hostile inputs of issue #7, each with its expected outcome.

    python tests/hostile/make_corpus.py DIR     # writes the files and DIR/manifest.json

Every file is generated here (nothing binary is committed). A case is the argument list of one
`saturate inspect` run plus what must happen: the exit code(s), the file the one-line error must
name, the rule codes / note the JSON report must hold when the run succeeds, and a marker file
that must never appear (code execution).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `hostile` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hostile import onnx_models as om  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "sample_models"
FAIL = (2,)
RAN = (0, 1)  # the analysis ran; the exit code is the findings' business


@dataclass(frozen=True)
class Case:
    """One run of `saturate inspect <args>` and its documented outcome."""

    name: str
    args: tuple
    exit: tuple = FAIL
    names: str = ""  # for exit 2: the file name the error line must contain
    why: str = ""
    codes: tuple = ()  # for exit 0/1: rule codes the report must contain
    note: str = ""  # for exit 0/1: text the report's notes must contain
    mentions: str = ""  # for exit 2: more text the error must contain
    marker: str = ""  # a file whose existence would prove code was executed
    needs: str = ""  # "torch": decided by the PyTorch loader


class Evil:
    """Unpickling this runs code: it writes a marker file (the proof a loader executed it)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('pwned')",)


def _model_case(name: str, path: Path, why: str, exit=FAIL, *extra: str, **kw) -> Case:
    return Case(name, (str(path), *extra), exit, path.name if exit == FAIL else "", why, **kw)


def file_cases(d: Path) -> list[Case]:
    """Files that are not ONNX models at all, or cannot be read."""
    rng = np.random.default_rng(7)
    sample = (SAMPLES / "mlp_sigmoid_badinit.onnx").read_bytes()
    (d / "empty.onnx").write_bytes(b"")
    (d / "random.onnx").write_bytes(rng.bytes(4096))
    (d / "random_noext").write_bytes(rng.bytes(4096))
    (d / "text.onnx").write_text("this is not a model\n" * 20)
    (d / "a_directory.onnx").mkdir()
    cases = [
        _model_case("empty", d / "empty.onnx", "empty file"),
        _model_case("random", d / "random.onnx", "4 KiB of random bytes"),
        _model_case("random_noext", d / "random_noext", "random bytes, no extension"),
        _model_case("text", d / "text.onnx", "a text file named .onnx"),
        _model_case("directory", d / "a_directory.onnx", "a directory"),
        _model_case("missing", d / "does_not_exist.onnx", "a path that does not exist"),
    ]
    for frac in (0.001, 0.1, 0.5, 0.9, 0.999):
        p = d / f"truncated_{int(frac * 1000):04d}.onnx"
        p.write_bytes(sample[: max(1, int(len(sample) * frac))])
        cases.append(_model_case(p.stem, p, f"sample model cut at {frac:.1%} of its bytes"))
    cases.append(_unreadable(d))
    return cases


def _unreadable(d: Path) -> Case:
    p = om.save(om.gemm_act(), d / "unreadable.onnx")
    p.chmod(0)
    if os.access(p, os.R_OK):  # root reads anything: the documented outcome is a normal run
        return _model_case("unreadable", p, "chmod 000, but running as root: readable, so the "
                           "(valid) model is inspected normally", RAN)
    return _model_case("unreadable", p, "chmod 000", mentions="cannot read")


def protobuf_cases(d: Path) -> list[Case]:
    """Valid protobuf that is not a model, and models that fail the checker or the runtime."""
    from onnx import helper, numpy_helper

    base = om.gemm_act()
    tensor = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8), "t")
    (d / "tensor_proto.onnx").write_bytes(tensor.SerializeToString())
    (d / "graph_proto.onnx").write_bytes(base.graph.SerializeToString())
    (d / "node_proto.onnx").write_bytes(base.graph.node[1].SerializeToString())
    no_ir = om.gemm_act()
    no_ir.ir_version = 0
    future_ir = om.gemm_act()
    future_ir.ir_version = 99
    odd_dims = om.gemm_act()
    odd_dims.graph.initializer[0].ClearField("raw_data")
    del odd_dims.graph.initializer[0].dims[:]
    odd_dims.graph.initializer[0].dims.extend([0, 2**62])
    no_graph = helper.make_model(helper.make_graph([], "g", [], []))
    no_graph.ClearField("graph")
    files = {
        "no_ir_version": (no_ir, "a model with ir_version 0"),
        "future_ir": (future_ir, "ir_version 99"),
        "no_graph": (no_graph, "a ModelProto without a graph"),
        "checker_fail": (om.dangling_input(), "fails onnx.checker (undefined input)"),
        "impossible_dims": (odd_dims, "an initializer declared [0, 2^62]: numpy cannot hold it"),
        "unknown_op": (om.op_model("FrobnicateAll"), "unknown op in the default domain"),
        "unknown_domain": (om.op_model("Frob", "com.example.evil"), "op from an unknown domain"),
        "future_opset": (om.op_model("Relu", opset=99), "opset 99, newer than the runtime"),
        "string_input": (om.string_input(), "a string input: no synthetic data possible"),
    }
    cases = [
        _model_case("tensor_proto", d / "tensor_proto.onnx", "a serialized TensorProto"),
        _model_case("graph_proto", d / "graph_proto.onnx", "a serialized GraphProto"),
        _model_case("node_proto", d / "node_proto.onnx", "a serialized NodeProto"),
    ]
    for name, (m, why) in files.items():
        cases.append(_model_case(name, om.save(m, d / f"{name}.onnx"), why))
    return cases


def external_cases(d: Path) -> list[Case]:
    """External data: missing, escaping the model's folder (../, absolute, symlink), and fine."""
    inner = d / "ext"
    secret = d / "secret_weights.bin"  # outside `inner`, and it exists: refusal is not "missing"
    secret.write_bytes(om.weight_bytes())
    (inner / "w.bin").parent.mkdir(parents=True, exist_ok=True)
    (inner / "w.bin").write_bytes(om.weight_bytes())
    link = inner / "link.bin"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(secret)
    specs = {
        "ext_missing": ("nowhere.bin", "external data file absent", "missing"),
        "ext_dotdot": ("../secret_weights.bin", "location ../ escapes the folder", "outside"),
        "ext_absolute": (str(secret), "absolute location", "absolute"),
        "ext_symlink": ("link.bin", "a symlink inside pointing outside", "outside"),
        "ext_subdir_escape": ("sub/../../secret_weights.bin", "sub/../../ escape", "outside"),
    }
    cases = [_model_case(n, om.save(om.external(loc), inner / f"{n}.onnx"), why, mentions=word)
             for n, (loc, why, word) in specs.items()]
    ok = om.save(om.external("w.bin"), inner / "ext_ok.onnx")
    cases.append(_model_case("ext_ok", ok, "control: external data inside the folder", RAN))
    return cases


def resource_cases(d: Path) -> list[Case]:
    """Declared sizes that would exhaust memory: refused before anything is allocated."""
    sample = SAMPLES / "mlp_sigmoid_badinit.onnx"
    dyn = om.save(om.dynamic(), d / "dynamic.onnx")
    return [
        _model_case("huge_initializer", om.save(om.huge_initializer(), d / "huge_init.onnx"),
                    "a 10^6 x 10^6 initializer with no data", mentions="memory budget"),
        _model_case("huge_input", om.save(om.huge_input(), d / "huge_input.onnx"),
                    "an input declared 10^9 x 10^9"),
        _model_case("huge_input_shape", dyn, "--input-shape asks for 4 x 10^9", FAIL,
                    "--input-shape", "x=4x1000000000"),
        _model_case("input_over_budget", dyn, "--input-shape x=4x262144 (4 MiB a batch) over "
                    "--memory-budget 8MB", FAIL, "--input-shape", "x=4x262144",
                    "--memory-budget", "8MB", mentions="memory budget"),
        _model_case("tiny_budget", sample, "--memory-budget 1KB below the weights' size", FAIL,
                    "--memory-budget", "1KB", mentions="memory budget"),
    ]


def numeric_cases(d: Path) -> list[Case]:
    """Numerical trouble and constructs saturate cannot measure: data, not errors."""
    specs = {
        "nan_log": (om.nan_log(), "Log of negatives: NaN into a Sigmoid", ("SAT301",), ()),
        "inf_div": (om.inf_div(), "x / 0: Inf into a Sigmoid", ("SAT301",), ()),
        "constant": (om.gemm_act(), "all-zero synthetic input: std 0", ("SAT302",),
                     ("--synthetic", "zeros")),
        "if_subgraph": (om.if_model(), "Sigmoid/Tanh inside If branches (taken one measured)",
                        ("SAT901",), ()),
        "loop_subgraph": (om.loop_model(), "Sigmoid inside a Loop body", ("SAT901",), ()),
        "lstm": (om.lstm(), "LSTM gates fused in the kernel", ("SAT901",), ()),
        "fp16_overflow": (om.fp16_overflow(), "float16 overflow: Inf into a Tanh", ("SAT301",),
                          ()),
        "never_fired": (om.empty_slice(), "a Sigmoid fed by an empty slice", ("SAT902",), ()),
        "qdq_relu": (om.qdq_relu(), "Quantize/DequantizeLinear around a Relu", (), ()),
        "qlinear_matmul": (om.qlinear_matmul(), "QLinearMatMul then a Sigmoid", (), ()),
    }
    cases = [_model_case(n, om.save(m, d / f"{n}.onnx"), why, RAN, *extra, codes=codes)
             for n, (m, why, codes, extra) in specs.items()]
    cases.append(_model_case("no_activation", om.save(om.no_activation(), d / "no_act.onnx"),
                             "a graph without any activation: nothing measured is not clean",
                             (1,), note="no activation", codes=("SAT903",)))
    return cases


def groups():
    """Every case group, in order; the torch and calibration groups live in their modules."""
    from hostile.calib_cases import calibration_cases
    from hostile.pickle_cases import torch_cases

    return [file_cases, protobuf_cases, external_cases, resource_cases, numeric_cases,
            calibration_cases, torch_cases]


def build_corpus(directory: Path) -> list[Case]:
    """Write every case's files under `directory` (created) and return the cases."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cases = []
    for group in groups():
        sub = directory / group.__name__.replace("_cases", "")
        sub.mkdir(exist_ok=True)
        cases.extend(group(sub))
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out = Path(argv[0])
    cases = build_corpus(out)
    (out / "manifest.json").write_text(json.dumps([asdict(c) for c in cases], indent=1))
    print(f"{len(cases)} cases written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
