"""The command line: typer commands that read files, call the library and print tables.
May import every other part of the package; nothing imports it."""

from scope_opt.cli.app import app, main

__all__ = ["app", "main"]
