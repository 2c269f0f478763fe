"""Pictures in the terminal with rich: the curve over the input histogram in block characters,
the depth profile as bars, the worst sites first. Drawn from report/figures.py."""

from __future__ import annotations

from bisect import bisect_left

from rich.console import Group
from rich.table import Table
from rich.text import Text

from saturate_cli.render import percent
from saturate_cli.render.text import SEVERITY_STYLE, short_names
from saturate_cli.report.figures import CurveFigure, DepthRow, RowsFigure, SiteFigure, UnitStrip

EIGHTHS = " ▁▂▃▄▅▆▇█"
TAIL_STYLE = "on grey23"  # the shaded (saturated) columns; the hatch's terminal twin
CURVE, CURVE_STYLE = "●", "bold white"
BAR_STYLE = "dodger_blue2"


def _g(v: float) -> str:
    return f"{v:.3g}"


def _column_value(fig: CurveFigure, x: float) -> float:
    """The bar height (0..1) under x."""
    for b in fig.bars:
        if b.x0 <= x < b.x1:
            return b.height
    return 0.0


def _curve_at(fig: CurveFigure, x: float) -> float:
    xs = [p[0] for p in fig.curve]
    i = min(max(bisect_left(xs, x), 1), len(xs) - 1)
    (x0, y0), (x1, y1) = fig.curve[i - 1], fig.curve[i]
    return y0 + (y1 - y0) * ((x - x0) / ((x1 - x0) or 1.0))


def _in_tail(fig: CurveFigure, x: float) -> bool:
    return any((t.side == "low" and x <= t.threshold) or (t.side == "high" and x >= t.threshold)
               for t in fig.tails)


def curve_picture(fig: CurveFigure, width: int = 72, height: int = 12) -> Text:
    """Rows of block characters: the histogram as bars, f(x) as dots, tails shaded."""
    cols = max(width - 8, 20)
    step = (fig.x_hi - fig.x_lo) / cols
    centres = [fig.x_lo + (c + 0.5) * step for c in range(cols)]
    bars = [_column_value(fig, x) * height for x in centres]
    curve = [min(height - 1, max(0, int(_curve_at(fig, x) * (height - 1) + 0.5))) for x in centres]
    out = Text()
    for r in range(height - 1, -1, -1):
        label = _g(fig.f_hi) if r == height - 1 else (_g(fig.f_lo) if r == 0 else "")
        out.append(f"{label:>7} ", style="dim")
        for c, x in enumerate(centres):
            shade = TAIL_STYLE if _in_tail(fig, x) else ""
            if curve[c] == r:
                out.append(CURVE, style=f"{CURVE_STYLE} {shade}".strip())
                continue
            fill = bars[c] - r
            char = "█" if fill >= 1 else EIGHTHS[max(0, int(fill * 8))] if fill > 0 else " "
            out.append(char, style=f"{BAR_STYLE} {shade}".strip())
        out.append("\n")
    out.append(" " * 8 + "─" * cols + "\n", style="dim")
    out.append(_axis_labels(fig, cols))
    return out


