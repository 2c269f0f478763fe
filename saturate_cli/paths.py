"""Paths as users and CI tools see them: relative to the working directory, and hashed."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path, PurePath
from typing import Callable, Optional


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


def sha256_of(path: str) -> Optional[str]:
    """Hash of a model file (None for non-file targets such as module:factory)."""
    p = Path(path)
    if not p.is_file():
        return None
    digest = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_in_background(path: str) -> Callable[[], Optional[str]]:
    """sha256_of(path), computed in a thread while the caller goes on (hashlib releases the
    GIL while it hashes, so the model is parsed meanwhile). Call the result to wait for the
    digest; an error the hashing met is raised there, as sha256_of would have raised it."""
    if not Path(path).is_file():
        return lambda: None
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["digest"] = sha256_of(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller on result()
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="saturate-sha256", daemon=True)
    thread.start()

    def result() -> Optional[str]:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["digest"]

    return result
