"""One registry of methods: each name with its runner, its space, its kind (exact or
heuristic), its family and the options it reads.  solve, bench, sweep and the CLI all
read it; no other module composes or splits a method name (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from scope_opt.cost.objectives import OBJECTIVES
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.methods.enumerate import DEFAULT_MAX_MAPPINGS
from scope_opt.methods.result import SolveResult
from scope_opt.methods.scope.search import DEFAULT_WINDOW
from scope_opt.methods.settings import Backend, SolverSettings
from scope_opt.methods.space import SPACES
from scope_opt.problem.instance import Instance

Progress = Callable[[str], None] | None


class Kind(str, Enum):
    EXACT = "exact"  # proves its result optimal in its space (or returns a labelled bound and gap)
    HEURISTIC = "heuristic"  # a valid mapping, no proof


@dataclass(frozen=True)
class MethodOptions:
    """Every option a method may read; each Method lists the ones it does."""

    space: str = "merged"
    max_mappings: int = DEFAULT_MAX_MAPPINGS
    window: int = DEFAULT_WINDOW
    settings: SolverSettings = SolverSettings()
    export: Path | None = None
    objective: str = "latency"


@dataclass(frozen=True)
class Method:
    name: str  # the registry name, as results and caches record it
    kind: Kind
    family: str  # search, dp, enumerate or model (which tables it needs; the bench's skip rules)
    space: str | None  # the space it searches; None: options.space
    run: Callable[[Instance, MethodOptions, CostTerms, Progress], SolveResult]
    options: tuple[str, ...]  # the MethodOptions fields it reads
    cli: str  # its name on the command line (--method)
    solver: str | None = None  # --solver, for the MILP backends
    backend: Backend | None = None  # the exact model's backend
    objectives: tuple[str, ...] = ("latency",)

    def space_of(self, options: MethodOptions) -> str:
        return self.space or options.space


def _search(method: str):
    def run(inst: Instance, o: MethodOptions, terms: CostTerms, progress: Progress) -> SolveResult:
        from scope_opt.methods.scope.search import search
        return search(inst, method, o.space if method == "scope" else None, o.window, terms)
    return run


def _dp(space: str | None, fast: bool):
    def run(inst: Instance, o: MethodOptions, terms: CostTerms, progress: Progress) -> SolveResult:
        from scope_opt.methods.dp.solver import fast_max_clusters, solve_dp
        if o.objective != "latency":
            from scope_opt.methods.pareto.solver import solve_energy_dp
            return solve_energy_dp(inst, space or o.space, o.objective, terms, progress, o.settings.time_limit_s)
        return solve_dp(inst, space or o.space, terms, progress, fast_max_clusters(inst) if fast else None,
                        o.settings.time_limit_s)
    return run


def _enumerate(inst: Instance, o: MethodOptions, terms: CostTerms, progress: Progress) -> SolveResult:
    from scope_opt.methods.enumerate import solve_enumerate
    if o.objective != "latency":
        from scope_opt.methods.pareto.solver import solve_enumerate_energy
        return solve_enumerate_energy(inst, o.space, o.objective, o.max_mappings, terms)
    return solve_enumerate(inst, o.space, o.max_mappings, terms)[0]


def _model(backend: Backend):
    def run(inst: Instance, o: MethodOptions, terms: CostTerms, progress: Progress) -> SolveResult:
        from scope_opt.methods.exact.facade import solve_exact
        return solve_exact(inst, backend, o.space, o.settings, terms, o.export, progress, o.objective)
    return run


_SOLVER_OPTIONS = ("space", "settings", "export", "objective")
_ALL = tuple(OBJECTIVES)  # the exact DP and the enumerator minimise every objective
_LINEAR = ("latency", "energy")  # the CP-SAT and MILP models: EDP = T x E is not linear
METHODS: dict[str, Method] = {m.name: m for m in (
    Method("scope", Kind.HEURISTIC, "search", None, _search("scope"), ("space", "window"), "scope"),
    Method("segmented", Kind.HEURISTIC, "search", "segmented", _search("segmented"), ("window",), "segmented"),
    Method("sequential", Kind.HEURISTIC, "search", "sequential", _search("sequential"), (), "sequential"),
    Method("fastdp", Kind.HEURISTIC, "dp", None, _dp(None, True), ("space", "settings"), "fastdp"),
    Method("dp", Kind.EXACT, "dp", None, _dp(None, False), ("space", "settings", "objective"), "dp",
           objectives=_ALL),
    Method("dp-segmented", Kind.EXACT, "dp", "segmented", _dp("segmented", False), ("settings", "objective"), "dp",
           objectives=_ALL),
    Method("dp-sequential", Kind.EXACT, "dp", "sequential", _dp("sequential", False), ("settings", "objective"), "dp",
           objectives=_ALL),
    Method("enumerate", Kind.EXACT, "enumerate", None, _enumerate, ("space", "max_mappings", "objective"), "enumerate",
           objectives=_ALL),
    Method("cpsat", Kind.EXACT, "model", None, _model(Backend.CPSAT), _SOLVER_OPTIONS, "cpsat", None, Backend.CPSAT,
           _LINEAR),
    Method("milp-highs", Kind.EXACT, "model", None, _model(Backend.HIGHS), _SOLVER_OPTIONS, "milp", "highs", Backend.HIGHS,
           _LINEAR),
    Method("milp-cbc", Kind.EXACT, "model", None, _model(Backend.CBC), _SOLVER_OPTIONS, "milp", "cbc", Backend.CBC,
           _LINEAR),
)}
CLI_METHODS = tuple(dict.fromkeys(m.cli for m in METHODS.values()))
MILP_SOLVERS = tuple(m.solver for m in METHODS.values() if m.solver)
DEFAULT_SOLVER = "highs"
USER_PREFIX = "user:"  # a user heuristic in the bench: user:package.module:function
ABLATION_PREFIX = "ablation:"  # a Scope-search ablation variant: ablation:<exact steps joined by +>
OBJECTIVE_SEP = "@"  # an exact method minimising another objective in the bench: dp@energy, cpsat@energy


def resolve(cli: str, solver: str | None = None) -> Method:
    """The method a command line names: --method M [--solver S]; a registry name is
    accepted too (dp-segmented, milp-cbc)."""
    if cli in METHODS and METHODS[cli].cli != cli:
        return METHODS[cli]
    if cli not in CLI_METHODS:
        raise InputError("(arguments)", "--method", f"unknown method {cli!r}; expected one of {', '.join(CLI_METHODS)}")
    if cli == "milp":
        solver = solver or DEFAULT_SOLVER
        if solver not in MILP_SOLVERS:
            raise InputError("(arguments)", "--solver", f"unknown MILP solver {solver!r}; expected {' or '.join(MILP_SOLVERS)}")
        return next(m for m in METHODS.values() if m.cli == "milp" and m.solver == solver)
    return METHODS[cli]


def for_backend(backend: Backend) -> Method:
    """The exact model solved by `backend`."""
    return next(m for m in METHODS.values() if m.backend is backend)


def dp_for(space: str) -> Method:
    """The chain DP that proves the optimum of `space`."""
    return next(m for m in METHODS.values() if m.family == "dp" and m.kind is Kind.EXACT and (m.space or "merged") == space)


def user_method(spec: str) -> str:
    return USER_PREFIX + spec


def ablation_method(steps: frozenset[str] | set[str]) -> str:
    return ABLATION_PREFIX + "+".join(sorted(steps))


def objective_method(name: str, objective: str) -> str:
    """The bench's name of registry method `name` minimising `objective`."""
    return name if objective == "latency" else f"{name}{OBJECTIVE_SEP}{objective}"


def special(name: str) -> tuple[str, str | frozenset[str] | tuple[str, str]] | None:
    """('user', 'pkg.mod:fn'), ('ablation', its exact steps) or ('objective', (method,
    objective)) for the bench's own methods, else None."""
    if name.startswith(USER_PREFIX):
        return "user", name[len(USER_PREFIX):]
    if name.startswith(ABLATION_PREFIX):
        return "ablation", frozenset(name[len(ABLATION_PREFIX):].split("+"))
    if OBJECTIVE_SEP in name:
        base, objective = name.split(OBJECTIVE_SEP, 1)
        return "objective", (base, objective)
    return None


def check_space(space: str) -> None:
    if space not in SPACES:
        raise InputError("(arguments)", "--space", f"unknown space {space!r}; expected one of {', '.join(SPACES)}")
