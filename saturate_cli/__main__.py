"""`python -m saturate_cli` runs the CLI (through run(), as the `saturate` script does)."""

from saturate_cli.cli import run

run()
