"""Option values written as text (on the command line, in a config file), parsed once into
the typed values Settings holds."""

from __future__ import annotations

import ast
from typing import Iterable, Optional

from saturate_cli.errors import UsageError

_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20,
          "MIB": 2**20, "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40,
          "TIB": 2**40}


def parse_bytes(text: Optional[str]) -> Optional[int]:
    """'8GiB', '512MB', '1e9' -> bytes."""
    if text is None:
        return None
    t = text.strip().upper()
    number = t.rstrip("KMGTIB")
    try:
        return int(float(number) * _UNITS[t[len(number):]])
    except (ValueError, KeyError):
        raise UsageError(f"--memory-budget '{text}': expected a size like 8GiB or 512MB") from None


def parse_factory_args(items: Iterable) -> tuple[tuple[str, object], ...]:
    """--arg KEY=VALUE texts -> ((key, value), ...), values as Python literals when they parse
    as one (else the text); (key, value) pairs pass through."""
    out = []
    for item in items or ():
        if not isinstance(item, str):
            key, value = item
            out.append((str(key), value))
            continue
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"--arg '{item}': expected KEY=VALUE")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        out.append((key.strip(), value))
    return tuple(out)
