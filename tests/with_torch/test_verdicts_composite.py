"""Composite activations on the PyTorch path: transformers-like module classes (GPT-2's
NewGELUActivation, QuickGELUActivation) and GELU's tanh formula written out are one site of the
right kind on their input, eager and .pt2, checked against forward hooks."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from conftest import learn_sites

torch = pytest.importorskip("torch")

from saturate_cli.batch_loop import collect
from saturate_cli.calibration.peek import record_peek
from saturate_cli.activations import get_kind  # noqa: E402
from saturate_cli.calibration import make_batches  # noqa: E402
from saturate_cli.model.load import load_model  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402

GPT2 = '''
import math
import torch
from torch import nn


class NewGELUActivation(nn.Module):
    def forward(self, input):
        return 0.5 * input * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (
            input + 0.044715 * torch.pow(input, 3.0))))


class QuickGELUActivation(nn.Module):
    def forward(self, input):
        return input * torch.sigmoid(1.702 * input)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class MLP(nn.Module):
    def __init__(self, functional):
        super().__init__()
        self.c_fc, self.c_proj, self.gate = nn.Linear(8, 32), nn.Linear(32, 8), nn.Linear(8, 8)
        self.act = None if functional else NewGELUActivation()
        self.quick = QuickGELUActivation()

    def forward(self, x):
        h = self.c_fc(x)
        h = gelu_new(h) if self.act is None else self.act(h)
        return self.c_proj(h) + self.quick(self.gate(x))


class Block(nn.Module):
    def __init__(self, functional):
        super().__init__()
        self.ln, self.mlp = nn.LayerNorm(8), MLP(functional)

    def forward(self, x):
        return x + torch.tanh(self.mlp(self.ln(x)))


def build(functional=False):
    torch.manual_seed(0)
    net = Block(functional)
    with torch.no_grad():
        net.mlp.c_fc.weight.mul_(8.0)  # wide inputs: a tanh reading them would be saturated
    return net
'''
GELU_SITE = {False: "mlp.act", True: "mlp:gelu_tanh#0"}


@pytest.fixture
def gpt2(tmp_path):
    path = tmp_path / "gpt2_like.py"
    path.write_text(textwrap.dedent(GPT2))
    sys.path.insert(0, str(tmp_path))
    try:
        import gpt2_like
        yield path, gpt2_like
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("gpt2_like", None)


def _truth(net, x: np.ndarray) -> dict[str, np.ndarray]:
    """The inputs of the two composite activations: c_fc's and gate's outputs (hooks)."""
    seen = {}
    for name in ("c_fc", "gate"):
        getattr(net.mlp, name).register_forward_hook(
            lambda m, args, out, name=name: seen.__setitem__(name, out.double().numpy()))
    with torch.no_grad():
        net(torch.from_numpy(x))
    return seen


def _measure(target: str, x: np.ndarray, tmp_path, args=()):
    np.save(tmp_path / "x.npy", x)
    settings = Settings(calibration=(str(tmp_path / "x.npy"),), input_shapes={"x": x.shape},
                        factory_args=args)
    handle = load_model(target, settings, record_peek(settings))
    batches, _ = make_batches(handle.inputs, settings)
    return handle, collect(handle, batches, settings.tau, settings.softmax_tau)


def _check(handle, stats, functional: bool, truth: dict) -> None:
    sites = {s.name: s for s in handle.sites}
    gelu = GELU_SITE[functional]
    assert sorted(sites) == sorted([gelu, "mlp.quick", ":tanh#0"])  # no inner tanh / sigmoid
    assert (sites[gelu].kind, sites[gelu].params) == ("gelu_tanh", {})
    assert (sites["mlp.quick"].kind, sites["mlp.quick"].params) == ("silu", {"alpha": 1.702})
    assert sites[gelu].producer.name == "mlp.c_fc"
    for site, layer in ((gelu, "c_fc"), ("mlp.quick", "gate")):
        s, want = stats[site], truth[layer]
        assert s.count == want.size
        assert s.mean == pytest.approx(want.mean(), rel=1e-5, abs=1e-6)
        assert s.std == pytest.approx(want.std(), rel=1e-5)
        assert (s.min, s.max) == pytest.approx((want.min(), want.max()), rel=1e-6)
        tails = get_kind(sites[site].kind).tails(sites[site].params, Settings().tau)
        assert tails.high is None and s.high == 0  # no flat high tail, unlike a tanh's
        assert s.low == int((want <= tails.low).sum())


@pytest.mark.parametrize("functional", [False, True])
def test_eager_gpt2_block_measures_gelu_tanh(gpt2, tmp_path, functional):
    path, mod = gpt2
    x = np.random.default_rng(0).normal(size=(24, 8)).astype(np.float32)
    handle, stats = _measure(f"{path}:build", x, tmp_path, (f"functional={functional}",))
    _check(handle, stats, functional, _truth(mod.build(functional).eval(), x))


@pytest.mark.parametrize("functional", [False, True])
def test_pt2_gpt2_block_measures_gelu_tanh(gpt2, tmp_path, functional):
    _, mod = gpt2
    net = mod.build(functional).eval()
    x = np.random.default_rng(1).normal(size=(24, 8)).astype(np.float32)
    torch.export.save(torch.export.export(net, (torch.from_numpy(x[:4]),)),
                      str(tmp_path / "block.pt2"))
    handle, stats = _measure(str(tmp_path / "block.pt2"), x, tmp_path)
    _check(handle, stats, functional, _truth(net, x))


def test_a_plain_tanh_next_to_cubes_stays_tanh(tmp_path):
    """x³ and tanh in one model without GELU's constants: no gelu_tanh site."""
    (tmp_path / "cubic.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)

            def forward(self, x):
                h = self.fc(x)
                return torch.tanh(0.8 * (h + 0.05 * h ** 3))

        def build():
            torch.manual_seed(0)
            return Net()
    '''))
    handle = load_model(f"{tmp_path / 'cubic.py'}:build", Settings())
    learn_sites(handle)
    assert [(s.name, s.kind) for s in handle.sites] == [(":tanh#0", "tanh")]
