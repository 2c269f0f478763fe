"""The diff in text and markdown (JSON is Diff.to_dict); the figures are the Diff's own."""

from __future__ import annotations

import json

from saturate_cli.over_time.diff import Diff, SiteChange


def _num(value, percent: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{100 * value:.1f}%" if percent else f"{value:.3g}"


def _pair(change: SiteChange, key: str, percent: bool = False) -> str:
    return f"{_num(change.before[key], percent)} → {_num(change.after[key], percent)}"


def _findings(change: SiteChange) -> str:
    parts = [f"+{c}" for c, _ in change.new_findings] + [f"-{c}" for c, _ in change.gone_findings]
    return " ".join(parts) or "-"


def _verdict(diff: Diff, change: SiteChange) -> str:
    if change in diff.regressions:
        return f"worse by {100 * change.worsening:.3g} points"
    return {"new": "new site", "gone": "gone"}.get(change.presence, "")


COLUMNS = ("site", "saturated", "mean gain", "mean", "std", "dead units", "findings", "")


def rows(diff: Diff) -> list[list[str]]:
    return [[c.name, _pair(c, "share", True), _pair(c, "mean_gain"), _pair(c, "mean"),
             _pair(c, "std"), _pair(c, "dead_units"), _findings(c), _verdict(diff, c)]
            for c in diff.sites]


def _summary(diff: Diff) -> str:
    bad, bar = diff.regressions, f"{100 * diff.max_worsening:.3g} points"
    if not bad:
        return f"no site worsened by more than {bar} ({len(diff.sites)} sites compared)"
    return (f"{len(bad)} of {len(diff.sites)} sites worsened by more than {bar}: "
            f"{', '.join(c.name for c in bad)}")


def render_text(diff: Diff) -> str:
    table = [list(COLUMNS)] + rows(diff)
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    lines = [f"{diff.before} → {diff.after}"]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in table]
    lines += [f"note: {n}" for n in diff.notes] + [_summary(diff)]
    return "\n".join(lines) + "\n"


def render_markdown(diff: Diff) -> str:
    from saturate_cli.render.markdown import cell

    lines = [f"### saturate diff: `{cell(diff.before)}` → `{cell(diff.after)}`", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows(diff)]
    lines += [""] + [f"> note: {cell(n)}" for n in diff.notes] + [f"**{_summary(diff)}**", ""]
    return "\n".join(lines)


def render_json(diff: Diff) -> str:
    return json.dumps(diff.to_dict(), indent=2, allow_nan=False) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
