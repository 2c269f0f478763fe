"""Issue #6: every CI output format, on the bundled samples and on a hand-made nasty report.

Expectations are written down independently (hashes recomputed here, escapes spelled out by hand,
the official SARIF schema, the standard library's XML parser), never read back from the code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from saturate_cli.render import FORMATS, renderer
from test_formats_support import (NASTY_SITE, ROOT, SAMPLES, SARIF_SCHEMA, nasty_report,
                                  sample_reports)

__all__ = ["sample_reports"]  # the session fixture, imported for pytest


def rel(stem: str) -> str:
    return Path(os.path.relpath(SAMPLES / f"{stem}.onnx")).as_posix()


def all_findings(reports) -> Counter:
    return Counter((f.code, f.site, rel(Path(r.model["path"]).stem)) for r in reports
                   for f in r.findings)


@pytest.fixture(scope="module")
def reports(sample_reports):
    return list(sample_reports.values())


# --- what the sample models were built to show (sample_models/generate.py) -----------------------

def test_samples_show_what_they_were_built_for(sample_reports):
    def codes(stem):
        return {(f.code, f.severity) for f in sample_reports[stem].findings}

    assert codes("mlp_sigmoid_xavier") == set()
    bad = sample_reports["mlp_sigmoid_badinit"].findings
    assert len(bad) == 4 and {(f.code, f.severity) for f in bad} == {("SAT001", "error")}
    assert ("SAT201", "error") in codes("softmax_hot")
    assert ("SAT101", "error") in codes("cnn_relu_deadbias")


def test_every_format_is_registered_and_renders(reports):
    assert {"text", "json", "ndjson", "sarif", "github", "gitlab", "junit", "markdown"} <= set(
        FORMATS)
    from saturate_cli.cli import Format

    assert {f.value for f in Format} == set(FORMATS)
    for fmt in FORMATS:
        assert renderer(fmt)(reports).endswith("\n")


# --- json ------------------------------------------------------------------------------------------

def test_json_many_models_one_document_valid_against_shipped_schema(reports):
    jsonschema = pytest.importorskip("jsonschema")
    doc = json.loads(renderer("json")(reports))
    schema = json.loads((ROOT / "saturate_cli" / "schemas" / "report-v1.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert [r["model"]["path"] for r in doc["reports"]] == [r.model["path"] for r in reports]
    assert doc["exit_code"] == 1  # the worst: badinit has errors, xavier is clean
    single = json.loads(renderer("json")(reports[:1]))
    assert single["model"]["path"] == reports[0].model["path"]


# --- ndjson ----------------------------------------------------------------------------------------

def test_ndjson_one_record_per_site_and_finding(reports):
    lines = renderer("ndjson")(reports).splitlines()
    records = [json.loads(line) for line in lines]
    assert all(r["schema_version"] == "1" and "type" in r for r in records)
    kinds = Counter(r["type"] for r in records)
    assert kinds["site"] == sum(len(r.sites) for r in reports)
    assert kinds["summary"] == len(reports)
    found = Counter((r["code"], r["site"], r["model"]) for r in records if r["type"] == "finding")
    assert found == all_findings(reports)


# --- sarif -----------------------------------------------------------------------------------------

def sarif(reports) -> dict:
    return json.loads(renderer("sarif")(reports))


def test_sarif_valid_against_official_schema(reports):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(sarif(reports), schema)
    jsonschema.validate(sarif([nasty_report()]), schema)


def test_sarif_results_fingerprints_and_locations(reports):
    from saturate_cli.diagnose.rules import RULES

    run = sarif(reports)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    results = run["results"]
    got = Counter()
    for res in results:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        loc = res["locations"][0]
        site = loc["logicalLocations"][0]["fullyQualifiedName"]
        assert site in res["message"]["text"]
        assert loc["physicalLocation"]["region"]["startLine"] == 1
        uri = loc["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/") and uri.startswith("sample_models/")
        want = hashlib.sha256(f"{res['ruleId']}|{site}".encode()).hexdigest()[:16] + ":1"
        assert res["partialFingerprints"]["primaryLocationLineHash"] == want
        assert res["level"] in ("error", "warning", "note")
        got[(res["ruleId"], site, uri)] += 1
    assert got == all_findings(reports)
    assert sarif(reports) == sarif(reports)  # deterministic


def test_sarif_levels_follow_severity():
    levels = {r["ruleId"]: r["level"] for r in sarif([nasty_report()])["runs"][0]["results"]}
    assert levels == {"SAT201": "error", "SAT003": "note", "SAT001": "warning"}


# --- github ----------------------------------------------------------------------------------------

def test_github_annotations_escape_like_actions_toolkit():
    lines = renderer("github")([nasty_report()]).splitlines()
    # data: % -> %25, CR -> %0D, LF -> %0A; properties also : -> %3A and , -> %2C
    file = "models/a%2Cb%3Ac%25.onnx"
    site_prop = "enc%2C1%3Aattn%2525%0Asoftmax%0D|x`<b>"
    site_data = "enc,1:attn%2525%0Asoftmax%0D|x`<b>"
    assert lines == [
        f"::error file={file},line=1,title=SAT201 {site_prop}::error at {site_data}",
        f"::notice file={file},line=1,title=SAT003 {site_prop}::info at {site_data}",
        f"::warning file={file},line=1,title=SAT001 plain::warning at plain",
    ]
    assert all("\n" not in line and "\r" not in line for line in lines)


def test_github_one_line_per_finding_on_samples(reports):
    lines = renderer("github")(reports).splitlines()
    assert len(lines) == sum(all_findings(reports).values())
    pattern = re.compile(r"^::(error|warning|notice) file=sample_models/[\w.]+\.onnx,line=1,"
                         r"title=SAT\d{3} [^\n]+::.+$")
    assert all(pattern.match(line) for line in lines)


# --- gitlab ----------------------------------------------------------------------------------------

def test_gitlab_code_quality_fingerprints(reports):
    issues = json.loads(renderer("gitlab")(reports))
    assert isinstance(issues, list) and len(issues) == sum(all_findings(reports).values())
    fps = [i["fingerprint"] for i in issues]
    assert len(set(fps)) == len(fps)
    findings = [(r, f) for r in reports for f in r.findings]
    for issue, (r, f) in zip(issues, findings):
        path = rel(Path(r.model["path"]).stem)
        assert issue["fingerprint"] == hashlib.sha256(
            f"{f.code}\0{path}\0{f.site}".encode()).hexdigest()
        assert issue["check_name"] == f.code
        assert issue["location"] == {"path": path, "lines": {"begin": 1}}
        assert issue["severity"] == {"error": "major", "warning": "minor", "info": "info"}[
            f.severity]
        assert f.site in issue["description"]


def test_gitlab_same_model_twice_still_unique_fingerprints():
    issues = json.loads(renderer("gitlab")([nasty_report(), nasty_report()]))
    assert len({i["fingerprint"] for i in issues}) == len(issues) == 6


# --- junit -----------------------------------------------------------------------------------------

def test_junit_one_testcase_per_site(reports):
    root = ET.fromstring(renderer("junit")(reports))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == len(reports)
    for suite, r in zip(suites, reports):
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases][:len(r.sites)] == [s.name for s in r.sites]
        failing = sum(1 for s in r.sites if any(f.severity == "error" for f in s.findings))
        assert len(suite.findall("testcase/failure")) == int(suite.get("failures")) == failing


def test_junit_nasty_names_and_fail_on_threshold():
    for fail_on, failures in (("error", 1), ("warning", 2), ("info", 2), ("never", 0)):
        root = ET.fromstring(renderer("junit")([nasty_report(fail_on)]))
        names = [c.get("name") for c in root.iter("testcase")]
        assert names == [NASTY_SITE, "plain"]
        assert int(root.get("failures")) == failures


# --- markdown --------------------------------------------------------------------------------------

def test_markdown_tables_survive_nasty_names():
    text = renderer("markdown")([nasty_report()])
    rows = [line for line in text.splitlines() if line.startswith("|")]
    cells = [re.split(r"(?<!\\)\|", row)[1:-1] for row in rows]
    assert [len(c) for c in cells] == [8, 8, 8, 5, 5, 5, 5, 5]
    assert "\\|x" in text and "<b>" not in text
    summary = [c.strip() for c in cells[2]]
    assert summary[:7] == ["models/a,b:c%.onnx", "2", "2", "1", "1", "1", "0"]
    assert "fails" in text


def test_markdown_on_samples_lists_every_model(reports):
    text = renderer("markdown")(reports)
    for r in reports:
        assert f"| {rel(Path(r.model['path']).stem)} |" in text
