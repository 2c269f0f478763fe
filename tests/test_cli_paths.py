"""Every Path-typed parameter of every command reaches ctx.params (which the commands read) as a
Path, whatever typer converts by itself (0.28 converts only the function's arguments)."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pytest
import typer.main

from saturate_cli.cli import app


def _base(annotation):
    """The annotation's element type: Annotated, Optional and List taken off."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, list):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def _path_params() -> list:
    """(command name, parameter name) of every Path-typed parameter."""
    found = []
    for info in app.registered_commands:
        name = info.name or info.callback.__name__
        for p in inspect.signature(info.callback, eval_str=True).parameters.values():
            if _base(p.annotation) is Path:
                found.append((name, p.name))
    return found


PATH_PARAMS = _path_params()


def test_the_path_parameters_are_found():
    expected = {("inspect", "output"), ("inspect", "config"), ("inspect", "calibration"),
                ("inspect", "step_summary"), ("fix", "report"), ("diff", "before"),
                ("merge", "parts"), ("trend", "checkpoint_weights")}
    assert expected <= set(PATH_PARAMS)


@pytest.mark.parametrize(("command", "name"), PATH_PARAMS)
def test_a_path_parameter_arrives_as_a_path(command, name):
    group = typer.main.get_command(app)
    cmd = group.commands[command]
    param = next(p for p in cmd.params if p.name == name)
    given = "some dir/the file.json"
    args = []
    for p in cmd.params:  # the command's required arguments, then the option under test
        if p.param_type_name == "argument" and p is not param:
            args.append("other.json")
        elif p is param:
            args += [given] if p.param_type_name == "argument" else [p.opts[0], given]
    ctx = cmd.make_context(command, args)
    value = ctx.params[name]
    values = value if isinstance(value, (list, tuple)) else [value]
    assert values and all(type(v) is type(Path(given)) for v in values), (command, name, value)
    assert [str(v) for v in values] == [given]
