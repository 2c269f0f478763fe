"""Tiny ONNX graphs for the hostile corpus, built with onnx.helper (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
FLOAT = TensorProto.FLOAT


def model(nodes, inputs, outputs, inits=(), opset: int = OPSET, domains=(), ir: int = 8,
          check: bool = True) -> onnx.ModelProto:
    """A model from parts; checked unless the case is meant to fail the checker."""
    graph = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), list(inits))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    m = helper.make_model(graph, opset_imports=imports, producer_name="hostile-corpus")
    m.ir_version = ir
    if check:
        onnx.checker.check_model(m)
    return m


def vi(name: str, shape, elem: int = FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, list(shape))


def weight(name: str, rows: int, cols: int, seed: int = 0) -> onnx.TensorProto:
    w = np.random.default_rng(seed).standard_normal((rows, cols)).astype(np.float32)
    return numpy_helper.from_array((w / np.sqrt(rows)).astype(np.float32), name)


def gemm_act(act: str = "Sigmoid", features: int = 8) -> onnx.ModelProto:
    """x[batch, 8] -> Gemm -> act -> y: the well-formed base most cases start from."""
    return model(
        [helper.make_node("Gemm", ["x", "w"], ["h"], name="fc"),
         helper.make_node(act, ["h"], ["y"], name="act")],
        [vi("x", ["batch", features])], [vi("y", ["batch", features])],
        [weight("w", features, features)])


def no_activation() -> onnx.ModelProto:
    return model([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc")],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 8])], [weight("w", 8, 8)])


def op_model(op: str, domain: str = "", **kw) -> onnx.ModelProto:
    """x -> <domain.op> -> Sigmoid -> y."""
    return model(
        [helper.make_node(op, ["x"], ["h"], name="odd", domain=domain),
         helper.make_node("Sigmoid", ["h"], ["y"], name="act")],
        [vi("x", ["batch", 8])], [vi("y", ["batch", 8])],
        domains=[domain] if domain else (), check=False, **kw)


def dangling_input() -> onnx.ModelProto:
    """Fails onnx.checker: a node reads a tensor nothing defines."""
    return model([helper.make_node("Add", ["x", "ghost"], ["h"]),
                  helper.make_node("Sigmoid", ["h"], ["y"])],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 8])], check=False)


def huge_initializer() -> onnx.ModelProto:
    """Declares a 10^6 x 10^6 float weight (4 TB) and carries no data at all."""
    w = TensorProto(name="w", data_type=FLOAT, dims=[10**6, 10**6])
    return model([helper.make_node("MatMul", ["x", "w"], ["h"]),
                  helper.make_node("Sigmoid", ["h"], ["y"])],
                 [vi("x", ["batch", 10**6])], [vi("y", ["batch", 10**6])], [w], check=False)


def huge_input() -> onnx.ModelProto:
    """An input declared 10^9 x 10^9: synthetic data must never be allocated for it."""
    return model([helper.make_node("Sigmoid", ["x"], ["y"])],
                 [vi("x", [10**9, 10**9])], [vi("y", [10**9, 10**9])])


def string_input() -> onnx.ModelProto:
    """A string input: no synthetic data can be made for it."""
    return model([helper.make_node("Cast", ["s"], ["h"], to=FLOAT),
                  helper.make_node("Sigmoid", ["h"], ["y"])],
                 [vi("s", ["batch", 8], TensorProto.STRING)], [vi("y", ["batch", 8])])


def nan_log() -> onnx.ModelProto:
    """Log of a normal sample is NaN for every negative value: NaN reaches the Sigmoid."""
    return model([helper.make_node("Log", ["x"], ["h"]), helper.make_node("Sigmoid", ["h"], ["y"])],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 8])])


def inf_div() -> onnx.ModelProto:
    """x / 0 = +-Inf before a Sigmoid."""
    zero = numpy_helper.from_array(np.zeros((8,), np.float32), "zero")
    return model([helper.make_node("Div", ["x", "zero"], ["h"]),
                  helper.make_node("Sigmoid", ["h"], ["y"])],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 8])], [zero])


def _branch(name: str, act: str) -> onnx.GraphProto:
    return helper.make_graph([helper.make_node(act, ["x"], [f"{name}_out"], name=f"{name}_act")],
                             name, [], [vi(f"{name}_out", ["batch", 8])])


def if_model() -> onnx.ModelProto:
    """An If whose branches hold a Sigmoid and a Tanh (outer-scope x), plus a measurable Relu."""
    cond = numpy_helper.from_array(np.array(True), "cond")
    return model([helper.make_node("If", ["cond"], ["h"], name="branch",
                                   then_branch=_branch("then", "Sigmoid"),
                                   else_branch=_branch("else", "Tanh")),
                  helper.make_node("Relu", ["h"], ["y"], name="relu")],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 8])], [cond])


def loop_model() -> onnx.ModelProto:
    """A Loop running a Sigmoid three times on its carried state."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Sigmoid", ["s_in"], ["s_out"], name="body_sigmoid")],
        "body", [vi("i", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL),
                 vi("s_in", ["batch", 8])],
        [vi("cond_out", [], TensorProto.BOOL), vi("s_out", ["batch", 8])])
    inits = [numpy_helper.from_array(np.array(3, np.int64), "trips"),
             numpy_helper.from_array(np.array(True), "go")]
    return model([helper.make_node("Loop", ["trips", "go", "x"], ["y"], name="loop", body=body)],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 8])], inits)


