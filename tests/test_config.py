"""Issue #6: config discovery, validation and precedence (CLI > config > defaults)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from saturate_cli.config import find_config, read_config, resolve
from saturate_cli.errors import UsageError
from saturate_cli.settings import Settings, Thresholds
from test_formats_support import FAST, SAMPLES, run_in

CLEAN = str(SAMPLES / "mlp_sigmoid_xavier.onnx")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- discovery -------------------------------------------------------------------------------------

def test_found_upward_and_stops_at_git(tmp_path):
    deep = tmp_path / "repo" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) is None or not str(find_config(deep)).startswith(str(tmp_path))
    (tmp_path / "repo" / ".git").mkdir()
    cfg = write(tmp_path / "saturate.toml", "samples = 8\n")  # above the repository: not used
    assert find_config(deep) is None
    ours = write(tmp_path / "repo" / "a" / "pyproject.toml", "[tool.saturate]\nsamples = 4\n")
    assert find_config(deep) == ours
    assert cfg.exists()


def test_pyproject_without_section_is_skipped_and_saturate_toml_wins(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path / "pyproject.toml", "[tool.black]\nline-length = 1\n")
    assert find_config(tmp_path) is None
    write(tmp_path / "pyproject.toml", "[tool.saturate]\nseed = 1\n")
    assert find_config(tmp_path) == tmp_path / "pyproject.toml"
    write(tmp_path / "saturate.toml", "seed = 2\n")
    assert find_config(tmp_path) == tmp_path / "saturate.toml"


# --- validation ------------------------------------------------------------------------------------

def test_every_documented_key_is_read(tmp_path):
    cfg = write(tmp_path / "saturate.toml", """
fail-on = "warning"
exit-zero = false
format = "sarif"
tau = 0.1
softmax-tau = 0.02
samples = 64
batch-size = 8
seed = 3
synthetic = "uniform"
threads = 1
device = "cpu"
select = ["SAT0", "SAT1"]
ignore = ["sat003"]
baseline = "base/line.json"
baseline-tolerance = 0.2
[per-site-ignores]
"encoder.*.attn:softmax" = ["SAT201"]
[thresholds]
saturated-error = 0.5
dead_units_warning = 0.1
""")
    got = read_config(cfg)
    assert got["fail_on"] == "warning" and got["format"] == "sarif" and got["samples"] == 64
    assert got["select"] == ("SAT0", "SAT1") and got["ignore"] == ("SAT003",)
    assert got["per_site_ignores"] == {"encoder.*.attn:softmax": ("SAT201",)}
    assert got["thresholds"] == {"saturated_error": 0.5, "dead_units_warning": 0.1}
    assert Path(got["baseline"]).resolve() == (tmp_path / "base" / "line.json").resolve()


@pytest.mark.parametrize("text, named", [
    ("colour = 1\n", "'colour'"),
    ("[thresholds]\nsaturated-eror = 0.5\n", "'thresholds.saturated-eror'"),
    ("samples = 0\n", "'samples'"),
    ("samples = 1.5\n", "'samples'"),
    ("tau = true\n", "'tau'"),
    ('fail-on = "sometimes"\n', "'fail-on'"),
    ('format = "xml"\n', "'format'"),
    ('select = ["XYZ9"]\n', "XYZ9"),
    ("[per-site-ignores]\n\"a*\" = \"SAT999\"\n", "SAT999"),
    ("exit-zero = \"yes\"\n", "'exit-zero'"),
])
def test_bad_values_name_the_key(tmp_path, text, named):
    cfg = write(tmp_path / "saturate.toml", text)
    with pytest.raises(UsageError, match=named.replace("[", r"\[").replace(".", r"\.")):
        read_config(cfg)


def test_forced_pyproject_needs_the_table(tmp_path):
    cfg = write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(UsageError, match=r"no \[tool.saturate\]"):
        read_config(cfg)
    with pytest.raises(UsageError, match="no such file"):
        read_config(tmp_path / "nope.toml")


# --- precedence ------------------------------------------------------------------------------------

def test_precedence_cli_over_config_over_defaults(tmp_path):
    cfg = write(tmp_path / "saturate.toml", 'samples = 64\ntau = 0.2\nformat = "gitlab"\n'
                                            '[thresholds]\nsaturated-error = 0.6\n')
    cli = {"samples": 32, "tau": 0.05, "format": "text", "select": None}
    run = resolve(cli, given={"samples"}, cwd=tmp_path, forced=cfg)
    settings = run.apply(Settings(samples=32, tau=0.05))
    assert settings.samples == 32  # CLI
    assert settings.tau == 0.2  # config
    assert settings.softmax_tau == Settings().softmax_tau  # default
    assert settings.thresholds == Thresholds(saturated_error=0.6)  # other thresholds untouched
    assert run.format == "gitlab"
    assert resolve(dict(cli, format="json"), {"format"}, tmp_path, cfg).format == "json"


def test_cli_select_replaces_config_select(tmp_path):
    cfg = write(tmp_path / "saturate.toml", 'select = ["SAT0"]\n')
    run = resolve({"select": ["SAT1,SAT2"]}, {"select"}, tmp_path, cfg)
    assert run.overrides["select"] == ("SAT1", "SAT2")


def test_update_baseline_needs_a_path(tmp_path):
    with pytest.raises(UsageError, match="--update-baseline"):
        resolve({"update_baseline": True}, {"update_baseline"}, tmp_path, None)


# --- end to end ------------------------------------------------------------------------------------

def test_discovered_config_drives_the_run_and_verbose_names_it(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.saturate]\nsamples = 24\nformat = "json"\n')
    sub = tmp_path / "nested"
    sub.mkdir()
    (tmp_path / ".git").mkdir()
    result = run_in(sub, "inspect", CLEAN, "-b", "8", "-q", "-v", git=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["calibration"]["samples"] == 24
    assert str(tmp_path / "pyproject.toml") in result.stderr
    # the command line wins, and --config forces another file
    other = write(tmp_path / "elsewhere.toml", "samples = 16\n")
    result = run_in(sub, "inspect", CLEAN, *FAST, "-n", "8", "--config", str(other), "-f", "json")
    assert json.loads(result.stdout)["calibration"]["samples"] == 8


def test_environment_format_beats_config(tmp_path, monkeypatch):
    write(tmp_path / "saturate.toml", 'format = "json"\n')
    monkeypatch.setenv("SATURATE_FORMAT", "ndjson")
    result = run_in(tmp_path, "inspect", CLEAN, *FAST)
    assert json.loads(result.stdout.splitlines()[0])["type"] == "site"
