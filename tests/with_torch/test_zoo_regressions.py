"""Zoo failures in small: each model has the structure of a zoo model that was measured wrong
(shufflenet's If-branch relu, lstm_gru's recurrent kernels, t5's two token-id inputs of different
lengths) and is checked site by site against forward pre-hooks on the eager module."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from conftest import run_cli  # noqa: E402

ACTS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU)


class Block(nn.Module):
    """ShuffleNet's shape: `branch1` runs only when `self.stride != 1`."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride
        self.branch1 = nn.Sequential(nn.Conv1d(4, 4, 1), nn.ReLU()) if stride == 2 \
            else nn.Sequential()
        self.branch2 = nn.Sequential(nn.Conv1d(4, 4, 1), nn.ReLU(), nn.Conv1d(4, 4, 1), nn.Tanh())

    def forward(self, x):
        if self.stride == 1:
            out = self.branch2(x)
        else:
            out = self.branch1(x) + self.branch2(x)
        return out


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Block(2), Block(1), Block(2), Block(1))
        self.head = nn.Sigmoid()

    def forward(self, x):
        return self.head(self.blocks(x))


class Recurrent(nn.Module):
    """lstm_gru's shape: LSTM, GRU (gates fused), then Linear and two activations."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.gru = nn.GRU(32, 32, batch_first=True)
        self.fc = nn.Linear(32, 8)
        self.act, self.gate = nn.Tanh(), nn.Sigmoid()

    def forward(self, x):
        h, _ = self.lstm(x)
        h, _ = self.gru(h)
        y = self.fc(h)
        return self.act(y) * self.gate(y)


class TwoSeq(nn.Module):
    """t5's shape: two token-id inputs whose lengths differ."""

    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Embedding(50, 8), nn.Embedding(50, 8)
        self.act_e, self.act_d, self.gate = nn.GELU(), nn.Tanh(), nn.Sigmoid()

    def forward(self, input_ids, decoder_input_ids):
        e = self.act_e(self.enc(input_ids))
        d = self.act_d(self.dec(decoder_input_ids))
        return self.gate(d @ e.transpose(1, 2))


def build_recurrent() -> nn.Module:
    """The factory form (`path/file.py:build_recurrent`), seeded like the test's truth."""
    torch.manual_seed(0)
    return Recurrent().eval()


def _truth(model: nn.Module, data: dict) -> dict:
    """Per-site float64 count/mean/min/max of every activation module's input."""
    seen: dict[str, list] = {}
    hooks = [m.register_forward_pre_hook(
        lambda _m, args, name=name: seen.setdefault(name, []).append(
            args[0].detach().double().flatten()))
        for name, m in model.named_modules() if isinstance(m, ACTS)]
    with torch.no_grad():
        model(**{k: torch.from_numpy(v) for k, v in data.items()})
    for h in hooks:
        h.remove()
    out = {}
    for name, calls in seen.items():
        for k, x in enumerate(calls):
            out[name + (f"#{k}" if k else "")] = (x.numel(), x.mean().item(), x.min().item(),
                                                  x.max().item())
    return out


def _measured(target: str, data: dict, tmp_path, *extra: str) -> dict:
    path = tmp_path / "calib.npz"
    np.savez(path, **data)
    result = run_cli("inspect", target, "-c", str(path), "-q", "-f", "json", "--exit-zero",
                     *extra)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def _check(report: dict, truth: dict) -> None:
    got = {s["name"]: s["stats"] for s in report["sites"]}
    assert list(got) == list(truth)
    for name, (count, mean, lo, hi) in truth.items():
        s = got[name]
        assert s["count"] == count, name
        for key, want in (("mean", mean), ("min", lo), ("max", hi)):
            assert s[key] == pytest.approx(want, rel=1e-5, abs=1e-7), (name, key)


def test_scripted_if_branch_activation_keeps_later_sites_in_step(tmp_path):
    torch.manual_seed(0)
    model = Branchy().eval()
    data = {"x": np.random.default_rng(0).normal(size=(6, 4, 5)).astype(np.float32)}
    truth = _truth(model, data)
    assert "blocks.0.branch1.1" in truth and "blocks.1.branch1.1" not in truth
    path = tmp_path / "branchy.ts"
    torch.jit.script(model).save(str(path))
    _check(_measured(str(path), data, tmp_path), truth)


@pytest.mark.parametrize("form", ["scripted", "traced", "factory"])
def test_recurrent_gates_are_not_sites_and_data_shapes_win(form, tmp_path):
    model = build_recurrent()
    data = {"x": np.random.default_rng(1).normal(size=(4, 10, 16)).astype(np.float32)}
    truth = _truth(model, data)
    if form == "factory":
        target = f"{__file__}:build_recurrent"  # its Linear ([batch, 32]) is not the input
    else:
        target = str(tmp_path / f"{form}.ts")
        ts = torch.jit.script(model) if form == "scripted" else \
            torch.jit.trace(model, torch.from_numpy(data["x"]))
        ts.save(target)
    report = _measured(target, data, tmp_path)
    _check(report, truth)
    assert {u["name"] for u in report["not_covered"]} == {"lstm", "gru"}


def test_traced_token_inputs_of_different_lengths_are_not_tied(tmp_path):
    torch.manual_seed(0)
    model = TwoSeq().eval()
    rng = np.random.default_rng(2)
    data = {"input_ids": rng.integers(0, 50, (4, 7)),
            "decoder_input_ids": rng.integers(0, 50, (4, 3))}
    truth = _truth(model, data)
    path = tmp_path / "two.ts"
    torch.jit.trace(model, tuple(torch.from_numpy(v) for v in data.values())).save(str(path))
    _check(_measured(str(path), data, tmp_path), truth)
