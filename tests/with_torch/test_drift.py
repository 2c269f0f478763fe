"""A real drift: a small tanh/sigmoid network trained a few hundred steps with a learning rate
that drives its middle layer into saturation. The trend flags that layer first, as scale
(weights grow: a sharp classifier) or shift (bias and weights push every unit up: a frozen
positive read-out with a high target) as constructed; with a BatchNorm before the sigmoid the
same training stays clean. The monitor's log reaches the same verdict as the checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from saturate_cli.over_time.points import read_log  # noqa: E402
from saturate_cli.over_time.trend import trend_of, trend_of_checkpoints  # noqa: E402
from saturate_cli.over_time.watch import watch  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402

NET = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, norm=False):
        super().__init__()
        self.fc1 = nn.Linear(8, 32)
        self.act1 = nn.Tanh()
        self.fc2 = nn.Linear(32, 32)
        self.norm = nn.BatchNorm1d(32) if norm else nn.Identity()
        self.act2 = nn.Sigmoid()
        self.fc3 = nn.Linear(32, 1)

    def forward(self, x):
        return self.fc3(self.act2(self.norm(self.fc2(self.act1(self.fc1(x))))))


def build(norm=False):
    torch.manual_seed(0)
    return Net(norm)
'''
STEPS = 360


def _train(tmp_path, kind: str, norm: bool, log=None) -> list[str]:
    """Train; a state dict every STEPS/3 steps. fc2 learns 40x faster than the rest."""
    namespace: dict = {}
    exec(compile(NET, "driftnet", "exec"), namespace)
    net = namespace["build"](norm).train()
    g = torch.Generator().manual_seed(1)
    v = torch.randn(8, generator=g)
    if kind == "shift":  # a frozen, positive read-out: only larger sigmoid outputs help
        with torch.no_grad():
            net.fc3.weight.fill_(1 / 32)
        net.fc3.requires_grad_(False)
    rest = [p for n, p in net.named_parameters() if not n.startswith("fc2") and p.requires_grad]
    opt = torch.optim.SGD([{"params": list(net.fc2.parameters()), "lr": 2.0},
                           {"params": rest, "lr": 0.05}])
    paths = []
    with watch(net, every=STEPS // 3, log=log) as w:
        for step in range(STEPS + 1):
            if step % (STEPS // 3) == 0:
                paths.append(str(tmp_path / f"{kind}_{int(norm)}_{step}.pt"))
                torch.save(net.state_dict(), paths[-1])
            x = torch.randn(64, 8, generator=g)
            out = net(x)
            if kind == "scale":  # a sharp classifier: units pushed to 0 or 1 by input
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    out, (x @ v > 0).float()[:, None])
            else:
                loss = ((out - 1.5) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step()
    return paths


@pytest.fixture(scope="module")
def calib(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift")
    (folder / "driftnet.py").write_text(NET)
    np.save(folder / "calib.npy", np.random.default_rng(5).normal(size=(256, 8))
            .astype(np.float32))
    return folder


def _trend(calib, paths, norm):
    settings = Settings(calibration=(str(calib / "calib.npy"),), batch_size=64,
                        factory_args=(f"norm={norm}",))
    return trend_of_checkpoints([f"{calib / 'driftnet.py'}:build"], settings, paths, False)


@pytest.mark.parametrize("kind", ["scale", "shift"])
def test_middle_layer_flagged_first_as_constructed(calib, tmp_path, kind):
    log = tmp_path / "sat.jsonl"
    t = _trend(calib, _train(tmp_path, kind, norm=False, log=log), norm=False)
    assert t.onset is not None and t.onset.site == "act2"
    assert t.onset.kind == kind and t.onset.own and t.onset.layer == "fc2"
    assert "BatchNorm1d(32)" in t.onset.remedy and "learning rate of fc2" in t.onset.remedy
    first = next(d for d in t.drift if d.site == "act1")
    assert not first.grew
    # the monitor, recording the training inputs at the same steps, says the same
    logged = trend_of(read_log(log), "log")
    assert [p for p in logged.labels] == [f"step {s}" for s in (0, 120, 240, 360)]
    assert logged.onset is not None and logged.onset.site == "act2"
    assert logged.onset.kind == kind and logged.onset.own


@pytest.mark.parametrize("kind", ["scale", "shift"])
def test_batchnorm_before_the_activation_stays_clean(calib, tmp_path, kind):
    t = _trend(calib, _train(tmp_path, kind, norm=True), norm=True)
    assert t.onset is None and t.drifted == [] and t.exit_code == 0
    act2 = next(s for s in t.series if s["site"] == "act2")
    assert max(act2["share"]) < 0.05
