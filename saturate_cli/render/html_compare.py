"""Before and after a remedy: each changed site's curve and cloud, twice, on the same axes."""

from __future__ import annotations

from html import escape

from saturate_cli.render.html import site_panel, summary_html
from saturate_cli.render.html_figures import curve_svg, rows_svg
from saturate_cli.report.figures import compared_sites, site_figures
from saturate_cli.report.model import Report


def _picture(fig, name: str) -> str:
    if fig.curve is not None:
        return curve_svg(fig.curve, name)
    if fig.rows is not None:
        return rows_svg(fig.rows, name)
    return "<p class=\"meta\">No values reached this site.</p>"


def comparison_body(before: Report, after: Report) -> str:
    pairs = compared_sites(before, after)
    rows = "".join(
        f'<section class="changed"><h3>#{b.index} {escape(b.label)}</h3>'
        f'<div class="pair"><div><p class="meta">before · {escape(_share(b))}</p>'
        f"{_picture(b, b.site.name)}</div><div><p class=\"meta\">after · {escape(_share(a))}"
        f"</p>{_picture(a, a.site.name)}</div></div></section>"
        for b, a in pairs)
    unchanged = ("<p>No site changed.</p>" if not pairs else "")
    return (f"<h2>{escape(str(before.model['path']))} → {escape(str(after.model['path']))}</h2>"
            f"<div class=\"pair\"><div><h3>Before</h3>{summary_html(before)}</div>"
            f"<div><h3>After</h3>{summary_html(after)}</div></div>"
            f"<h2>Changed sites ({len(pairs)})</h2>{unchanged}{rows}"
            f"<h2>After the fix, every site</h2><div class=\"sites\">"
            + "".join(site_panel(f, f"after-site-{f.index}") for f in site_figures(after)) + "</div>")


def _share(fig) -> str:
    return "no data" if fig.saturated is None else f"{fig.saturated:.1%} saturated"

