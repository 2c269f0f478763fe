"""The human report: a rich table per model, findings with their top remedy, depth profile.

Not a contract: scripts should read --format json.
"""

from __future__ import annotations

import io
from typing import Optional

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from saturate_cli.report.model import Report, SiteReport, plural

_BARS = " ▁▂▃▄▅▆▇█"
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", None: "green"}


def sparkline(counts: list[int]) -> str:
    """Counts as a row of block characters."""
    if not counts:
        return ""
    top = max(counts) or 1
    return "".join(_BARS[min(len(_BARS) - 1, round(c / top * (len(_BARS) - 1)))] for c in counts)


def _num(v: Optional[float], fmt: str = ".3g") -> str:
    return "–" if v is None else format(v, fmt)


def _saturation_cell(s: SiteReport) -> Text:
    """What the kind is judged by: tails share, dead units first for the ReLU family, rows."""
    sat = s.saturation
    metric = sat.get("metric", "tails")
    dead = f"{sat['dead_units']}/{sat['units']} dead" if sat["units"] else ""
    if metric == "rows":
        if not sat["rows"]:
            return Text("–")
        judged = sat.get("judged_rows", sat["rows"])
        masked = f", {sat['masked_rows']} masked" if sat.get("masked_rows") else ""
        return Text(f"{sat['fraction']:.1%} ({sat['collapsed_rows']}/{judged} rows{masked})")
    if metric == "dead_units":  # half the inputs in the flat region is normal for a ReLU
        return Text.assemble(dead or "–", (f" ({sat['fraction']:.0%} flat)", "dim"))
    return Text(f"{sat['fraction']:.1%}" + (f" · {dead}" if sat["dead_units"] else ""))


def _site_row(i: int, s: SiteReport) -> list:
    st, sat = s.stats, s.saturation
    producer = s.producer["name"] if s.producer else "–"
    codes = " ".join(f.code for f in s.findings) or "ok"
    return [str(i), s.name, s.kind, producer,
            f"{_num(st['mean'])} ± {_num(st['std'])}",
            f"{_num(st['min'])} / {_num(st['max'])}", _saturation_cell(s),
            _num(sat["mean_gain"], ".2f"), sparkline(s.histogram["counts"]),
            Text(codes, style=_STYLE[s.worst])]


_COLUMNS = ("#", "site", "kind", "producer", "mean ± std", "min / max", "saturated / dead",
            "gain", "histogram", "verdict")
_NARROW_DROPS = {"min / max", "histogram", "producer"}  # dropped below 120 columns


def _table(report: Report, width: int) -> Table:
    keep = [c for c in _COLUMNS if width >= 120 or c not in _NARROW_DROPS]
    table = Table(title=None, show_lines=False, header_style="bold", expand=False)
    for col in keep:
        table.add_column(col, overflow="fold", justify="right" if col == "#" else "left",
                         no_wrap=col not in ("site", "producer"))
    for i, s in enumerate(report.sites):
        row = dict(zip(_COLUMNS, _site_row(i, s)))
        table.add_row(*(row[c] for c in keep))
    return table


def _line(f) -> Text:
    style = _STYLE[f.severity]
    return Text.assemble((f"{f.code} ", style), (f"[{f.severity}] ", style), f.message)


def _findings(report: Report) -> list:
    lines = []
    for s in report.sites:
        for f in s.findings:
            lines.append(_line(f))
            if f.suggestions:
                lines.append(Text(f"    fix: {f.suggestions[0]['rationale']}", style="dim"))
            lines += [Text(f"    then: {t['rationale']}", style="dim") for t in f.suggestions[1:]
                      if "after_factor" in t]  # the second step of a rescale-then-shift
    lines += [_line(f) for f in report.model_findings if f.code != "SAT901"]  # listed below
    for u in report.not_covered:
        lines.append(Text(f"SAT901 [info] not covered: {u['op']} '{u['name']}': {u['reason']}",
                          style="cyan"))
    return lines


def _profile(report: Report) -> Optional[Text]:
    rows = [r for r in report.depth_profile if r["mean_gain"] is not None]
    if len(rows) < 2:
        return None
    parts = [f"{r['mean_gain']:.2f}" for r in rows]
    if len(parts) > 14:  # long models: the first layers and the last ones
        parts = parts[:8] + [f"… {len(parts) - 12} more …"] + parts[-4:]
    bounded = [r for r in rows if r.get("bounded", True)]
    relu = "ReLU-family gains near 0.5 are by design: He init's weight gain makes up for them"
    if not bounded:
        why = relu
    else:
        passed = rows[0].get("bounded_gain", rows[0]["cumulative_gain"])
        why = (f"the bounded activations alone pass {passed:.2g} of the gradient to the first "
               "site, ignoring weights and residual paths"
               + (f"; {relu}" if len(bounded) < len(rows) else ""))
    return Text(f"mean gain by depth: {' → '.join(parts)}   ({why})", style="dim")


def render_one(report: Report, width: int = 160) -> Group:
    m, c, summ = report.model, report.calibration, report.summary()
    head = Text.assemble((f"{m['path']}", "bold"), f"  [{m['format']}]  calibration: "
                         f"{c['source']}, {plural(c['samples'], 'sample')} in "
                         f"{plural(c['batches'], 'batch')}")
    parts = [head]
    if report.sites:
        parts.append(_table(report, width))
    parts.extend(_findings(report))
    profile = _profile(report)
    if profile is not None:
        parts.append(profile)
    for note in dict.fromkeys(list(report.notes) + list(c.get("notes", []))):
        parts.append(Text(f"note: {note}", style="dim"))
    n = summ["findings"]
    parts.append(Text(f"{plural(summ['sites'], 'site')}, {summ['flagged']} flagged: "
                      f"{plural(n['error'], 'error')}, {plural(n['warning'], 'warning')}, "
                      f"{n['info']} info — status {summ['status']}",
                      style=_STYLE[summ["status"] if summ["status"] != "clean" else None]))
    return Group(*parts)


def print_reports(reports: list[Report], console: Console) -> None:
    """Print to a rich console (colour and width decided by rich)."""
    for i, r in enumerate(reports):
        if i:
            console.print()
        console.print(render_one(r, console.width))


def render(reports: list[Report]) -> str:
    """Plain text (no colour) for files."""
    buffer = io.StringIO()
    print_reports(reports, Console(file=buffer, width=160, no_color=True, force_terminal=False))
    return buffer.getvalue()
