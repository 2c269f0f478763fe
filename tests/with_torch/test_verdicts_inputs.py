"""Factory inputs bound to forward()'s parameters by name (also through **kwargs), whatever the
order of --input-shape or of the .npz keys; --input-shape's first dim is the batch."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from saturate_cli.batch_loop import collect
from saturate_cli.calibration.peek import record_peek
from saturate_cli.calibration import make_batches  # noqa: E402
from saturate_cli.model.load import load_model  # noqa: E402
from saturate_cli.settings import Settings  # noqa: E402

NETS = '''
import torch
from torch import nn


class Bert(nn.Module):
    """transformers-like: every input optional; a wrong binding changes every activation."""

    def __init__(self):
        super().__init__()
        self.words, self.types = nn.Embedding(50, 8), nn.Embedding(2, 8)
        self.fc, self.act, self.pool = nn.Linear(8, 8), nn.GELU(), nn.Tanh()

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None):
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        h = self.words(input_ids) + self.types(token_type_ids)
        h = self.act(self.fc(h)) * attention_mask[..., None].float()
        return self.pool(h.sum(1) / attention_mask.sum(1, keepdim=True).float())


class Kw(nn.Module):
    """forward(**kwargs): the names come from the data."""

    def __init__(self):
        super().__init__()
        self.fc, self.act = nn.Linear(4, 4), nn.Sigmoid()

    def forward(self, **kwargs):
        return self.act(self.fc(kwargs["x"]) * kwargs["gain"])


def bert():
    torch.manual_seed(0)
    return Bert()


def kw():
    torch.manual_seed(1)
    return Kw()
'''


@pytest.fixture
def nets(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(textwrap.dedent(NETS))
    return path


def _build(path, factory: str):
    """The factory's model, built independently of saturate's loader."""
    from importlib import util

    spec = util.spec_from_file_location(f"truth_{factory}", path)
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, factory)().eval()


def _measure(target: str, settings: Settings):
    handle = load_model(target, settings, record_peek(settings))
    batches, _ = make_batches(handle.inputs, settings)
    return handle, collect(handle, batches, settings.tau, settings.softmax_tau)


def _truth(model, arrays: dict) -> dict[str, np.ndarray]:
    """Each activation module's input (forward hooks, the model called by keyword)."""
    seen: dict[str, np.ndarray] = {}

    def hook(name):
        def keep(module, args, out):
            seen[name] = args[0].double().numpy()
        return keep

    for name, module in model.named_modules():
        if type(module).__name__ in ("GELU", "Tanh", "Sigmoid"):
            module.register_forward_hook(hook(name))
    with torch.no_grad():
        model(**{k: torch.from_numpy(v) for k, v in arrays.items()})
    return seen


def _agree(stats, truth: dict) -> None:
    assert set(truth) <= set(stats), (sorted(truth), sorted(stats))
    for name, x in truth.items():
        s = stats[name]
        assert s.count == x.size, name
        assert s.mean == pytest.approx(x.mean(), rel=1e-5, abs=1e-6), name
        assert s.std == pytest.approx(x.std(), rel=1e-4, abs=1e-6), name
        assert (s.min, s.max) == pytest.approx((x.min(), x.max()), rel=1e-5), name


def _bert_data(n=12, seq=6) -> dict:
    rng = np.random.default_rng(3)
    mask = (np.arange(seq)[None] < rng.integers(2, seq + 1, n)[:, None]).astype(np.int64)
    return {"token_type_ids": rng.integers(0, 2, (n, seq)), "attention_mask": mask,
            "input_ids": rng.integers(0, 50, (n, seq))}  # not forward()'s order


def test_bert_inputs_bind_by_name_not_by_input_shape_order(nets, tmp_path):
    data = _bert_data()
    np.savez(tmp_path / "data.npz", **data)
    shapes = {"attention_mask": (4, 6), "token_type_ids": (4, 6), "input_ids": (4, 6)}
    settings = Settings(calibration=(str(tmp_path / "data.npz"),), input_shapes=shapes,
                        batch_size=5)
    handle, stats = _measure(f"{nets}:bert", settings)
    _agree(stats, _truth(_build(nets, "bert"), data))
    assert [s.name for s in handle.inputs] == ["input_ids", "token_type_ids", "attention_mask"]
    assert handle.keywords == ("input_ids", "token_type_ids", "attention_mask")
    assert stats["act"].batches == 3  # --input-shape's batch 4 over 12 samples, not -b 5


def test_bert_defaults_named_only_by_the_data(nets, tmp_path):
    """No --input-shape: the optional inputs are the ones the .npz names."""
    data = _bert_data()
    np.savez(tmp_path / "data.npz", **data)
    handle, stats = _measure(f"{nets}:bert", Settings(calibration=(str(tmp_path / "data.npz"),)))
    assert [s.name for s in handle.inputs] == ["input_ids", "token_type_ids", "attention_mask"]
    assert stats["act"].count == 12 * 6 * 8


def test_input_shape_first_dim_is_the_batch(nets):
    settings = Settings(input_shapes={"input_ids": (3, 6)}, samples=7, batch_size=16)
    handle = load_model(f"{nets}:bert", settings)
    shapes = {(s.name, s.shape) for s in handle.inputs}
    assert ("input_ids", (3, 6)) in shapes
    batches, _ = make_batches(handle.inputs, settings)
    got = [b["input_ids"].shape for b in batches]
    assert got and all(g == (3, 6) for g in got)


def test_kwargs_forward_takes_the_names_of_the_data(nets, tmp_path):
    rng = np.random.default_rng(0)
    data = {"gain": rng.uniform(0.5, 3, (10, 1)).astype(np.float32),
            "x": rng.normal(size=(10, 4)).astype(np.float32)}
    np.savez(tmp_path / "kw.npz", **data)
    handle, stats = _measure(f"{nets}:kw", Settings(calibration=(str(tmp_path / "kw.npz"),)))
    assert sorted(s.name for s in handle.inputs) == ["gain", "x"]
    _agree(stats, _truth(_build(nets, "kw"), data))
