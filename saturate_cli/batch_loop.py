"""The one batch loop: every backend's measurement runs through it.

A handle measures one batch at a time (`prepare` on the first, then `measure` per batch,
`finish` at the end); this loop owns what is the same for all of them: "no data", progress,
merging the per-batch statistics in batch order, and Ctrl-C (the statistics then cover the
whole batches measured before it, and the run is marked interrupted).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from saturate_cli.activations import TailBook
from saturate_cli.errors import CalibrationError
from saturate_cli.stats.site_stats import SiteStats, fold
from saturate_cli.types import Batch, Progress

# called with (batch index, that batch's statistics per site) after each measured batch
BatchHook = Callable[[int, dict], None]


@dataclass
class Measured:
    """What the loop measured: merged statistics per site, and how far it got."""

    stats: dict[str, SiteStats] = field(default_factory=dict)
    batches: int = 0  # batches measured whole (and merged)
    interrupted: bool = False  # Ctrl-C stopped the loop


def run_batches(handle, batches: Iterable[Batch], book: TailBook, softmax_tau: float,
                progress: Optional[Progress] = None, keep: Optional[Callable[[int], bool]] = None,
                on_batch: Optional[BatchHook] = None) -> Measured:
    """Measure the batches with `handle`; `keep(i)` chooses which batches count (a shard:
    the others are read but not run); `on_batch` sees each measured batch's own statistics."""
    stream = iter(batches)
    first = next(stream, None)
    if first is None:
        raise CalibrationError(f"{handle.path}: no calibration data")
    out = Measured()
    handle.prepare(first, book, softmax_tau)
    try:
        for index, batch in enumerate(itertools.chain([first], stream)):
            if keep is not None and not keep(index):
                continue
            part = handle.measure(batch)
            for name, stats in part.items():
                fold(out.stats, name, stats)
            out.batches += 1
            if on_batch is not None:
                on_batch(index, part)
            if progress:
                progress(1)
    except KeyboardInterrupt:
        out.interrupted = True
    finally:
        handle.finish()
    for site in handle.sites:  # a site no batch reached still has (empty) statistics
        out.stats.setdefault(site.name, SiteStats())
    return out


def collect(handle, batches: Iterable[Batch], tau: float = 0.05, softmax_tau: float = 0.01
            ) -> dict[str, SiteStats]:
    """Merged statistics per site over all the batches (the loop without its bookkeeping)."""
    return run_batches(handle, batches, TailBook(tau), softmax_tau).stats
