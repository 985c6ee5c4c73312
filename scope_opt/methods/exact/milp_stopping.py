"""Keeping PuLP's solvers inside their deadline and stoppable by Ctrl-C: HiGHS runs in
highspy's worker thread and is cancelled, CBC (a child process) is interrupted, then
killed.  Their own time limits are checked only between phases (HiGHS's presolve, CBC's
root LP can overrun them by seconds to minutes)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator

import pulp

GRACE_S = 1.0  # past its own time limit, a solver is told to stop (HiGHS can overrun in presolve, CBC in its root LP)
STOP_WAIT_S = 5.0  # once told to stop, how long a solver gets before we leave it behind (HiGHS) or kill it (CBC)
INTERRUPT_WAIT_S = 1.0  # after Ctrl-C, how long HiGHS gets to stop before the interrupt goes on without it


class StoppableHiGHS(pulp.HiGHS):
    """PuLP's HiGHS, run in highspy's worker thread so that Ctrl-C reaches Python at once
    and a solve past its deadline is cancelled (HiGHS checks for the cancel in its
    simplex, IPM and MIP loops)."""

    def __init__(self, deadline: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deadline = deadline
        self.cancelled = False

    def callSolver(self, lp) -> None:
        h = lp.solverModel
        h.HandleUserInterrupt = True
        h.startSolve()
        try:
            while not h.wait(0.1)[0]:
                if not self.cancelled and time.monotonic() > self.deadline + GRACE_S:
                    h.cancelSolve()
                    self.cancelled = True
        except KeyboardInterrupt:
            h.cancelSolve()  # stop it, give it a moment, and never report the interrupted solve
            h.wait(INTERRUPT_WAIT_S)
            raise


@contextlib.contextmanager
def cbc_watchdog(deadline: float, notes: dict) -> Iterator[None]:
    """CBC checks its time limit only between phases (its root LP can run for seconds past
    it): past the deadline, SIGINT it, which CBC takes as 'stop and write the best
    solution'; if it is still running STOP_WAIT_S later, kill it."""
    done = threading.Event()

    def watch() -> None:
        if done.wait(max(0.0, deadline - time.monotonic()) + GRACE_S):
            return
        notes["stopped"] = "CBC passed its time limit and was interrupted by scope-opt"
        for sig in (signal.SIGINT, signal.SIGKILL):
            for child in _cbc_children():
                with contextlib.suppress(Exception):
                    child.send_signal(sig)
            if done.wait(STOP_WAIT_S):
                return

    threading.Thread(target=watch, daemon=True).start()
    try:
        yield
    except BaseException:  # Ctrl-C: CBC goes first, before its folder is removed under it;
        for child in _cbc_children(any_name=True):  # any child: one forked but not yet CBC too
            with contextlib.suppress(Exception):
                child.kill()
                child.wait(STOP_WAIT_S)
        raise
    finally:
        done.set()


def _cbc_children(any_name: bool = False) -> list:
    import psutil
    with contextlib.suppress(Exception):
        return [c for c in psutil.Process().children() if any_name or "cbc" in c.name().lower()]
    return []


@contextlib.contextmanager
def interrupt_safe_tempdir() -> Iterator[str]:
    """A folder for CBC's files that a Ctrl-C at any moment still removes: an interrupt that
    arrives while it is being made (and while CPython's first call probes the temp folder
    with a file of its own) is held back until it exists and its removal is armed."""
    if threading.current_thread() is not threading.main_thread():  # no signals there
        with tempfile.TemporaryDirectory(prefix="scope-opt-cbc-") as d:
            yield d
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    folder = None
    try:
        folder = tempfile.mkdtemp(prefix="scope-opt-cbc-")
        signal.signal(signal.SIGINT, previous)
        if held:
            raise KeyboardInterrupt
        yield folder
    finally:
        signal.signal(signal.SIGINT, previous)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
