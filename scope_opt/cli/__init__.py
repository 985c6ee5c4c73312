"""The command line: typer commands that read files, call the library and print tables.
May import every other part of the package; nothing imports it."""

from scope_opt.cli.app import app, main
from scope_opt.cli import files, fronts, solving, studies  # noqa: E402,F401  (each registers its commands on `app`)

__all__ = ["app", "main"]
