"""The HTML report's pictures as inline SVG, drawn from report/figures.py (nothing computed)."""

from __future__ import annotations

import math
from html import escape
from typing import Optional

from saturate_cli.render import percent
from saturate_cli.render.svg import Scale, columns, line, polyline, rect, svg, text
from saturate_cli.report.figures import CurveFigure, DepthRow, RowsFigure, UnitStrip

W, H = 420, 190
LEFT, RIGHT, TOP, BOTTOM = 34, 412, 20, 160  # the plot area of a site picture
SEVERITY_CLASS = {"error": "sev-error", "warning": "sev-warning", "info": "sev-info", None: "sev-ok"}

# one <defs> for the whole page: the hatch the tails are shaded with (prints in black and white)
DEFS = ('<svg width="0" height="0" class="defs" aria-hidden="true">'
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" class="hatch-bg"/>'
        '<line x1="0" y1="0" x2="0" y2="6" class="hatch-line"/></pattern></defs></svg>')


def _g(v: float) -> str:
    return f"{v:.3g}"


def _axis(xs: Scale, fig: CurveFigure) -> str:
    """Baseline, the window's ends, zero and the thresholds as tick labels."""
    ticks = {fig.x_lo: "start", fig.x_hi: "end"}
    marks = [t.threshold for t in fig.tails] + ([0.0] if fig.x_lo < 0 < fig.x_hi else [])
    out = [line(LEFT, BOTTOM, RIGHT, BOTTOM, class_="axis")]
    for v, anchor in ticks.items():
        out.append(text(xs(v), BOTTOM + 14, _g(v), class_="tick", text_anchor=anchor))
    placed = [LEFT + 12, RIGHT - 12]  # the centres of the end labels
    for v in marks:
        if min(abs(xs(v) - p) for p in placed) > 30:  # labels never overlap
            placed.append(xs(v))
            out.append(line(xs(v), BOTTOM, xs(v), BOTTOM + 4, class_="axis"))
            out.append(text(xs(v), BOTTOM + 14, _g(v), class_="tick", text_anchor="middle"))
    return "".join(out)


def _tails(xs: Scale, fig: CurveFigure) -> str:
    out = []
    for t in fig.tails:
        a, b = sorted((xs(t.edge), xs(t.threshold)))
        label = (f"{percent(t.share)} ≤ {_g(t.threshold)}" if t.side == "low"
                 else f"{percent(t.share)} ≥ {_g(t.threshold)}")
        out.append(rect(a, TOP, b - a, BOTTOM - TOP, class_=f"tail tail-{t.side}",
                        data_threshold=repr(t.threshold)))
        at, anchor = (b - 3, "end") if t.side == "low" else (a + 3, "start")
        if (b - a) < 60:  # a narrow tail: the label goes on the sweet side of its edge
            at, anchor = (b + 3, "start") if t.side == "low" else (a - 3, "end")
        out.append(text(at, TOP + 12, label, class_="tail-label", text_anchor=anchor))
    return "".join(out)


def curve_svg(fig: CurveFigure, name: str) -> str:
    """f(x) over the input histogram, flat tails shaded, the sweet range marked."""
    xs, ys = Scale(fig.x_lo, fig.x_hi, LEFT, RIGHT), Scale(0.0, 1.0, BOTTOM, TOP)
    bar_top = Scale(0.0, 1.0, BOTTOM, TOP + 22)
    s0, s1 = xs(fig.sweet[0]), xs(fig.sweet[1])
    body = [rect(s0, TOP, s1 - s0, BOTTOM - TOP, class_="sweet"),
            line(s0, TOP + 2, s1, TOP + 2, class_="sweet-mark"),
            text(min(max((s0 + s1) / 2, LEFT + 30), RIGHT - 30), TOP - 4, "sweet range",
                 class_="sweet-label", text_anchor="middle"),
            _tails(xs, fig)]
    body.append(columns([(xs(b.x0), xs(b.x1), bar_top(b.height)) for b in fig.bars], BOTTOM,
                        class_="bar"))
    body.append(polyline([(xs(x), ys(y)) for x, y in fig.curve], class_="curve"))
    body.append(_axis(xs, fig))
    body.append(text(LEFT - 3, TOP + 4, f"{fig.f_hi:.2g}", class_="tick", text_anchor="end"))
    body.append(text(LEFT - 3, BOTTOM, f"{fig.f_lo:.2g}", class_="tick", text_anchor="end"))
    if fig.beyond_low:
        body.append(text(LEFT + 2, BOTTOM - 4, f"◂ {percent(fig.beyond_low)}", class_="beyond"))
    if fig.beyond_high:
        body.append(text(RIGHT - 2, BOTTOM - 4, f"{percent(fig.beyond_high)} ▸", class_="beyond",
                         text_anchor="end"))
    return svg(W, H, "".join(body), f"{name}: activation curve over the input histogram",
               class_="curve-fig", data_x_lo=repr(fig.x_lo), data_x_hi=repr(fig.x_hi),
               data_left=LEFT, data_right=RIGHT)


