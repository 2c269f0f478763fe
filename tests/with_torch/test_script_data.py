"""TorchScript with calibration data: inputs named and sized from forward() and the data, sites
learnt from the user's first batch (no synthetic probe that could fail first)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from conftest import run_cli  # noqa: E402
from saturate_cli.batch_loop import collect
from saturate_cli.calibration.peek import record_peek
from saturate_cli.model.torch.load import load_file  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402

QUICK = ("-q", "-f", "json", "--exit-zero")


class TinyBert(nn.Module):
    """Word + type embeddings, one attention head with a padding mask, a sigmoid head."""

    def __init__(self):
        super().__init__()
        self.word, self.kind = nn.Embedding(50, 16), nn.Embedding(2, 16)
        self.qkv, self.out = nn.Linear(16, 16), nn.Linear(16, 3)

    def forward(self, input_ids, attention_mask, token_type_ids):
        h = torch.tanh(self.qkv(self.word(input_ids) + self.kind(token_type_ids)))
        scores = h @ h.transpose(1, 2) / math.sqrt(16.0)
        scores = scores + (1.0 - attention_mask[:, None, :].float()) * -10000.0
        return torch.sigmoid(self.out(F.softmax(scores, dim=-1) @ h))


class Picky(nn.Module):
    """Takes [batch, 5] but its first layer says 10: a synthetic guess fails the assert."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 4)

    def forward(self, x):
        assert x.shape[1] == 5
        return torch.relu(self.fc(torch.cat([x, x * 2.0], dim=1)))


def _script(module: nn.Module, path) -> str:
    torch.manual_seed(0)
    torch.jit.script(module.eval()).save(str(path))
    return str(path)


def _bert_data(tmp_path) -> str:
    rng = np.random.default_rng(0)
    mask = np.ones((3, 7), np.int64)
    mask[0, 5:] = 0
    path = tmp_path / "data.npz"
    np.savez(path, input_ids=rng.integers(0, 50, (3, 7)), attention_mask=mask,
             token_type_ids=rng.integers(0, 2, (3, 7)))
    return str(path)


def test_three_input_bert_sized_from_the_data(tmp_path):
    model = _script(TinyBert(), tmp_path / "bert.ts")
    out = run_cli("inspect", model, "-c", _bert_data(tmp_path), *QUICK)
    assert out.exit_code == 0, out.stderr
    report = json.loads(out.stdout)
    shapes = report["calibration"]["shapes"]
    assert shapes == {"input_ids": [3, 7], "attention_mask": [3, 7], "token_type_ids": [3, 7]}
    assert [s["name"] for s in report["sites"]] == [":tanh#0", ":softmax#0", ":sigmoid#0"]
    counts = [s["stats"]["count"] for s in report["sites"]]
    # the softmax counts its unmasked logits: 2 padded key columns x 7 query rows are masked
    assert counts == [3 * 7 * 16, 3 * 7 * 7 - 14, 3 * 7 * 3]


def test_bert_inputs_bind_by_name_with_dtypes_from_their_readers(tmp_path):
    model = _script(TinyBert(), tmp_path / "bert.ts")
    settings = Settings(calibration=(_bert_data(tmp_path),))
    handle = load_file(model, settings, record_peek(settings))
    specs = {s.name: s for s in handle.inputs}
    assert list(specs) == ["input_ids", "attention_mask", "token_type_ids"]
    assert (specs["input_ids"].dtype, specs["input_ids"].vocab) == ("int64", 50)
    assert (specs["token_type_ids"].dtype, specs["token_type_ids"].vocab) == ("int64", 2)
    assert specs["attention_mask"].shape == ()  # no layer reads it: left to the data
    assert handle.sites == [] and handle.has_branches  # learnt from the first batch


def test_masked_softmax_matches_numpy(tmp_path):
    torch.manual_seed(0)
    net = TinyBert().eval()
    path = tmp_path / "bert.ts"
    torch.jit.script(net).save(str(path))
    data = dict(np.load(_bert_data(tmp_path)))
    handle = load_file(path, Settings(), peek=lambda names: {})  # data given, not peeked at
    stats = collect(handle, iter([data]), 0.05, 0.01)
    with torch.no_grad():
        ids, mask, kinds = (torch.from_numpy(data[k]) for k in
                            ("input_ids", "attention_mask", "token_type_ids"))
        h = torch.tanh(net.qkv(net.word(ids) + net.kind(kinds))).double().numpy()
    scores = h @ h.transpose(0, 2, 1) / 4.0 + (1.0 - data["attention_mask"][:, None, :]) * -1e4
    s = stats[":softmax#0"]
    masked = np.broadcast_to(data["attention_mask"][:, None, :] == 0, scores.shape)
    kept = scores[~masked]  # the -1e4 padding logits are masks, not inputs
    assert (s.count, s.masked) == (kept.size, int(masked.sum()))
    np.testing.assert_allclose([s.mean, s.std, s.min, s.max],
                               [kept.mean(), kept.std(), kept.min(), kept.max()], rtol=1e-5)


def test_failing_synthetic_guess_is_not_tried_when_data_is_given(tmp_path):
    model = _script(Picky(), tmp_path / "picky.ts")
    assert run_cli("inspect", model, *QUICK).exit_code == 2  # the guess [batch, 10] fails
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(2).standard_normal((6, 5)).astype(np.float32))
    out = run_cli("inspect", model, "-c", str(data), "-b", "3", *QUICK)
    assert out.exit_code == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["calibration"]["shapes"] == {"x": [3, 5]}
    assert [(s["name"], s["stats"]["count"]) for s in report["sites"]] == [(":relu#0", 6 * 4)]


def test_model_failing_on_the_data_is_a_calibration_error(tmp_path):
    model = _script(Picky(), tmp_path / "picky.ts")
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((4, 6), np.float32))
    out = run_cli("inspect", model, "-c", str(data), *QUICK)
    assert out.exit_code == 2 and "failed on inputs of shapes {'x': [4, 6]}" in out.stderr
