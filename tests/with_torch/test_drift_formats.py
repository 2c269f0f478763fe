"""Trend over .pt2 checkpoints: each producer's parameter change is read from the programs'
state dicts, checked against the same models' state-dict files in numpy."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import SAMPLES  # noqa: E402
from saturate_cli.over_time.trend import trend_of_checkpoints  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402


def test_pt2_checkpoints_carry_their_parameter_change():
    names = ("mlp_sigmoid_xavier", "mlp_sigmoid_badinit")
    t = trend_of_checkpoints([str(SAMPLES / f"{n}.pt2") for n in names],
                             Settings(samples=32, batch_size=16), [], sort=False)
    a, b = (torch.load(SAMPLES / f"{n}.state_dict.pt", weights_only=True) for n in names)
    first = next(d for d in t.drift if d.site == "sigmoid1")
    w0, w1 = (np.concatenate([s["fc1.weight"].double().numpy().ravel(),
                              s["fc1.bias"].double().numpy().ravel()]) for s in (a, b))
    assert first.producer == "fc1.weight"
    assert first.change == pytest.approx(np.linalg.norm(w1 - w0) / np.linalg.norm(w0), rel=1e-6)
    assert t.onset.site == "sigmoid1" and t.onset.kind == "scale" and t.onset.own
