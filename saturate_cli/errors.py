"""The one exception family. The CLI turns any of these into one line on stderr and exit 2."""


class SaturateError(Exception):
    """Base class: a problem with the user's input, not a bug in saturate."""


class UsageError(SaturateError):
    """Bad command-line options or configuration."""


class ModelLoadError(SaturateError):
    """The model file cannot be read, is unsafe, or is not a model."""


class CalibrationError(SaturateError):
    """The calibration data does not fit the model or cannot be read."""


class ResourceError(SaturateError):
    """The job would need more memory than the budget allows."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's text: what a one-line error message can quote."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__


def size_text(n: float) -> str:
    """Bytes for a message: 512 B, 3.2 MiB, 3725.3 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"