def rows_svg(fig: RowsFigure, name: str) -> str:
    """Softmax: row maxima against the collapse line, or the collapsed share as one bar."""
    xs = Scale(0.0, 1.0, LEFT, RIGHT)
    cut = xs(fig.collapse_at)
    caption = (f"{percent(fig.collapsed)} of {fig.judged_rows} rows collapsed "
               f"(max probability > {_g(fig.collapse_at)})"
               + (f"; {fig.masked_rows} masked rows not judged" if fig.masked_rows else ""))
    if fig.bars:
        top = Scale(0.0, 1.0, BOTTOM, TOP + 22)
        body = [rect(cut, TOP, RIGHT - cut, BOTTOM - TOP, class_="tail tail-high")]
        body.append(columns([(xs(b.x0), xs(b.x1), top(b.height)) for b in fig.bars], BOTTOM,
                            class_="bar"))
        body += [line(cut, TOP, cut, BOTTOM, class_="collapse-line"),
                 text(cut - 3, TOP + 12, f"collapse {_g(fig.collapse_at)}", class_="tail-label",
                      text_anchor="end"),
                 line(LEFT, BOTTOM, RIGHT, BOTTOM, class_="axis"),
                 text(LEFT, BOTTOM + 14, "0", class_="tick"),
                 text(RIGHT, BOTTOM + 14, "1  max probability per row", class_="tick",
                      text_anchor="end"),
                 text(LEFT, H - 4, caption, class_="caption")]
        return svg(W, H, "".join(body), f"{name}: distribution of row maxima", class_="rows-fig")
    split = xs(fig.collapsed)
    body = [rect(LEFT, 30, split - LEFT, 30, f"collapsed: {fig.collapsed_rows} rows",
                 class_="tail tail-high"),
            rect(split, 30, RIGHT - split, 30, f"not collapsed: "
                 f"{fig.judged_rows - fig.collapsed_rows} rows", class_="bar"),
            text(LEFT, 20, caption, class_="caption"),
            text(LEFT, 76, "share of rows collapsed", class_="tick")]
    return svg(W, 84, "".join(body), f"{name}: share of collapsed softmax rows", class_="rows-fig")


STRIP_CELL = 3.0  # px: finer than this a strip of thousands of units only costs bytes
TITLE_RUNS = 60  # dead runs named in the strip's title (the JSON report has them all)


