"""Which findings count: rule selection (--select/--ignore) and per-site ignores, as pure functions.

Selectors follow ruff: a full code (SAT101) or any prefix of one (SAT1, SAT), or ALL. When a code
matches both lists, the more specific selector wins; on a tie, ignore wins.
"""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Iterable, Mapping

from saturate_cli.errors import UsageError
from saturate_cli.report.model import FindingReport, Report

ALL = "ALL"


def parse_selectors(values: Iterable[str], origin: str) -> tuple[str, ...]:
    """Upper-cased selectors from repeated or comma-separated values; unknown ones are errors."""
    from saturate_cli.diagnose.rules import RULES

    out = []
    for value in values:
        for part in str(value).split(","):
            sel = part.strip().upper()
            if not sel:
                continue
            if sel != ALL and not any(code.startswith(sel) for code in RULES):
                raise UsageError(f"{origin}: unknown rule selector '{part.strip()}' "
                                 "(`saturate rules` lists the codes)")
            out.append(sel)
    return tuple(dict.fromkeys(out))


def specificity(code: str, selectors: Iterable[str]) -> int:
    """Length of the longest selector matching the code (ALL counts 0), or -1 when none does."""
    best = -1
    for sel in selectors:
        if sel == ALL:
            best = max(best, 0)
        elif code.startswith(sel):
            best = max(best, len(sel))
    return best


def rule_enabled(code: str, select: Iterable[str], ignore: Iterable[str]) -> bool:
    """Whether a rule is on: selected (everything when select is empty) and not more specifically
    or equally ignored."""
    chosen = specificity(code, tuple(select) or (ALL,))
    return chosen >= 0 and chosen > specificity(code, ignore)


def site_ignored(code: str, site: str, per_site: Mapping[str, Iterable[str]]) -> bool:
    """Whether a per-site ignore (glob on the site name -> selectors) covers this finding."""
    return any(fnmatchcase(site, glob) and specificity(code, sels) >= 0
               for glob, sels in per_site.items())


def finding_kept(f: FindingReport, select, ignore, per_site) -> bool:
    return rule_enabled(f.code, select, ignore) and not site_ignored(f.code, f.site, per_site)


def apply_rule_policy(report: Report, select=(), ignore=(), per_site=None) -> Report:
    """The report without the findings that the selection turns off (like ruff, they are gone;
    a note says how many)."""
    per_site = per_site or {}

    def keep(findings):
        return tuple(f for f in findings if finding_kept(f, select, ignore, per_site))

    sites = tuple(replace(s, findings=keep(s.findings)) for s in report.sites)
    model_findings = keep(report.model_findings)
    dropped = len(report.findings) - sum(len(s.findings) for s in sites) - len(model_findings)
    notes = report.notes
    if dropped:
        notes += (f"{dropped} finding(s) turned off by rule selection "
                  "(select / ignore / per-site-ignores)",)
    return replace(report, sites=sites, model_findings=model_findings, notes=notes)