def qdq_relu() -> onnx.ModelProto:
    """QuantizeLinear -> DequantizeLinear -> Relu -> QuantizeLinear -> DequantizeLinear."""
    scale = numpy_helper.from_array(np.array(0.05, np.float32), "scale")
    zp = numpy_helper.from_array(np.array(0, np.int8), "zp")
    return model([helper.make_node("QuantizeLinear", ["x", "scale", "zp"], ["q"]),
                  helper.make_node("DequantizeLinear", ["q", "scale", "zp"], ["dq"]),
                  helper.make_node("Relu", ["dq"], ["r"], name="relu"),
                  helper.make_node("QuantizeLinear", ["r", "scale", "zp"], ["q2"]),
                  helper.make_node("DequantizeLinear", ["q2", "scale", "zp"], ["y"])],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 8])], [scale, zp])


def qlinear_matmul() -> onnx.ModelProto:
    """uint8 QLinearMatMul, dequantized, then a Sigmoid."""
    scalar = numpy_helper.from_array
    w = np.random.default_rng(1).integers(0, 255, (8, 8), dtype=np.uint8)
    inits = [scalar(np.array(0.02, np.float32), "s"), scalar(np.array(128, np.uint8), "z"),
             scalar(w, "wq")]
    return model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
                  helper.make_node("QLinearMatMul", ["xq", "s", "z", "wq", "s", "z", "s", "z"],
                                   ["hq"], name="qmm"),
                  helper.make_node("DequantizeLinear", ["hq", "s", "z"], ["h"]),
                  helper.make_node("Sigmoid", ["h"], ["y"], name="act")],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 8])], inits)


def lstm() -> onnx.ModelProto:
    """A one-layer LSTM: its gate activations are fused in the kernel (not covered)."""
    rng = np.random.default_rng(2)
    w = numpy_helper.from_array(rng.standard_normal((1, 16, 8)).astype(np.float32) * 0.3, "W")
    r = numpy_helper.from_array(rng.standard_normal((1, 16, 4)).astype(np.float32) * 0.3, "R")
    return model([helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=4, name="lstm"),
                  helper.make_node("Tanh", ["y"], ["z"], name="tanh")],
                 [vi("x", [5, "batch", 8])], [vi("z", [5, 1, "batch", 4])], [w, r])


def external(location: str) -> onnx.ModelProto:
    """gemm_act whose weight lives in external data at `location` (no bytes inside)."""
    m = gemm_act()
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(8 * 8 * 4))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    return m


def weight_bytes() -> bytes:
    """The raw bytes gemm_act's weight has, for external-data files that are in place."""
    return numpy_helper.to_array(gemm_act().graph.initializer[0]).tobytes()


def save(m: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(m.SerializeToString())
    return path


def plain(act: str = "Sigmoid", elem: int = FLOAT, name: str = "x") -> onnx.ModelProto:
    """x -> act -> y, nothing else: what the calibration cases feed."""
    nodes = [helper.make_node(act, [name], ["y"], name="act")]
    if elem != FLOAT:
        nodes = [helper.make_node("Cast", [name], ["xf"], to=FLOAT),
                 helper.make_node(act, ["xf"], ["y"], name="act")]
    return model(nodes, [vi(name, ["batch", 8], elem)], [vi("y", ["batch", 8])])


def two_inputs() -> onnx.ModelProto:
    """a + b -> Sigmoid: calibration files must name both inputs."""
    return model([helper.make_node("Add", ["a", "b"], ["h"]),
                  helper.make_node("Sigmoid", ["h"], ["y"], name="act")],
                 [vi("a", ["batch", 8]), vi("b", ["batch", 8])], [vi("y", ["batch", 8])])


def dynamic() -> onnx.ModelProto:
    """x[batch, n] -> Sigmoid: every dim symbolic, sized by --input-shape."""
    return model([helper.make_node("Sigmoid", ["x"], ["y"], name="act")],
                 [vi("x", ["batch", "n"])], [vi("y", ["batch", "n"])])


def empty_slice() -> onnx.ModelProto:
    """A Sigmoid fed by an empty slice of x: the site never sees a value."""
    ints = [numpy_helper.from_array(np.array([v], np.int64), n)
            for n, v in (("starts", 0), ("ends", 0), ("axes", 1))]
    return model([helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["h"]),
                  helper.make_node("Sigmoid", ["h"], ["y"], name="act")],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 0])], ints)


def fp16_overflow() -> onnx.ModelProto:
    """float32 x * 1e6 cast to float16 overflows to +-Inf before a Tanh."""
    big = numpy_helper.from_array(np.array(1e6, np.float32), "big")
    f16 = TensorProto.FLOAT16
    return model([helper.make_node("Mul", ["x", "big"], ["h"]),
                  helper.make_node("Cast", ["h"], ["h16"], to=f16),
                  helper.make_node("Tanh", ["h16"], ["y"], name="act")],
                 [vi("x", ["batch", 8])], [vi("y", ["batch", 8], f16)], [big])
