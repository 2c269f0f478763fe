"""The human report: a rich table per model, findings with their top remedy, depth profile.

Not a contract: scripts should read --format json.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Optional

from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from saturate_cli.report.figures import labels, shared_prefix
from saturate_cli.report.model import Report, SiteReport, plural

_BARS = " ▁▂▃▄▅▆▇█"
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", None: "green"}


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


def _site_row(i: int, s: SiteReport, name: str) -> list:
    st, sat = s.stats, s.saturation
    producer = s.producer["name"] if s.producer else "–"
    codes = " ".join(dict.fromkeys(f.code for f in s.findings)) or "ok"
    return [str(i), name, s.kind, producer,
            f"{_num(st['mean'])} ± {_num(st['std'])}",
            f"{_num(st['min'])} / {_num(st['max'])}", _saturation_cell(s),
            _num(sat["mean_gain"], ".2f"), sparkline(s.histogram["counts"]),
            Text(codes, style=SEVERITY_STYLE[s.worst])]


_COLUMNS = ("#", "site", "kind", "producer", "mean ± std", "min / max", "saturated / dead",
            "gain", "histogram", "verdict")
# dropped first to last until the table fits; the site, its kind, share and verdict stay
_DROP_ORDER = ("producer", "min / max", "histogram", "mean ± std", "gain", "#", "kind")
_MIN_SITE = 16  # below this a site name says little: drop another column first
_ELLIPSIS = "…"


def shorten(name: str, width: int) -> str:
    """The name in at most `width` characters, the middle replaced by an ellipsis."""
    if len(name) <= width:
        return name
    if width <= 1:
        return _ELLIPSIS[:width]
    tail = (width - 1) // 2 + (width - 1) % 2  # the end of a name tells sites apart
    head = width - 1 - tail
    return name[:head] + _ELLIPSIS + name[len(name) - tail:]


def _segments(name: str, sep: str) -> list[str]:
    parts = name.split(sep)
    return [p + sep for p in parts[:-1]] + [parts[-1]]


def _drop_segments(segments: list[str], seen: Counter, width: int, sep: str) -> str:
    """Drop the least telling segments (a parent repeated by its child, then those most names
    share, then the longest) until the name fits; the last segment (the op) stays. A run of dropped segments reads as one ellipsis."""
    kept: list = list(segments)

    def joined() -> str:
        out = []
        for i, part in enumerate(kept):
            if part is not None:
                out.append(part)
            elif i == 0 or kept[i - 1] is not None:
                out.append(_ELLIPSIS + sep)
        return "".join(out)

    def redundant(i: int) -> bool:  # `layer1/` before `layer1.0/` says nothing new
        return segments[i + 1].startswith(segments[i][:-1])

    for i in sorted(range(len(segments) - 1), key=lambda i: (not redundant(i),
                                                              -seen[segments[i]],
                                                              -len(segments[i]))):
        if len(joined()) <= width:
            break
        kept[i] = None
    return shorten(joined(), width)


def short_names(names: list[str], width: int) -> list[str]:
    """Names in at most `width` characters: whole path segments that most sites share go first
    (the layer number stays, `…/layer.7/…/Softmax`), then characters in the middle."""
    sep = "/" if any("/" in n for n in names) else "."
    split = [_segments(n, sep) for n in names]
    seen = Counter(seg for segs in split for seg in set(segs))
    return [n if len(n) <= width else _drop_segments(segs, seen, width, sep)
            for n, segs in zip(names, split)]


def _cell_width(cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


def _layout(rows: list[dict], width: int) -> tuple[list[str], int]:
    """The columns that fit in `width` and the room left for the site names."""
    widths = {c: max([cell_len(c)] + [_cell_width(r[c]) for r in rows]) for c in _COLUMNS}
    need = widths["site"]
    keep = list(_COLUMNS)
    for drop in (None,) + _DROP_ORDER:
        if drop is not None:
            keep.remove(drop)
        fixed = sum(widths[c] for c in keep if c != "site") + 3 * len(keep) + 1
        if width - fixed >= min(need, _MIN_SITE):
            break
    return keep, max(width - fixed, 4)


def _table(report: Report, width: int, verbose: bool = False) -> Table:
    names = [s.name for s in report.sites] if verbose else labels(report)
    rows = [dict(zip(_COLUMNS, _site_row(i, s, n)))
            for i, (s, n) in enumerate(zip(report.sites, names))]
    keep, room = _layout(rows, width)
    if not verbose:
        for row, short in zip(rows, short_names([r["site"] for r in rows], room)):
            row["site"] = short
    table = Table(title=None, show_lines=False, header_style="bold", expand=False)
    for col in keep:
        folds = verbose and col == "site"  # --verbose: full names, wrapped when they must
        table.add_column(col, justify="right" if col == "#" else "left", no_wrap=not folds,
                         overflow="fold" if folds else "ellipsis")
    for row in rows:
        table.add_row(*(row[c] for c in keep))
    return table


def _line(f) -> Text:
    style = SEVERITY_STYLE[f.severity]
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
    lines += [_line(f) for f in report.model_findings]  # SAT901 too: --ignore SAT901 drops it
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


def _prefix_note(report: Report, verbose: bool) -> Optional[Text]:
    prefix = shared_prefix([s.name for s in report.sites])
    if verbose or len(prefix) < 2:
        return None
    return Text(f"site names below start with {prefix} (full names with --verbose or -f json)",
                style="dim")


def render_one(report: Report, width: int = 160, verbose: bool = False) -> Group:
    """One model's report laid out for a console `width` columns wide; `verbose` keeps the
    full site names."""
    m, c, summ = report.model, report.calibration, report.summary()
    head = Text.assemble((f"{m['path']}", "bold"), f"  [{m['format']}]  calibration: "
                         f"{c['source']}, {plural(c['samples'], 'sample')} in "
                         f"{plural(c['batches'], 'batch')}")
    parts = [head]
    if report.sites:
        note = _prefix_note(report, verbose)
        parts += [note] if note is not None else []
        parts.append(_table(report, width, verbose))
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
                      style=SEVERITY_STYLE[summ["status"] if summ["status"] != "clean" else None]))
    return Group(*parts)


def print_reports(reports: list[Report], console: Console, verbose: bool = False) -> None:
    """Print to a rich console (colour and width decided by rich; piped output is 80 wide)."""
    for i, r in enumerate(reports):
        if i:
            console.print()
        console.print(render_one(r, console.width, verbose))


def render(reports: list[Report]) -> str:
    """Plain text (no colour) for files."""
    buffer = io.StringIO()
    print_reports(reports, Console(file=buffer, width=160, no_color=True, force_terminal=False))
    return buffer.getvalue()
