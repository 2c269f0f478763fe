"""How numbers read in messages: counts with the right plural, shares as honest percents."""

from __future__ import annotations

from typing import Optional


def plural(n: int, word: str, many: Optional[str] = None) -> str:
    """'1 site', '2 sites', '1 batch', '3 batches'."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {many or (word + 'es' if word.endswith(('s', 'ch', 'sh', 'x')) else word + 's')}"


def percent(fraction: float) -> str:
    """'30%', never '0%' or '100%' for a share that is neither: '<1%', '>99%'."""
    text = f"{fraction:.0%}"
    if text == "0%" and fraction > 0:
        return "<1%"
    if text == "100%" and fraction < 1:
        return ">99%"
    return text
