"""Where independent cells run: in this process (default), on a local Dask cluster of
worker processes (`--workers N`), or on an existing Dask cluster (`--scheduler ADDRESS`).

Every cell is one task of bounded memory.  Results come back to the caller as they finish
(the caller caches each one atomically), a cell that raises is reported with its error
instead of stopping the rest, and a cell whose worker dies is retried once on another
worker, then reported (docs/sweeps.md)."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

ALLOWED_WORKER_DEATHS = 1  # a cell may lose one worker and run again; a second death reports it


@dataclass(frozen=True)
class Executor:
    workers: int | None = None  # a LocalCluster of this many worker processes
    scheduler: str | None = None  # the address of a running Dask scheduler

    @property
    def name(self) -> str:
        return (f"dask scheduler {self.scheduler}" if self.scheduler else
                f"local Dask cluster, {self.workers} workers" if self.workers else "in-process")

    def check(self) -> None:
        """Before any work: a running scheduler must answer (one line within about 10 s if not)."""
        if self.scheduler:
            from distributed import Client
            _connect(Client, self.scheduler).close()


def _failure(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


CONNECT_TIMEOUT_S = 10


def _connect(Client, address: str):
    """A client of a running scheduler, or one line saying it cannot be reached (a wrong
    address, no scheduler there within CONNECT_TIMEOUT_S, or a peer that is no scheduler)."""
    import threading
    from scope_opt.errors import InputError
    got: list = []

    def connect() -> None:  # in a thread: a peer that accepts and never answers must not hang us
        try:
            got.append(Client(address, timeout=f"{CONNECT_TIMEOUT_S}s"))
        except BaseException as exc:  # OSError, TimeoutError, a protocol error, a MemoryError from a non-Dask peer
            got.append(exc)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(CONNECT_TIMEOUT_S + 2)
    if got and not isinstance(got[0], BaseException):
        return got[0]
    why = type(got[0]).__name__ if got else "no answer"
    raise InputError("(arguments)", "--scheduler", f"cannot reach a Dask scheduler at {address} within "
                                                   f"{CONNECT_TIMEOUT_S} s ({why}); expected a running `dask scheduler` "
                                                   "(docs/sweeps.md)")


def run_cells(fn: Callable[[Any], Any], cells: Iterable[tuple[str, Any]], executor: Executor,
              on_done: Callable[[str, Any], None], on_error: Callable[[str, str], None],
              progress: Callable[[str], None] | None = None) -> None:
    """Run fn(payload) for every (key, payload); call on_done(key, result) or
    on_error(key, message) as each cell ends.  KeyboardInterrupt stops everything."""
    cells = list(cells)
    if not executor.workers and not executor.scheduler:
        for key, payload in cells:
            if progress:
                progress(key)
            try:
                result = fn(payload)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # one failed cell is reported, the rest go on
                on_error(key, _failure(exc))
                continue
            on_done(key, result)
        return
    import dask
    from distributed import Client, LocalCluster, as_completed
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS,
                          "distributed.worker.daemon": False}):
        cluster = None
        if executor.scheduler:
            client = _connect(Client, executor.scheduler)
        else:
            cluster = LocalCluster(n_workers=executor.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        try:
            futures = {client.submit(fn, payload, key=f"cell-{key}", pure=False): key for key, payload in cells}
            for future in as_completed(futures):
                key = futures[future]
                if progress:
                    progress(key)
                try:
                    on_done(key, future.result())
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # the cell's own error, or KilledWorker after a second death
                    on_error(key, _failure(exc))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
