"""Synthetic image inputs get image-sized spatial dims; a model that fails at run time gives
one stderr line (onnxruntime's own error log silenced), from a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

from saturate_cli.calibration.synthetic import resolve_shape
from saturate_cli.types import InputSpec


def test_symbolic_image_dims_get_the_image_size():
    nchw = InputSpec("x", ("batch", 3, "h", "w"), "float32")
    nhwc = InputSpec("x", ("batch", "h", "w", 3), "float32")
    seq = InputSpec("ids", ("batch", "seq"), "int64")
    assert resolve_shape(nchw, {}, 8, 16, 224) == (8, 3, 224, 224)
    assert resolve_shape(nhwc, {}, 8, 16, 224) == (8, 224, 224, 3)
    assert resolve_shape(seq, {}, 8, 16, 224) == (8, 16)
    assert resolve_shape(nchw, {"x": (1, 3, 64, 32)}, 8, 16, 224) == (8, 3, 64, 32)


def test_runtime_failure_is_one_line_without_runtime_logs(tmp_path):
    # Reshape to a fixed 5 elements fails for any batch: the error surfaces at inference
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5])],
        [onnx.numpy_helper.from_array(np.array([5], np.int64), "shape")])
    path = tmp_path / "bad_reshape.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "saturate_cli", "inspect", str(path), "-f",
                           "json", "-o", str(out)], capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("saturate: error:") and "bad_reshape.onnx" in lines[0]
    assert "--input-shape" in lines[0] and not out.exists()


def test_device_choices_are_checked(tmp_path):
    import onnxruntime as ort

    from conftest import SAMPLES, run_cli

    model = str(SAMPLES / "softmax_hot.onnx")
    bad = run_cli("inspect", model, "--device", "tpu")
    assert bad.exit_code == 2 and "choose cpu or cuda" in bad.stderr
    cuda = run_cli("inspect", model, "--device", "cuda", "-n", "8")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert cuda.exit_code in (0, 1)
    else:
        assert cuda.exit_code == 2 and "onnxruntime-gpu" in cuda.stderr


def test_a_named_dim_given_for_one_input_sizes_the_others():
    from conftest import SAMPLES

    from saturate_cli.pipeline import inspect_model
    from saturate_cli.settings import Settings

    report = inspect_model(str(SAMPLES / "transformer_block.onnx"),
                           Settings(samples=4, input_shapes={"input_ids": (2, 7)}))
    assert report.calibration["shapes"] == {"input_ids": [4, 7], "attention_mask": [4, 7]}
