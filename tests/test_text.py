"""--text without transformers: samples read and streamed, a stand-in tokenizer (whitespace
words, numpy arrays as a Hugging Face tokenizer returns them), the validity mask, the padding
count, and which site inputs are token-wise."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from saturate_cli.calibration import make_batches
from saturate_cli.calibration.text import read_texts
from saturate_cli.model.mask import kept_unit_axis, strip, token_wise
from saturate_cli.errors import CalibrationError, UsageError
from saturate_cli.settings import Settings
from saturate_cli.types import VALID_POSITIONS, InputSpec

SPECS = [InputSpec("input_ids", ("batch", "sequence"), "int64", 50),
         InputSpec("attention_mask", ("batch", "sequence"), "int64")]


class WordTokenizer:
    """Word i -> id i + 1, padding 0 on the right, truncation to max_length."""

    model_max_length = 10**9

    def __init__(self):
        self.calls = []

    def __call__(self, texts, padding, truncation, max_length, return_attention_mask,
                 return_token_type_ids, return_tensors):
        self.calls.append(len(texts))
        rows = [[len(w) for w in t.split()][:max_length] for t in texts]
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), np.int32)
        mask = np.zeros((len(rows), width), np.int32)
        for i, r in enumerate(rows):
            ids[i, :len(r)], mask[i, :len(r)] = r, 1
        out = {"input_ids": ids, "attention_mask": mask}
        if return_token_type_ids:
            out["token_type_ids"] = np.zeros_like(ids)
        return out


def _settings(path, **kw) -> Settings:
    return replace(Settings(), text=str(path), batch_size=kw.pop("batch_size", 2), **kw)


def test_lines_stream_in_batches_with_the_mask_and_the_padding_note(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("aa b ccc\n\nd\nee ff\n")
    tok = WordTokenizer()
    batches, info = make_batches(SPECS, _settings(path), tokenizer=tok)
    assert tok.calls == [2]  # the first batch is tokenized ahead; the rest as they are read
    got = list(batches)
    assert tok.calls == [2, 1]
    assert [b["input_ids"].tolist() for b in got] == [[[2, 1, 3], [1, 0, 0]], [[2, 2]]]
    assert got[0]["input_ids"].dtype == np.int64 and got[0]["attention_mask"].dtype == np.int64
    assert got[0][VALID_POSITIONS].tolist() == [[True, True, True], [True, False, False]]
    assert info.samples == 3 and info.batches == 2
    assert set(info.shapes) == {"input_ids", "attention_mask"}
    assert any("2 of 8 token positions are padding" in n for n in info.notes)


def test_samples_cap_max_length_and_the_model_limit(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("a b c d e f\n" * 5)
    tok = WordTokenizer()
    batches, info = make_batches(SPECS, _settings(path, samples=3, max_length=4), tokenizer=tok)
    got = list(batches)
    assert sum(len(b["input_ids"]) for b in got) == 3
    assert all(b["input_ids"].shape[1] == 4 for b in got)
    tok.model_max_length = 2  # the model's own limit (set by the loader) wins when lower
    batches, info = make_batches(SPECS, _settings(path, max_length=4), tokenizer=tok)
    assert next(batches)["input_ids"].shape[1] == 2
    assert any("truncated to 2 tokens" in n for n in info.notes)


def test_jsonl_field_and_token_type_ids_only_when_the_model_takes_them(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps({"body": t, "n": i}) for i, t in
                              enumerate(["a bb", "ccc"])) + "\n")
    assert list(read_texts(path, "body")) == ["a bb", "ccc"]
    specs = SPECS + [InputSpec("token_type_ids", ("batch", "sequence"), "int64", 2)]
    batch = next(make_batches(specs, _settings(path, text_field="body"),
                              tokenizer=WordTokenizer())[0])
    assert sorted(batch) == sorted([VALID_POSITIONS, "input_ids", "attention_mask",
                                    "token_type_ids"])
    batch = next(make_batches(SPECS, _settings(path, text_field="body"),
                              tokenizer=WordTokenizer())[0])
    assert "token_type_ids" not in batch


@pytest.mark.parametrize("body, field, message", [
    ('{"text": "a"}\n[1, 2]\n', "text", "line 2 has no text field 'text'"),
    ('{"text": 3}\n', "text", "line 1 has no text field"),
    ("{bad\n", "text", "line 1 is not JSON"),
    ("\n \n", "text", "no samples"),
])
def test_bad_text_files_are_calibration_errors(tmp_path, body, field, message):
    path = tmp_path / ("s.txt" if message == "no samples" else "s.jsonl")
    path.write_text(body)
    with pytest.raises(CalibrationError, match=message):
        list(make_batches(SPECS, _settings(path, text_field=field),
                          tokenizer=WordTokenizer())[0])


def test_text_needs_a_tokenizer_and_input_ids(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("a\n")
    with pytest.raises(UsageError, match="give one of them"):
        make_batches(SPECS, _settings(path, calibration=("x.npz",)), tokenizer=WordTokenizer())
    with pytest.raises(CalibrationError, match="needs a Hugging Face checkpoint"):
        make_batches(SPECS, _settings(path), tokenizer=None)
    with pytest.raises(CalibrationError, match="no such file"):
        make_batches(SPECS, _settings(tmp_path / "missing.txt"), tokenizer=WordTokenizer())
    with pytest.raises(CalibrationError, match="takes no input_ids"):
        make_batches([InputSpec("x", (1, 3), "float32")], _settings(path),
                     tokenizer=WordTokenizer())


@hsettings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=12), st.integers(1, 5))
def test_padding_count_is_the_padded_positions_of_every_batch(tmp_path_factory, lengths, size):
    path = tmp_path_factory.mktemp("t") / "s.txt"
    path.write_text("".join(" ".join(["w"] * n) + "\n" for n in lengths))
    batches, info = make_batches(SPECS, _settings(path, batch_size=size),
                                 tokenizer=WordTokenizer())
    seen = list(batches)
    chunks = [lengths[i:i + size] for i in range(0, len(lengths), size)]
    padded = sum(max(c) * len(c) - sum(c) for c in chunks)
    assert [int(b[VALID_POSITIONS].sum()) for b in seen] == [sum(c) for c in chunks]
    assert any(n.startswith(f"text: {padded} of {padded + sum(lengths)} token positions")
               for n in info.notes)


def test_which_site_inputs_are_token_wise():
    assert token_wise((2, 5, 8), (2, 5), 2, False)
    assert token_wise((2, 5, 4, 8), (2, 5), -1, False)
    assert token_wise((2, 5, 8), (2, 5), None, False)
    assert not token_wise((2, 8), (2, 5), 1, False)  # pooled: one row per sample
    assert not token_wise((2, 5, 8), (2, 6), 2, False)
    assert not token_wise((2, 2, 5, 5), (2, 5), 3, True)  # softmax rows: their own masking
    assert not token_wise((2, 5, 8), (2, 5), 1, False)  # units along the sequence
    assert kept_unit_axis(2, 3) == 1 and kept_unit_axis(-1, 4) == 2 and kept_unit_axis(None, 3) \
        is None
    batch = {"x": 1, VALID_POSITIONS: 2}
    assert strip(batch) == ({"x": 1}, 2) and strip({"x": 1}) == ({"x": 1}, None)
