"""The Python API as a user calls it (ONNX: runs without torch)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import saturate_cli as sat
from conftest import SAMPLES, run_cli

MLP = SAMPLES / "mlp_sigmoid_badinit.onnx"


def _data(n: int = 48) -> np.ndarray:
    return np.random.default_rng(3).standard_normal((n, 784)).astype(np.float32)


def _pre_activation(x: np.ndarray) -> np.ndarray:
    """The first sigmoid's input computed independently, in float64 from the initializers."""
    model = onnx.load(str(MLP))
    inits = {i.name: onnx.numpy_helper.to_array(i).astype(np.float64) for i in
             model.graph.initializer}
    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    w, b = inits[gemm.input[1]], inits[gemm.input[2]]
    trans = {a.name: a.i for a in gemm.attribute}.get("transB", 0)
    return x.astype(np.float64) @ (w.T if trans else w) + b


def test_path_proto_and_array_agree_with_float64_truth(tmp_path):
    x = _data()
    np.save(tmp_path / "x.npy", x)
    by_path = sat.inspect(str(MLP), calibration=tmp_path / "x.npy")
    by_proto = sat.inspect(onnx.load(str(MLP)), calibration=x)
    by_batches = sat.inspect(MLP, calibration=[x[:16], x[16:32], x[32:]])
    by_dict = sat.inspect(MLP, calibration={"x": x})
    truth = _pre_activation(x)
    for report in (by_path, by_proto, by_batches, by_dict):
        s = report.site("/sigmoid1/Sigmoid")
        assert s.stats["count"] == truth.size
        np.testing.assert_allclose([s.stats["mean"], s.stats["std"], s.stats["min"],
                                    s.stats["max"]], [truth.mean(), truth.std(), truth.min(),
                                                      truth.max()], rtol=1e-5)
        high = s.saturation["high"]
        assert s.saturation["fraction_high"] == pytest.approx((truth >= high).mean(), abs=1e-4)
        assert report.exit_code == 1 and report.status == "error"
    assert by_proto.model["path"] == "<ModelProto>" and by_proto.model["sha256"] is None
    assert by_proto.calibration["source"] == "memory" and by_proto.calibration["samples"] == 48
    assert by_path.model["sha256"] is not None


def test_api_report_equals_the_cli_json(tmp_path):
    np.save(tmp_path / "x.npy", _data())
    cli = json.loads(run_cli("inspect", str(MLP), "-c", str(tmp_path / "x.npy"), "-f",
                             "json", "--tau", "0.02").stdout)
    api = json.loads(sat.inspect(str(MLP), calibration=str(tmp_path / "x.npy"),
                                 tau=0.02).to_json())
    assert api["sites"] == cli["sites"] and api["summary"] == cli["summary"]


def test_options_are_settings_fields():
    report = sat.inspect(MLP, calibration=_data(), select="SAT1", fail_on="never")
    assert report.exit_code == 0 and all(f.code.startswith("SAT1") for f in report.findings)
    with pytest.raises(sat.SaturateError, match="unknown option"):
        sat.inspect(MLP, taux=0.1)
    with pytest.raises(sat.SaturateError, match="unknown rule selector"):
        sat.inspect(MLP, ignore=["SAT999"])


def test_bad_input_raises_the_packages_error_with_the_cli_message(tmp_path):
    missing = tmp_path / "nope.onnx"
    with pytest.raises(sat.SaturateError) as caught:
        sat.inspect(str(missing))
    cli = run_cli("inspect", str(missing))
    assert cli.exit_code == 2 and str(caught.value) in cli.stderr
    with pytest.raises(sat.SaturateError, match="not a model"):
        sat.inspect(b"\x08\x07garbage")
    with pytest.raises(sat.SaturateError, match="no data for input|unknown array"):
        sat.inspect(MLP, calibration={"y": _data(), "z": _data()})
    with pytest.raises(sat.SaturateError, match="not an array"):
        sat.inspect(MLP, calibration=[{"x": object()}])
    with pytest.raises(sat.SaturateError, match="no calibration data|no usable"):
        sat.inspect(MLP, calibration=iter([]))


def test_site_lookup_and_json():
    report = sat.inspect(MLP, samples=32)
    assert report.site("/sigmoid2/Sigmoid").kind == "sigmoid"
    with pytest.raises(KeyError, match="did you mean"):
        report.site("/sigmoid2/Sigmoidd")
    assert json.loads(report.to_json()) == report.to_dict()


def test_a_generator_is_read_once_even_when_the_batch_is_halved(monkeypatch):
    """A one-shot iterator still gives every sample when the memory budget halves the batch."""
    from saturate_cli.model.onnx.handle import OnnxModel

    monkeypatch.setattr(OnnxModel, "estimate_peak",
                        lambda self, shapes: 10**12 if shapes["x"][0] > 16 else 1)
    x = _data(64)
    report = sat.inspect(MLP, calibration=(x[i:i + 8] for i in range(0, 64, 8)), batch_size=64)
    assert report.calibration["samples"] == 64 and report.calibration["batches"] == 4
    assert any("lowered from 64 to 16" in n for n in report.notes)
    truth = _pre_activation(x)
    assert report.site("/sigmoid1/Sigmoid").stats["mean"] == pytest.approx(truth.mean())


def test_engine_options_are_honoured_or_refused():
    with pytest.raises(sat.SaturateError, match="partial state"):
        sat.inspect(MLP, shard=(0, 2))
    with pytest.raises(sat.SaturateError, match="give both as paths"):
        sat.inspect(onnx.load(str(MLP)), workers=2)


def test_fix_writes_a_model_whose_pre_activations_are_back_in_range(tmp_path):
    out = tmp_path / "fixed.onnx"
    run = sat.fix(str(MLP), out, samples=40, batch_size=8)
    assert run.ok and run.before.counts()["error"] == 4 and run.after.counts()["error"] == 0
    assert [p["remedy"] for p in run.plan] == ["xavier_rescale"] * 4
    fixed = onnx.load(str(out))
    inits = {i.name: onnx.numpy_helper.to_array(i).astype(np.float64)
             for i in fixed.graph.initializer}
    gemm = next(n for n in fixed.graph.node if n.op_type == "Gemm")
    trans = {a.name: a.i for a in gemm.attribute}.get("transB", 0)
    w, b = inits[gemm.input[1]], inits[gemm.input[2]]
    pre = _data(256).astype(np.float64) @ (w.T if trans else w) + b
    assert 0.5 < pre.std() < 2.0  # was 28: the sigmoid's sweet range again
    assert sat.inspect(out).counts()["error"] == 0
    with pytest.raises(sat.SaturateError, match="as a path"):
        sat.fix(onnx.load(str(MLP)))
