"""Eager capture: module, functional, tensor-method and in-place activations, a reused module,
producers and not-covered layers, checked against activation inputs recomputed in numpy."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from conftest import learn_sites

torch = pytest.importorskip("torch")

from saturate_cli.batch_loop import collect
from saturate_cli.model.torch.load import load_factory  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402

NET = '''
import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 8)
        self.rnn = nn.LSTM(8, 4)

    def forward(self, x):
        a = self.act(self.fc1(x))          # module: act
        b = self.act(self.fc2(a) * 2.0)    # the same module again: act#1
        c = torch.sigmoid(b - 1.0)         # functional: :sigmoid#0
        d = (c * 3.0).tanh()               # tensor method: :tanh#0
        e = d - 0.8
        F.relu(e, inplace=True)            # in-place: :relu#0, measured before it writes
        f = F.gelu(e * 4.0, approximate="tanh")   # :gelu#0, kind gelu_tanh
        return F.softmax(f, dim=-1)        # :softmax#0


def build(scale=1.0):
    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        net.fc1.weight.mul_(scale)
    return net
'''


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(NET))
    return path


def _reference(net, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every activation input, recomputed in float64 numpy from the weights."""
    w1, b1 = (p.detach().double().numpy() for p in (net.fc1.weight, net.fc1.bias))
    w2, b2 = (p.detach().double().numpy() for p in (net.fc2.weight, net.fc2.bias))
    h = x @ w1.T + b1
    a = np.maximum(h, 0)
    g = (a @ w2.T + b2) * 2.0
    b = np.maximum(g, 0)
    c_in = b - 1.0
    d_in = 3.0 / (1.0 + np.exp(-c_in))
    e = np.tanh(d_in) - 0.8
    f_in = np.maximum(e, 0) * 4.0
    gelu = 0.5 * f_in * (1 + np.tanh(np.sqrt(2 / np.pi) * (f_in + 0.044715 * f_in ** 3)))
    return {"act": h, "act#1": g, ":sigmoid#0": c_in, ":tanh#0": d_in, ":relu#0": e,
            ":gelu#0": f_in, ":softmax#0": gelu}


def test_every_call_form_is_captured_with_the_right_input(net_file):
    settings = Settings(factory_args=("scale=2.0",))
    handle = load_factory(f"{net_file}:build", settings)
    names = learn_sites(handle, settings)
    assert names == ["act", "act#1", ":sigmoid#0", ":tanh#0", ":relu#0", ":gelu#0",
                     ":softmax#0"]
    kinds = [s.kind for s in handle.sites]
    assert kinds == ["relu", "relu", "sigmoid", "tanh", "relu", "gelu_tanh", "softmax"]
    rng = np.random.default_rng(3)
    batches = [{"x": rng.standard_normal((5, 6)).astype(np.float32)} for _ in range(3)]
    stats = collect(handle, iter(batches), 0.05, 0.01)
    net = handle.runner.model
    refs = [_reference(net, b["x"].astype(np.float64)) for b in batches]
    for site in handle.sites:
        values = np.concatenate([r[site.name] for r in refs])
        s = stats[site.name]
        assert s.count == values.size
        np.testing.assert_allclose(s.mean, values.mean(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(s.std, values.std(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose([s.min, s.max], [values.min(), values.max()], rtol=1e-5,
                                   atol=1e-6)
    relu_in = np.concatenate([r[":relu#0"] for r in refs])
    assert stats[":relu#0"].low == int((relu_in <= 0).sum())  # before the in-place write
    assert stats[":relu#0"].low > 0


def test_producers_and_not_covered(net_file):
    handle = load_factory(f"{net_file}:build", Settings())
    learn_sites(handle)
    by_name = {s.name: s for s in handle.sites}
    p = by_name["act"].producer
    assert (p.name, p.op, p.weight, p.fan_in, p.fan_out, p.channels) == \
        ("fc1", "Linear", "fc1.weight", 6, 8, 8)
    expected_std = handle.runner.model.fc1.weight.detach().double().numpy().std()
    assert p.weight_std == pytest.approx(expected_std, rel=1e-9)
    assert by_name["act#1"].producer is None  # fc2's output is scaled before the ReLU
    assert by_name[":sigmoid#0"].producer is None
    assert [(u.name, u.op) for u in handle.not_covered] == [("rnn", "LSTM")]
    assert handle.inputs[0].shape == ("batch", 6)


def test_names_are_stable_across_runs(net_file):
    first = learn_sites(load_factory(f"{net_file}:build", Settings()))
    second = learn_sites(load_factory(f"{net_file}:build", Settings()))
    assert first == second
