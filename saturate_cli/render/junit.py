"""JUnit XML: one testsuite per model, one testcase per activation site.

A finding at or above the report's fail-on threshold is a <failure>; lower ones and
baseline-suppressed ones are listed in <system-out>. Unmeasured constructs are <skipped> cases.
A model not inspected, or inspected only in part (interrupted), gets an <error> case "saturate".
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from saturate_cli.paths import relative_to_cwd
from saturate_cli.report.model import FindingReport, Report

# characters XML 1.0 cannot carry at all, even escaped
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: str) -> str:
    return _ILLEGAL_XML.sub("\ufffd", text)


def _line(f: FindingReport, prefix: str = "") -> str:
    return clean(f"{prefix}{f.code} [{f.severity}] {f.site}: {f.message}")


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=clean(classname), name=clean(name),
                         time="0")


def testsuite(report: Report) -> ET.Element:
    path = relative_to_cwd(report.model["path"])
    suite = ET.Element("testsuite", name=clean(path))
    failures = skipped = errors = 0
    if report.problem is not None:  # unreadable or partial (interrupted): an <error> case
        errors = 1
        ET.SubElement(_case(suite, path, "saturate"), "error",
                      type="unreadable" if report.error else "partial",
                      message=clean(report.problem))
    for s in report.sites:
        case = _case(suite, path, s.name)
        failing = [f for f in s.findings if report.fails(f)]
        if failing:
            failures += 1
            failure = ET.SubElement(case, "failure", type=failing[0].code,
                                    message=_line(failing[0]))
            failure.text = "\n".join(_line(f) for f in failing)
        other = [_line(f) for f in s.findings if not report.fails(f)]
        other += [_line(f, "baseline: ") for f in report.suppressed if f.site == s.name]
        if other:
            ET.SubElement(case, "system-out").text = "\n".join(other)
    for f in report.model_findings:  # constructs saturate could not measure
        case = _case(suite, path, f.site)
        if report.fails(f):
            failures += 1
            ET.SubElement(case, "failure", type=f.code, message=_line(f)).text = _line(f)
        else:
            skipped += 1
            ET.SubElement(case, "skipped", message=_line(f))
    suite.set("tests", str(len(report.sites) + len(report.model_findings) + errors))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return suite


def render(reports: list[Report]) -> str:
    root = ET.Element("testsuites", name="saturate")
    suites = [testsuite(r) for r in reports]
    root.extend(suites)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr)) for s in suites)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"
