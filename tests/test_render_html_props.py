"""Properties of the picture data and the name shortening (hypothesis): nothing lost, nothing
invented, every bound kept."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from saturate_cli.render.text import short_names, shorten
from saturate_cli.report.figures import _bends, histogram_bars, shared_prefix

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def histograms(draw):
    n = draw(st.integers(1, 24))
    edges = sorted(set(draw(st.lists(finite, min_size=n + 1, max_size=n + 1))))
    if len(edges) < 2:
        edges = [0.0, 1.0]
    counts = draw(st.lists(st.integers(0, 10_000), min_size=len(edges) - 1,
                           max_size=len(edges) - 1))
    lo, hi = sorted(draw(st.lists(finite, min_size=2, max_size=2, unique=True)))
    return edges, counts, lo, hi


@settings(max_examples=200, deadline=None)
@given(histograms())
def test_bars_and_the_shares_beyond_add_up_to_all_values(case):
    edges, counts, lo, hi = case
    bars, below, above = histogram_bars(edges, counts, lo, hi)
    if sum(counts) == 0:
        assert (bars, below, above) == ((), 0.0, 0.0)
        return
    assert abs(sum(b.share for b in bars) + below + above - 1.0) < 1e-9
    assert all(lo <= b.x0 < b.x1 <= hi and 0 < b.height <= 1 for b in bars)
    assert max(b.height for b in bars) == 1.0 if bars else True
    for b in bars:  # a height is the bin's share relative to the largest share drawn
        assert abs(b.height - b.share / max(x.share for x in bars)) < 1e-9


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=4, max_size=6), st.floats(0.5, 40))
def test_curve_points_stay_within_tolerance_of_the_full_curve(coefficients, spread):
    x = np.linspace(-spread, spread, 161)
    y = np.tanh(np.polyval(coefficients, x / spread))
    y = (y - y.min()) / ((y.max() - y.min()) or 1.0)
    keep = _bends(y)
    assert keep[0] == 0 and keep[-1] == len(y) - 1 and np.all(np.diff(keep) > 0)
    drawn = np.interp(np.arange(len(y)), keep, y[keep])
    assert np.abs(drawn - y).max() <= 0.003 + 1e-12


segment = st.text("abcdefgxyz_0123456789", min_size=1, max_size=12)
names = st.lists(st.lists(segment, min_size=1, max_size=7).map(lambda s: "/" + "/".join(s)),
                 min_size=1, max_size=12, unique=True)


def in_order(short: str, full: str) -> bool:
    at = 0
    for part in short.split("…"):
        found = full.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


@settings(max_examples=200, deadline=None)
@given(names, st.integers(4, 60))
def test_short_names_fit_and_are_pieces_of_the_name(given_names, width):
    for short, full in zip(short_names(given_names, width), given_names):
        assert len(short) <= max(width, 0) and in_order(short, full)
        assert short == full or len(full) > width
    for full in given_names:
        out = shorten(full, width)
        assert len(out) == min(width, len(full)) and in_order(out, full)


@settings(max_examples=200, deadline=None)
@given(names)
def test_the_shared_prefix_is_shared_and_ends_at_a_separator(given_names):
    prefix = shared_prefix(given_names)
    assert all(n.startswith(prefix) and len(n) > len(prefix) for n in given_names)
    assert prefix == "" or (len(prefix) > 1 and prefix[-1] in "/.:")
