"""TorchScript (scripted and traced): every method, function, branch and loop call is followed,
functional calls are sites, and each site's input matches eager hooks (numpy float64 stats)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from unittest import mock

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from conftest import learn_sites, run_cli  # noqa: E402
from saturate_cli.batch_loop import collect
from saturate_cli.model.torch.load import load_file  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402


def _halve(x):  # a free function: prim::CallFunction in the scripted graph
    return torch.sigmoid(x) * 0.5


class Block(nn.Module):
    """A residual block whose forward calls a helper method with functional activations."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.relu = nn.Linear(8, 8), nn.Linear(8, 8), nn.ReLU()

    def forward(self, x):
        out = self.relu(self.fc1(x))
        out = self._mix(out)
        return self.relu(out + x)

    def _mix(self, x):
        h = self.fc2(x)
        a = F.relu(h - 0.1)
        b = torch.tanh(h * 2.0)
        c = _halve(a + b)
        if c.shape[-1] > 4:  # always taken: the else branch's site must not shift later ones
            c = F.softmax(c * 3.0, dim=-1)
        else:
            c = torch.sigmoid(c)
        return c * 8.0


class ResNetish(nn.Module):
    """forward only calls self._forward_impl, as torchvision's ResNet does."""

    def __init__(self):
        super().__init__()
        self.stem, self.relu, self.head = nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5)
        self.layer1 = nn.Sequential(Block(), Block())

    def forward(self, x):
        return self._forward_impl(x)

    def _forward_impl(self, x):
        x = self.relu(self.stem(x))
        x = self.layer1(x)
        for _ in range(2):
            x = torch.tanh(x)
        x = self.layer1[0]._mix(x)  # another module's method, run in this frame
        return F.softmax(self.head(x), dim=-1)


BLOCK = [".relu", ":relu#0", ":tanh#0", ":sigmoid#0", ":softmax#0", ".relu#1"]
TOP = [":tanh#0", ":tanh#1", ":relu#0", ":tanh#2", ":sigmoid#0", ":softmax#0", ":softmax#1"]
SCRIPTED = ["relu"] + [f"layer1.{i}{s}" for i in (0, 1) for s in BLOCK] + TOP
_CALLS = {(F, "relu"), (F, "softmax"), (torch, "tanh"), (torch, "sigmoid")}


def _build(seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return ResNetish().eval()


def _hooked(net: nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Each activation input, named by forward hooks: module path, path#k, path:fn#n."""
    paths = {id(m): p for p, m in net.named_modules()}
    stack, calls, fns, seen = [""], Counter(), Counter(), {}

    def pre(module, args):
        path = paths[id(module)]
        if isinstance(module, nn.ReLU):
            k = calls[path]
            seen[path + (f"#{k}" if k else "")] = args[0].detach().double().numpy().copy()
            calls[path] += 1
        stack.append(path)

    def functional(owner, fn):
        original = getattr(owner, fn)

        def record(t, *args, **kwargs):
            if stack[-1] != "__act__":
                n = fns[(stack[-1], fn)]
                fns[(stack[-1], fn)] += 1
                seen[f"{stack[-1]}:{fn}#{n}"] = t.detach().double().numpy().copy()
            return original(t, *args, **kwargs)
        return mock.patch.object(owner, fn, record)

    handles = [m.register_forward_pre_hook(pre) for m in net.modules() if m is not net]
    handles += [m.register_forward_hook(lambda *_: stack.pop() and None) for m in net.modules()
                if m is not net]
    patches = [functional(owner, fn) for owner, fn in _CALLS]
    relu_forward = nn.ReLU.forward
    try:
        for p in patches:
            p.start()
        # an nn.ReLU's own F.relu is its module site, not a functional one
        nn.ReLU.forward = lambda self, t: (stack.append("__act__"), relu_forward(self, t),
                                           stack.pop())[1]
        with torch.no_grad():
            net(x)
    finally:
        nn.ReLU.forward = relu_forward
        for p in patches:
            p.stop()
        for h in handles:
            h.remove()
    return seen


def _save(tmp_path, form: str):
    net = _build()
    module = torch.jit.script(net) if form == "script" else \
        torch.jit.trace(net, torch.randn(3, 6))
    path = tmp_path / f"resnetish_{form}.ts"
    module.save(str(path))
    return net, path


@pytest.mark.parametrize("form", ["script", "trace"])
def test_every_call_is_a_site_with_eager_statistics(tmp_path, form):
    net, path = _save(tmp_path, form)
    handle = load_file(path, Settings())
    assert learn_sites(handle) == SCRIPTED
    rng = np.random.default_rng(1)
    batches = [{"x": rng.standard_normal((4, 6)).astype(np.float32)} for _ in range(3)]
    refs = [_hooked(copy.deepcopy(net), torch.from_numpy(b["x"])) for b in batches]
    assert sorted(refs[0]) == sorted(SCRIPTED)  # the eager hooks see the same calls
    stats = collect(handle, iter(batches), 0.05, 0.01)
    for name in SCRIPTED:
        values = np.concatenate([r[name].ravel() for r in refs])
        s = stats[name]
        assert s.count == values.size, name
        scale = float(np.abs(values).max())
        np.testing.assert_allclose([s.mean, s.std, s.min, s.max],
                                   [values.mean(), values.std(), values.min(), values.max()],
                                   rtol=1e-5, atol=1e-6 * scale, err_msg=name)
    kinds = {s.name: s.kind for s in handle.sites}
    assert kinds["layer1.0:softmax#0"] == "softmax" and kinds["layer1.1.relu#1"] == "relu"


def test_same_names_as_the_eager_capture(tmp_path):
    from saturate_cli.model.torch.load import _eager

    _, path = _save(tmp_path, "script")
    eager = _eager("net", "pytorch", _build(), Settings(), "cpu", None)
    assert learn_sites(eager) == learn_sites(load_file(path, Settings()))


def test_scripted_forward_impl_is_measured_not_clean(tmp_path):
    _, path = _save(tmp_path, "script")
    out = run_cli("inspect", str(path), "-q", "-f", "json", "-n", "8", "-b", "4", "--exit-zero")
    assert out.exit_code == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["summary"]["sites"] == len(SCRIPTED)
    assert report["calibration"]["samples"] == 8
    assert all(s["stats"]["count"] > 0 for s in report["sites"])
