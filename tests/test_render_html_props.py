"""Properties of the picture data and the name shortening (hypothesis): nothing lost, nothing
invented, every bound kept."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from saturate_cli.render.text import short_names, shorten
from saturate_cli.report.figures import _bends, histogram_bars, shared_prefix
from test_render_text_support import pieces_in_order

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


@settings(max_examples=200, deadline=None)
@given(names, st.integers(4, 60))
def test_short_names_fit_and_are_pieces_of_the_name(given_names, width):
    for short, full in zip(short_names(given_names, width), given_names):
        assert len(short) <= max(width, 0) and pieces_in_order(short, full)
        assert short == full or len(full) > width
    for full in given_names:
        out = shorten(full, width)
        assert len(out) == min(width, len(full)) and pieces_in_order(out, full)


@settings(max_examples=200, deadline=None)
@given(names)
def test_the_shared_prefix_is_shared_and_ends_at_a_separator(given_names):
    prefix = shared_prefix(given_names)
    assert all(n.startswith(prefix) and len(n) > len(prefix) for n in given_names)
    assert prefix == "" or (len(prefix) > 1 and prefix[-1] in "/.:")


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4096).flatmap(lambda n: st.tuples(
    st.just(n), st.sets(st.integers(0, n - 1), max_size=min(n, 600)))))
def test_every_dead_unit_is_under_a_dark_box_and_no_box_is_empty(case):
    import re

    from saturate_cli.render.html_figures import LEFT, RIGHT, strip_svg
    from saturate_cli.report.figures import unit_strip
    from test_formats_support import site

    units, dead = case
    s = site("s")
    s = replace(s, saturation=dict(s.saturation, units=units, dead_units=len(dead),
                                   dead_unit_indices=sorted(dead)))
    strip = unit_strip(s)
    boxes = [(float(a), float(b)) for a, b in re.findall(r"M([\d.]+) 18V4H([\d.]+)V18Z",
                                                         strip_svg(strip, "s"))]
    assert len(boxes) <= max(len(strip.runs), 0) and (len(boxes) <= 63 or units <= 126)
    width = (RIGHT - LEFT) / units
    for i in dead:  # the unit's own span [x(i), x(i+1)) overlaps a box
        x0, x1 = LEFT + i * width, LEFT + (i + 1) * width
        assert any(a < x1 + 0.06 and b > x0 - 0.06 for a, b in boxes), i
    for a, b in boxes:  # and a box holds some dead unit
        assert any(LEFT + i * width < b + 0.06 and LEFT + (i + 1) * width > a - 0.06
                   for i in dead)
