"""What every loaded model offers the rest of saturate, whatever its format."""

from __future__ import annotations

from typing import Optional, Protocol

from saturate_cli.activations import TailBook
from saturate_cli.stats.site_stats import SiteStats
from saturate_cli.types import (  # noqa: F401 - re-exported for the backends
    Batch, Dim, InputSpec, NotCovered, Producer, Progress, Site)


class ModelHandle(Protocol):
    """A loaded model that can list its activation sites and measure them."""

    path: str
    format: str
    inputs: list[InputSpec]
    sites: list[Site]
    not_covered: list[NotCovered]
    notes: list[str]  # what the report should say about how the model was measured
    sha256: Optional[str]  # of the model file as loaded (None for a factory or in memory)
    tokenizer: Optional[object]  # a checkpoint folder's own tokenizer, for --text (else None)

    @property
    def has_branches(self) -> bool:
        """Sites are still to be learnt from the data (If branches; PyTorch learns them from the first batch):
        the batches must run even while `sites` is empty."""
        ...

    def estimate_peak(self, shapes: dict) -> Optional[int]:
        """Bytes a run on inputs of these shapes may need; None when it cannot tell."""
        ...

    def largest_site_input(self, shapes: dict) -> Optional[int]:
        """Bytes of the largest activation input of a run on inputs of these shapes; None
        when it cannot tell."""
        ...

    def prepare(self, first: Batch, book: TailBook, softmax_tau: float) -> None:
        """Get ready to measure, given the first batch (If branches, ranks, sessions) and the
        run's tail thresholds (batch_loop.py calls it once, before `measure`)."""
        ...

    def measure(self, batch: Batch) -> dict[str, SiteStats]:
        """One batch's statistics per site name (sites may be learnt as it runs)."""
        ...

    def finish(self) -> None:
        """After the last batch (or Ctrl-C): what the run learnt goes into `sites`/`notes`."""
        ...
