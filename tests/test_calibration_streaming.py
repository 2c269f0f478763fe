"""Streaming a folder of shards holds about one shard in memory, not the whole folder."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from saturate_cli.calibration import make_batches
from saturate_cli.types import InputSpec
from saturate_cli.settings import Settings

ROWS, COLS, SHARDS = 2048, 256, 30  # 2 MiB per shard, 60 MiB in all


@pytest.mark.parametrize("fmt", ["npz", "npy"])
def test_peak_allocation_is_about_one_shard(tmp_path, fmt):
    rng = np.random.default_rng(0)
    total = 0.0
    for i in range(SHARDS):
        x = rng.standard_normal((ROWS, COLS), dtype=np.float32)
        total += float(x.sum(dtype=np.float64))
        np.savez(tmp_path / f"s{i}.npz", x=x) if fmt == "npz" else np.save(tmp_path / f"s{i}", x)
    shard = ROWS * COLS * 4
    spec = InputSpec("x", ("batch", COLS), "float32")
    settings = Settings(calibration=(str(tmp_path),), samples=10**9, batch_size=100)
    tracemalloc.start()
    try:
        batches, info = make_batches([spec], settings)
        seen = sum(float(b["x"].sum(dtype=np.float64)) for b in batches)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.samples == ROWS * SHARDS and seen == pytest.approx(total)
    assert peak < 1.6 * shard, f"peak {peak / 2**20:.2f} MiB for {shard / 2**20:.2f} MiB shards"
