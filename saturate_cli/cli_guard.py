"""Run a command body so that every failure ends as one line on stderr and exit code 2."""

from __future__ import annotations

import sys
from typing import Callable

import typer


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    one_line = " ".join(message.split())
    sys.stderr.write(f"saturate: error: {one_line}\n")
    sys.stderr.flush()
    return typer.Exit(code)


def guarded(body: Callable[[], int], debug: bool) -> None:
    """Run body(); exit with its code, or 2 with one line for any error (130 on Ctrl-C)."""
    from saturate_cli.errors import SaturateError

    try:
        code = body()
    except SaturateError as exc:
        if debug:
            raise
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None
    except (typer.Exit, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - a crash must still be one line and exit 2
        if debug:
            raise
        raise fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
                   "traceback)") from None
    raise typer.Exit(code)
