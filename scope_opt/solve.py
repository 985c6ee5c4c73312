"""One entry point for every method, so the CLI, the benchmarks and the tests call them alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scope_opt.cost.reference import CostModel
from scope_opt.methods.settings import Backend, SolverSettings
from scope_opt.errors import InputError
from scope_opt.problem.instance import Instance
from scope_opt.methods.result import SolveResult
from scope_opt.methods.space import SPACES

HEURISTICS = ("scope", "segmented", "sequential")
METHODS = (*HEURISTICS, "fastdp", "enumerate", "dp", "cpsat", "milp")
MILP_SOLVERS = ("cbc", "highs")


@dataclass(frozen=True)
class SolveOptions:
    space: str = "merged"
    max_mappings: int = 2_000_000
    window: int = 16
    solver: str = "highs"  # MILP backend
    settings: SolverSettings = SolverSettings()
    export: Path | None = None


def solve(instance: Instance, method: str, options: SolveOptions = SolveOptions(),
          cost: CostModel | None = None, progress: Callable[[str], None] | None = None) -> SolveResult:
    if method not in METHODS:
        raise InputError("(arguments)", "--method", f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if options.space not in SPACES:
        raise InputError("(arguments)", "--space", f"unknown space {options.space!r}; expected one of {', '.join(SPACES)}")
    cost = cost or CostModel(instance)
    if method in HEURISTICS:
        from scope_opt.methods.scope.search import search
        space = options.space if method == "scope" else None
        return search(instance, method, space, options.window, cost)
    if method == "enumerate":
        from scope_opt.methods.enumerate import solve_enumerate
        return solve_enumerate(instance, options.space, options.max_mappings, cost)[0]
    if method in ("dp", "fastdp"):
        from scope_opt.methods.dp.solver import fast_max_clusters, solve_dp
        return solve_dp(instance, options.space, cost, progress, fast_max_clusters(instance) if method == "fastdp" else None)
    if method == "milp" and options.solver not in MILP_SOLVERS:
        raise InputError("(arguments)", "--solver", f"unknown MILP solver {options.solver!r}; expected cbc or highs")
    from scope_opt.methods.exact.facade import solve_exact
    backend = Backend.CPSAT if method == "cpsat" else Backend(options.solver)
    return solve_exact(instance, backend, options.space, options.settings, cost, options.export)
