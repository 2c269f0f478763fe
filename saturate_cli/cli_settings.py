"""Turn the `inspect` command's option values into Settings (config merged on top)."""

from __future__ import annotations

from typing import Optional

from saturate_cli.settings import Settings


def parse_bytes(text: Optional[str]) -> Optional[int]:
    """'8GiB', '512MB', '1e9' -> bytes."""
    from saturate_cli.errors import UsageError

    if text is None:
        return None
    units = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20,
             "MIB": 2**20, "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40,
             "TIB": 2**40}
    t = text.strip().upper()
    number = t.rstrip("KMGTIB")
    try:
        return int(float(number) * units[t[len(number):]])
    except (ValueError, KeyError):
        raise UsageError(f"--memory-budget '{text}': expected a size like 8GiB or 512MB") from None


def settings_from(params: dict, run) -> Settings:
    """Settings from the CLI's values; the config file's values (run) apply on top."""
    from saturate_cli.calibration import calibration_settings, parse_shape

    budget = parse_bytes(params["memory_budget"])
    settings = Settings(
        tau=params["tau"], softmax_tau=params["softmax_tau"], samples=params["samples"],
        batch_size=params["batch_size"], seed=params["seed"],
        synthetic=params["synthetic"].value,
        input_shapes=dict(parse_shape(s) for s in params["input_shape"] or []),
        calibration=tuple(str(p) for p in params["calibration"] or ()),
        fail_on="never" if params["exit_zero"] else params["fail_on"].value,
        threads=params["threads"], device=params["device"],
        trust_pickle=params["trust_pickle"],
        weights=str(params["weights"]) if params["weights"] else None,
        factory_args=tuple(params["factory_arg"] or ()),
        **({"memory_budget": budget} if budget else {}),
        **calibration_settings(params["mean"], params["std"], params["int_range"],
                               params["layout"], params["mask_padding"]),
    )
    return run.apply(settings)
