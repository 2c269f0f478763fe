"""What every command does at its edges: messages on stderr, progress, atomic output files."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional, Union


def say(message: str) -> None:
    """One line on stderr, prefixed like every message of the tool."""
    sys.stderr.write(f"saturate: {message}\n")
    sys.stderr.flush()


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


def progress(quiet: bool, verb: str = "inspecting"):
    """A transient progress bar on stderr (rich hides it when stderr is not a terminal):
    (bar, factory) where factory(target, total) returns advance(n); (None, None) when off."""
    if quiet:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:  # rich's own detection (honours TTY_* and CI variables)
        return None, None
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   console=console, transient=True)

    def factory(target: str, total: Optional[int]):
        task = bar.add_task(f"{verb} {Path(target).name}", total=total)
        return lambda n: bar.advance(task, n)

    return bar, factory


def emit(reports, fmt: str, output: Optional[Path], step_summary: Optional[Path] = None,
         verbose: bool = False) -> None:
    """The reports to -o (atomically) or stdout, and the markdown summary if asked
    (`verbose`: the text table keeps full site names)."""
    from saturate_cli.render import renderer

    if output is not None:
        write_atomic(output, renderer(fmt)(reports))
    elif fmt == "text":
        from rich.console import Console

        from saturate_cli.render.text import print_reports

        print_reports(reports, Console(), verbose)
    else:
        sys.stdout.write(renderer(fmt)(reports))
    if step_summary is not None:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(renderer("markdown")(reports))
