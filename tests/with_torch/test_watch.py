"""The training-loop monitor: its numbers equal `inspect` and numpy on the same batch, records
land every N steps, off-steps leave the model without hooks, and the log is a trend source."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import run_cli  # noqa: E402

from saturate_cli.over_time.watch import Watch, watch  # noqa: E402
from saturate_cli.pipeline import inspect_model  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402

NET = '''
import torch
from torch import nn


def build():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 8), nn.ReLU(),
                        nn.Linear(8, 4), nn.Sigmoid())
    with torch.no_grad():
        net[0].weight.mul_(3.0)   # tanh partly saturated
        net[2].bias.sub_(0.5)     # some dead ReLU units
    return net
'''


@pytest.fixture
def factory(tmp_path):
    path = tmp_path / "watchnet.py"
    path.write_text(NET)
    return path


def _build(factory):
    namespace: dict = {}
    exec(compile(factory.read_text(), str(factory), "exec"), namespace)
    return namespace["build"]()


def _hooks(model) -> int:
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules())


def test_monitor_equals_inspect_and_numpy_on_the_same_batch(factory, tmp_path):
    x = np.random.default_rng(1).normal(size=(64, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    model = _build(factory).train()
    with Watch(model, every=1) as w:
        model(torch.from_numpy(x)).sum().backward()
        w.step()
    got = {s.name: s for s in w.last.sites}
    want = {s.name: s for s in inspect_model(
        f"{factory}:build", Settings(calibration=(str(tmp_path / "x.npy"),),
                                     batch_size=64)).sites}
    assert list(got) == list(want) == ["1", "3", "5"]
    for name in got:
        a, b = got[name], want[name]
        for key in ("count", "mean", "std", "min", "max"):
            assert a.stats[key] == pytest.approx(b.stats[key], rel=1e-9, abs=1e-12), key
        for key in ("fraction", "dead_units", "units", "mean_gain"):
            assert a.saturation[key] == pytest.approx(b.saturation[key]), key
        assert [f.code for f in a.findings] == [f.code for f in b.findings]
        assert a.producer["weight"] == b.producer["weight"]
    # and against numpy in float64: the pre-activations recomputed from the weights
    p = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    h0 = x.astype(np.float64) @ p["0.weight"].T + p["0.bias"]
    h2 = np.tanh(h0) @ p["2.weight"].T + p["2.bias"]
    for name, h in (("1", h0), ("3", h2)):
        assert got[name].stats["mean"] == pytest.approx(h.mean(), rel=1e-6, abs=1e-9)
        assert got[name].stats["std"] == pytest.approx(h.std(), rel=1e-6)
    assert got["1"].saturation["fraction"] == pytest.approx(np.mean(np.abs(h0) >= 2.1782),
                                                            abs=2e-3)
    assert got["3"].saturation["dead_units"] == int(np.sum((h2 <= 0).mean(axis=0) >= 0.99))


def test_records_every_n_steps_and_off_steps_have_no_hooks(factory, tmp_path):
    model = _build(factory).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    log = tmp_path / "runs" / "sat.jsonl"
    x = torch.randn(32, 6)
    hooks_seen = []
    with watch(model, every=3, log=log) as w:
        for _ in range(8):
            hooks_seen.append(_hooks(model))
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
            w.step()
    assert w.records == 3 and _hooks(model) == 0
    # armed (two root hooks) only before the recorded steps 0, 3, 6
    assert hooks_seen == [2, 0, 0, 2, 0, 0, 2, 0]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 3, 6]
    assert records[0]["changes"]["0.weight"] == 0.0
    assert records[2]["report"]["calibration"]["source"] == "training"
    doc = json.loads(run_cli("trend", str(log), "-f", "json").stdout)
    assert doc["points"] == ["step 0", "step 3", "step 6"] and doc["source"] == "log"


def test_change_is_the_relative_frobenius_norm(factory, tmp_path):
    model = _build(factory).train()
    x = torch.randn(8, 6)
    w = Watch(model, every=1, log=tmp_path / "l.jsonl")
    with w:
        model(x)
        w.step()
        w0 = model[2].weight.detach().double().clone()
        b0 = model[2].bias.detach().double().clone()
        with torch.no_grad():
            model[2].weight.add_(0.1)
            model[2].bias.mul_(2.0)
        model(x)
        w.step()
    w1, b1 = model[2].weight.detach().double(), model[2].bias.detach().double()
    dw = torch.cat([(w1 - w0).flatten(), (b1 - b0).flatten()])
    expected = float(dw.norm() / torch.cat([w0.flatten(), b0.flatten()]).norm())
    records = [json.loads(line) for line in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert w.records == 2 and records[0]["changes"]["2.weight"] == 0.0
    assert records[1]["changes"]["2.weight"] == pytest.approx(expected, rel=1e-6)
    assert records[1]["changes"]["0.weight"] == 0.0


def test_eval_passes_are_not_recorded_and_tensorboard_gets_scalars(factory):
    model = _build(factory)
    board = []

    class Writer:
        def add_scalar(self, tag, value, step):
            board.append((tag, value, step))

        def flush(self):
            pass

    with Watch(model, every=1, tensorboard=Writer()) as w:
        model.eval()
        with torch.no_grad():
            model(torch.randn(4, 6))  # evaluation: stays armed, not recorded
        assert w.records == 0
        model.train()
        model(torch.randn(4, 6))
        w.step()
    assert w.records == 1
    tags = {t for t, _, _ in board}
    assert {"saturate/1/share", "saturate/3/mean_gain", "saturate/flagged",
            "saturate/change/0.weight"} <= tags


def test_real_summary_writer(factory, tmp_path):
    pytest.importorskip("tensorboard")
    model = _build(factory).train()
    with Watch(model, every=1, tensorboard=str(tmp_path / "tb")) as w:
        model(torch.randn(4, 6))
        w.step()
    assert any((tmp_path / "tb").iterdir())
