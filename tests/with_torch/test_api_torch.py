"""The Python API on PyTorch objects in memory: numbers against forward hooks in float64."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import saturate_cli as sat  # noqa: E402


def _net() -> "torch.nn.Module":
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 5),
                               torch.nn.ReLU())


def _hooked_inputs(model, batches) -> dict:
    """Each activation module's inputs, read by forward hooks of our own, as float64."""
    seen: dict = {}
    handles = [m.register_forward_hook(
        lambda mod, args, out, name=name: seen.setdefault(name, []).append(
            args[0].detach().double().numpy().copy()))
        for name, m in model.named_modules() if isinstance(m, (torch.nn.Tanh, torch.nn.ReLU))]
    with torch.no_grad():
        for b in batches:
            model(b)
    for h in handles:
        h.remove()
    return {k: np.concatenate(v) for k, v in seen.items()}


def _hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("form", ["module", "script", "export"])
def test_in_memory_models_with_a_dataloader_match_hooks(form):
    net = _net().eval()
    x = torch.randn(40, 6) * 3
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(40)),
                                         batch_size=16)
    truth = _hooked_inputs(net, [x])
    model = {"module": net, "script": torch.jit.script(net),
             "export": torch.export.export(net, (x[:2],))}[form]
    report = sat.inspect(model, calibration=loader)
    assert report.calibration["samples"] == 40 and report.calibration["source"] == "memory"
    got = {s.name.split(":")[0].split("#")[0]: s for s in report.sites}
    for name, values in truth.items():
        s = got[name].stats
        assert s["count"] == values.size
        np.testing.assert_allclose([s["mean"], s["std"], s["min"], s["max"]],
                                   [values.mean(), values.std(), values.min(), values.max()],
                                   rtol=1e-5, atol=1e-6)
    relu = got["3"].saturation
    assert relu["units"] == 5
    dead = [int(i) for i in np.nonzero((truth["3"] <= 0).mean(axis=0) >= 0.99)[0]]
    assert relu["dead_unit_indices"] == dead


def test_the_module_is_left_as_it_was():
    net = _net().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    sat.inspect(net, calibration=torch.randn(8, 6))
    assert net.training and _hooks(net) == 0
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    net.eval()
    sat.inspect(net, calibration={"input": np.zeros((4, 6), np.float32)})
    assert not net.training


def test_dict_batches_bind_by_name():
    class Two(torch.nn.Module):
        def forward(self, a, b):
            return torch.sigmoid(a * 10) + torch.tanh(b)

    a, b = np.ones((4, 3), np.float32), np.zeros((4, 3), np.float32)
    report = sat.inspect(Two(), calibration=[{"b": b, "a": a}], input_shapes={"a": (4, 3),
                                                                                 "b": (4, 3)})
    stats = {s.kind: s.stats for s in report.sites}
    assert stats["sigmoid"]["mean"] == pytest.approx(10.0) and stats["tanh"]["mean"] == 0.0


def test_a_model_failing_on_the_data_is_a_saturate_error():
    with pytest.raises(sat.SaturateError, match="the model failed on inputs of shapes"):
        sat.inspect(_net(), calibration=np.zeros((4, 7), np.float32))


def test_a_norm_module_between_layer_and_activation_names_its_gamma_and_beta():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                              torch.nn.ReLU()).eval()
    with torch.no_grad():
        net[1].bias.fill_(-50.0)  # every unit dead: the remedy shifts the norm's beta
    report = sat.inspect(net, calibration=torch.randn(32, 4))
    producer = report.sites[0].producer
    assert (producer["norm"], producer["norm_scale"], producer["norm_bias"]) == \
        ("1", "1.weight", "1.bias")
    targets = {t.get("target") for f in report.findings for t in f.suggestions}
    assert "1.bias" in targets


def test_torchscript_sites_have_producers_and_the_onnx_remedies():
    """The same model as TorchScript and ONNX: the same producing layers and rescale factors."""
    from conftest import SAMPLES

    script = sat.inspect(str(SAMPLES / "mlp_sigmoid_badinit.ts"), samples=32)
    onnx_ = sat.inspect(str(SAMPLES / "mlp_sigmoid_badinit.onnx"), samples=32)
    assert [s.producer["weight"] for s in script.sites] == \
        [s.producer["weight"] for s in onnx_.sites] == [f"fc{i}.weight" for i in range(1, 5)]

    def factors(report):
        return [t["factor"] for f in report.findings for t in f.suggestions if "factor" in t]

    np.testing.assert_allclose(factors(script), factors(onnx_), rtol=1e-6)
