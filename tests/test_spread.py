"""stats/spread.std_of against numpy's float64 standard deviation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from saturate_cli.stats.spread import std_of


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 200_000), scale=st.sampled_from([1e-4, 0.02, 1.0, 1e3]),
       offset=st.sampled_from([0.0, 0.5, -30.0, 1e4]), seed=st.integers(0, 2**31 - 1))
def test_matches_numpy_in_float64(n, scale, offset, seed):
    w = (np.random.default_rng(seed).standard_normal(n) * scale + offset).astype(np.float32)
    want = float(np.std(w.astype(np.float64))) if n else 0.0
    assert abs(std_of(w) - want) <= 1e-6 * want + 1e-12 * abs(offset)


def test_other_dtypes_and_shapes():
    w = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    assert std_of(w) == np.std(w)
    assert std_of(np.zeros((0, 3), np.float32)) == 0.0
    assert std_of(np.full((5, 5), 7.0, np.float32)) == 0.0
