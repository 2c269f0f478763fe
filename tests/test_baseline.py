"""Issue #6: baselines (match by rule + site [+ model], fail only on new or worse findings) and
rule selection (--select/--ignore with ruff's prefix semantics, per-site ignores by glob)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from saturate_cli.baseline import apply_baseline, load_baseline
from saturate_cli.errors import UsageError
from saturate_cli.policy import apply_rule_policy, parse_selectors, rule_enabled
from saturate_cli.render import renderer
from test_formats_support import report, site


def save(tmp_path, reports, name="base.json"):
    path = tmp_path / name
    path.write_text(renderer("json")(reports))
    return load_baseline(str(path))


def test_known_findings_are_suppressed_and_still_visible(tmp_path):
    old = report([site("a", [("SAT001", "error")]), site("b")])
    now = report([site("a", [("SAT001", "error")]), site("b", [("SAT003", "info")])],
                 fail_on="info")
    [out] = apply_baseline([now], save(tmp_path, [old]), tolerance=0.05)
    assert [(f.code, f.site, f.baseline) for f in out.findings] == [("SAT003", "b", "new")]
    assert [(f.code, f.site) for f in out.suppressed] == [("SAT001", "a")]
    doc = out.to_dict()
    assert doc["summary"]["suppressed"] == 1 and doc["suppressed"][0]["site"] == "a"
    assert out.exit_code == 1  # the new info finding, with --fail-on info


def test_worse_findings_count_again(tmp_path):
    old = report([site("a", [("SAT001", "warning")], fraction=0.2),
                  site("b", [("SAT001", "error")], fraction=0.4)])
    base = save(tmp_path, [old])
    severity_rose = report([site("a", [("SAT001", "error")], fraction=0.2),
                            site("b", [("SAT001", "error")], fraction=0.44)])
    [out] = apply_baseline([severity_rose], base, tolerance=0.05)
    assert [(f.site, f.baseline) for f in out.findings] == [
        ("a", "worse: severity warning -> error")]
    grew = report([site("a", [("SAT001", "warning")], fraction=0.2),
                   site("b", [("SAT001", "error")], fraction=0.5)])
    [out] = apply_baseline([grew], base, tolerance=0.05)
    assert [f.site for f in out.findings] == ["b"] and out.findings[0].baseline.startswith("worse")
    [out] = apply_baseline([grew], base, tolerance=0.2)
    assert out.findings == [] and out.exit_code == 0


def test_many_models_match_by_model_path_too(tmp_path):
    a = report([site("s", [("SAT001", "error")])], path="models/a.onnx")
    b = report([site("s")], path="models/b.onnx")
    base = save(tmp_path, [a, b])
    b_now = report([site("s", [("SAT001", "error")])], path="models/b.onnx")
    out = apply_baseline([a, b_now], base, tolerance=0.05)
    assert [len(r.suppressed) for r in out] == [1, 0]
    assert out[1].findings[0].baseline == "new"
    assert max(r.exit_code for r in out) == 1
    # a single model keeps its baseline when the file moves
    [moved] = apply_baseline([replace(a, model=dict(a.model, path="new/a.onnx"))],
                             save(tmp_path, [a], "single.json"), tolerance=0.05)
    assert len(moved.suppressed) == 1


def test_baseline_of_a_baselined_report_keeps_suppressed_findings(tmp_path):
    old = report([site("a", [("SAT001", "error")])])
    [first] = apply_baseline([old], save(tmp_path, [old]), 0.05)
    [second] = apply_baseline([old], save(tmp_path, [first], "again.json"), 0.05)
    assert len(second.suppressed) == 1 and second.findings == []


@pytest.mark.parametrize("text", ["", "{", "[]", '{"schema_version": "1"}',
                                  '{"schema_version": "2", "model": {"path": "m"}, "sites": []}',
                                  '{"reports": [1]}'])
def test_bad_baselines_are_usage_errors(tmp_path, text):
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(UsageError, match="baseline"):
        load_baseline(str(path))
    with pytest.raises(UsageError, match="no such file"):
        load_baseline(str(tmp_path / "missing.json"))


# --- rule selection --------------------------------------------------------------------------------

@pytest.mark.parametrize("code, select, ignore, enabled", [
    ("SAT101", (), (), True),
    ("SAT101", ("SAT1",), (), True),
    ("SAT001", ("SAT1",), (), False),
    ("SAT101", ("SAT",), ("SAT1",), False),
    ("SAT101", ("SAT101",), ("SAT1",), True),  # more specific select wins
    ("SAT101", ("SAT1",), ("SAT1",), False),  # a tie goes to ignore
    ("SAT901", ("ALL",), ("SAT9",), False),
    ("SAT201", (), ("SAT0", "SAT1"), True),
])
def test_selection_follows_ruff(code, select, ignore, enabled):
    assert rule_enabled(code, select, ignore) is enabled


def test_selectors_parse_commas_case_and_reject_unknown():
    assert parse_selectors(["sat1, SAT201", "SAT1"], "--select") == ("SAT1", "SAT201")
    with pytest.raises(UsageError, match="'SAT7'"):
        parse_selectors(["SAT7"], "--select")


def test_policy_drops_findings_and_says_so():
    r = report([site("encoder.3.attn:softmax", [("SAT201", "error"), ("SAT301", "error")]),
                site("decoder.attn:softmax", [("SAT201", "error")]),
                site("head", [("SAT001", "warning"), ("SAT003", "info")])])
    out = apply_rule_policy(r, select=("SAT0", "SAT2", "SAT3"), ignore=("SAT003",),
                            per_site={"encoder.*.attn:softmax": ("SAT201",)})
    assert [(f.site, f.code) for f in out.findings] == [
        ("encoder.3.attn:softmax", "SAT301"), ("decoder.attn:softmax", "SAT201"),
        ("head", "SAT001")]
    assert any("2 finding(s)" in n for n in out.notes)
    assert apply_rule_policy(r) == r


def test_cli_select_ignore_on_a_sample(tmp_path):
    from test_formats_support import FAST, SAMPLES, run_in

    model = str(SAMPLES / "cnn_relu_deadbias.onnx")
    ignored = run_in(tmp_path, "inspect", model, *FAST, "--ignore", "SAT1", "-f", "json")
    assert ignored.exit_code == 0
    assert all(f["code"][:4] != "SAT1" for s in json.loads(ignored.stdout)["sites"]
               for f in s["findings"])
    (tmp_path / "saturate.toml").write_text('[per-site-ignores]\n"/relu1/*" = ["SAT1"]\n'
                                            '"/Relu" = ["SAT101"]\n')
    assert run_in(tmp_path, "inspect", model, *FAST).exit_code == 0
    bad = run_in(tmp_path, "inspect", model, *FAST, "--select", "SAT8")
    assert bad.exit_code == 2 and "SAT8" in bad.stderr
