"""Solver settings shared by every exact backend, recorded with every result."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from enum import Enum


class Backend(str, Enum):
    CPSAT = "cpsat"
    CBC = "cbc"
    HIGHS = "highs"


@dataclass(frozen=True)
class SolverSettings:
    time_limit_s: float = 60.0
    threads: int = 2
    seed: int = 0
    gap_rel: float = 0.0  # relative gap at which the solver may stop
    warm_start: bool = True  # hint / initial solution from the Scope search
    verbose: bool = False  # stream the solver's log
    unit_s: float = 1e-12  # CP-SAT's integer time unit (costs are floored to it)
    milp_unit_s: float = 1e-9  # MILP times are expressed in this unit (for conditioning)

    def to_dict(self) -> dict:
        return asdict(self)


@contextlib.contextmanager
def solver_output_to_stderr() -> Iterator[None]:
    """Solvers write banners and logs straight to file descriptor 1; send them to stderr
    so that standard output stays clean for `--json -`."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
