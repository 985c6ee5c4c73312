"""Options shared by several commands, and the settings and executors they build."""

from __future__ import annotations

import re
from typing import Optional

import typer

from scope_opt.errors import InputError
from scope_opt.formats.inputs import check_options
from scope_opt.methods.settings import SolverSettings

JsonOpt = typer.Option(None, "--json", help="Write the result as JSON to this file ('-' for standard output).")
WideOpt = typer.Option(False, "--wide", help="Every column of the tables (by default they fit 80 columns).")

TimeLimitOpt = typer.Option(60.0, "--time-limit", help="Exact methods (dp, cpsat, milp) and fastdp: seconds before stopping with the best mapping and bound.")
ThreadsOpt = typer.Option(2, "--threads", help="Exact models: solver threads (recorded).")
SeedOpt = typer.Option(0, "--seed", help="Exact models: random seed (recorded).")
GapOpt = typer.Option(0.0, "--gap", help="Exact models: relative gap at which to stop (0: prove optimality).")
WarmOpt = typer.Option(True, "--warm-start/--no-warm-start", help="Exact models: start from the Scope search's mapping.")
VerboseOpt = typer.Option(False, "--verbose", help="Exact models: stream the solver log (to stderr).")


def solver_settings(time_limit: float, threads: int, seed: int, gap_rel: float, warm: bool, verbose: bool) -> SolverSettings:
    check_options(time_limit=time_limit, threads=threads, seed=seed, gap=gap_rel)
    return SolverSettings(time_limit_s=time_limit, threads=threads, seed=seed, gap_rel=gap_rel, warm_start=warm, verbose=verbose)


WorkersOpt = typer.Option(None, "--workers", help="Run on a local Dask cluster of this many worker processes.")
SchedulerOpt = typer.Option(None, "--scheduler", help="Run on a running Dask cluster: its scheduler address, e.g. tcp://host:8786.")


def executor_of(workers: Optional[int], scheduler: Optional[str]):
    from scope_opt.studies.executor import Executor
    if workers is not None and scheduler is not None:
        raise InputError("(arguments)", "--workers/--scheduler", "give at most one: a local cluster or a running one")
    if workers is not None and not 1 <= workers <= 256:
        raise InputError("(arguments)", "--workers", f"expected 1 to 256 worker processes, got {workers}")
    if scheduler is not None and not SCHEDULER_ADDRESS.match(scheduler):
        raise InputError("(arguments)", "--scheduler", f"{scheduler[:80]!r} is not a scheduler address; expected "
                                                       "tcp://HOST:PORT or tls://HOST:PORT, e.g. tcp://127.0.0.1:8786")
    ex = Executor(workers, scheduler)
    ex.check()
    return ex


SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")


SpaceOpt = typer.Option("merged", "--space", help="merged (Scope), segmented, or sequential.")
