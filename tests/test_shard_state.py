"""Partial state and the exact merge, below the models: any split of any batches folds back to
the single run's statistics bit for bit (hypothesis), and those equal numpy float64 on the
concatenated data; the JSON codec loses no bit; why per-batch float64 states are kept."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import fields
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from stats_truth import assert_matches

from saturate_cli.activations import TailBook
from saturate_cli.batch_loop import run_batches
from saturate_cli.settings import Settings
from saturate_cli.shard.merge import check_parts, merged_stats
from saturate_cli.shard.partial import Recorder, parse_partial, to_text
from saturate_cli.shard.state import decode_stats, encode_stats
from saturate_cli.stats import site_stats
from saturate_cli.stats.site_stats import SiteStats, stats_of_array
from saturate_cli.types import InputSpec, Site

LOW, HIGH = -2.0, 2.0


class ArrayModel:
    """A handle whose 'model' is the batch itself: site a = x (tails, units on axis 1), site s
    = the softmax logits (rows, row sample)."""

    path, format, sha256, notes, not_covered = "arrays", "test", "0" * 64, (), ()
    inputs = (InputSpec("x", ("n", 3), "float64"),)
    sites = (Site("a", "x", "Tanh", "tanh", unit_axis=1, rank=2),
             Site("s", "logits", "Softmax", "softmax", softmax_axes=(1,), rank=2))

    def prepare(self, first, book, softmax_tau):
        pass

    def measure(self, batch):
        out = {"a": stats_of_array(batch["x"], LOW, HIGH, unit_axis=1)}
        if batch.get("logits") is not None:
            out["s"] = stats_of_array(batch["logits"], None, None, None, softmax_axis=1)
        return out

    def finish(self):
        pass


def values(rows: int, offset: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = offset + rng.normal(0, 3, (rows, 3))
    if seed % 7 == 0 and rows:
        x[0, seed % 3] = [np.nan, np.inf, -np.inf][seed % 3]
    return x


batch_st = st.builds(
    lambda rows, offset, seed, width, lrows: {
        "x": values(rows, offset, seed),
        "logits": None if width == 0 else np.random.default_rng(seed + 1).normal(
            0, 4, (lrows, width))},
    rows=st.integers(0, 6), offset=st.sampled_from([0.0, 1e3, -1e7, 3.25e9]),
    seed=st.integers(0, 10**6), width=st.sampled_from([0, 3, 3, 5]), lrows=st.integers(1, 30))


def same_bits(a: SiteStats, b: SiteStats) -> None:
    """Every field identical to the last bit (NaN and -0.0 included)."""
    for f in fields(SiteStats):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert x is not None and y is not None, f.name
            assert (x.dtype, x.shape, x.tobytes()) == (y.dtype, y.shape, y.tobytes()), f.name
        elif isinstance(x, float) or isinstance(y, float):
            assert struct.pack("<d", x) == struct.pack("<d", y), (f.name, x, y)
        else:
            assert x == y, (f.name, x, y)


def partials(batches: list, owner: list[int]):
    """One partial per part (through its JSON text), part k measuring the batches it owns."""
    out = []
    for k in sorted(set(owner)) + [max(owner) + 1]:  # and one part that measured nothing
        recorder = Recorder(lambda i, k=k: owner[i] == k)
        measured = run_batches(ArrayModel(), batches, TailBook(0.05), 0.01,
                               keep=recorder.keep, on_batch=recorder.on_batch)
        doc = recorder.document(ArrayModel(), Settings(), {"batches": len(batches)}, (),
                                measured)
        out.append(parse_partial(json.loads(to_text(doc)), f"part {k}"))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(batch_st, min_size=1, max_size=12), st.data())
def test_any_split_merges_to_the_single_run_bit_for_bit(batches, data):
    owner = data.draw(st.lists(st.integers(0, 3), min_size=len(batches),
                               max_size=len(batches)))
    with mock.patch.object(site_stats, "ROW_SAMPLE", 40):  # the row sample fills up
        single = run_batches(ArrayModel(), batches, TailBook(0.05), 0.01).stats
        parts = partials(batches, owner)
        merged = merged_stats(check_parts(data.draw(st.permutations(parts))))
    for name in single:
        same_bits(merged.get(name, SiteStats()), single[name])
    x = np.concatenate([b["x"] for b in batches])  # and the truth: numpy float64, all at once
    if x.size:  # (no data at all: no batch counts, so no unit counts either)
        assert_matches(merged["a"], stats_of_array(x, LOW, HIGH, unit_axis=1), x)


@settings(max_examples=80, deadline=None)
@given(batch_st, st.sampled_from([None, 1, 7]))
def test_state_round_trips_through_json_exactly(batch, every):
    x = batch["x"]
    for s in (stats_of_array(x, LOW, HIGH, unit_axis=1, sample_every=every or 1),
              stats_of_array(x, None, None, None) if every is None else SiteStats(),
              stats_of_array(batch["logits"], None, None, None, softmax_axis=1)
              if batch["logits"] is not None else SiteStats(min=-0.0, max=math.nan)):
        text = json.dumps(encode_stats(s), allow_nan=False)
        same_bits(decode_stats(json.loads(text)), s)


def test_shard_totals_alone_would_not_be_exact():
    """Why the partial keeps each batch's mean, M2 and unit sums: float64 folds in another
    grouping ((b0+b1)+(b2+b3) instead of ((b0+b1)+b2)+b3) end in other bits."""
    batches = [values(5, 3.25e9, s) for s in (1, 2, 3, 4)]
    parts = [stats_of_array(b, LOW, HIGH, unit_axis=1) for b in batches]
    in_order = parts[0].merge(parts[1]).merge(parts[2]).merge(parts[3])
    grouped = parts[0].merge(parts[2]).merge(parts[1].merge(parts[3]))  # shards 0/2 and 1/2
    assert (in_order.mean, in_order.m2, in_order.unit_sum.tobytes()) != (
        grouped.mean, grouped.m2, grouped.unit_sum.tobytes())
    owner = [0, 1, 0, 1]
    merged = merged_stats(check_parts(partials([{"x": b} for b in batches], owner)))
    same_bits(merged["a"], in_order)


def test_rows_beyond_a_full_sample_are_not_kept():
    """A shard keeps a batch's softmax rows only while its own rows of that width can still
    be in the sample: the partial stays bounded however many batches it measures."""
    batches = [{"x": values(2, 0.0, s), "logits": np.ones((30, 4)) * s} for s in range(10)]
    with mock.patch.object(site_stats, "ROW_SAMPLE", 40):
        recorder = Recorder(lambda i: True)
        run_batches(ArrayModel(), batches, TailBook(0.05), 0.01, keep=recorder.keep,
                    on_batch=recorder.on_batch)
    kept = [b.row_sample is not None for _, b in recorder.batches["s"]]
    assert kept == [True, True] + [False] * 8


def test_a_recorded_batch_costs_bytes_not_a_histogram():
    """One state per batch and site is kept until the partial is written: each holds no
    histogram of its own (a whole grid is 37 KB)."""
    import tracemalloc

    s = stats_of_array(values(8, 0.0, 1), LOW, HIGH, unit_axis=1)
    recorder = Recorder(lambda i: True)
    tracemalloc.start()
    try:
        for i in range(1000):
            recorder.on_batch(i, {"a": s, "b": s})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / 2000 < 2048
