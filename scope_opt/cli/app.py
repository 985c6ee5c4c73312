"""The scope-opt command line.  Bad input prints one line naming file, field and fix, exit 2."""

from __future__ import annotations

import functools
import threading
from typing import Callable

import typer
from rich.console import Console
from rich.markup import escape

from scope_opt.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Map neural networks onto multi-chip-module accelerators: evaluate, search, solve exactly.")
console = Console()


_SIGINT = {"seen": False}


def _on_sigint(signum, frame) -> None:
    """Remember the interrupt, then raise it as Python would.  Compiled code (numba)
    can wrap it in a SystemError; the flag still tells us it was a Ctrl-C."""
    _SIGINT["seen"] = True
    raise KeyboardInterrupt


def _interrupted() -> typer.Exit:
    _stop_children()
    Console(stderr=True).print("[yellow]interrupted[/yellow]: stopped before finishing; no result was written")
    return typer.Exit(130)


def _stop_children() -> None:
    """A solver run as a child process (CBC) is stopped with us, not left running."""
    try:
        import psutil
        children = psutil.Process().children(recursive=True)
    except Exception:  # psutil missing or the process table unreadable: nothing to stop
        return
    for child in children:
        try:
            child.kill()
        except Exception:
            pass


def guarded(fn: Callable) -> Callable:
    """Turn bad input into one line on stderr and exit code 2, with no traceback; an
    interrupt at any moment (compiling included) into exit code 130."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        import signal
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _on_sigint)
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            if _SIGINT["seen"]:
                raise _interrupted() from None
            Console(stderr=True).print(f"[red]error[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True, markup=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            raise _interrupted() from None
        except OSError as exc:  # a full disk, a folder made read-only mid-run: one line, not a traceback
            if _SIGINT["seen"]:
                raise _interrupted() from None
            where = exc.filename or "(output)"
            Console(stderr=True).print(f"[red]error[/red]: {escape(str(where))}: {escape(exc.strerror or str(exc))}; "
                                       "expected a writable folder with free space", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except (typer.Exit, Exception):
            if _SIGINT["seen"]:
                raise _interrupted() from None
            raise
    return run


def command(name: str | None = None) -> Callable:
    return lambda fn: app.command(name)(guarded(fn))



def main() -> None:
    import scope_opt.cli  # noqa: F401  (registers the commands)
    try:
        app()
    except SystemExit as stop:
        _exit_now(stop.code)
    _exit_now(0)


def _exit_now(code: object) -> None:
    """Exit without the interpreter's teardown when nothing else runs: unloading the
    compiled DP kernels at shutdown takes 0.2-0.25 s, a tenth of a whole dp command on
    ResNet-152 8x8.  Exit handlers still run and the streams are flushed first; with
    other threads or child processes alive (a Dask sweep), or a stream that cannot be
    flushed, Python exits as usual.  Every output file is complete by then (written
    atomically)."""
    import atexit
    import os
    import sys
    mp = sys.modules.get("multiprocessing")
    if (not isinstance(code, (int, type(None))) or threading.active_count() > 1
            or (mp is not None and mp.active_children())):
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: let Python report it as it would
        raise SystemExit(code) from None
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):  # what the exit handlers printed
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code or 0)


if __name__ == "__main__":
    main()