def _dead_boxes(strip: UnitStrip) -> list[tuple[float, float, float]]:
    """The dead runs on a grid of STRIP_CELL-wide cells: a cell is dark when any unit in it is
    dead, neighbouring dark cells are one box. Every dead unit shows; a 2048-unit layer costs
    at most 63 boxes."""
    cells = int((RIGHT - LEFT) // STRIP_CELL)
    dark = [False] * cells
    for a, b in strip.runs:
        first = int(a * cells // strip.units)
        last = max(first, int(-(-b * cells // strip.units)) - 1)
        for c in range(first, min(last, cells - 1) + 1):
            dark[c] = True
    boxes, start = [], None
    for c, d in enumerate(dark + [False]):
        if d and start is None:
            start = c
        elif not d and start is not None:
            boxes.append((LEFT + start * (RIGHT - LEFT) / cells, LEFT + c * (RIGHT - LEFT) / cells,
                          4.0))
            start = None
    return boxes


def strip_svg(strip: UnitStrip, name: str) -> str:
    """The units along the unit axis; dead units dark, their indices in the title."""
    xs = Scale(0.0, float(strip.units), LEFT, RIGHT)
    body = [rect(LEFT, 4, RIGHT - LEFT, 14, f"{strip.units} units", class_="unit")]
    if strip.runs:  # one path for every dead run, one title naming them
        which = ", ".join(str(a) if b - a == 1 else f"{a}–{b - 1}"
                          for a, b in strip.runs[:TITLE_RUNS])
        if len(strip.runs) > TITLE_RUNS:
            which += f", … ({len(strip.runs) - TITLE_RUNS} more runs in -f json)"
        fine = (RIGHT - LEFT) / strip.units >= STRIP_CELL
        boxes = ([(xs(a), xs(b), 4.0) for a, b in strip.runs] if fine
                 else _dead_boxes(strip))
        dead = columns(boxes, 18, class_="unit-dead")
        body.append(dead.replace("/>", f"><title>dead units: {escape(which)}</title></path>"))
    body.append(text(LEFT - 3, 15, "units", class_="tick", text_anchor="end"))
    body.append(text(RIGHT, 30, f"{strip.dead}/{strip.units} dead", class_="tick",
                     text_anchor="end"))
    return svg(W, 34, "".join(body), f"{name}: per-unit verdict ({strip.dead} dead)",
               class_="strip-fig")


def _passed_scale(rows: list[DepthRow], top: float, bottom: float) -> Optional[Scale]:
    values = [r.passed for r in rows if r.passed]
    if not values:
        return None
    return Scale(math.log10(min(min(values), 0.1)), 0.0, bottom, top)


def depth_svg(rows: list[DepthRow]) -> str:
    """Saturated share (bars) and mean gain (line) per site; the gain passed to the output."""
    width, height, left, right = 720, 250, 40, 712
    t1, b1, t2, b2 = 16, 126, 156, 226
    band = (right - left) / max(len(rows), 1)
    share = Scale(0.0, 1.0, b1, t1)
    passed = _passed_scale(rows, t2, b2)
    body = [line(left, b1, right, b1, class_="axis"), line(left, b2, right, b2, class_="axis"),
            text(left - 3, t1 + 4, "100%", class_="tick", text_anchor="end"),
            text(left - 3, b1, "0", class_="tick", text_anchor="end"),
            text(left, t1 - 5, "saturated share (bars) · mean gain (line)", class_="caption"),
            text(left, t2 - 6, "gradient the activations pass to the output (log scale)",
                 class_="caption")]
    gain_points, passed_points = [], []
    for r in rows:
        x0 = left + r.index * band
        mid = x0 + band / 2
        if r.saturated is not None:
            body.append(rect(x0 + band * 0.12, share(r.saturated), band * 0.76,
                             b1 - share(r.saturated), class_=f"depth-bar {SEVERITY_CLASS[r.worst]}"))
        if r.mean_gain is not None:
            gain_points.append((mid, share(r.mean_gain)))
        if passed is not None and r.passed:
            passed_points.append((mid, passed(math.log10(r.passed))))
        tip = (f"#{r.index} {r.site} ({r.kind}): "
               + (f"{percent(r.saturated)} saturated" if r.saturated is not None else "no data")
               + (f", mean gain {r.mean_gain:.2f}" if r.mean_gain is not None else "")
               + (f", passes {r.passed:.2g} to the output" if r.passed else ""))
        body.append(rect(x0, t1, band, b2 - t1, tip, class_="hit"))
    if len(gain_points) > 1:
        body.append(polyline(gain_points, class_="gain-line"))
    if len(passed_points) > 1:
        body.append(polyline(passed_points, class_="passed-line"))
    if passed is not None:
        body.append(text(left - 3, t2 + 4, "1", class_="tick", text_anchor="end"))
        body.append(text(left - 3, b2, f"{10 ** passed.lo:.0e}", class_="tick", text_anchor="end"))
    body.append(text(left, height - 6, "site 0", class_="tick"))
    body.append(text(right, height - 6, f"site {len(rows) - 1} (execution order)",
                     class_="tick", text_anchor="end"))
    return svg(width, height, "".join(body), "depth profile", class_="depth-fig")

