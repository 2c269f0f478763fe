"""`inspect --shard K/N` then `saturate merge` on the sample models: the merged report is the
single run's, byte for byte, with its exit code; parts that do not belong together are one
line and exit 2, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

MLP = ("mlp_sigmoid_badinit.onnx", "data/mlp_calib.npz")
CASES = [MLP, ("transformer_block.onnx", "data/transformer_calib.npz"),
         ("cnn_relu_deadbias.onnx", None)]


def _args(samples, model, calib, *extra):
    data = ["-c", str(samples / calib)] if calib else ["-n", "40"]
    return ["inspect", str(samples / model), *data, "-b", "4", *extra]


def _shards(samples, tmp_path, model, calib, n, *extra):
    paths = []
    for k in range(n):
        path = tmp_path / f"part{k}of{n}.json"
        got = run_cli(*_args(samples, model, calib, "--shard", f"{k}/{n}", "-o", str(path),
                             *extra))
        assert got.exit_code == 0, got.stderr
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("model,calib", CASES)
def test_shards_merged_equal_one_run(samples, tmp_path, model, calib):
    one = run_cli(*_args(samples, model, calib, "-f", "json"))
    assert one.exit_code in (0, 1), one.stderr
    for n in (2, 3):
        parts = _shards(samples, tmp_path, model, calib, n)
        merged = run_cli("merge", *reversed(parts), "-f", "json")  # any order
        assert merged.stdout == one.stdout
        assert merged.exit_code == one.exit_code
    assert json.loads(one.stdout)["calibration"]["batches"] >= 3


def test_merge_renders_any_format(samples, tmp_path):
    parts = _shards(samples, tmp_path, *MLP, 2)
    for fmt in ("sarif", "markdown"):
        one = run_cli(*_args(samples, *MLP, "-f", fmt))
        merged = run_cli("merge", *parts, "-f", fmt, "-o", str(tmp_path / f"r.{fmt}"))
        assert merged.exit_code == one.exit_code == 1
        assert (tmp_path / f"r.{fmt}").read_text() == one.stdout


def _error(result, *words):
    assert result.exit_code == 2, result.stdout
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    for w in words:
        assert w in line, line


def test_parts_that_do_not_fit_are_refused(samples, tmp_path):
    p0, p1, p2 = _shards(samples, tmp_path, *MLP, 3)
    out = tmp_path / "merged.json"
    _error(run_cli("merge", p0, p2, "-o", str(out)), "1/3 missing")
    _error(run_cli("merge", p0, p1, p2, p1), "both measured batch 1")
    (tmp_path / "b4").mkdir()
    other_batch = _shards(samples, tmp_path / "b4", *MLP, 3, "-b", "2")
    _error(run_cli("merge", p0, other_batch[1], p2), "settings", "batch_size: 2 vs 4")
    (tmp_path / "x").mkdir()
    other_model = _shards(samples, tmp_path / "x", "mlp_sigmoid_xavier.onnx", MLP[1], 3)
    _error(run_cli("merge", p0, other_model[1], p2), "not the same model")
    doc = json.loads((tmp_path / "part1of3.json").read_text())
    doc["tool"]["version"] = "0.0.1"
    (tmp_path / "old.json").write_text(json.dumps(doc))
    _error(run_cli("merge", p0, str(tmp_path / "old.json"), p2), "saturate 0.0.1")
    doc = json.loads((tmp_path / "part1of3.json").read_text())
    doc["totals"] = {"a": {"count": "x"}}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    _error(run_cli("merge", p0, str(tmp_path / "bad.json"), p2), "bad.json")
    (tmp_path / "cut.json").write_text((tmp_path / "part2of3.json").read_text()[:500])
    _error(run_cli("merge", p0, p1, str(tmp_path / "cut.json")), "cut.json", "not JSON")
    report = run_cli(*_args(samples, *MLP, "-f", "json", "-o", str(tmp_path / "full.json")))
    assert report.exit_code == 1
    _error(run_cli("merge", str(tmp_path / "full.json")), "not a partial report")
    _error(run_cli("merge", str(tmp_path / "missing.json")), "missing.json")
    assert not out.exists()


def test_shard_option_errors(samples, tmp_path):
    for bad in ("3/3", "1", "a/b", "-1/2", "0/0"):
        _error(run_cli(*_args(samples, *MLP, "--shard", bad)), f"--shard {bad}", "K/N")
    model = str(samples / MLP[0])
    _error(run_cli("inspect", model, model, "--shard", "0/2"), "one model")
    _error(run_cli(*_args(samples, *MLP, "--shard", "0/2", "--baseline",
                          str(tmp_path / "b.json"))), "--baseline")
    _error(run_cli(*_args(samples, *MLP, "--shard", "0/2", "--workers", "2")), "choose one")


def test_a_shard_writes_only_its_batches(samples, tmp_path):
    """Shard K of N measures batches K, K+N, ... (K from 0); every shard reads all of them."""
    parts = _shards(samples, tmp_path, *MLP, 3)
    docs = [json.loads(Path(p).read_text()) for p in parts]
    total = docs[0]["calibration"]["batches"]
    for k, doc in enumerate(docs):
        assert doc["measured"] == list(range(k, total, 3))
        assert doc["shard"] == {"index": k, "count": 3}
        assert doc["calibration"]["batches"] == total


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_any_split_of_a_models_batches_merges_to_its_report(loaded, data):
    """Arbitrary (not round-robin) splits of a real model's batches, folded in any order: the
    rendered report is the single run's, byte for byte."""
    from saturate_cli.pipeline import inspect_handle
    from saturate_cli.render import renderer
    from saturate_cli.shard.merge import merge_partials
    from saturate_cli.shard.partial import Recorder, parse_partial, to_text

    handle, target, s, one, total = loaded
    owner = data.draw(st.lists(st.integers(0, 3), min_size=total, max_size=total))
    parts = []
    for k in sorted(set(owner)):
        recorder = Recorder(lambda i, k=k: owner[i] == k)
        inspect_handle(handle, target, s, recorder=recorder)
        parts.append(parse_partial(json.loads(to_text(recorder.partial)), f"part {k}"))
    merged = merge_partials(data.draw(st.permutations(parts)))
    assert renderer("json")([merged]) == one


@pytest.fixture(scope="module")
def loaded():
    """The transformer block loaded once, its single-run report and its batch count."""
    from conftest import SAMPLES

    from saturate_cli.model.load import load_model
    from saturate_cli.pipeline import inspect_handle
    from saturate_cli.render import renderer
    from saturate_cli.settings import Settings

    target = str(SAMPLES / "transformer_block.onnx")
    s = Settings(calibration=(str(SAMPLES / "data/transformer_calib.npz"),), batch_size=2)
    handle = load_model(target, s)
    report = inspect_handle(handle, target, s)
    return handle, target, s, renderer("json")([report]), report.calibration["batches"]


def test_an_interrupted_shard_writes_nothing(samples, tmp_path, monkeypatch):
    from saturate_cli.model.onnx.handle import OnnxModel

    measure, calls = OnnxModel.measure, []

    def stopped(self, batch):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return measure(self, batch)

    monkeypatch.setattr(OnnxModel, "measure", stopped)
    out = tmp_path / "part.json"
    got = run_cli(*_args(samples, *MLP, "--shard", "0/2", "-o", str(out)))
    assert got.exit_code == 130 and "interrupted" in got.stderr and not out.exists()
