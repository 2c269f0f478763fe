"""Findings about the model as a whole: what is not covered (SAT901), nothing measured
(SAT903), inputs the synthetic data cannot exercise (SAT904)."""

from __future__ import annotations

from typing import Optional

from saturate_cli.diagnose.finding import Finding, finding
from saturate_cli.stats.site_stats import SiteStats
from saturate_cli.types import NotCovered, Site


def not_covered(uncovered: list[NotCovered]) -> list[Finding]:
    """SAT901 for each activation or construct saturate saw but cannot measure."""
    return [finding("SAT901", "info", f"{u.op} '{u.name}' is not measured: {u.reason}", u.name)
            for u in uncovered]


def nothing_measured(sites: list[Site], uncovered: list[NotCovered],
                     stats: dict[str, SiteStats]) -> Optional[Finding]:
    """SAT903 when no site exists or no site saw a value: such a report cannot be clean."""
    if not sites:
        what = ("no activation saturate can measure was found in the model"
                + (f"; {len(uncovered)} construct(s) are listed as not covered"
                   if uncovered else ""))
    elif all(s.name not in stats or stats[s.name].count == 0 for s in sites):
        what = (f"none of the model's {len(sites)} activation site(s) saw a value on the "
                "calibration data")
    else:
        return None
    return finding("SAT903", "error",
                   f"nothing was measured: {what}, so the model cannot be called clean; make "
                   "the activations explicit ops the calibration data reaches, or --ignore "
                   "SAT903 for a model without activations by design", "model")


def unexercised(calibration: dict) -> list[Finding]:
    """SAT904 for each input whose synthetic data cannot exercise the model."""
    return [finding("SAT904", "warning",
                    f"input '{name}' got synthetic token ids from a guessed range: the "
                    "vocabulary is unknown, so few embedding rows are exercised; give "
                    "--int-range 0,VOCAB or --calibration data", name)
            for name in calibration.get("unexercised", ())]


def model_findings(sites: list[Site], uncovered: list[NotCovered],
                   stats: dict[str, SiteStats], calibration: dict) -> list[Finding]:
    """Every model-level finding, in the order the report lists them."""
    empty = nothing_measured(sites, uncovered, stats)
    return not_covered(uncovered) + ([empty] if empty else []) + unexercised(calibration)
