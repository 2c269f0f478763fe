"""How much gradient each site passes (mean gain), and along the depth of the model."""

from __future__ import annotations

from typing import Optional

import numpy as np

from saturate_cli.activations import get_kind
from saturate_cli.stats import histogram as hist
from saturate_cli.stats.site_stats import SiteStats
from saturate_cli.types import Site


def mean_gain(site: Site, stats: SiteStats) -> Optional[float]:
    """E[|f'(x)|] / max|f'| over the (sub-sampled) histogram; None for softmax/no data."""
    kind = get_kind(site.kind)
    total = stats.histogram.sum()
    if kind.fprime is None or total == 0:
        return None
    nz = np.nonzero(stats.histogram)[0]
    gains = kind.gain_of(hist.bin_centers()[nz], site.params)
    return float((gains * stats.histogram[nz]).sum() / total)


def depth_profile(sites: list[Site], gains: list[Optional[float]]) -> list[dict]:
    """Mean gain per site in execution order, and the products from each site to the output.

    cumulative_gain multiplies every site's mean gain; bounded_gain only the bounded kinds'
    (sigmoid, tanh, ...): the ReLU family passes about half by design, which He init's weight
    gain makes up for, so only the bounded product says how much gradient the activations lose.
    Both ignore the weights and residual paths.
    """
    survive = bounded = 1.0
    rows = []
    for site, gain in zip(reversed(sites), reversed(gains)):
        is_bounded = get_kind(site.kind).metric == "tails"
        if gain is not None:
            survive *= gain
            bounded *= gain if is_bounded else 1.0
        rows.append({"site": site.name, "mean_gain": gain, "cumulative_gain": survive,
                     "bounded": is_bounded, "bounded_gain": bounded})
    return rows[::-1]


