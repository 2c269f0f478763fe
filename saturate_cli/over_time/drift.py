"""Drift attribution: where saturation that grew over training comes from (DESIGN.md §9).

For a site whose judged share grew from the first point to the last:
- *kind*: shift when the mean moved by more than the width changed (|Δμ| / max(σ0, σ1), the
  width that either end had, against |Δ ln σ|), scale when the width changed more; both when
  neither is under half the other;
- *own* when its producer's parameters moved (relative change >= OWN_CHANGE), *inherited*
  otherwise: the change came from upstream (the nearest earlier site that drifted on its own);
- *onset*: the earliest site in execution order that grew on its own into a finding: where
  drift starts, and where a normalisation (or a lower learning rate for its producer) belongs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

from saturate_cli.over_time.diff import MAX_WORSENING
from saturate_cli.over_time.points import Point, share, site_order
from saturate_cli.settings import OVER_TIME

GROWTH = MAX_WORSENING  # a share grew when it rose by more than this (the diff's regression)
OWN_CHANGE = OVER_TIME.own_change  # a producer moved (defaults: settings.py)
MOVED = OVER_TIME.moved  # a site's input drifted
FLAGGED = ("warning", "error")


@dataclass(frozen=True)
class SiteDrift:
    site: str
    grew: bool
    growth: Optional[float]  # last share - first share
    shift: Optional[float]  # |Δμ| / max(σ0, σ1)
    scale: Optional[float]  # |ln(σ1 / σ0)|
    kind: Optional[str]  # "shift", "scale", "shift+scale" (None: no drift)
    producer: Optional[str]  # the producing layer's weight name
    layer: Optional[str]  # the producing layer's name
    change: Optional[float]  # its parameters' relative change, first to last
    own: Optional[bool]  # None when the change is unknown
    upstream: Optional[str] = None  # an inherited drift's likely source
    since: Optional[str] = None  # the first point where the site is flagged
    remedy: Optional[str] = None

    @property
    def summary(self) -> str:
        """The verdict in words ('' when the share did not grow)."""
        if not self.grew:
            return ""
        what = {"shift": "input moved (shift)", "scale": "input widened (scale)",
                "shift+scale": "input moved and widened (shift+scale)"}.get(self.kind, "grew")
        origin = {True: "own layer changed", False: f"inherited from {self.upstream}",
                  None: "layer change unknown"}[self.own]
        return f"{what}; {origin}"

    def to_dict(self) -> dict:
        return dict(asdict(self), summary=self.summary)


def _stat(site: Optional[dict], key: str) -> Optional[float]:
    value = ((site or {}).get("stats") or {}).get(key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _scores(a: Optional[dict], b: Optional[dict]) -> tuple[Optional[float], Optional[float]]:
    m0, m1, s0, s1 = _stat(a, "mean"), _stat(b, "mean"), _stat(a, "std"), _stat(b, "std")
    if None in (m0, m1, s0, s1) or max(s0, s1) <= 0:
        return None, None
    scale = abs(math.log(s1 / s0)) if min(s0, s1) > 0 else math.inf
    return abs(m1 - m0) / max(s0, s1), scale


def kind_of(shift: Optional[float], scale: Optional[float]) -> Optional[str]:
    if shift is None or scale is None or max(shift, scale) < MOVED:
        return None
    if min(shift, scale) >= max(shift, scale) / 2:
        return "shift+scale"
    return "shift" if shift > scale else "scale"


def flagged(site: Optional[dict]) -> bool:
    return any(f.get("severity") in FLAGGED for f in (site or {}).get("findings", ()))


def _norm_layer(site: Optional[dict]) -> str:
    for f in (site or {}).get("findings", ()):
        for s in f.get("suggestions", ()):
            if s.get("kind") in ("insert_batchnorm", "insert_layernorm") and s.get("layer"):
                return s["layer"]
    return "a normalisation (BatchNorm, or LayerNorm for token models)"


def _remedy(name: str, last: Optional[dict], d: SiteDrift) -> str:
    if d.own is False:
        return (f"its own layer barely moved: the drift is inherited from "
                f"{d.upstream or 'upstream'}; fix it there")
    layer = d.layer or "its producing layer"
    weight = f" ({d.producer})" if d.producer and d.producer != d.layer else ""
    return (f"insert {_norm_layer(last)} before {name} (after {layer}), or lower the "
            f"learning rate of {layer}{weight}")


def attribute(points: list[Point]) -> list[SiteDrift]:
    """One SiteDrift per site, in execution order."""
    first, last = points[0], points[-1]
    out: list[SiteDrift] = []
    for name in site_order(points):
        a, b = first.sites.get(name), last.sites.get(name)
        fa, fb = share(a) if a else None, share(b) if b else None
        growth = fb - fa if fa is not None and fb is not None else None
        shift, scale = _scores(a, b)
        producer = (b or a or {}).get("producer") or {}
        weight = producer.get("weight")
        change = last.changes.get(weight) if weight else None
        own = None if change is None else change >= OWN_CHANGE
        grew = growth is not None and growth > GROWTH
        since = next((p.label for p in points if flagged(p.sites.get(name))), None) \
            if grew else None
        d = SiteDrift(name, grew, growth, shift, scale, kind_of(shift, scale), weight,
                      producer.get("name"), change, own, since=since)
        if grew and own is False:
            source = next((e.site for e in reversed(out) if e.own and e.kind), None)
            d = SiteDrift(**{**asdict(d), "upstream": source or "the model's input"})
        if grew:
            d = SiteDrift(**{**asdict(d), "remedy": _remedy(name, b, d)})
        out.append(d)
    return out


def onset(drifts: list[SiteDrift], points: list[Point]) -> Optional[SiteDrift]:
    """Where drift starts: the earliest site that grew into a finding on its own (or, when no
    producer change is known, the earliest that grew into one)."""
    last = points[-1]
    grown = [d for d in drifts if d.grew and flagged(last.sites.get(d.site))]
    return next((d for d in grown if d.own), None) or \
        next((d for d in grown if d.own is None), None)
