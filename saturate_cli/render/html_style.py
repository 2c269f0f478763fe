"""The HTML report's style sheet: Okabe-Ito colours (safe for colour-blindness), hatching for
what is saturated (it survives black-and-white printing), one column on a phone."""

CSS = """
:root{--ink:#1a1a1a;--muted:#555;--line:#bbb;--blue:#0072B2;--sky:#56B4E9;--green:#009E73;
--orange:#E69F00;--vermillion:#D55E00;--purple:#CC79A7;--paper:#fff}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--ink);background:var(--paper);margin:0 auto;padding:12px;max-width:1400px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.25em;border-bottom:2px solid var(--ink);
word-break:break-all}h3{font-size:1.05em;margin:.9em 0 .3em}
code,pre{font:13px/1.35 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
pre{background:#f3f3f3;padding:6px 8px;overflow-x:auto;white-space:pre;margin:.3em 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.5em 0}
dt{font-weight:600}dd{margin:0;word-break:break-word}
table.counts{border-collapse:collapse;margin:.4em 0}
table.counts td,table.counts th{border:1px solid var(--line);padding:2px 8px;text-align:left}
.badge{display:inline-block;padding:0 .45em;border-radius:3px;font-size:.8em;font-weight:700;
border:1.5px solid currentColor;vertical-align:middle}
.badge.sev-error{color:#fff;background:var(--vermillion);border-color:var(--vermillion)}
.badge.sev-warning{color:#000;background:var(--orange);border-color:var(--orange)}
.badge.sev-info{color:#000;background:var(--sky);border-color:var(--sky)}
.badge.sev-ok{color:var(--green)}
.sites{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,430px),1fr));gap:12px}
article.site{border:1px solid var(--line);border-left:6px solid var(--green);padding:6px 10px;
break-inside:avoid;page-break-inside:avoid;min-width:0}
article.site.sev-error{border-left:6px double var(--vermillion)}
article.site.sev-warning{border-left:6px dashed var(--orange)}
article.site.sev-info{border-left-color:var(--sky)}
article h3{margin:.1em 0;font-size:1em;word-break:break-all}
.idx{color:var(--muted);font-weight:400}.meta{color:var(--muted);margin:.1em 0 .3em;font-size:.9em}
svg{display:block;width:100%;height:auto;max-width:720px}
svg.defs{position:absolute;width:0;height:0}
.finding{margin:.4em 0;font-size:.92em}.finding ul{margin:.2em 0 .2em 1.1em;padding:0}
nav ul{padding-left:1.2em}
.axis{stroke:#333;stroke-width:1}
.tick,.caption,.tail-label,.sweet-label,.beyond{font-size:10px;fill:#333}
.caption{font-size:11px}
.tail-label{font-weight:700;fill:#7a2e00}
.sweet{fill:var(--green);fill-opacity:.09}
.sweet-mark{stroke:var(--green);stroke-width:3}
.sweet-label{fill:#00664a}
.tail{fill:url(#hatch);stroke:var(--vermillion);stroke-width:.8}
.hatch-bg{fill:var(--vermillion);fill-opacity:.12}
.hatch-line{stroke:var(--vermillion);stroke-width:2;stroke-opacity:.55}
.bar{fill:var(--blue);fill-opacity:.55;stroke:var(--blue);stroke-width:.5}
.curve{fill:none;stroke:#000;stroke-width:2}
.collapse-line{stroke:var(--vermillion);stroke-width:2;stroke-dasharray:4 2}
.unit{fill:var(--sky);fill-opacity:.35}
.unit-dead{fill:var(--vermillion)}
.depth-bar{fill:var(--blue);fill-opacity:.6}
.depth-bar.sev-error{fill:url(#hatch);stroke:var(--vermillion)}
.depth-bar.sev-warning{fill:var(--orange)}
.gain-line{fill:none;stroke:#000;stroke-width:1.6}
.passed-line{fill:none;stroke:var(--purple);stroke-width:2}
.hit{fill:transparent}
.hit:hover{fill:#000;fill-opacity:.06}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:8px}
@media (max-width:600px){body{font-size:14px;padding:6px}.pair{grid-template-columns:1fr}}
@media print{body{max-width:none;font-size:11pt}nav{display:none}
.sites{display:block}article.site{margin-bottom:8px}pre{white-space:pre-wrap}}
"""
