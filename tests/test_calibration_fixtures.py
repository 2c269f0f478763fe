"""Helpers for the calibration tests: tiny ONNX models and data files (no tests here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.calibration import make_batches
from saturate_cli.model.load import load_model
from saturate_cli.settings import Settings


def save_model(path: Path, nodes, inputs, initializers=()) -> Path:
    """A model whose output is 'y' (float); every graph here ends in a Sigmoid site."""
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
                              list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def two_input_model(tmp: Path) -> Path:
    """a [batch, 4] and b [batch, 3] float32 -> Concat -> MatMul -> Sigmoid."""
    w = numpy_helper.from_array(np.full((7, 5), 0.1, np.float32), "w")
    nodes = [helper.make_node("Concat", ["a", "b"], ["ab"], axis=1),
             helper.make_node("MatMul", ["ab", "w"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["y"])]
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4]),
              helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 3])]
    return save_model(tmp / "two_input.onnx", nodes, inputs, [w])


def sigmoid_of_sum(names: list[str]) -> list:
    """Nodes adding the tensors `names` one by one, then a Sigmoid on the total (output y)."""
    nodes, total = [], names[0]
    for i, other in enumerate(names[1:]):
        nodes.append(helper.make_node("Add", [total, other], [f"sum{i}"]))
        total = f"sum{i}"
    return nodes + [helper.make_node("Sigmoid", [total], ["y"])]


def typed_model(tmp: Path, inputs: dict) -> Path:
    """Inputs {name: (TensorProto type, shape)}, each Cast to float, summed, then Sigmoid."""
    nodes = [helper.make_node("Cast", [name], [f"{name}_f"], to=TensorProto.FLOAT)
             for name in inputs]
    nodes += sigmoid_of_sum([f"{name}_f" for name in inputs])
    infos = [helper.make_tensor_value_info(n, elem, shape) for n, (elem, shape) in inputs.items()]
    return save_model(tmp / "typed.onnx", nodes, infos)


def nhwc_model(tmp: Path) -> Path:
    """x [batch, 8, 8, 3] float32 (channels last) -> Sigmoid."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 8, 3])
    return save_model(tmp / "nhwc.onnx", [helper.make_node("Sigmoid", ["x"], ["y"])], [x])


def batches_for(model: Path, **settings):
    """(list of batches, CalibrationInfo) that make_batches gives for a model's inputs."""
    s = Settings(**settings)
    handle = load_model(str(model), s)
    stream, info = make_batches(handle.inputs, s)
    return list(stream), info


def joined(batches: list[dict], name: str) -> np.ndarray:
    """One input's batches concatenated along the batch axis."""
    return np.concatenate([b[name] for b in batches])


def write_pb(path: Path, array: np.ndarray, name: str = "") -> Path:
    """An ONNX TensorProto file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(numpy_helper.from_array(array, name).SerializeToString())
    return path
