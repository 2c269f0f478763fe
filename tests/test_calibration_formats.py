"""Every calibration file format, on a single-input and a multi-input model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SAMPLES, run_cli
from test_calibration_fixtures import batches_for, joined, two_input_model, write_pb

MLP = SAMPLES / "mlp_sigmoid_badinit.onnx"  # x float32 [batch, 784]
TRANSFORMER = SAMPLES / "transformer_block.onnx"  # input_ids, attention_mask int64 [batch, seq]


def _x(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 784)).astype(np.float32)


def _tokens(n: int, seq: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = np.ones((n, seq), np.int64)
    mask[1::2, seq // 2:] = 0
    return {"input_ids": rng.integers(0, 1000, (n, seq)), "attention_mask": mask}


def _same(batches, expected: dict) -> None:
    for name, array in expected.items():
        np.testing.assert_array_equal(joined(batches, name), array)


# --- numpy -----------------------------------------------------------------------------------

def test_npy_single_input_batches_and_last_partial(tmp_path):
    x = _x(37)
    np.save(tmp_path / "x.npy", x)
    batches, info = batches_for(MLP, calibration=(str(tmp_path / "x.npy"),), batch_size=16,
                                samples=1000)
    assert [b["x"].shape[0] for b in batches] == [16, 16, 5]
    _same(batches, {"x": x})
    assert (info.samples, info.batches, info.shapes) == (37, 3, {"x": [16, 784]})


def test_samples_caps_the_data(tmp_path):
    np.save(tmp_path / "data.npy", _x(37))
    batches, info = batches_for(MLP, calibration=(str(tmp_path / "data.npy"),), batch_size=8,
                                samples=20)
    assert [b["x"].shape[0] for b in batches] == [8, 8, 4]
    assert info.samples == 20 and any("--samples 20" in n for n in info.notes)


def test_npy_per_input_files_by_name(tmp_path):
    tokens = _tokens(10)
    paths = []
    for name, array in tokens.items():
        np.save(tmp_path / f"{name}.npy", array)
        paths.append(str(tmp_path / f"{name}.npy"))
    batches, info = batches_for(TRANSFORMER, calibration=tuple(reversed(paths)), batch_size=4)
    _same(batches, tokens)
    assert info.shapes == {"input_ids": [4, 6], "attention_mask": [4, 6]}


def test_npz_keyed_by_name_multi_input(tmp_path):
    tokens = _tokens(9)
    np.savez(tmp_path / "t.npz", attention_mask=tokens["attention_mask"],
             input_ids=tokens["input_ids"])
    batches, _ = batches_for(TRANSFORMER, calibration=(str(tmp_path / "t.npz"),), batch_size=4)
    _same(batches, tokens)


def test_npz_positional_arrays(tmp_path):
    tokens = _tokens(5)
    np.savez(tmp_path / "t.npz", tokens["input_ids"], tokens["attention_mask"])  # arr_0, arr_1
    batches, _ = batches_for(TRANSFORMER, calibration=(str(tmp_path / "t.npz"),))
    _same(batches, tokens)


def test_npz_single_array_any_key_for_single_input(tmp_path):
    x = _x(6)
    np.savez(tmp_path / "d.npz", whatever=x)
    batches, _ = batches_for(MLP, calibration=(str(tmp_path / "d.npz"),))
    _same(batches, {"x": x})


# --- torch -----------------------------------------------------------------------------------

@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("form", ["tensor", "tuple", "list", "dict"])
def test_pt_single_input(tmp_path, form, torch):
    x = _x(11)
    t = torch.from_numpy(x)
    obj = {"tensor": t, "tuple": (t,), "list": [t], "dict": {"x": t}}[form]
    torch.save(obj, tmp_path / "x.pt")
    batches, _ = batches_for(MLP, calibration=(str(tmp_path / "x.pt"),), batch_size=4)
    _same(batches, {"x": x})


@pytest.mark.parametrize("form", ["tuple", "dict", "list_of_dicts"])
def test_pt_multi_input(tmp_path, form, torch):
    tokens = _tokens(8)
    ids, mask = (torch.from_numpy(tokens[k]) for k in ("input_ids", "attention_mask"))
    obj = {"tuple": (ids, mask), "dict": {"attention_mask": mask, "input_ids": ids},
           "list_of_dicts": [{"input_ids": ids[:5], "attention_mask": mask[:5]},
                             {"input_ids": ids[5:], "attention_mask": mask[5:]}]}[form]
    torch.save(obj, tmp_path / "t.pth")
    batches, info = batches_for(TRANSFORMER, calibration=(str(tmp_path / "t.pth"),),
                                batch_size=3)
    _same(batches, tokens)
    assert [b["input_ids"].shape[0] for b in batches] == [3, 3, 2]  # across the two records
    assert info.samples == 8


def test_pt_bfloat16_tensor_keeps_its_values(tmp_path, torch):
    x = _x(4)
    torch.save(torch.from_numpy(x).to(torch.bfloat16), tmp_path / "x.pt")
    batches, info = batches_for(MLP, calibration=(str(tmp_path / "x.pt"),))
    expected = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(batches[0]["x"], expected)
    assert any("bfloat16 data cast to float32" in n for n in info.notes)


# --- ONNX TensorProto files ------------------------------------------------------------------

def test_onnx_test_data_layout_by_position(tmp_path):
    """model_dir/test_data_set_N/input_K.pb (+ output_K.pb, ignored), sets in natural order."""
    sets = [_tokens(2, seed=s) for s in range(12)]
    for i, tokens in enumerate(sets):
        folder = tmp_path / f"test_data_set_{i}"
        write_pb(folder / "input_0.pb", tokens["input_ids"])
        write_pb(folder / "input_1.pb", tokens["attention_mask"])
        write_pb(folder / "output_0.pb", np.zeros((2, 6, 64), np.float32))
    batches, info = batches_for(TRANSFORMER, calibration=(str(tmp_path),), batch_size=5,
                                samples=1000)
    expected = {k: np.concatenate([t[k] for t in sets]) for k in sets[0]}  # 0, 1, 2, ..., 11
    _same(batches, expected)
    assert info.samples == 24 and [b["input_ids"].shape[0] for b in batches] == [5] * 4 + [4]


def test_pb_matched_by_tensor_name(tmp_path):
    tokens = _tokens(3)
    write_pb(tmp_path / "input_0.pb", tokens["attention_mask"], "attention_mask")
    write_pb(tmp_path / "input_1.pb", tokens["input_ids"], "input_ids")
    batches, _ = batches_for(TRANSFORMER, calibration=(str(tmp_path),))
    _same(batches, tokens)


def test_pb_single_input_one_sample_without_batch_axis(tmp_path):
    x = _x(1)[0]  # (784,): rank one below the model's
    write_pb(tmp_path / "input_0.pb", x)
    batches, info = batches_for(MLP, calibration=(str(tmp_path / "input_0.pb"),))
    _same(batches, {"x": x[None]})
    assert any("taken as one sample" in n for n in info.notes)


# --- folders of shards -----------------------------------------------------------------------

def test_shard_folder_natural_order_and_rebatching(tmp_path):
    shards = [_x(3, seed=i) for i in range(12)]
    for i, x in enumerate(shards):
        np.save(tmp_path / f"shard_{i}.npy", x)  # shard_10 sorts after shard_9
    (tmp_path / "README.txt").write_text("not data")
    batches, info = batches_for(MLP, calibration=(str(tmp_path),), batch_size=8, samples=1000)
    _same(batches, {"x": np.concatenate(shards)})
    assert [b["x"].shape[0] for b in batches] == [8, 8, 8, 8, 4]
    assert (info.samples, info.batches) == (36, 5)


def test_multi_input_shard_folder_of_npz(tmp_path):
    shards = [_tokens(4, seed=i) for i in range(3)]
    for i, t in enumerate(shards):
        np.savez(tmp_path / f"part{i:02d}.npz", **t)
    batches, _ = batches_for(TRANSFORMER, calibration=(str(tmp_path),), batch_size=16)
    _same(batches, {k: np.concatenate([s[k] for s in shards]) for k in shards[0]})


def test_float_multi_input_model_end_to_end(tmp_path):
    model = two_input_model(tmp_path)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((20, 4)).astype(np.float32), rng.standard_normal((20, 3))
    np.savez(tmp_path / "ab.npz", b=b, a=a)
    result = run_cli("inspect", str(model), "-c", str(tmp_path / "ab.npz"), "-b", "6",
                     "-f", "json", "-q")
    assert result.exit_code in (0, 1), result.stderr
    report = json.loads(result.stdout)
    cal = report["calibration"]
    assert (cal["samples"], cal["batches"]) == (20, 4)
    assert cal["shapes"] == {"a": [6, 4], "b": [6, 3]}
    assert "input 'b': float64 data cast to float32 (precision reduced)" in cal["notes"]
    z = np.concatenate([a, b.astype(np.float32)], axis=1) @ np.full((7, 5), 0.1, np.float32)
    assert report["sites"][0]["stats"]["count"] == z.size
    assert report["sites"][0]["stats"]["mean"] == pytest.approx(float(z.mean()), rel=1e-5)


def test_real_sample_data_through_the_cli():
    result = run_cli("inspect", str(TRANSFORMER), "-c",
                     str(SAMPLES / "data" / "transformer_calib.npz"), "-b", "5", "-f", "json",
                     "-q")
    cal = json.loads(result.stdout)["calibration"]
    assert (cal["samples"], cal["batches"], cal["partial"]) == (16, 4, False)
    assert cal["source"].startswith("file:")
