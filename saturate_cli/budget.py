"""Memory-budget checks made before a loader reads a file (--memory-budget)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Optional

from saturate_cli.errors import ResourceError, size_text


def zip_unpacked_size(path: Path) -> Optional[int]:
    """The bytes a zip's members declare (zipfile never reads past them); None if not a zip."""
    try:
        with zipfile.ZipFile(path) as z:
            return sum(info.file_size for info in z.infolist())
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError):
        return None  # not a zip, or a broken one: the loader says what is wrong


def refuse_over(path: Path, need: int, budget: int, what: str = "needs") -> None:
    """ResourceError when `need` bytes exceed the budget."""
    if need > budget:
        raise ResourceError(f"{path}: {what} {size_text(need)}, over the memory budget of "
                            f"{size_text(budget)} (--memory-budget)")