def _axis_labels(fig: CurveFigure, cols: int) -> Text:
    line = [" "] * cols
    marks = [(fig.x_lo, _g(fig.x_lo)), (fig.x_hi, _g(fig.x_hi))]
    marks += [(t.threshold, _g(t.threshold)) for t in fig.tails]
    for x, label in sorted(marks):
        at = int((x - fig.x_lo) / ((fig.x_hi - fig.x_lo) or 1.0) * (cols - 1))
        at = min(max(at - len(label) // 2, 0), cols - len(label))
        if all(ch == " " for ch in line[max(at - 1, 0):at + len(label) + 1]):
            line[at:at + len(label)] = list(label)
    tails = "   ".join(f"{t.side} tail {percent(t.share)} (x {'≤' if t.side == 'low' else '≥'} "
                       f"{_g(t.threshold)})" for t in fig.tails)
    sweet = f"sweet range {_g(fig.sweet[0])} … {_g(fig.sweet[1])}"
    beyond = "".join([f"   ◂ {percent(fig.beyond_low)} left of the picture" if fig.beyond_low
                      else "", f"   {percent(fig.beyond_high)} right of it ▸"
                      if fig.beyond_high else ""])
    return Text(" " * 8 + "".join(line) + "\n" + " " * 8 + "   ".join(
        p for p in (tails, sweet) if p) + beyond, style="dim")


def rows_picture(fig: RowsFigure, width: int = 72) -> Text:
    cols = max(width - 8, 20)
    cut = int(round(fig.collapsed * cols))
    out = Text(" " * 8)
    out.append("█" * cut, style="dark_orange3")
    out.append("░" * (cols - cut), style=BAR_STYLE)
    out.append(f"\n{' ' * 8}{percent(fig.collapsed)} of {fig.judged_rows} rows collapsed (max "
               f"probability > {_g(fig.collapse_at)})"
               + (f"; {fig.masked_rows} masked rows not judged" if fig.masked_rows else ""),
               style="dim")
    return out


def strip_picture(strip: UnitStrip, width: int = 72) -> Text:
    cols = max(min(width - 8, strip.units), 1)
    dead = [False] * cols
    for a, b in strip.runs:
        for c in range(a * cols // strip.units, max(b * cols // strip.units, a * cols // strip.units + 1)):
            dead[min(c, cols - 1)] = True
    out = Text("  units ", style="dim")
    for d in dead:
        out.append("█" if d else "▁", style="dark_orange3" if d else BAR_STYLE)
    shown = ", ".join(str(a) if b - a == 1 else f"{a}–{b - 1}" for a, b in strip.runs[:12])
    more = " …" if len(strip.runs) > 12 else ""
    out.append(f"\n{' ' * 8}{strip.dead}/{strip.units} dead" + (f": {shown}{more}" if shown
                                                                   else ""), style="dim")
    return out


def site_picture(fig: SiteFigure, width: int = 80) -> Group:
    """Everything `saturate show REPORT SITE` draws for one site."""
    s = fig.site
    gain = s.saturation.get("mean_gain")
    head = Text.assemble((f"#{fig.index} {s.name}", "bold"), f"  {s.kind} ({s.op})  ",
                         (" ".join(f.code for f in s.findings) or "ok", SEVERITY_STYLE[s.worst]),
                         f"  mean gain {gain:.2f}" if gain is not None else "")
    parts = [head]
    if fig.curve is not None:
        parts.append(curve_picture(fig.curve, width))
    if fig.rows is not None:
        parts.append(rows_picture(fig.rows, width))
    if fig.strip is not None:
        parts.append(strip_picture(fig.strip, width))
    if fig.curve is None and fig.rows is None:
        parts.append(Text("no values reached this site", style="dim"))
    for f in s.findings:
        parts.append(Text.assemble((f"{f.code} ", SEVERITY_STYLE[f.severity]), f.message))
    for _, tip, code in fig.remedies:
        parts.append(Text(f"    fix: {tip.get('rationale', tip.get('kind'))}", style="dim"))
        if code:
            parts.append(Text("\n".join("      " + ln for ln in code.splitlines()), style="cyan"))
    return Group(*parts)


def depth_picture(rows: list[DepthRow], width: int = 80) -> Table:
    """One line per site: saturated share as a bar, mean gain, what passes to the output."""
    bar_width = max(min(width - 52, 30), 8)
    names = short_names([r.site for r in rows], max(width - bar_width - 30, 12))
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for col, justify in (("#", "right"), ("site", "left"), ("saturated", "left"),
                         ("", "right"), ("gain", "right"), ("passed", "right")):
        table.add_column(col, justify=justify, no_wrap=True, overflow="ellipsis")
    for r, name in zip(rows, names):
        share = r.saturated or 0.0
        full = int(share * bar_width)
        bar = "█" * full + (EIGHTHS[int((share * bar_width - full) * 8)] if full < bar_width
                            else "")
        table.add_row(str(r.index), name, Text(bar.ljust(bar_width), style=SEVERITY_STYLE[r.worst]),
                      "–" if r.saturated is None else f"{r.saturated:.1%}",
                      "–" if r.mean_gain is None else f"{r.mean_gain:.2f}",
                      "–" if not r.passed else f"{r.passed:.2g}")
    return table


def worst_list(figures: list[SiteFigure], width: int = 80, limit: int = 20) -> Table:
    """The sites ordered worst first (what to look at), with their share and verdict."""
    shown = figures[:limit]
    names = short_names([f.label for f in shown], max(width - 40, 16))
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("#", "site", "kind", "saturated", "verdict"):
        table.add_column(col, no_wrap=True, overflow="ellipsis",
                         justify="right" if col == "#" else "left")
    for f, name in zip(shown, names):
        what = "–" if f.saturated is None else f"{f.saturated:.1%}" + (
            " rows" if f.rows is not None else "")
        table.add_row(str(f.index), name, f.site.kind, what,
                      Text(" ".join(x.code for x in f.site.findings) or "ok",
                           style=SEVERITY_STYLE[f.site.worst]))
    if len(figures) > limit:
        table.caption = f"… and {len(figures) - limit} more"
    return table

