"""Each site's tail thresholds for one run's τ: computed once, handed to whoever needs them.

The pipeline makes one TailBook per run; the handles measure against it and diagnosis judges
against the same one, so a site's thresholds cannot differ between measuring and reporting.
"""

from __future__ import annotations

from saturate_cli.activations.registry import get_kind
from saturate_cli.activations.tails import Tails
from saturate_cli.types import Site


class TailBook:
    """site -> Tails at one τ (the registry derives each kind and parameters once)."""

    def __init__(self, tau: float):
        self.tau = tau

    def of(self, site: Site) -> Tails:
        """The saturated tails of this site's kind, with its parameters, at this τ."""
        return get_kind(site.kind).tails(site.params, self.tau)
