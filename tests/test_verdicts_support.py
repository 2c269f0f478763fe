"""Builders for the verdict tests: small ONNX graphs, their calibration data, one inspection."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from saturate_cli.pipeline import inspect_model
from saturate_cli.settings import Settings

N = 256


def save(path, nodes, inputs: dict, output_shape, inits: dict) -> str:
    """Save a graph: inputs {name: shape}, one float output "y", initializers {name: array}."""
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
                     for n, s in inputs.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)],
        [numpy_helper.from_array(_typed(v), k) for k, v in inits.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def _typed(v) -> np.ndarray:
    v = np.asarray(v)
    return v.astype(np.int64) if np.issubdtype(v.dtype, np.integer) else v.astype(np.float32)


def gemm_act(path, w, b, act: str) -> str:
    """x[N, IN] -> Gemm(w, b, transB=1) -> act."""
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
             helper.make_node(act, ["h"], ["y"], name="act")]
    return save(path, nodes, {"x": ["batch", w.shape[1]]}, ["batch", w.shape[0]], {"w": w, "b": b})


def inspect(model: str, tmp_path, **arrays):
    """Inspect with the given calibration arrays (the whole data, batches of 64); JSON dict."""
    data = tmp_path / "calib.npz"
    np.savez(data, **{k: v.astype(np.float32) for k, v in arrays.items()})
    n = len(next(iter(arrays.values())))
    return inspect_model(model, Settings(calibration=(str(data),), samples=n, batch_size=64))


def site(report, i: int = 0) -> dict:
    return report.to_dict()["sites"][i]


def finding(site_dict: dict, code: str) -> dict:
    (found,) = [f for f in site_dict["findings"] if f["code"] == code]
    return found


def tips(found: dict, kind: str) -> list:
    return [s for s in found["suggestions"] if s["kind"] == kind]
