"""Progress of long work on standard error: a live status line on a terminal, plain
lines otherwise (logs, pipes), so that a script or a test can wait for a step to begin."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.markup import escape


@contextlib.contextmanager
def progress(what: str) -> Iterator[Callable[[str], None]]:
    """Yields `say(step)`; `what` and the steps are user text, printed literally."""
    err = Console(stderr=True)
    if err.is_terminal:
        with err.status(escape(what) + "...") as status:
            yield lambda step: status.update(f"{escape(what)}: {escape(step)}...")
        return

    def say(step: str) -> None:
        sys.stderr.write(f"{what}: {step}\n")
        sys.stderr.flush()

    yield say
