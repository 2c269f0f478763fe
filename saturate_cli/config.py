"""Configuration: `[tool.saturate]` in pyproject.toml or a saturate.toml, merged under the CLI.

Discovery walks up from the working directory (saturate.toml before pyproject.toml in each
folder; a pyproject.toml without [tool.saturate] is skipped) and stops at a folder holding .git,
or at the root. Keys are the long option names (`fail-on`, `softmax-tau`, ...). Precedence:
options given on the command line (or through their environment variable) > config > defaults,
and the defaults live in settings.py.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional

from saturate_cli.errors import UsageError
from saturate_cli.paths import relative_to_cwd
from saturate_cli.settings import FAIL_ON, Settings, Thresholds

CONFIG_NAMES = ("saturate.toml", "pyproject.toml")


def _toml_load(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        try:
            import tomli as tomllib
        except ImportError:
            raise UsageError(f"{path}: reading TOML needs Python >= 3.11 or the 'tomli' package"
                             ) from None
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read config ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None


def _saturate_table(path: Path, doc: dict) -> Optional[dict]:
    """The saturate table of a parsed config file (None: a pyproject.toml without one)."""
    if path.name != "pyproject.toml":
        return doc
    table = doc.get("tool", {}).get("saturate") if isinstance(doc.get("tool"), dict) else None
    if table is not None and not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.saturate] must be a table")
    return table


def find_config(start: Path) -> Optional[Path]:
    """The nearest config file at or above `start`, not crossing a repository root."""
    for folder in [start, *start.parents]:
        for name in CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file() and (
                    name != "pyproject.toml"
                    or _saturate_table(candidate, _toml_load(candidate)) is not None):
                return candidate
        if (folder / ".git").exists():
            return None
    return None


# --- value checks: (value, key, path) -> plain value, or UsageError ------------------------------

def _bad(path: Path, key: str, expected: str, value: Any) -> UsageError:
    return UsageError(f"{path}: '{key}' must be {expected}, not {value!r}")


def _number(lo: Optional[float], hi: Optional[float], integer: bool = False) -> Callable:
    kind = "an integer" if integer else "a number"
    span = f" in [{lo:g}, {hi:g}]" if lo is not None and hi is not None else (
        f" >= {lo:g}" if lo is not None else "")

    def check(value, key, path):
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or (lo is not None and value < lo) \
                or (hi is not None and value > hi):
            raise _bad(path, key, kind + span, value)
        return value
    return check


def _choice(options: Callable[[], tuple]) -> Callable:
    def check(value, key, path):
        allowed = options()
        if value not in allowed:
            raise _bad(path, key, "one of " + ", ".join(allowed), value)
        return value
    return check


def _boolean(value, key, path):
    if not isinstance(value, bool):
        raise _bad(path, key, "true or false", value)
    return value


def _string(value, key, path):
    if not isinstance(value, str):
        raise _bad(path, key, "a string", value)
    return value


def _path(value, key, path):
    return relative_to_cwd(str(path.parent / _string(value, key, path)))


def _selectors(value, key, path):
    from saturate_cli.policy import parse_selectors

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise _bad(path, key, "a list of rule codes or prefixes", value)
    return parse_selectors(items, f"{path}: '{key}'")


def _per_site(value, key, path):
    if not isinstance(value, dict):
        raise _bad(path, key, 'a table of "site glob" = [rule codes]', value)
    return {glob: _selectors(sels, f"{key}.{glob}", path) for glob, sels in value.items()}


def _thresholds(value, key, path):
    if not isinstance(value, dict):
        raise _bad(path, key, "a table", value)
    known = {f.name for f in fields(Thresholds)}
    out = {}
    for name, number in value.items():
        field_name = name.replace("-", "_")
        if field_name not in known:
            raise UsageError(f"{path}: unknown key '{key}.{name}' (known: "
                             f"{', '.join(sorted(known))})")
        out[field_name] = float(_number(0, None)(number, f"{key}.{name}", path))
    return out


def _formats() -> tuple:
    from saturate_cli.render import FORMATS

    return tuple(FORMATS)


def _synthetic_kinds() -> tuple:
    from saturate_cli.calibration.synthetic import KINDS

    return KINDS


# config key -> (CLI parameter name, check)
KEYS: dict[str, tuple[str, Callable]] = {
    "fail-on": ("fail_on", _choice(lambda: FAIL_ON)),
    "exit-zero": ("exit_zero", _boolean),
    "format": ("format", _choice(_formats)),
    "tau": ("tau", _number(1e-6, 0.5)),
    "softmax-tau": ("softmax_tau", _number(1e-6, 0.5)),
    "samples": ("samples", _number(1, None, integer=True)),
    "batch-size": ("batch_size", _number(1, None, integer=True)),
    "seed": ("seed", _number(None, None, integer=True)),
    "synthetic": ("synthetic", _choice(_synthetic_kinds)),
    "threads": ("threads", _number(0, None, integer=True)),
    "device": ("device", _string),
    "select": ("select", _selectors),
    "ignore": ("ignore", _selectors),
    "per-site-ignores": ("per_site_ignores", _per_site),
    "thresholds": ("thresholds", _thresholds),
    "baseline": ("baseline", _path),
    "baseline-tolerance": ("baseline_tolerance", _number(0, 1)),
}


def read_config(path: Path) -> dict:
    """The checked values of a config file, keyed by CLI parameter name."""
    if not path.is_file():
        raise UsageError(f"--config {path}: no such file")
    table = _saturate_table(path, _toml_load(path))
    if table is None:
        raise UsageError(f"{path}: no [tool.saturate] table")
    out = {}
    for key, value in table.items():
        if key not in KEYS:
            raise UsageError(f"{path}: unknown key '{key}' (known: {', '.join(KEYS)})")
        name, check = KEYS[key]
        out[name] = check(value, key, path)
    return out


# --- merging ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunOptions:
    """What the config file and the rule options decide on top of the CLI's own values."""

    overrides: dict  # Settings fields -> values (config keys the CLI did not give, --select...)
    format: str
    baseline: Optional[str]
    update_baseline: bool
    config_path: Optional[Path]

    def apply(self, settings: Settings) -> Settings:
        """The settings with the config's values (and thresholds merged field by field)."""
        changes = dict(self.overrides)
        if "thresholds" in changes:
            changes["thresholds"] = replace(settings.thresholds, **changes["thresholds"])
        return replace(settings, **changes)


