"""Turn one site's statistics into findings: what is wrong, why, and what to do."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from saturate_cli.activations import ActivationKind, Tails, get_kind
from saturate_cli.diagnose import suggest
from saturate_cli.diagnose.finding import Finding, finding
from saturate_cli.diagnose.temperature import collapsed_share, judged, required_temperature
from saturate_cli.types import Site
from saturate_cli.settings import Settings
from saturate_cli.stats.site_stats import SiteStats
from saturate_cli.wording import percent


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


def _at(site: Site, code: str, severity: str, message: str, cause: Optional[str] = None,
        suggestions=()) -> Finding:
    return finding(code, severity, message, site.name, cause, suggestions)


def _severity(value: float, warning: float, error: float) -> Optional[str]:
    if value >= error:
        return "error"
    if value >= warning:
        return "warning"
    return None


def measure(site: Site, stats: SiteStats, t: Tails, settings: Settings) -> Measure:
    """Saturated fractions and dead units of a site whose tails are `t`."""
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
        return [_at(site, "SAT902", "warning", f"{site.name} saw no values on the calibration data")]
    found: list[Finding] = []
    if stats.nan or stats.inf:
        found.append(_at(site, "SAT301", "error", f"{stats.nan} NaN and {stats.inf} Inf values reach "
                             f"{kind.name} at {site.name}"))
    if stats.finite and stats.std == 0.0:
        found.append(_at(site, "SAT302", "warning", f"every input of {site.name} equals "
                             f"{stats.mean:.4g}"))
    elif kind.metric == "rows":
        found.extend(_softmax(site, stats, settings))
    elif stats.finite:
        vanished = _vanishing(site, kind, stats, m, settings)
        found.extend(vanished)
        if kind.metric == "tails":
            found.extend(_tails(site, kind, stats, m, settings, linear=not vanished))
        elif kind.metric == "dead_units":
            found.extend(_dead(site, kind, stats, m, settings))
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


def _half_range(m: Measure) -> float:
    """The kind's sweet half-range: half its width, the distance of its one bound from 0, or 1."""
    if m.low is not None and m.high is not None:
        return 0.5 * (m.high - m.low)
    bound = abs(m.low if m.low is not None else m.high if m.high is not None else 0.0)
    return bound or 1.0


def tail_share(m: Measure, centre: float, std: float) -> float:
    """Share of normal inputs (centre, std) in the kind's tails: what is left after a shift."""
    def below(x: float) -> float:
        return 0.5 * math.erfc((centre - x) / (std * math.sqrt(2.0)))

    low = below(m.low) if m.low is not None else 0.0
    high = 1.0 - below(m.high) if m.high is not None else 0.0
    return low + high


def _is_shift(stats: SiteStats, m: Measure, settings: Settings) -> bool:
    """The centre of the inputs lies in a tail, well away from the sweet range."""
    margin = settings.thresholds.shift_sigmas * stats.std
    below = m.low is not None and stats.mean < m.low and (m.low - stats.mean) > margin
    above = m.high is not None and stats.mean > m.high and (stats.mean - m.high) > margin
    return below or above


def _rescale_tips(site, kind, stats, m: Measure, settings) -> tuple[list, str]:
    """Multiply by k to the target std, then shift when the rescaled centre lies off-centre.

    Returns the suggestions and the remedy in words.
    """
    target, centre = _target_std(m), _centre(m)
    k = target / stats.std
    tips = [suggest.rescale(site, kind, stats.std, target)]
    words = f"rescale by {k:.3g}"
    if abs(k * stats.mean - centre) > settings.thresholds.shift_sigmas * target:
        tips.append(suggest.shift_bias(site, k * stats.mean, centre, after_factor=k))
        words += f", then add {centre - k * stats.mean:.3g}"
    return tips, words


def _norm(site, m: Measure) -> list:
    tip = suggest.insert_norm(site, m.units)
    return [tip] if tip else []


