"""`saturate fix` on PyTorch models, against eager torch runs of the original and the ONNX fix."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import SAMPLES, run_cli

torch = pytest.importorskip("torch")
sys.path.insert(0, str(SAMPLES))
import models  # noqa: E402 - the sample factories

MLP_FACTORY = f"{SAMPLES}/models.py:build_mlp_sigmoid_badinit"
CNN_FACTORY = f"{SAMPLES}/models.py:build_cnn_relu_deadbias"
CNN_WEIGHTS = str(SAMPLES / "cnn_relu_deadbias.state_dict.pt")


def _fix(target, out, *extra):
    result = run_cli("fix", target, "-o", str(out), "-f", "json", "-q", *extra)
    assert result.exit_code in (0, 1), result.stderr
    return result, json.loads(result.stdout)


def _factors(summary) -> list:
    return [(c["tensors"], c["factor"]) for c in summary["plan"]]


def test_sigmoid_mlp_rescale_factors_equal_onnx_and_every_pytorch_form(tmp_path):
    _, onnx_fix = _fix(str(SAMPLES / "mlp_sigmoid_badinit.onnx"), tmp_path / "f.onnx",
                       "-n", "64")
    expected = [f for _, f in _factors(onnx_fix)]
    assert len(expected) == 4
    state = tmp_path / "fixed.pt"
    result, summary = _fix(MLP_FACTORY, state, "-n", "64")
    assert result.exit_code == 0
    np.testing.assert_allclose([f for _, f in _factors(summary)], expected, rtol=1e-4)
    assert _factors(summary)[0][0] == ["fc1.weight", "fc1.bias"]
    # the state dict, loaded into the factory, is the original times the factors (eager torch)
    original, fixed = models.build_mlp_sigmoid_badinit(), models.build_mlp_sigmoid_badinit()
    fixed.load_state_dict(torch.load(state, weights_only=True))
    for (_, k), layer in zip(_factors(summary), ["fc1", "fc2", "fc3", "fc4"]):
        w0, w1 = getattr(original, layer).weight, getattr(fixed, layer).weight
        torch.testing.assert_close(w1, w0 * k, rtol=1e-5, atol=1e-7)
    x = torch.randn(64, 784, generator=torch.Generator().manual_seed(3))
    for form, load in (("pt2", lambda p: torch.export.load(p).module()),
                       ("ts", torch.jit.load)):
        out = tmp_path / f"fixed.{form}"
        _, other = _fix(str(SAMPLES / f"mlp_sigmoid_badinit.{form}"), out, "-n", "64")
        np.testing.assert_allclose([f for _, f in _factors(other)], expected, rtol=1e-4)
        with torch.no_grad():
            torch.testing.assert_close(load(str(out))(x), fixed(x), rtol=1e-4, atol=1e-5)
    pre = (x @ fixed.fc1.weight.T + fixed.fc1.bias).double()
    assert (pre.abs() >= 4.3565).double().mean() < 0.01  # sigmoid's tails, computed here


def test_state_dict_kept_as_safetensors_and_never_in_place(tmp_path):
    from safetensors.torch import load_file, save_file

    weights = tmp_path / "w.safetensors"
    save_file(models.build_cnn_relu_deadbias().state_dict(), str(weights))
    out = tmp_path / "fixed.safetensors"
    result, summary = _fix(CNN_FACTORY, out, "--weights", str(weights), "-n", "16", "-b", "8")
    assert result.exit_code == 0 and summary["plan"][0]["tensors"] == ["conv1.bias"]
    b = load_file(str(out))["conv1.bias"]
    assert torch.all(b[:6] > -1) and torch.equal(load_file(str(weights))["conv1.bias"][6:],
                                                 b[6:])
    same = run_cli("fix", CNN_FACTORY, "--weights", str(weights), "-o", str(weights))
    assert same.exit_code == 2 and "overwrite" in same.stderr
    bare = run_cli("fix", CNN_FACTORY, "--in-place", "-n", "16")
    assert bare.exit_code == 2 and "--weights" in bare.stderr
    before = weights.read_bytes()
    assert run_cli("fix", CNN_FACTORY, "--weights", str(weights), "--in-place", "-n", "16",
                   "-b", "8", "-q").exit_code == 0
    assert weights.read_bytes() != before


def _alive(model, x) -> np.ndarray:
    """Per conv1 channel: the share of positive pre-activations (eager torch)."""
    with torch.no_grad():
        return (model.conv1(x) > 0).double().mean(dim=(0, 2, 3)).numpy()


@pytest.mark.parametrize("form", ["factory", pytest.param("pt2", marks=pytest.mark.slow),
                                  pytest.param("ts", marks=pytest.mark.slow)])
def test_recycling_keeps_outputs_and_training_revives_units(tmp_path, form):
    out = tmp_path / ("fixed.pt" if form == "factory" else f"fixed.{form}")
    target = CNN_FACTORY if form == "factory" else str(SAMPLES / f"cnn_relu_deadbias.{form}")
    extra = ("--weights", CNN_WEIGHTS) if form == "factory" else ()
    result, summary = _fix(target, out, "--recycle", "-n", "32", *extra)
    assert result.exit_code == 0, summary["skipped"]
    assert [c["units"] for c in summary["plan"]] == [[0, 1, 2, 3, 4, 5], [3, 7]]
    assert all(d["max_abs"] == 0 for d in summary["deviations"])
    original, fixed = models.build_cnn_relu_deadbias(), models.build_cnn_relu_deadbias()
    if form == "factory":
        fixed.load_state_dict(torch.load(out, weights_only=True))
    elif form == "pt2":
        fixed.load_state_dict(torch.export.load(str(out)).module().state_dict())
    else:
        fixed.load_state_dict(torch.jit.load(str(out)).state_dict())
    x = torch.randn(32, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(fixed(x), original(x), rtol=0, atol=1e-5)
    assert np.all(_alive(original, x)[:6] == 0) and np.all(_alive(fixed, x)[:6] > 0.2)
    assert torch.all(fixed.conv2.weight[:, :6][[r for r in range(32) if r not in (3, 7)]] == 0)
    # a few training steps: the outgoing weights of the recycled units grow from zero
    fixed.train()
    opt = torch.optim.SGD(fixed.parameters(), lr=0.05)
    target_y = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(5))
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(fixed(x), target_y).backward()
        opt.step()
    fixed.eval()
    assert np.all(_alive(fixed, x)[:6] > 0.2)
    assert torch.all(fixed.conv2.weight[:, :6].abs().sum(dim=(0, 2, 3)) > 0)
    assert torch.all(fixed.fc.weight[:, [3, 7]].abs().sum(dim=0) > 0)


def test_preserve_norm_replaces_the_module_and_keeps_outputs(tmp_path):
    pickled = tmp_path / "whole.pt"
    torch.save(models.build_cnn_relu_deadbias(), pickled)
    out = tmp_path / "fixed.pt"
    result, summary = _fix(str(pickled), out, "--norm", "preserve", "--trust-pickle",
                           "-n", "16", "-b", "8")
    assert [c["site"] for c in summary["plan"]] == ["relu1"]
    skipped = {s["site"]: s["reason"] for s in summary["skipped"]}
    assert "F.relu" not in skipped[":relu#0"] and "relu(self.norm(x))" in skipped[":relu#0"]
    fixed = torch.load(out, weights_only=False)
    assert isinstance(fixed.relu1, torch.nn.Sequential)
    assert isinstance(fixed.relu1[0], torch.nn.BatchNorm2d)
    x = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(fixed(x), models.build_cnn_relu_deadbias()(x), rtol=1e-5,
                                   atol=1e-5)
    assert summary["within_tolerance"] and summary["preserving"]
