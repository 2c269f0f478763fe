"""Issue #15: the code the HTML report shows for a rescale does what its finding says, run on
the PyTorch model the ONNX sample was exported from (pre-activation std measured here)."""

from __future__ import annotations

import html
import importlib.util
import re

import pytest

torch = pytest.importorskip("torch")

from saturate_cli.render.html import render  # noqa: E402
from test_formats_support import SAMPLES, sample_reports  # noqa: E402

__all__ = ["sample_reports"]


def _factory(name: str):
    spec = importlib.util.spec_from_file_location("sample_models_models", SAMPLES / "models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_rescale_code_brings_the_pre_activation_std_to_its_target(sample_reports):
    report = sample_reports["mlp_sigmoid_badinit"]
    document = render([report])
    blocks = [html.unescape(b) for b in re.findall(r"<pre><code>(.*?)</code></pre>", document,
                                                   re.S)]
    code = next(b for b in blocks if "get_submodule('fc1')" in b and "mul_" in b)
    model = _factory("build_mlp_sigmoid_badinit")()
    x = torch.randn(4096, 784, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model.fc1(x).std().item()
    exec(code, {"model": model, "torch": torch, "nn": torch.nn})  # noqa: S102 - our own output
    with torch.no_grad():
        after = model.fc1(x).std().item()
    target = report.sites[0].findings[0].suggestions[0]["target_pre_activation_std"]
    assert before > 10 * target
    assert after == pytest.approx(target, rel=0.1)


def test_bias_shift_code_recentres_the_dead_units(sample_reports):
    report = sample_reports["cnn_relu_deadbias"]
    site = report.sites[0]
    tip = next(t for f in site.findings for t in f.suggestions if t["kind"] == "shift_bias")
    document = render([report])
    blocks = [html.unescape(b) for b in re.findall(r"<pre><code>(.*?)</code></pre>", document,
                                                   re.S)]
    code = next(b for b in blocks if "+= torch.tensor" in b)
    model = _factory("build_cnn_relu_deadbias")()
    layer = model.get_submodule(site.producer["layer"])
    x = torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    units = tip["units"]
    with torch.no_grad():
        before = layer(x).mean(dim=(0, 2, 3))[units]
    exec(code, {"model": model, "torch": torch, "nn": torch.nn})  # noqa: S102 - our own output
    with torch.no_grad():
        after = layer(x).mean(dim=(0, 2, 3))[units]
    assert (before < -10).all()  # dead: far below zero
    assert after.abs().max().item() < 0.1 * before.abs().min().item()
