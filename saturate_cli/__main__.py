"""`python -m saturate_cli` runs the CLI."""

from saturate_cli.cli import main

main()
