"""`saturate show`: the curve-and-cloud pictures and the depth profile in the terminal."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from saturate_cli.cli_options import DebugOpt


def show(
    target: Annotated[str, typer.Argument(
        help="A --format json report, or a model (inspected with default settings).",
        show_default=False)],
    site: Annotated[Optional[str], typer.Argument(
        help="The site to draw: its name, a unique part of it, or its # index. Without it: "
             "the depth profile and the worst sites first.", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1,
                                       help="At most this many sites in the list.")] = 20,
    debug: DebugOpt = False,
) -> None:
    """Draw a site's activation curve over its input histogram, or the worst sites first."""
    from saturate_cli.cli_guard import guarded

    guarded(lambda: _show(target, site, limit), debug)


def _reports(target: str) -> list:
    """Reports from a JSON file, or from inspecting the model with default settings."""
    from pathlib import Path

    from saturate_cli.report.load import load_reports

    path = Path(target)
    if path.suffix.lower() == ".json" or (path.is_file() and _looks_like_json(path)):
        return load_reports(path)
    from saturate_cli.pipeline import inspect_model
    from saturate_cli.settings import Settings

    return [inspect_model(target, Settings())]


def _looks_like_json(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def find_site(figures: list, wanted: str):
    """The figure of the site named (exactly, by '#index', or by a unique part of the name)."""
    from saturate_cli.errors import UsageError

    exact = [f for f in figures if f.site.name == wanted]
    if exact:
        return exact[0]
    index = wanted.lstrip("#")
    if index.isdigit() and int(index) < len(figures):
        return figures[int(index)]
    partial = [f for f in figures if wanted in f.site.name]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = ", ".join(f.site.name for f in partial[:5])
        raise UsageError(f"site '{wanted}' matches {len(partial)} sites ({names}"
                         f"{', …' if len(partial) > 5 else ''}); give more of the name or its #")
    raise UsageError(f"no site '{wanted}' in the report ({len(figures)} sites; "
                     "`saturate show REPORT` lists them)")


def _show(target: str, site: Optional[str], limit: int) -> int:
    from rich.console import Console

    from saturate_cli.render.terminal import depth_picture, site_picture, worst_list
    from saturate_cli.report.figures import depth_rows, site_figures, worst_first

    console = Console()
    reports = _reports(target)
    for i, report in enumerate(reports):
        if i:
            console.print()
        console.print(f"[bold]{report.model['path']}[/bold]  status {report.status}",
                      highlight=False)
        if site is not None:
            console.print(site_picture(find_site(site_figures(report), site), console.width))
            continue
        if not report.sites:
            console.print("no sites", style="dim")
            continue
        console.print(depth_picture(depth_rows(report), console.width))
        console.print()
        console.print("worst sites first", style="bold")
        console.print(worst_list(worst_first(report), console.width, limit))
    return 0
