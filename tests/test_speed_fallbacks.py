"""Old opsets and fallbacks cost only the models that need them: a model onnxruntime runs is
measured without converting it, without the reference evaluator (not even imported) and
without the exposed-tensor path. Fresh interpreters (this process's modules are polluted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import SAMPLES

PROBE = """
import json, sys
import onnx.version_converter as vc
from saturate_cli.model.onnx import measurers

calls = []
vc.convert_version = lambda *a, **k: calls.append("convert") or (_ for _ in ()).throw(
    AssertionError("converted"))
exposed = measurers.exposed_measurer
def spy(*a, **k):
    calls.append("exposed")
    return exposed(*a, **k)
measurers.exposed_measurer = spy
import saturate_cli.model.onnx.handle as h
h.exposed_measurer = spy
sys.argv = ["saturate", "inspect", MODEL, "-n", "8", "-b", "4", "--format", "json", "-q"]
from saturate_cli.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"calls": calls, "code": code,
                  "reference": "onnx.reference" in sys.modules}))
"""


def _probe(model) -> dict:
    code = PROBE.replace("MODEL", repr(str(model)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=False)
    lines = [x for x in out.stdout.splitlines() if x.startswith('{"calls"')]
    assert lines, out.stderr[-2000:]
    return json.loads(lines[-1])


@pytest.mark.parametrize("name", ["cnn_relu_deadbias.onnx", "transformer_block.onnx"])
def test_a_model_onnxruntime_runs_takes_no_fallback(name):
    found = _probe(SAMPLES / name)
    assert found["code"] in (0, 1)  # the inspection ran (1: findings)
    assert found["calls"] == []  # no conversion, no exposed-tensor measurement
    assert found["reference"] is False  # onnx.reference never imported


def test_the_probe_sees_a_fallback(tmp_path):
    """The spies work: an opset-8 model (below the in-graph statistics) takes the exposed path."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Sigmoid", ["h"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)])
    model.ir_version = 4
    path = tmp_path / "old.onnx"
    onnx.save(model, str(path))
    found = _probe(path)
    assert found["code"] in (0, 1)
    assert "exposed" in found["calls"]
