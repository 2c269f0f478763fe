"""`saturate diff`: site-by-site change between two reports, regressions vs old debt.

Reports are written by hand here, so every expected number is known independently of the code.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from conftest import run_cli
from saturate_cli.over_time.diff import MAX_WORSENING, diff_reports


def _site(name, fraction=0.0, mean=0.0, std=1.0, gain=0.9, codes=(), metric="tails",
          units=10, dead=0):
    return {"name": name, "input": f"{name}:in", "op": "Sigmoid", "kind": "sigmoid",
            "params": {}, "producer": None,
            "stats": {"count": 100, "mean": mean, "std": std},
            "histogram": {"edges": [], "counts": []},
            "saturation": {"fraction": fraction, "mean_gain": gain, "units": units,
                           "dead_units": dead, "metric": metric},
            "findings": [{"code": c, "severity": "error", "message": "m"} for c in codes]}


def _report(*sites, tau=0.05, fmt="onnx"):
    return {"schema_version": "1", "model": {"path": "m.onnx", "format": fmt},
            "settings": {"tau": tau}, "calibration": {"partial": False},
            "sites": list(sites)}


def _write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_regression_is_growth_not_old_debt():
    a = _report(_site("s0", 0.30, codes=("SAT001",)), _site("s1", 0.02), _site("s2", 0.5))
    b = _report(_site("s0", 0.33, codes=("SAT001",)), _site("s1", 0.20, codes=("SAT001",)),
                _site("s2", 0.1))
    d = diff_reports(a, b, "a", "b")
    by = {s.name: s for s in d.sites}
    assert by["s0"].worsening == pytest.approx(0.03)  # old debt, grown a little
    assert by["s1"].worsening == pytest.approx(0.18)
    assert by["s2"].worsening == 0.0  # improved
    assert [s.name for s in d.regressions] == ["s1"] and d.exit_code == 1
    assert by["s1"].new_findings == (("SAT001", "error"),) and by["s0"].new_findings == ()
    out = d.to_dict()["sites"][1]
    assert out["change"]["share"] == pytest.approx(0.18)
    assert out["before"]["mean_gain"] == 0.9


def test_dead_units_new_and_gone_sites():
    a = _report(_site("relu", metric="dead_units", units=20, dead=2), _site("old", 0.4))
    b = _report(_site("relu", metric="dead_units", units=20, dead=5),
                _site("added", 0.25, codes=("SAT001",)))
    d = diff_reports(a, b, "a", "b")
    by = {s.name: s for s in d.sites}
    assert by["relu"].worsening == pytest.approx(3 / 20)
    assert by["old"].presence == "gone" and by["old"].worsening == 0.0
    assert by["added"].presence == "new" and by["added"].worsening == pytest.approx(0.25)
    assert [s.name for s in d.sites] == ["relu", "old", "added"]
    assert {s.name for s in d.regressions} == {"relu", "added"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=6),
       st.floats(0, 0.5))
def test_worsening_property(shares, bar):
    a = _report(*[_site(f"s{i}", x) for i, (x, _) in enumerate(shares)])
    b = _report(*[_site(f"s{i}", y) for i, (_, y) in enumerate(shares)])
    forward, back = diff_reports(a, b, "a", "b", bar), diff_reports(b, a, "b", "a", bar)
    for (x, y), f, r in zip(shares, forward.sites, back.sites):
        assert f.worsening == pytest.approx(max(0.0, y - x))
        assert not (f.worsening > 0 and r.worsening > 0)  # no site worsens both ways
    assert forward.exit_code == int(any(y - x > bar for x, y in shares))


def test_cli_exit_codes_and_formats(tmp_path):
    a = _write(tmp_path, "a.json", _report(_site("s0", 0.3), _site("s1", 0.0)))
    b = _write(tmp_path, "b.json", _report(_site("s0", 0.32), _site("s1", 0.12)))
    r = run_cli("diff", a, b)
    assert r.exit_code == 1 and "worse by 12 points" in r.stdout
    assert run_cli("diff", a, b, "--max-worsening", "0.2").exit_code == 0
    assert run_cli("diff", b, a).exit_code == 0
    js = run_cli("diff", a, b, "-f", "json")
    doc = json.loads(js.stdout)
    assert doc["regressions"] == ["s1"] and doc["exit_code"] == 1
    assert doc["max_worsening"] == MAX_WORSENING
    md = run_cli("diff", a, b, "-f", "markdown")
    assert md.stdout.startswith("### saturate diff") and "| s1 | 0.0% → 12.0% |" in md.stdout
    out = tmp_path / "d.md"
    assert run_cli("diff", a, b, "-f", "markdown", "-o", str(out)).exit_code == 1
    assert out.read_text() == md.stdout


def test_cli_default_matches_the_module_constant():
    from saturate_cli import cli_over_time

    assert cli_over_time.MAX_WORSENING == MAX_WORSENING


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a JSON report"),
    (json.dumps({"sites": "x"}), "not a saturate report"),
    (json.dumps({"schema_version": "9", "sites": []}), "schema version"),
    (json.dumps({"reports": [_report(), _report()]}), "holds 2 reports"),
    (json.dumps(dict(_report(_site("s")), error="unreadable")), "was not inspected"),
    (json.dumps(dict(_report(_site("s")), calibration={"partial": True})), "partial"),
])
def test_bad_files_are_one_line_exit_2(tmp_path, content, message):
    good = _write(tmp_path, "good.json", _report(_site("s")))
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "out.txt"
    r = run_cli("diff", good, str(bad), "-o", str(out))
    assert r.exit_code == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_other_models_are_refused(tmp_path):
    a = _write(tmp_path, "a.json", _report(_site("x")))
    b = _write(tmp_path, "b.json", _report(_site("y")))
    r = run_cli("diff", a, b)
    assert r.exit_code == 2 and "share no site name" in r.stderr
    assert run_cli("diff", a, str(tmp_path / "missing.json")).exit_code == 2


def test_different_tau_is_noted(tmp_path):
    d = diff_reports(_report(_site("s"), tau=0.05), _report(_site("s"), tau=0.02), "a", "b")
    assert any("different tau" in n for n in d.notes)


def test_real_reports_of_two_sample_models(tmp_path, samples):
    """End to end on `inspect -f json` output: the Xavier MLP against the N(0,1) one."""
    paths = {}
    for name in ("mlp_sigmoid_xavier", "mlp_sigmoid_badinit"):
        paths[name] = tmp_path / f"{name}.json"
        run_cli("inspect", str(samples / f"{name}.onnx"), "-n", "32", "-b", "16", "-q",
                "-f", "json", "-o", str(paths[name]))
    good, bad = (json.loads(paths[n].read_text()) for n in paths)
    r = run_cli("diff", str(paths["mlp_sigmoid_xavier"]), str(paths["mlp_sigmoid_badinit"]),
                "-f", "json")
    assert r.exit_code == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["regressions"] == [s["name"] for s in bad["sites"]]
    for site, a, b in zip(doc["sites"], good["sites"], bad["sites"]):
        assert site["change"]["share"] == pytest.approx(
            b["saturation"]["fraction"] - a["saturation"]["fraction"])
        assert site["after"]["std"] == b["stats"]["std"]
        assert {f["code"] for f in site["new_findings"]} == \
            {f["code"] for f in b["findings"]} - {f["code"] for f in a["findings"]}
    back = run_cli("diff", str(paths["mlp_sigmoid_badinit"]), str(paths["mlp_sigmoid_xavier"]))
    assert back.exit_code == 0 and "no site worsened" in back.stdout
