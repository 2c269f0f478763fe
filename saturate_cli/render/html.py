"""The HTML report: one self-contained offline page (inline SVG and CSS, no script, no network).

Each model gets a summary, the depth profile and one panel per site (the curve over the input
histogram, the per-unit strip, the findings with code that applies their suggestions). The
pictures come from report/figures.py; this module only lays them out.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from saturate_cli.render import plural
from saturate_cli.render.html_figures import (DEFS, SEVERITY_CLASS, curve_svg, depth_svg,
                                              rows_svg, strip_svg)
from saturate_cli.render.html_style import CSS
from saturate_cli.report.figures import SiteFigure, depth_rows, shared_prefix, site_figures
from saturate_cli.report.model import Report

STATUS_WORD = {"clean": "clean", "info": "info only", "warning": "warnings", "error": "errors"}


def _e(value) -> str:
    return escape(str(value))


def _badge(severity) -> str:
    word = severity or "ok"
    return f'<span class="badge {SEVERITY_CLASS[severity]}">{_e(word)}</span>'


def _dl(items: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def _rule_counts(report: Report) -> str:
    counts = Counter((f.code, f.severity) for f in report.findings)
    if not counts:
        return "<p>No findings.</p>"
    rows = "".join(f"<tr><td>{_e(code)}</td><td>{_badge(sev)}</td><td>{n}</td></tr>"
                   for (code, sev), n in sorted(counts.items()))
    return ("<table class=\"counts\"><thead><tr><th>rule</th><th>severity</th><th>findings</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>")


def summary_html(report: Report) -> str:
    """Status, counts by rule, the model, the calibration data and the settings."""
    m, c, st, summ = report.model, report.calibration, report.settings, report.summary()
    n = summ["findings"]
    inputs = ", ".join(f"{i['name']} {i.get('dtype', '')}"
                       f"[{'×'.join(str(d) for d in i.get('shape', []))}]"
                       for i in m.get("inputs", []))
    facts = [
        ("status", f'{_badge(None if summ["status"] == "clean" else summ["status"])} '
                   f'{_e(STATUS_WORD.get(summ["status"], summ["status"]))} '
                   f'(exit {summ["exit_code"]})'),
        ("sites", _e(f"{summ['sites']}, {summ['flagged']} flagged; {plural(n['error'], 'error')}, "
                     f"{plural(n['warning'], 'warning')}, {n['info']} info")),
        ("model", _e(f"{m.get('format')} · sha256 {str(m.get('sha256') or '–')[:12]}")),
        ("inputs", _e(inputs or "–")),
        ("calibration", _e(f"{c.get('source')}: {plural(c.get('samples', 0), 'sample')} in "
                           f"{plural(c.get('batches', 0), 'batch')}, seed {c.get('seed', '–')}"
                           + (" (partial)" if report.partial else ""))),
        ("settings", _e(f"τ {st.get('tau')}, softmax τ′ {st.get('softmax_tau', '–')}, "
                        f"fail on {st.get('fail_on', report.fail_on)}")),
    ]
    return _dl(facts) + _rule_counts(report)


def _finding_html(fig: SiteFigure) -> str:
    out = []
    for f in fig.site.findings:
        tips = "".join(
            f"<li>{_e(tip.get('rationale', tip.get('kind', '')))}"
            + (f"<pre><code>{_e(code)}</code></pre>" if code else "") + "</li>"
            for finding, tip, code in fig.remedies if finding is f)
        out.append(f'<div class="finding">{_badge(f.severity)} <b>{_e(f.code)}</b> '
                   f"{_e(f.message)}" + (f"<ul>{tips}</ul>" if tips else "") + "</div>")
    return "".join(out)


def _share_word(fig: SiteFigure) -> str:
    if fig.saturated is None:
        return "no data"
    what = "of rows collapsed" if fig.rows is not None else "saturated"
    return f"{fig.saturated:.1%} {what}"


def site_panel(fig: SiteFigure, anchor: str) -> str:
    """One site: its heading, the pictures, its findings."""
    s = fig.site
    gain = s.saturation.get("mean_gain")
    head = (f'<h3><span class="idx">#{fig.index}</span> <span class="name">{_e(fig.label)}</span> '
            f'{_badge(s.worst)}</h3><p class="meta">{_e(s.kind)} ({_e(s.op)}) · '
            f"{_e(_share_word(fig))}" + (f" · mean gain {gain:.2f}" if gain is not None else "")
            + (f" · producer {_e(s.producer['name'])}" if s.producer else "") + "</p>")
    pictures = ""
    if fig.curve is not None:
        pictures += curve_svg(fig.curve, s.name)
    if fig.rows is not None:
        pictures += rows_svg(fig.rows, s.name)
    if fig.strip is not None:
        pictures += strip_svg(fig.strip, s.name)
    if not pictures:
        pictures = "<p class=\"meta\">No values reached this site.</p>"
    return (f'<article class="site {SEVERITY_CLASS[s.worst]}" id="{_e(anchor)}" '
            f'title="{_e(s.name)}">{head}{pictures}{_finding_html(fig)}</article>')


def _model_findings(report: Report) -> str:
    items = "".join(f"<li>{_badge(f.severity)} <b>{_e(f.code)}</b> {_e(f.message)}</li>"
                    for f in report.model_findings)
    notes = "".join(f"<li>{_e(n)}</li>" for n in dict.fromkeys(
        list(report.notes) + list(report.calibration.get("notes", []))))
    return ((f"<h3>Model findings</h3><ul>{items}</ul>" if items else "")
            + (f"<h3>Notes</h3><ul class=\"notes\">{notes}</ul>" if notes else ""))


def model_section(report: Report, number: int) -> str:
    """Everything about one model."""
    figures = site_figures(report)
    prefix = shared_prefix([s.name for s in report.sites])
    profile = (f"<h3>Depth profile</h3>{depth_svg(depth_rows(report))}" if report.sites else "")
    common = f'<p class="meta">site names below drop their shared prefix <code>{_e(prefix)}</code></p>' \
        if len(prefix) > 1 else ""
    panels = "".join(site_panel(f, f"m{number}-site-{f.index}") for f in figures)
    return (f'<section class="model" id="model-{number}"><h2>{_e(report.model["path"])}</h2>'
            f"{summary_html(report)}{profile}{_model_findings(report)}"
            + (f"<h3>Sites</h3>{common}<div class=\"sites\">{panels}</div>" if panels else "")
            + "</section>")


def page(title: str, body: str) -> str:
    """A standalone document: inline style, no script, no external resource."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{DEFS}"
            f"<h1>{_e(title)}</h1>{body}</body></html>\n")


def render(reports: list[Report]) -> str:
    """A standalone HTML document for one or several models."""
    toc = ""
    if len(reports) > 1:
        toc = "<nav><ul>" + "".join(
            f'<li><a href="#model-{i}">{_e(r.model["path"])}</a> {_badge(_worst(r))}</li>'
            for i, r in enumerate(reports)) + "</ul></nav>"
    body = toc + "".join(model_section(r, i) for i, r in enumerate(reports))
    return page("saturate report", body)


def _worst(report: Report):
    return None if report.status == "clean" else report.status


def render_comparison(before: Report, after: Report) -> str:
    """Before and after a remedy: each changed site's cloud on the same axes."""
    from saturate_cli.render.html_compare import comparison_body

    return page("saturate fix: before and after", comparison_body(before, after))
