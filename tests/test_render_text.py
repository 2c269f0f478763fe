"""Issue #15: the text report reads well on real models at 80, 120 and 200 columns and piped.

Each site is one table line no wider than the console; shortened names are pieces of the full
name in order (full names in JSON and with verbose); the share the kind is judged by is a
percent on every line, recomputed here from the report's counts.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace

import onnx
import pytest
from rich.cells import cell_len
from rich.console import Console

from saturate_cli.policy import apply_rule_policy
from saturate_cli.render import renderer
from saturate_cli.render.text import print_reports, short_names, shorten
from saturate_cli.report.model import FindingReport
from test_formats_support import report as hand_report
from test_formats_support import site as hand_site
from test_render_text_support import bert_like, inspected, pieces_in_order

WIDTHS = (80, 120, 200)
MODELS = ("bert_like", "resnet_like")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("models"))


def printed(report, width: int, verbose: bool = False) -> str:
    buffer = io.StringIO()
    print_reports([report], Console(file=buffer, width=width, no_color=True,
                                    force_terminal=False), verbose)
    return buffer.getvalue()


def site_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("│")]


def expected_share(site) -> str:
    """The percent the line must show, from the report's own counts."""
    sat = site.saturation
    if sat["metric"] == "rows":
        return f"{sat['collapsed_rows'] / sat['judged_rows']:.1%}"
    if sat["metric"] == "dead_units":
        return f"({sat['fraction']:.0%} flat)"
    return f"{sat['fraction']:.1%}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", MODELS)
def test_each_site_is_one_line_within_the_width(name, width, folder):
    report = inspected(name, folder)
    rows = site_rows(printed(report, width))
    assert len(rows) == len(report.sites)
    for i, (row, site) in enumerate(zip(rows, report.sites)):
        assert cell_len(row) <= width, row
        cells = [c.strip() for c in row.strip("│").split("│")]
        if cells[0].isdigit():
            assert int(cells[0]) == i
        shown = next(c for c in cells if "…" in c or c in site.name)
        assert pieces_in_order(shown, site.name), (shown, site.name)
        assert expected_share(site) in row


@pytest.mark.parametrize("width", WIDTHS)
def test_short_names_keep_what_tells_layers_apart(width, folder):
    report = inspected("bert_like", folder)
    rows = site_rows(printed(report, width))
    for row, site in zip(rows, report.sites):
        layer = site.name.split("/")[3] if "/encoder/" in site.name else "pooler"
        assert layer in row, (layer, row)  # `layer.7`: the number survives shortening
    assert len({r.split("│")[2] for r in rows}) == len(rows)  # no two sites read the same


def test_narrow_tables_drop_columns_by_priority(folder):
    report = inspected("resnet_like", folder)
    headers = {w: next(line for line in printed(report, w).splitlines() if "site" in line)
               for w in WIDTHS}
    assert "producer" in headers[200] and "histogram" in headers[200]
    assert "producer" not in headers[80] and "histogram" not in headers[80]
    for w in WIDTHS:  # what a site is judged by never goes
        assert all(col in headers[w] for col in ("site", "saturated", "verdict"))


def test_shared_prefix_is_said_once_and_verbose_keeps_full_names(folder):
    report = inspected("bert_like", folder)
    text = printed(report, 120)
    assert "start with /bert/" in text
    assert not any("/bert/encoder" in row for row in site_rows(text))
    wide = printed(report, 400, verbose=True)
    assert all(s.name in wide for s in report.sites)
    doc = json.loads(renderer("json")([report]))
    assert [s["name"] for s in doc["sites"]] == [s.name for s in report.sites]


def test_piped_output_fits_80_columns(folder, tmp_path):
    path = tmp_path / "bert.onnx"
    onnx.save(bert_like(), str(path))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run([sys.executable, "-m", "saturate_cli", "inspect", str(path), "-q",
                           "-n", "32"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    rows = site_rows(done.stdout)
    assert len(rows) == 25 and all(cell_len(r) <= 80 for r in rows)


def test_shorten_is_a_middle_ellipsis_of_exact_width():
    name = "/bert/encoder/layer.0/intermediate/intermediate_act_fn/Mul_1"
    for width in range(2, len(name) + 3):
        out = shorten(name, width)
        assert len(out) == min(width, len(name))
        assert pieces_in_order(out, name) and (out == name or out.count("…") == 1)
    names = ["/a/b/layer1/layer1.0/relu_1/Relu", "/a/b/layer1/layer1.0/relu/Relu"]
    short = short_names(names, 24)
    assert all(len(s) <= 24 and pieces_in_order(s, n) for s, n in zip(short, names))
    assert short[0] != short[1]


def test_not_covered_is_printed_from_the_findings_so_ignore_silences_it():
    sat901 = FindingReport("SAT901", "not-covered", "info", "LSTM 'lstm' is not measured: "
                           "gates are fused in the kernel", "lstm")
    report = replace(hand_report([hand_site("a")]), model_findings=(sat901,),
                     not_covered=({"name": "lstm", "op": "LSTM",
                                   "reason": "gates are fused in the kernel"},))
    assert "SAT901" in renderer("text")([report])
    quiet = apply_rule_policy(report, ignore=("SAT901",))
    assert quiet.not_covered  # still listed in the report; only the finding is turned off
    assert "SAT901" not in renderer("text")([quiet])
