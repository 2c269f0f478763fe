"""What the over-time commands compare: one *point* per checkpoint or training step.

A point is a report's sites by name (the `--format json` contract, execution order kept) and,
where known, the relative change of each producing layer's parameters since the first point.
Points come from JSON reports (`saturate inspect -f json`), from the monitor's JSON lines
(`saturate_cli.over_time.watch`), or from measuring checkpoints (`trend.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from saturate_cli.errors import UsageError

LOG_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class Point:
    """One measurement of a model: a label, its sites, its producers' parameter changes."""

    label: str
    sites: dict  # site name -> the report's site dict, in execution order
    # parameter name -> relative Frobenius change ||P - P0|| / ||P0|| since the first point
    changes: dict = field(default_factory=dict)
    step: Optional[int] = None


_RULE_OF_METRIC = {"dead_units": "SAT101", "rows": "SAT201"}  # else the tails' SAT001


def share(site: dict) -> Optional[float]:
    """The share a site is judged by: saturated values, dead units or collapsed rows (the
    measure a baselined finding is compared by, baseline.site_metric)."""
    from saturate_cli.baseline import site_metric

    sat = site.get("saturation") or {}
    return site_metric(_RULE_OF_METRIC.get(sat.get("metric"), "SAT001"), sat)


def _read_json(path: Path, what: str):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a JSON {what}: {exc}") from None


def report_document(path: Path) -> dict:
    """One report from a `--format json` file (a one-report `{"reports": [...]}` too)."""
    doc = _read_json(path, "report (saturate inspect -f json)")
    if isinstance(doc, dict) and isinstance(doc.get("reports"), list):
        if len(doc["reports"]) != 1:
            raise UsageError(f"{path}: holds {len(doc['reports'])} reports; compare one "
                             "model's report with another's")
        doc = doc["reports"][0]
    if not isinstance(doc, dict) or not isinstance(doc.get("sites"), list) or \
            any(not isinstance(s, dict) or not isinstance(s.get("name"), str)
                for s in doc["sites"]):
        raise UsageError(f"{path}: not a saturate report (no 'sites' list of named sites)")
    if doc.get("schema_version") != "1":
        raise UsageError(f"{path}: report schema version {doc.get('schema_version')!r}; this "
                         "saturate reads version '1'")
    if doc.get("error"):
        raise UsageError(f"{path}: the model was not inspected: {doc['error']}")
    if (doc.get("calibration") or {}).get("partial"):
        raise UsageError(f"{path}: a partial (interrupted) report; measure the model again")
    return doc


def point_of_report(doc: dict, label: str, changes: Optional[dict] = None,
                    step: Optional[int] = None) -> Point:
    return Point(label, {s["name"]: s for s in doc["sites"]}, dict(changes or {}), step)


def read_log(path: Path) -> list[Point]:
    """The points of a monitor log: one JSON object per line, {"step", "report", "changes"}."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the monitor log: {exc.strerror or exc}") from None
    points = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            report = record["report"]
            step = int(record["step"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            if number == len(lines):  # a last line cut short by a crash mid-write
                break
            raise UsageError(f"{path}:{number}: not a saturate monitor record "
                             "(a JSON object with 'step' and 'report')") from None
        if not isinstance(report, dict) or not isinstance(report.get("sites"), list):
            raise UsageError(f"{path}:{number}: the record's report has no 'sites' list")
        points.append(point_of_report(report, f"step {step}", record.get("changes"), step))
    if not points:
        raise UsageError(f"{path}: no monitor record in the log")
    return points


def site_order(points: list[Point]) -> list[str]:
    """Every site of every point, in execution order (the first point's order first)."""
    seen: dict[str, None] = {}
    for p in points:
        for name in p.sites:
            seen.setdefault(name, None)
    return list(seen)