def _tails(site, kind: ActivationKind, stats, m: Measure, settings, linear: bool
           ) -> list[Finding]:
    th = settings.thresholds
    sev = _severity(m.fraction, th.saturated_warning, th.saturated_error)
    if sev is None:
        return _linear(site, kind, stats, m, settings) if linear else []
    where = (f"{percent(m.fraction)} of inputs to {kind.name} at {site.name} are saturated "
             f"({percent(m.fraction_low)} below {m.low:.3g}, {percent(m.fraction_high)} above {m.high:.3g})"
             if m.low is not None and m.high is not None else
             f"{percent(m.fraction)} of inputs to {kind.name} at {site.name} are saturated")
    if not _is_shift(stats, m, settings):
        tips, words = _rescale_tips(site, kind, stats, m, settings)
        return [_at(site, "SAT001", sev, f"{where}: std {stats.std:.3g} is too wide (scale); "
                        f"{words}", "scale", tips + _norm(site, m))]
    left = tail_share(m, _centre(m), stats.std)
    if left < th.saturated_warning:
        tips = [suggest.shift_bias(site, stats.mean, _centre(m))]
        return [_at(site, "SAT002", sev, f"{where}: inputs are centred at {stats.mean:.3g}, inside "
                        "a tail (shift)", "shift", tips + _norm(site, m))]
    tips, words = _rescale_tips(site, kind, stats, m, settings)
    return [_at(site, "SAT002", sev, f"{where}: inputs are centred at {stats.mean:.3g}, inside a "
                    f"tail, and their std {stats.std:.3g} is too wide as well: re-centred alone, "
                    f"{percent(left)} would stay saturated (shift and scale); {words}", "shift+scale",
                    tips + _norm(site, m))]


def _vanishing(site, kind, stats, m: Measure, settings) -> list[Finding]:
    """The signal has all but vanished: std below vanishing_std of the sweet half-range."""
    floor = settings.thresholds.vanishing_std * _half_range(m)
    if stats.std >= floor:
        return []
    tips, words = _rescale_tips(site, kind, stats, m, settings)
    return [_at(site, "SAT004", "warning", f"inputs to {kind.name} at {site.name} have std "
                    f"{stats.std:.3g}, below {floor:.3g}: the signal has vanished; {words}",
                    "scale", tips + _norm(site, m))]


def _linear(site, kind, stats, m: Measure, settings) -> list[Finding]:
    if m.low is None or m.high is None:
        return []
    half = _half_range(m)
    if stats.std < settings.thresholds.linear_std * half and abs(stats.mean - _centre(m)) < half / 2:
        target = _target_std(m)
        return [_at(site, "SAT003", "info", f"inputs to {kind.name} at {site.name} have std "
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
    return [_at(site, "SAT101", sev, f"{len(m.dead_units)} of {m.units} units of {kind.name} at "
                    f"{site.name} are dead ({percent(share)}): units {shown}",
                    "shift" if stats.mean < 0 else "scale", tips + _norm(site, m))]


def _softmax(site, stats: SiteStats, settings) -> list[Finding]:
    if not stats.judged_rows:
        return []
    th = settings.thresholds
    share = stats.collapsed_rows / stats.judged_rows
    sev = _severity(share, th.collapsed_warning, th.collapsed_error)
    if sev is None:
        return []
    rows = judged(stats.row_sample)
    temperature = required_temperature(rows, settings.softmax_tau)
    tips = []
    said = ""
    if math.isfinite(temperature):
        after = collapsed_share(rows, temperature, settings.softmax_tau)
        before = collapsed_share(rows, 1.0, settings.softmax_tau)
        tips = [suggest.scale_logits(site, temperature, before, after, len(rows))]
        said = (f"; dividing logits by {temperature:.3g} leaves {percent(after)} of the {len(rows)} "
                "sampled rows collapsed")
    masked = f", {stats.masked_rows} masked rows not judged" if stats.masked_rows else ""
    return [_at(site, "SAT201", sev, f"{percent(share)} of softmax rows at {site.name} are collapsed "
                    f"(max probability > {1 - settings.softmax_tau:g}{masked}){said}", "scale",
                    tips)]
