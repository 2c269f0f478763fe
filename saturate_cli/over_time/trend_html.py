"""The trend as one offline HTML page: per site, a heat map of its input histogram over the
checkpoints (value bins x checkpoints, log counts, the saturated tails marked) and the series
of saturated share and mean gain. Inline SVG (render/svg.py) and CSS, no script. The figures
come from over_time/ (heatmap.py, drift.py: a layer above, handed in, never imported);
this module only lays them out."""

from __future__ import annotations

from html import escape

from saturate_cli.render.html import page
from saturate_cli.render.svg import Scale, line, polyline, rect, svg, text

EXTRA_CSS = """<style>
.heat{fill:var(--blue)}.tail-line{stroke:var(--vermillion);stroke-width:1.5;stroke-dasharray:5 3}
.zero-line{stroke:#000;stroke-opacity:.35;stroke-width:1}
.share-line{fill:none;stroke:var(--vermillion);stroke-width:2}
.gain-series{fill:none;stroke:var(--blue);stroke-width:2;stroke-dasharray:6 3}
.onset{border:2px solid var(--vermillion);padding:6px 10px;margin:.6em 0}
</style>"""
W, H, LEFT, BOTTOM, TOP = 420, 220, 58, 34, 8


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3g}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _short(label) -> str:
    text_ = str(label)
    return text_.rsplit(".", 1)[0] if "." in text_[-6:] else text_


def _columns(labels, x_of, height: int = H) -> str:
    """Checkpoint labels under the columns, thinned so that they do not overlap."""
    names = [_short(label)[:16] for label in labels]
    room = (W - LEFT) / max(len(names), 1)
    every = max(1, -(-max(len(n) for n in names) * 6 // int(max(room, 1))))
    return "".join(text(x_of(i), height - BOTTOM + 14, name, class_="tick",
                        text_anchor="middle")
                   for i, name in enumerate(names) if i % every == 0)


def heat_svg(heat: dict, labels: tuple, name: str) -> str:
    """Value bins (rows, high values on top) x checkpoints (columns), shade = log10(1 + n)."""
    rows, cols = len(heat["edges"]) - 1, len(labels)
    xs = Scale(0, cols, LEFT, W - 4)
    ys = Scale(0, 1, H - BOTTOM, TOP)
    step, cell_h = xs(1) - xs(0), (ys(0) - ys(1)) / rows
    top = heat["log_max"] or 1.0
    body = []
    for c, column in enumerate(heat["log_counts"]):
        for r, v in enumerate(column):
            if v > 0:
                tip = (f"{labels[c]}: {heat['counts'][c][r]:.0f} sampled values in "
                       f"[{heat['edges'][r]:.3g}, {heat['edges'][r + 1]:.3g})")
                body.append(rect(xs(c), ys((r + 1) / rows), step + 0.3, cell_h + 0.3, tip,
                                 class_="heat", fill_opacity=f"{0.08 + 0.92 * v / top:.2f}"))
    for key, label in (("low_at", "low"), ("high_at", "high")):
        if heat.get(key) is not None:
            y = ys(heat[key])
            body.append(line(LEFT, y, W - 4, y, class_="tail-line"))
            body.append(text(W - 6, y - 2, f"{label} tail {_fmt(heat[label])}",
                             class_="tail-label", text_anchor="end"))
    if heat.get("zero_at") is not None:
        body.append(line(LEFT, ys(heat["zero_at"]), W - 4, ys(heat["zero_at"]),
                         class_="zero-line"))
    ticks = [(0.0, heat["edges"][0]), (1.0, heat["edges"][-1])]
    for key, value in (("low_at", heat["low"]), ("high_at", heat["high"]), ("zero_at", 0.0)):
        if heat.get(key) is not None and all(abs(heat[key] - f) > 0.06 for f, _ in ticks):
            ticks.append((heat[key], value))
    for frac, value in ticks:
        body.append(text(LEFT - 4, ys(frac) + 3, _fmt(value), class_="tick",
                         text_anchor="end"))
    body.append(line(LEFT, H - BOTTOM, W - 4, H - BOTTOM, class_="axis"))
    body.append(line(LEFT, TOP, LEFT, H - BOTTOM, class_="axis"))
    body.append(_columns(labels, lambda i: xs(i) + step / 2))
    body.append(text(LEFT, H - 4, "checkpoint →   shade: log10(1 + count); value axis in "
                     "asinh scale", class_="caption"))
    return svg(W, H, "".join(body), f"input histogram of {name} over the checkpoints")


SERIES_H = 140


def series_svg(series: dict, labels: tuple, name: str) -> str:
    """Saturated share (solid) and mean gain (dashed) per checkpoint, both on 0..1."""
    n, h = len(labels), SERIES_H
    xs = Scale(0, max(n - 1, 1), LEFT + 12, W - 28)
    ys = Scale(0, 1, h - BOTTOM, TOP)
    body = [line(LEFT, h - BOTTOM, W - 10, h - BOTTOM, class_="axis"),
            line(LEFT, TOP, LEFT, h - BOTTOM, class_="axis")]
    for v in (0.0, 0.5, 1.0):
        body.append(text(LEFT - 4, ys(v) + 3, f"{v:g}", class_="tick", text_anchor="end"))
    for key, cls in (("share", "share-line"), ("mean_gain", "gain-series")):
        pts = [(xs(i), ys(min(max(v, 0.0), 1.0))) for i, v in enumerate(series[key])
               if v is not None]
        if pts:
            body.append(polyline(pts, class_=cls))
    body.append(_columns(labels, xs, h))
    body.append(text(LEFT, h - 4, "— saturated share   - - mean gain", class_="caption"))
    return svg(W, h, "".join(body), f"saturated share and mean gain of {name}")


def _site_html(series: dict, drift, heat, labels) -> str:
    words = drift.summary
    cls = " sev-error" if series["flagged"] and drift.grew else ""
    share = series["share"]
    meta = (f"{escape(series['kind'] or '-')} · producer {escape(series['producer'] or '-')} · "
            f"saturated {_pct(share[0])} → {_pct(share[-1])}")
    pics = (heat_svg(heat, labels, series["site"]) if heat else "<p>no histogram</p>") + \
        series_svg(series, labels, series["site"])
    remedy = f"<p>{escape(drift.remedy)}</p>" if drift.remedy else ""
    return (f'<article class="site{cls}"><h3>{escape(series["site"])}</h3>'
            f'<p class="meta">{meta}</p>{"<p>" + escape(words) + "</p>" if words else ""}'
            f'{remedy}{pics}</article>')


def render(trend) -> str:
    """The page of an over_time.trend.Trend (read, never computed on)."""
    d = trend.onset
    head = (f'<div class="onset"><b>Drift starts at {escape(d.site)}</b>: '
            f"{escape(d.summary)}. {escape(d.remedy or '')}</div>" if d else
            "<p>No site's saturation grew into a finding on its own.</p>")
    notes = "".join(f"<p class=\"meta\">note: {escape(n)}</p>" for n in trend.notes)
    points = (f"<p>{len(trend.labels)} {'records' if trend.source == 'log' else 'checkpoints'}"
              f": {escape(str(trend.labels[0]))} → {escape(str(trend.labels[-1]))}</p>")
    sites = "".join(_site_html(s, dr, trend.heatmaps.get(s["site"]), trend.labels)
                    for s, dr in zip(trend.series, trend.drift))
    return page("saturate trend", EXTRA_CSS + points + head + notes +
                f'<div class="sites">{sites}</div>')
