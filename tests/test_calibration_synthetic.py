"""Synthetic data: token ids from the vocabulary, masks, typed inputs, dynamic shapes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto

from conftest import SAMPLES, run_cli
from test_calibration_fixtures import batches_for, joined, typed_model

TRANSFORMER = SAMPLES / "transformer_block.onnx"


def test_transformer_ids_from_the_embedding_vocab_and_valid_masks():
    batches, info = batches_for(TRANSFORMER, samples=40, batch_size=16)
    ids, mask = joined(batches, "input_ids"), joined(batches, "attention_mask")
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 1000
    assert ids.max() > 900  # the range is used, not just [0, 2)
    assert (mask == 1).all()
    assert [b["input_ids"].shape for b in batches] == [(16, 16), (16, 16), (8, 16)]
    assert "input 'input_ids': integers in [0, 1000) (the embedding table)" in info.notes


def test_mask_padding_is_trailing_zeros_with_a_full_row():
    batches, _ = batches_for(TRANSFORMER, samples=16, batch_size=16, mask_padding=True)
    mask = batches[0]["attention_mask"]
    assert mask[0].all()
    for row in mask:
        kept = int(row.sum())
        assert kept >= 8 and (row[:kept] == 1).all() and (row[kept:] == 0).all()
    assert (mask == 0).any()


def test_int_range_overrides_the_vocab():
    batches, info = batches_for(TRANSFORMER, samples=8, int_range=(5, 7))
    assert set(np.unique(batches[0]["input_ids"])) <= {5, 6}
    assert "input 'input_ids': integers in [5, 7) (--int-range)" in info.notes


def test_seed_reproducible_and_kinds(tmp_path):
    model = SAMPLES / "mlp_sigmoid_badinit.onnx"
    a, _ = batches_for(model, samples=8, seed=3)
    b, _ = batches_for(model, samples=8, seed=3)
    np.testing.assert_array_equal(a[0]["x"], b[0]["x"])
    u, _ = batches_for(model, samples=8, synthetic="uniform")
    assert -1 <= u[0]["x"].min() < u[0]["x"].max() <= 1
    z, _ = batches_for(model, samples=8, synthetic="zeros")
    assert not z[0]["x"].any()


def test_typed_inputs(tmp_path):
    model = typed_model(tmp_path, {
        "token_type_ids": (TensorProto.INT64, ["batch", "seq"]),
        "position_ids": (TensorProto.INT64, ["batch", "seq"]),
        "key_padding_mask": (TensorProto.BOOL, ["batch", "seq"]),
        "flags": (TensorProto.BOOL, ["batch", "seq"]),
        "half": (TensorProto.FLOAT16, ["batch", "seq"]),
        "codes": (TensorProto.INT32, ["batch", "seq"]),
    })
    batches, info = batches_for(model, samples=4, batch_size=4, default_dim=5)
    b = batches[0]
    assert not b["token_type_ids"].any()
    np.testing.assert_array_equal(b["position_ids"], np.tile(np.arange(5), (4, 1)))
    assert b["key_padding_mask"].dtype == np.bool_ and not b["key_padding_mask"].any()
    assert b["flags"].dtype == np.bool_
    assert b["half"].dtype == np.float16
    assert b["codes"].dtype == np.int32 and set(np.unique(b["codes"])) <= {0, 1}
    assert any("no vocabulary known; give --int-range" in n for n in info.notes)
    result = run_cli("inspect", str(model), "-n", "4", "-f", "json", "-q")
    assert result.exit_code in (0, 1), result.stderr


def test_bfloat16_input_data(tmp_path):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    model = typed_model(tmp_path, {"x": (TensorProto.BFLOAT16, ["batch", 4])})
    batches, _ = batches_for(model, samples=3)
    assert batches[0]["x"].dtype == np.dtype(ml_dtypes.bfloat16)
    assert batches[0]["x"].shape == (3, 4)


def test_dynamic_shapes_default_and_given():
    result = run_cli("inspect", str(TRANSFORMER), "-n", "20", "-b", "8", "-f", "json", "-q")
    cal = json.loads(result.stdout)["calibration"]
    assert cal["shapes"] == {"input_ids": [8, 16], "attention_mask": [8, 16]}  # seq: default
    assert (cal["samples"], cal["batches"]) == (20, 3)
    result = run_cli("inspect", str(TRANSFORMER), "-n", "4", "-b", "2", "--input-shape",
                     "input_ids=1x7", "--input-shape", "attention_mask=1x7", "-f", "json", "-q")
    cal = json.loads(result.stdout)["calibration"]
    assert cal["shapes"] == {"input_ids": [2, 7], "attention_mask": [2, 7]}


def test_data_resolves_dynamic_dims():
    data = SAMPLES / "data" / "transformer_calib.npz"  # [16, 12]
    result = run_cli("inspect", str(TRANSFORMER), "-c", str(data), "-b", "16", "-f", "json",
                     "-q")
    cal = json.loads(result.stdout)["calibration"]
    assert cal["shapes"] == {"input_ids": [16, 12], "attention_mask": [16, 12]}
