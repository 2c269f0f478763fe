"""Output files written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, content: Union[str, bytes]) -> None:
    """Write the whole output or nothing: a temp file in the same folder, then a rename. The
    file gets the permissions of any new file (0666 less the umask), not mkstemp's 0600; the
    temp file is removed on any failure."""
    import tempfile

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        binary = isinstance(content, bytes)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})
                       ) as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
