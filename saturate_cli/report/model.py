"""The report: one immutable result object. Renderers read it; they never compute."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from saturate_cli import __version__

from saturate_cli.diagnose.finding import Finding, fingerprint  # noqa: F401 - re-exported
from saturate_cli.wording import percent, plural  # noqa: F401 - re-exported

SCHEMA_VERSION = "1"
SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3}
EXIT_UNREADABLE = 2  # the model could not be inspected (bad input), whatever --fail-on says
EXIT_PARTIAL = 130  # interrupted (Ctrl-C): the report covers only part of the data


def partial_note(batches: int) -> str:
    """What an interrupted run says in its notes and in every CI format."""
    return (f"partial report: interrupted (Ctrl-C) after {plural(batches, 'batch')}; the "
            f"findings cover only the data measured (exit {EXIT_PARTIAL})")


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars/arrays unwrapped, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


FindingReport = Finding  # the one finding type, under the name the renderers know it by


@dataclass(frozen=True)
class SiteReport:
    """Everything measured and concluded about one activation site."""

    name: str
    input: str
    op: str
    kind: str
    params: dict
    producer: Optional[dict]
    stats: dict
    histogram: dict
    saturation: dict
    findings: tuple[FindingReport, ...] = ()

    @property
    def worst(self) -> Optional[str]:
        ranked = [f.severity for f in self.findings]
        return max(ranked, key=SEVERITY_RANK.get) if ranked else None

    def to_dict(self) -> dict:
        return {
            "name": self.name, "input": self.input, "op": self.op, "kind": self.kind,
            "params": self.params, "producer": self.producer, "stats": self.stats,
            "histogram": self.histogram, "saturation": self.saturation,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class Report:
    """One model's report."""

    tool: dict
    model: dict
    calibration: dict
    settings: dict
    sites: tuple[SiteReport, ...]
    not_covered: tuple[dict, ...] = ()
    model_findings: tuple[FindingReport, ...] = ()
    depth_profile: tuple[dict, ...] = ()
    notes: tuple[str, ...] = ()
    fail_on: str = "error"
    suppressed: tuple[FindingReport, ...] = ()  # matched by the --baseline: shown, not counted
    error: Optional[str] = None  # the model could not be inspected: why (see unreadable())

    @classmethod
    def unreadable(cls, path: str, message: str, fail_on: str = "error") -> "Report":
        """The record of a model that could not be inspected in a run of several models."""
        return cls(tool={"name": "saturate", "version": __version__},
                   model={"path": path, "format": "unreadable", "sha256": None, "inputs": []},
                   calibration={"source": "none", "samples": 0, "batches": 0, "partial": False,
                                "notes": []},
                   settings={"tau": 0.0}, sites=(), notes=(f"not inspected: {message}",),
                   fail_on=fail_on, error=message)

    @property
    def partial(self) -> bool:
        """True when the run was interrupted and the statistics cover only part of the data."""
        return bool(self.calibration.get("partial"))

    @property
    def problem(self) -> Optional[str]:
        """One line for CI formats when the verdict is not a full one (unreadable or partial)."""
        if self.error is not None:
            return f"not inspected: {self.error}"
        if self.partial:
            return partial_note(int(self.calibration.get("batches", 0)))
        return None

    @property
    def findings(self) -> list[FindingReport]:
        return [f for s in self.sites for f in s.findings] + list(self.model_findings)

    def site(self, name: str) -> SiteReport:
        """The site of this name (KeyError naming the closest ones when there is none)."""
        for s in self.sites:
            if s.name == name:
                return s
        import difflib

        close = difflib.get_close_matches(name, [s.name for s in self.sites], n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else \
            f"; the report has {plural(len(self.sites), 'site')}"
        raise KeyError(f"no site '{name}'{hint}")

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The --format json document of this report alone."""
        import json

        return json.dumps(self.to_dict(), indent=indent)

    def counts(self) -> dict:
        out = {"error": 0, "warning": 0, "info": 0}
        for f in self.findings:
            out[f.severity] += 1
        return out

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        worst = max((SEVERITY_RANK[f.severity] for f in self.findings), default=0)
        return {0: "clean", 1: "info", 2: "warning", 3: "error"}[worst]

    @property
    def exit_code(self) -> int:
        """1 when a finding is at or above --fail-on, else 0; 2 for an unreadable model and 130
        for a partial (interrupted) report, whatever --fail-on says."""
        if self.error is not None:
            return EXIT_UNREADABLE
        if self.partial:
            return EXIT_PARTIAL
        return int(any(self.fails(f) for f in self.findings))

    def fails(self, f: Finding) -> bool:
        """True when this finding alone makes the run fail (at or above --fail-on)."""
        return self.fail_on != "never" and SEVERITY_RANK[f.severity] >= SEVERITY_RANK[self.fail_on]

    def summary(self) -> dict:
        return {
            "sites": len(self.sites),
            "flagged": sum(1 for s in self.sites if s.worst in ("warning", "error")),
            "not_covered": len(self.not_covered),
            "findings": self.counts(),
            "status": self.status,
            "exit_code": self.exit_code,
            "suppressed": len(self.suppressed),
            "partial": self.partial,
        }

    def to_dict(self) -> dict:
        extra = {} if self.error is None else {"error": self.error}
        return jsonable({
            "schema_version": SCHEMA_VERSION,
            "tool": self.tool,
            "model": self.model,
            "calibration": self.calibration,
            "settings": self.settings,
            "summary": self.summary(),
            "sites": [s.to_dict() for s in self.sites],
            "not_covered": list(self.not_covered),
            "model_findings": [f.to_dict() for f in self.model_findings],
            "depth_profile": list(self.depth_profile),
            "notes": list(self.notes),
            "suppressed": [dict(f.to_dict(), site=f.site) for f in self.suppressed],
            **extra,
        })


@dataclass(frozen=True)
class MultiReport:
    """Reports of several models from one invocation; the exit code is the worst."""

    reports: tuple[Report, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        """The worst: 130 (interrupted) > 2 (a model unreadable) > 1 (findings) > 0."""
        return max((r.exit_code for r in self.reports), default=0)