# config keys that are Settings fields of the same name
_SETTINGS_KEYS = ("tau", "softmax_tau", "samples", "batch_size", "seed", "synthetic", "threads",
                  "device", "select", "ignore", "per_site_ignores", "thresholds",
                  "baseline_tolerance")


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _cli_rules(cli_values: dict, given: set) -> dict:
    from saturate_cli.policy import parse_selectors

    return {name: parse_selectors(cli_values[name], f"--{name}")
            for name in ("select", "ignore") if name in given}


def _fail_on(configured: dict, given: set) -> dict:
    """fail-on / exit-zero from the config, unless either was given on the command line."""
    if given & {"fail_on", "exit_zero"}:
        return {}
    if configured.get("exit_zero"):
        return {"fail_on": "never"}
    return {"fail_on": configured["fail_on"]} if "fail_on" in configured else {}


def resolve(cli_values: dict, given: set, cwd: Path, forced: Optional[Path] = None
            ) -> RunOptions:
    """Merge: values the user gave on the command line > the config file > the CLI defaults."""
    path = forced if forced is not None else find_config(cwd)
    configured = read_config(path) if path is not None else {}
    overrides = {k: v for k, v in configured.items() if k in _SETTINGS_KEYS and k not in given}
    overrides.update(_cli_rules(cli_values, given))
    overrides.update(_fail_on(configured, given))
    baseline = cli_values.get("baseline") if "baseline" in given else configured.get("baseline")
    update = bool(cli_values.get("update_baseline"))
    if update and not baseline:
        raise UsageError("--update-baseline needs --baseline PATH (or 'baseline' in the config)")
    fmt = configured["format"] if "format" in configured and "format" not in given \
        else _plain(cli_values.get("format"))
    return RunOptions(overrides=overrides, format=fmt,
                      baseline=str(baseline) if baseline else None, update_baseline=update,
                      config_path=path)
