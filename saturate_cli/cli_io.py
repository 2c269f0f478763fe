"""What every command does at its edges: messages on stderr, progress, atomic output files."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from saturate_cli.atomic import write_atomic  # noqa: F401 - every command writes through it


def say(message: str) -> None:
    """One line on stderr, prefixed like every message of the tool."""
    sys.stderr.write(f"saturate: {message}\n")
    sys.stderr.flush()


def progress(quiet: bool, verb: str = "inspecting"):
    """A transient progress bar on stderr (rich hides it when stderr is not a terminal):
    (bar, factory) where factory(target, total) returns advance(n); (None, None) when off."""
    if quiet or not _may_be_terminal():
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


def _may_be_terminal() -> bool:
    """Whether rich could take stderr for a terminal: by its rules only when stderr is a TTY
    or TTY_COMPATIBLE or FORCE_COLOR say so. When not (CI logs, files, pipes), the progress bar
    is off without importing rich (about 35 ms)."""
    if "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr: let rich decide
        return True


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
