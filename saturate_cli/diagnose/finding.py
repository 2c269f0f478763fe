"""The one finding type: a rule violated at a site (or by the model), with its remedies.

Diagnosis makes them, the report holds them, the policy and the baseline filter or mark them,
renderers print them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

from saturate_cli.diagnose.rules import rule


def fingerprint(code: str, site: str) -> str:
    """Stable identity of a finding: rule + site, never numbers that drift with retraining."""
    return hashlib.sha256(f"{code}|{site}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Finding:
    code: str
    name: str  # the rule's name (diagnose/rules.py)
    severity: str
    message: str
    site: str  # the site's name, or "model" / an input name for model-level findings
    cause: Optional[str] = None
    suggestions: tuple = ()
    baseline: Optional[str] = None  # against a --baseline: "new", "worse: ..." or "suppressed"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.code, self.site)

    @property
    def sited_message(self) -> str:
        """The message, naming the site when it does not already (for CI annotations)."""
        return self.message if self.site in self.message else f"{self.site}: {self.message}"

    def to_dict(self) -> dict:
        out = {
            "code": self.code, "name": self.name, "severity": self.severity,
            "message": self.message, "cause": self.cause, "fingerprint": self.fingerprint,
            "suggestions": list(self.suggestions),
        }
        if self.baseline is not None:
            out["baseline"] = self.baseline
        return out


def finding(code: str, severity: str, message: str, site: str, cause: Optional[str] = None,
            suggestions=()) -> Finding:
    """A Finding of rule `code` (its name from the catalogue)."""
    return Finding(code, rule(code).name, severity, message, site, cause, tuple(suggestions))
