"""Parse the calibration options given as text on the command line."""

from __future__ import annotations

import re

from saturate_cli.errors import CalibrationError


def parse_floats(text: str, option: str, positive: bool = False) -> tuple[float, ...]:
    """'0.485,0.456,0.406' -> (0.485, 0.456, 0.406); one or more numbers."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise CalibrationError(f"{option} '{text}': expected numbers separated by commas "
                               "(e.g. 0.485,0.456,0.406)") from None
    if positive and any(not v > 0 for v in values):
        raise CalibrationError(f"{option} '{text}': values must be positive")
    return values


def parse_int_range(text: str) -> tuple[int, int]:
    """'0,30522' -> (0, 30522): integers drawn from [lo, hi)."""
    match = re.fullmatch(r"\s*(-?\d+)\s*[,:]\s*(-?\d+)\s*", text)
    if not match or int(match.group(1)) >= int(match.group(2)):
        raise CalibrationError(f"--int-range '{text}': expected LO,HI with LO < HI "
                               "(values drawn from [LO, HI))")
    return int(match.group(1)), int(match.group(2))


def calibration_settings(mean: str | None, std: str | None, int_range: str | None,
                         layout: str | None, mask_padding: bool) -> dict:
    """Settings fields from the calibration options given (absent ones keep the defaults)."""
    from saturate_cli.calibration.images import LAYOUTS

    out: dict = {"mask_padding": True} if mask_padding else {}
    if mean is not None:
        out["mean"] = parse_floats(mean, "--mean")
    if std is not None:
        out["std"] = parse_floats(std, "--std", positive=True)
    if int_range is not None:
        out["int_range"] = parse_int_range(int_range)
    if layout is not None:
        if layout.lower() not in LAYOUTS:
            raise CalibrationError(f"--layout '{layout}': choose one of {', '.join(LAYOUTS)}")
        out["layout"] = layout.lower()
    return out
