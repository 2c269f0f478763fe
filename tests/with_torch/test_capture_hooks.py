"""Capture hooks exist only while a pass runs: an inspection leaves the model as it found it
(issue #14), also when the forward pass raises, and begin()/end() bracket a user's own pass."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from saturate_cli.model.torch.capture import EagerCapture  # noqa: E402


def _hook_count(model) -> int:
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules())


class _Net(torch.nn.Module):
    def __init__(self, fail: bool = False):
        super().__init__()
        self.fc = torch.nn.Linear(3, 4)
        self.act = torch.nn.Tanh()
        self.fail = fail

    def forward(self, x):
        y = self.act(self.fc(x))
        if self.fail:
            raise RuntimeError("boom")
        return torch.sigmoid(y)


def test_run_removes_every_hook_and_mode():
    net = _Net()
    before = _hook_count(net)
    capture = EagerCapture(net)
    seen = []
    capture.run((torch.ones(2, 3),), lambda name, *rest: seen.append(name))
    assert seen == ["act", ":sigmoid#0"]
    assert _hook_count(net) == before == 0
    assert not capture.active
    # no mode is left pushed: a later torch call outside a pass reaches no sink
    torch.sigmoid(torch.ones(2))
    assert seen == ["act", ":sigmoid#0"]


def test_hooks_removed_when_the_forward_raises():
    net = _Net(fail=True)
    capture = EagerCapture(net)
    with pytest.raises(RuntimeError, match="boom"):
        capture.run((torch.ones(2, 3),), lambda *a: None)
    assert _hook_count(net) == 0 and not capture.active


def test_begin_end_bracket_a_pass_the_user_runs():
    net = _Net()
    capture = EagerCapture(net)
    seen = []
    capture.begin(lambda name, *rest: seen.append(name))
    assert _hook_count(net) == 4  # fc and act: a pre- and a post-hook each
    net(torch.ones(2, 3))
    capture.end()
    capture.end()  # idempotent
    net(torch.ones(2, 3))  # not captured
    assert seen == ["act", ":sigmoid#0"] and _hook_count(net) == 0


def test_inspection_through_the_loader_leaves_no_hooks(tmp_path, monkeypatch):
    import importlib

    from saturate_cli.pipeline import inspect_model
    from saturate_cli.settings import Settings

    (tmp_path / "hooknet_for_test.py").write_text(
        "import torch\nNETS = []\n"
        "def build():\n    torch.manual_seed(0)\n"
        "    NETS.append(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh()))\n"
        "    return NETS[-1]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    report = inspect_model("hooknet_for_test:build", Settings(
        samples=8, batch_size=4, input_shapes={"input": (4, 4)}))
    assert [s.name for s in report.sites] == ["1"]
    built = importlib.import_module("hooknet_for_test").NETS
    assert built and all(_hook_count(net) == 0 for net in built)
