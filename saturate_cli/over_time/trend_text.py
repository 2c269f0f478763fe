"""The trend as text and JSON (HTML: over_time/trend_html.py); the figures are the Trend's own."""

from __future__ import annotations

import json
from typing import Optional

from saturate_cli.over_time.trend import Trend

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list, top: Optional[float] = None) -> str:
    known = [v for v in values if v is not None]
    high = top if top is not None else max(known, default=0.0)
    if high <= 0:
        return "".join(" " if v is None else _BARS[0] for v in values)
    return "".join(" " if v is None else _BARS[min(7, int(7.999 * v / high))] for v in values)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v) -> str:
    return "-" if v is None else f"{v:.3g}"


def _onset_line(t: Trend) -> str:
    d = t.onset
    if d is None:
        return ("no site's saturation grew into a finding on its own"
                if not t.drifted else
                f"{len(t.drifted)} site(s) grew into findings, none through its own layer")
    std = next(s["std"] for s in t.series if s["site"] == d.site)
    moved = (f"mean moved {d.shift:.2g} std, std {_num(std[0])} → {_num(std[-1])}"
             if d.shift is not None else "")
    since = f" (flagged since {d.since})" if d.since else ""
    return f"drift starts at {d.site}{since}: {d.summary}; {moved}. Remedy: {d.remedy}"


def render_text(t: Trend) -> str:
    head = ["site", "kind", "saturated", "", "mean gain", "std", "layer change", "drift"]
    rows = [head]
    for s, d in zip(t.series, t.drift):
        share, gain, std, change = s["share"], s["mean_gain"], s["std"], s["change"]
        rows.append([s["site"], s["kind"] or "-", sparkline(share, 1.0),
                     f"{_pct(share[0])} → {_pct(share[-1])}",
                     f"{_num(gain[0])} → {_num(gain[-1])}", f"{_num(std[0])} → {_num(std[-1])}",
                     _pct(change[-1]) if change[-1] is not None else "-", d.summary])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"trend over {len(t.labels)} {'records' if t.source == 'log' else 'checkpoints'}: "
             f"{t.labels[0]} → {t.labels[-1]}"]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines += [f"note: {n}" for n in t.notes] + [_onset_line(t)]
    return "\n".join(lines) + "\n"


def render_json(t: Trend) -> str:
    return json.dumps(t.to_dict(), indent=2, allow_nan=False) + "\n"
