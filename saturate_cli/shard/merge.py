"""Partials -> the full report, with the same numbers as one run over all the batches.

One run folds each batch's statistics into the running total in batch order (batch_loop.py).
Integer counts, histograms and extremes give the same result in any order; float64 mean, M2
(Chan's update) and per-unit sums do not, so those are folded again here from each batch's own
values, in batch order, through the same SiteStats.merge: the result is bit-identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import reduce

from saturate_cli import __version__
from saturate_cli.activations import TailBook
from saturate_cli.shard.partial import (
    LOCAL_SETTINGS,
    Partial,
    PartialModel,
    settings_of,
)
from saturate_cli.shard.state import PartialError
from saturate_cli.stats.site_stats import SiteStats


def merge_partials(parts: Iterable[Partial]):
    """The Report of all the parts together (PartialError when they do not fit)."""
    from saturate_cli.policy import apply_rule_policy
    from saturate_cli.report.build import build_report

    ordered = check_parts(list(parts))
    settings = settings_of(ordered[0].settings)
    model = merged_model(ordered)
    report = build_report(model, merged_stats(ordered), settings, dict(ordered[0].calibration),
                          model.notes, TailBook(settings.tau))
    return apply_rule_policy(report, settings.select, settings.ignore, settings.per_site_ignores)


def merged_stats(parts: list[Partial]) -> dict[str, SiteStats]:
    """Per site: the order-free fields from the parts' totals, the order-dependent ones folded
    batch by batch in batch order."""
    names = dict.fromkeys(n for p in parts for n in p.totals)
    out = {}
    for name in names:
        totals = [p.totals[name] for p in parts if name in p.totals]
        total = reduce(SiteStats.merge, totals, SiteStats())
        batches = sorted((i, b) for p in parts for i, b in p.batches.get(name, ()))
        folded = reduce(SiteStats.merge, (b for _, b in batches), SiteStats())
        out[name] = replace(total, count=folded.count, rows=folded.rows, finite=folded.finite,
                            mean=folded.mean, m2=folded.m2, unit_sum=folded.unit_sum,
                            row_sample=folded.row_sample)
    return out


def merged_model(parts: list[Partial]) -> PartialModel:
    """The model as the part with the last batch saw it after its run (run-time thresholds
    are the last batch's), other parts' sites added; the notes of all parts, each once."""
    last = max(parts, key=lambda p: max(p.measured, default=-1))
    sites = list(last.model.sites)
    known = {s.name for s in sites}
    sites += [s for p in parts for s in p.model.sites if s.name not in known
              and not known.add(s.name)]
    notes = tuple(dict.fromkeys(n for p in parts for n in p.model.notes))
    return replace(last.model, sites=sites, notes=notes)


def check_parts(parts: list[Partial]) -> list[Partial]:
    """The parts in batch order, once each is known to belong with the others."""
    if not parts:
        raise PartialError("no partial reports to merge")
    first = parts[0]
    for p in parts:
        if p.version != __version__:
            raise PartialError(f"{p.source}: written by saturate {p.version}; this is "
                               f"{__version__} (run every shard and the merge with one version)")
        if p.interrupted:
            raise PartialError(f"{p.source}: the shard was interrupted before its last batch; "
                               "run it again")
        _same(p, first, "model", _model_id(p) == _model_id(first),
              f"{p.model.sha256 or p.model.path} vs {first.model.sha256 or first.model.path}")
        _same(p, first, "settings", _measuring(p) == _measuring(first), _diff(
            _measuring(p), _measuring(first)))
        _same(p, first, "calibration data", p.calibration == first.calibration, _diff(
            p.calibration, first.calibration))
    _cover(parts)
    return sorted(parts, key=lambda p: min(p.measured, default=-1))


def _cover(parts: list[Partial]) -> None:
    """Every batch read is measured by exactly one part."""
    owner: dict[int, Partial] = {}
    for p in parts:
        for i in p.measured:
            if i in owner:
                raise PartialError(f"{p.source} and {owner[i].source} both measured batch {i} "
                                   "(the same shard twice, or shards of different --shard N)")
            owner[i] = p
    total = parts[0].batches_read
    missing = [i for i in range(total) if i not in owner]
    extra = [i for i in owner if i >= total]
    if extra:
        raise PartialError(f"batch {extra[0]} was measured but the data has {total} batches")
    if missing:
        counts = {p.shard.count for p in parts if p.shard is not None}
        which = ""
        if len(counts) == 1:
            n = counts.pop()
            shards = ", ".join(f"{k}/{n}" for k in sorted({i % n for i in missing}))
            which = f"; shard(s) {shards} missing"
        shown = ", ".join(str(i) for i in missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise PartialError(f"batch(es) {shown} of {total} are in no part{which}")


def _same(p: Partial, first: Partial, what: str, same: bool, detail: str) -> None:
    if not same:
        raise PartialError(f"{p.source}: not the same {what} as {first.source} ({detail})")


def _model_id(p: Partial) -> tuple:
    m = p.model
    return (m.format, m.sha256) if m.sha256 else (m.format, m.path)


def _measuring(p: Partial) -> dict:
    """The settings that change what is measured or reported."""
    return {k: v for k, v in p.settings.items() if k not in LOCAL_SETTINGS}


def _diff(a: dict, b: dict) -> str:
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    return ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys[:3])
