"""Turn the `inspect` command's option values into Settings (config merged on top)."""

from __future__ import annotations

from pathlib import Path

from saturate_cli.option_text import parse_bytes
from saturate_cli.settings import Settings


def settings_from(params: dict, run) -> Settings:
    """Settings from a command's option values; the config file's values (run) apply on top.

    Every command that runs a model passes its parameters here; options a command does not
    declare keep their defaults (settings.py)."""
    from saturate_cli.calibration import calibration_settings, parse_shape

    def given(name, default=None):
        value = params.get(name, default)
        return default if value is None else value

    def enum(name, default):
        value = params.get(name)
        return default if value is None else getattr(value, "value", value)

    budget = parse_bytes(params.get("memory_budget"))
    defaults = Settings()
    settings = Settings(
        tau=given("tau", defaults.tau), softmax_tau=given("softmax_tau", defaults.softmax_tau),
        samples=params.get("samples"), batch_size=given("batch_size", defaults.batch_size),
        seed=given("seed", defaults.seed), synthetic=enum("synthetic", defaults.synthetic),
        input_shapes=dict(parse_shape(s) for s in params.get("input_shape") or []),
        calibration=tuple(str(p) for p in params.get("calibration") or ()),
        fail_on="never" if params.get("exit_zero") else enum("fail_on", defaults.fail_on),
        threads=given("threads", 0), device=params.get("device"),
        trust_pickle=bool(params.get("trust_pickle")),
        weights=str(params["weights"]) if params.get("weights") else None,
        factory_args=tuple(params.get("factory_arg") or ()),
        shard=params.get("shard"), workers=given("workers", 0),
        scheduler=params.get("scheduler"),
        text=str(params["text"]) if params.get("text") else None,
        text_field=given("text_field", defaults.text_field),
        max_length=given("max_length", defaults.max_length), attn=params.get("attn"),
        **({"memory_budget": budget} if budget else {}),
        **calibration_settings(params.get("mean"), params.get("std"), params.get("int_range"),
                               params.get("layout"), bool(params.get("mask_padding"))),
    )
    return run.apply(settings)


def configure(ctx, verbose: bool):
    """CLI values the user gave > the config file > defaults (see saturate_cli/config.py)."""
    from saturate_cli.cli_io import say
    from saturate_cli.config import resolve

    run = resolve(ctx.params, given_options(ctx), Path.cwd(), ctx.params.get("config"))
    if verbose:
        say(f"config: {run.config_path}" if run.config_path else
             "config: none found (searched upward from the current folder)")
    return run


def given_options(ctx) -> set:
    """The options the user gave (command line or environment), not defaults."""
    return {name for name in ctx.params  # by name: typer may vendor its own click
            if getattr(ctx.get_parameter_source(name), "name", "") in ("COMMANDLINE",
                                                                        "ENVIRONMENT")}
