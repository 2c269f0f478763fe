"""Issue #15: `saturate show REPORT.json|MODEL [SITE]`, and reading JSON reports back.

The terminal picture's shaded columns start at the threshold computed here from f' in float64;
the list is worst first by the report's own verdicts; bad input is one line and exit 2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from saturate_cli.cli import app
from saturate_cli.render import renderer
from saturate_cli.render.terminal import TAIL_STYLE, curve_picture
from saturate_cli.report.figures import site_figures
from saturate_cli.report.load import report_from_dict
from test_formats_support import SAMPLES, nasty_report, sample_reports

__all__ = ["sample_reports"]

RANK = {"error": 3, "warning": 2, "info": 1, None: 0}


def run(*args: str, width: int = 100):
    return CliRunner().invoke(app, ["show", *args], env={"COLUMNS": str(width)})


@pytest.fixture(scope="module")
def report_file(sample_reports, tmp_path_factory):
    path = tmp_path_factory.mktemp("show") / "report.json"
    path.write_text(renderer("json")([sample_reports["mlp_mixed"]]))
    return path


def test_reports_read_back_are_the_same_reports(sample_reports):
    for r in list(sample_reports.values()) + [nasty_report()]:
        doc = json.loads(json.dumps(r.to_dict()))
        again = report_from_dict(doc)
        assert again.to_dict() == r.to_dict()
        assert again.exit_code == r.exit_code and again.status == r.status


def test_without_a_site_the_worst_come_first(report_file):
    done = run(str(report_file))
    assert done.exit_code == 0, done.output
    doc = json.loads(report_file.read_text())
    sites = doc["sites"]

    def worst(s):
        return max((RANK[f["severity"]] for f in s["findings"]), default=0)

    expected = sorted(range(len(sites)), key=lambda i: (-worst(sites[i]),
                                                        -sites[i]["saturation"]["fraction"], i))
    listed = done.output.split("worst sites first", 1)[1].splitlines()[2:]
    shown = [int(line.split()[0]) for line in listed if line.strip()[:1].isdigit()]
    assert shown == expected[:len(shown)] and len(shown) == min(len(sites), 20)
    assert "saturated" in done.output and "gain" in done.output  # the depth profile first


def _dsigmoid(x):
    s = 1 / (1 + np.exp(-x))
    return s * (1 - s)


def _threshold(tau: float) -> float:
    lo, hi = 0.0, 50.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _dsigmoid(mid) >= tau * 0.25 else (lo, mid)
    return lo


@pytest.mark.parametrize("width", [60, 100, 160])
def test_shaded_columns_start_at_the_threshold(sample_reports, width):
    report = sample_reports["mlp_sigmoid_badinit"]
    fig = site_figures(report)[1].curve
    picture = curve_picture(fig, width)
    first_row = picture.plain.splitlines()[0]
    cols = len(first_row) - 8
    shaded = [False] * cols
    for span in picture.spans:
        if TAIL_STYLE in str(span.style) and span.start < len(first_row):
            for c in range(span.start - 8, span.end - 8):
                shaded[c] = True
    t = _threshold(report.settings["tau"])
    step = (fig.x_hi - fig.x_lo) / cols
    for c in range(cols):
        x = fig.x_lo + (c + 0.5) * step
        assert shaded[c] == (x <= -t or x >= t), (c, x)


def test_one_site_by_name_part_or_index(report_file):
    doc = json.loads(report_file.read_text())
    by_part = run(str(report_file), "/tanh/")
    by_index = run(str(report_file), "#0")
    assert by_part.exit_code == 0 and by_part.output == by_index.output
    tanh = doc["sites"][0]
    assert tanh["kind"] == "tanh" and tanh["name"] in by_part.output
    assert f"low tail {round(100 * tanh['saturation']['fraction_low'])}%" in by_part.output \
        or "low tail <1%" in by_part.output


def test_a_model_is_inspected_with_default_settings():
    done = run(str(SAMPLES / "softmax_hot.onnx"), "Softmax")
    assert done.exit_code == 0, done.output
    assert "rows collapsed" in done.output and "SAT201" in done.output


@pytest.mark.parametrize("args, says", [
    (("{report}", "no_such_site"), "no site 'no_such_site'"),
    (("{report}", "Mul"), "matches"),
    (("{junk}",), "not a saturate JSON report"),
    (("{missing}",), "error:"),
])
def test_bad_input_is_one_line_and_exit_2(args, says, report_file, tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    paths = {"report": report_file, "junk": junk, "missing": tmp_path / "nope.json"}
    done = run(*(a.format(**paths) for a in args))
    assert done.exit_code == 2
    lines = [line for line in done.output.splitlines() if line.startswith("saturate: error")]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in done.output
