"""Softmax masked logits and masked rows on the PyTorch path (torch_reduce) against the numpy
reference (stats_of_array): causal masks at finfo.min, -inf masks, -1e4 additive masks, none;
and a causal attention model measured end to end against its hooked softmax input."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from saturate_cli.batch_loop import collect
from saturate_cli.model.torch.reduce import Plan, batch_stats  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402
from saturate_cli.stats.reductions import sample_step  # noqa: E402
from saturate_cli.stats.site_stats import stats_of_array  # noqa: E402

from stats_truth import assert_matches  # noqa: E402

TAU = 0.01


def _causal(seq: int) -> np.ndarray:
    return np.triu(np.ones((seq, seq), bool), 1)  # True above the diagonal: the future


def _logits(mask: str, dtype, seed: int = 0, shape=(3, 2, 9, 9)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=3.0, size=shape)
    x[0, 0, 4] = [0, 30, 0, 0, 0, 0, 0, 0, 0]  # a collapsed row
    future = np.broadcast_to(_causal(shape[-1]), shape)
    if mask == "finfo":
        x = np.where(future, np.finfo(dtype).min, x)
    elif mask == "inf":
        x = np.where(future, -np.inf, x)
    elif mask == "additive":  # BERT's (1 - mask) * -10000 on a padding mask
        pad = np.arange(shape[-1]) >= rng.integers(1, shape[-1], shape[0])[:, None, None, None]
        x = x + np.where(pad, -1e4, 0.0)
    return x.astype(dtype)


def _assert_same(x: np.ndarray, axis: int = -1, probs=None, log=False) -> None:
    t = torch.from_numpy(x)
    got = batch_stats(t, Plan(None, None, None, axis, log), TAU, probs)
    want = stats_of_array(x, None, None, None, axis, TAU, sample_step(x.size))
    assert_matches(got, want, x[np.isfinite(x)])
    assert (got.masked, got.masked_rows) == (want.masked, want.masked_rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("mask", ["finfo", "inf", "additive", "none"])
def test_masked_logits_and_rows_match_numpy(mask, dtype):
    x = _logits(mask, dtype)
    _assert_same(x)
    want = stats_of_array(x, None, None, None, -1, TAU, sample_step(x.size))
    if mask in ("finfo", "inf"):  # the first row of causal attention is one-hot
        assert want.masked_rows == 3 * 2 and want.masked == 3 * 2 * 36
    assert want.collapsed_rows >= 1 and (mask != "none" or want.masked == 0)


@pytest.mark.parametrize("mask", ["finfo", "inf", "additive"])
def test_the_calls_own_output_gives_the_same_rows(mask):
    x = _logits(mask, np.float32, seed=1)
    t = torch.from_numpy(x)
    _assert_same(x, probs=torch.softmax(t, -1))
    _assert_same(x, probs=torch.log_softmax(t, -1), log=True)


def test_masks_along_another_axis():
    x = np.moveaxis(_logits("finfo", np.float32, seed=2), -1, 1).copy()
    _assert_same(x, axis=1)


ATTENTION = '''
import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        scores = self.q(x) @ self.k(x).transpose(-1, -2)
        seq = x.shape[1]
        future = torch.ones(seq, seq, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=-1)


def build():
    torch.manual_seed(0)
    return Attention()
'''


def test_causal_attention_model_end_to_end(tmp_path):
    from saturate_cli.model.torch.load import load_factory

    (tmp_path / "attn.py").write_text(textwrap.dedent(ATTENTION))
    x = np.random.default_rng(0).normal(size=(5, 7, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    handle = load_factory(f"{tmp_path / 'attn.py'}:build",
                          Settings(calibration=(str(tmp_path / "x.npy"),)))
    stats = collect(handle, [{"x": x}], 0.05, TAU)[":softmax#0"]
    model = handle.runner.model  # the softmax input recomputed from its layers
    with torch.no_grad():
        q, k = model.q(torch.from_numpy(x)), model.k(torch.from_numpy(x))
        future = torch.ones(7, 7, dtype=torch.bool).triu(1)
        scores = (q @ k.transpose(-1, -2)).masked_fill(future, torch.finfo(q.dtype).min).numpy()
    want = stats_of_array(scores, None, None, None, -1, TAU, sample_step(scores.size))
    assert_matches(stats, want, scores)
    assert stats.masked_rows == 5 and stats.masked == 5 * 21
    assert stats.count == x.shape[0] * 7 * 7 - 5 * 21
