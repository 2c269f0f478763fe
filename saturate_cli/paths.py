"""How a model path is written for CI tools: relative to the working directory when inside it."""

from __future__ import annotations

import os
from pathlib import Path, PurePath


def relative_to_cwd(path: str) -> str:
    """The path relative to the current directory with forward slashes, or as given (posix
    separators) when it lies outside or is not a file path (module:factory targets)."""
    try:
        rel = os.path.relpath(os.path.abspath(path), os.getcwd())
    except ValueError:  # another drive on Windows
        return PurePath(path).as_posix()
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return Path(path).as_posix()
    return Path(rel).as_posix()
