"""One error type for bad input, so the CLI can print one line and exit 2."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input: says which file, which field, and what is expected."""

    def __init__(self, source: str, field: str, expected: str) -> None:
        self.source = str(source)
        self.field = field
        self.expected = expected
        super().__init__(f"{self.source}: {field}: {expected}")


class InvariantError(RuntimeError):
    """A library invariant broke (two exact computations disagree): a bug, never bad input.
    Raised instead of `assert`, so it holds under `python -O` too; please report it."""
