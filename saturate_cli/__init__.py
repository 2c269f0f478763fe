"""saturate: find saturated activations and dead units in trained neural networks.

The Python API (see README, "Python API"): `inspect`, `fix`, `watch`, and the `Report`,
`Settings` and `SaturateError` types. Imported lazily, so `import saturate_cli` (and the
command line's --help) stays light.
"""

__version__ = "0.1.0"

_API = {
    "inspect": "saturate_cli.api",
    "fix": "saturate_cli.api",
    "watch": "saturate_cli.over_time.watch",
    "Watch": "saturate_cli.over_time.watch",
    "settings_for": "saturate_cli.api",
    "Report": "saturate_cli.report.model",
    "Settings": "saturate_cli.settings",
    "SaturateError": "saturate_cli.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'saturate_cli' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(module), name)
