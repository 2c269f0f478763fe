"""Turn one site's statistics into findings: what is wrong, why, and what to do."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from saturate_cli.activations import ActivationKind, get_kind
from saturate_cli.diagnose import suggest
from saturate_cli.diagnose.rules import rule
from saturate_cli.diagnose.temperature import required_temperature
from saturate_cli.model.handle import Site
from saturate_cli.settings import Settings
from saturate_cli.stats.site_stats import SiteStats


@dataclass(frozen=True)
class Finding:
    """One rule violated at one site."""

    code: str
    severity: str
    message: str
    cause: Optional[str] = None
    suggestions: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return rule(self.code).name


@dataclass(frozen=True)
class Measure:
    """The derived numbers diagnosis and report share."""

    low: Optional[float]
    high: Optional[float]
    fraction: float
    fraction_low: float
    fraction_high: float
    dead_units: list
    units: int


def _severity(value: float, warning: float, error: float) -> Optional[str]:
    if value >= error:
        return "error"
    if value >= warning:
        return "warning"
    return None


def measure(site: Site, stats: SiteStats, settings: Settings) -> Measure:
    """Saturated fractions and dead units of a site."""
    t = get_kind(site.kind).tails(site.params, settings.tau)
    n = max(stats.count, 1)
    dead: list = []
    if stats.unit_saturated is not None and stats.per_unit:
        share = stats.unit_saturated / stats.per_unit
        dead = [int(i) for i in np.nonzero(share >= settings.thresholds.dead_unit_fraction)[0]]
    if get_kind(site.kind).metric == "rows":  # softmax: the share of collapsed rows
        share = stats.collapsed_rows / stats.judged_rows if stats.judged_rows else 0.0
        return Measure(t.low, t.high, share, 0.0, 0.0, dead, stats.units)
    return Measure(t.low, t.high, (stats.low + stats.high) / n, stats.low / n, stats.high / n,
                   dead, stats.units)


def diagnose_site(site: Site, stats: SiteStats, m: Measure, settings: Settings) -> list[Finding]:
    """Every finding for one site, most severe first."""
    kind = get_kind(site.kind)
    if stats.count == 0:
        return [Finding("SAT902", "warning", f"{site.name} saw no values on the calibration data")]
    found: list[Finding] = []
    if stats.nan or stats.inf:
        found.append(Finding("SAT301", "error", f"{stats.nan} NaN and {stats.inf} Inf values reach "
                             f"{kind.name} at {site.name}"))
    if stats.finite and stats.std == 0.0:
        found.append(Finding("SAT302", "warning", f"every input of {site.name} equals "
                             f"{stats.mean:.4g}"))
    elif kind.metric == "tails":
        found.extend(_tails(site, kind, stats, m, settings))
    elif kind.metric == "dead_units":
        found.extend(_dead(site, kind, stats, m, settings))
    elif kind.metric == "rows":
        found.extend(_softmax(site, stats, settings))
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda f: (order[f.severity], f.code))


def _centre(m: Measure) -> float:
    if m.low is not None and m.high is not None:
        return 0.5 * (m.low + m.high)
    return 0.0


def _target_std(m: Measure) -> float:
    """Xavier's unit variance, narrowed when the sweet range is narrower than +-2."""
    if m.low is not None and m.high is not None:
        return min(1.0, (m.high - m.low) / 4.0)
    return 1.0


def _is_shift(stats: SiteStats, m: Measure, settings: Settings) -> bool:
    """The centre of the inputs lies in a tail, well away from the sweet range."""
    margin = settings.thresholds.shift_sigmas * stats.std
    below = m.low is not None and stats.mean < m.low and (m.low - stats.mean) > margin
    above = m.high is not None and stats.mean > m.high and (stats.mean - m.high) > margin
    return below or above


def _tails(site, kind: ActivationKind, stats, m: Measure, settings) -> list[Finding]:
    th = settings.thresholds
    sev = _severity(m.fraction, th.saturated_warning, th.saturated_error)
    if sev is None:
        return _linear(site, kind, stats, m, settings)
    where = (f"{m.fraction:.0%} of inputs to {kind.name} at {site.name} are saturated "
             f"({m.fraction_low:.0%} below {m.low:.3g}, {m.fraction_high:.0%} above {m.high:.3g})"
             if m.low is not None and m.high is not None else
             f"{m.fraction:.0%} of inputs to {kind.name} at {site.name} are saturated")
    if _is_shift(stats, m, settings):
        tips = [suggest.shift_bias(site, stats.mean, _centre(m))]
        norm = suggest.insert_norm(site)
        tips += [norm] if norm else []
        return [Finding("SAT002", sev, f"{where}: inputs are centred at {stats.mean:.3g}, inside "
                        "a tail (shift)", "shift", tips)]
    target = _target_std(m)
    tips = [suggest.rescale(site, kind, stats.std, target)]
    norm = suggest.insert_norm(site)
    tips += [norm] if norm else []
    return [Finding("SAT001", sev, f"{where}: std {stats.std:.3g} is too wide (scale); rescale "
                    f"by {target / stats.std:.3g}", "scale", tips)]


def _linear(site, kind, stats, m: Measure, settings) -> list[Finding]:
    if m.low is None or m.high is None:
        return []
    half = 0.5 * (m.high - m.low)
    if stats.std < settings.thresholds.linear_std * half and abs(stats.mean - _centre(m)) < half / 2:
        target = _target_std(m)
        return [Finding("SAT003", "info", f"inputs to {kind.name} at {site.name} have std "
                        f"{stats.std:.3g}: it acts almost linearly", "scale",
                        [suggest.rescale(site, kind, stats.std, target)])]
    return []


def _dead(site, kind: ActivationKind, stats, m: Measure, settings) -> list[Finding]:
    th = settings.thresholds
    if not m.units or not m.dead_units:
        return []
    share = len(m.dead_units) / m.units
    sev = _severity(share, th.dead_units_warning, th.dead_units_error) or "info"
    shown = ", ".join(str(i) for i in m.dead_units[:12]) + (" ..." if len(m.dead_units) > 12 else "")
    means = stats.unit_means
    adjustable = site.producer is not None and bool(site.producer.bias or site.producer.norm)
    if not adjustable:  # e.g. after a residual Add: only a normalisation can re-centre it
        tips = []
    elif means is not None and len(means) == m.units:
        tips = [suggest.shift_units(site, m.dead_units, [float(means[i]) for i in m.dead_units])]
    else:
        tips = [suggest.shift_bias(site, stats.mean, 0.0)] if stats.mean < 0 else []
    norm = suggest.insert_norm(site)
    tips += [norm] if norm else []
    return [Finding("SAT101", sev, f"{len(m.dead_units)} of {m.units} units of {kind.name} at "
                    f"{site.name} are dead ({share:.0%}): units {shown}",
                    "shift" if stats.mean < 0 else "scale", tips)]


def _softmax(site, stats: SiteStats, settings) -> list[Finding]:
    if not stats.judged_rows:
        return []
    th = settings.thresholds
    share = stats.collapsed_rows / stats.judged_rows
    sev = _severity(share, th.collapsed_warning, th.collapsed_error)
    if sev is None:
        return []
    temperature = required_temperature(stats.row_sample, settings.softmax_tau)
    tips = [suggest.scale_logits(site, temperature)] if math.isfinite(temperature) else []
    return [Finding("SAT201", sev, f"{share:.0%} of softmax rows at {site.name} are collapsed "
                    f"(max probability > {1 - settings.softmax_tau:g})"
                    + (f"; divide logits by {temperature:.3g}" if tips else ""), "scale", tips)]
