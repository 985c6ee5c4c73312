"""The exact-model facade: one formulation (docs/exact-models.md), backends behind an
enum, a SolveResult re-scored by the evaluator with status, bound and gap."""

from __future__ import annotations

import contextlib
import gc
import math
import time
from dataclasses import replace
from collections.abc import Callable, Iterator
from pathlib import Path

from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.objectives import OBJECTIVES, value
from scope_opt.problem.instance import Instance
from scope_opt.methods.deadline import OutOfTime
from scope_opt.methods.exact.outcome import BackendOutcome
from scope_opt.methods.result import SolveResult
from scope_opt.problem.mapping import Mapping
from scope_opt.methods.settings import Backend, SolverSettings, solver_output_to_stderr
from scope_opt.methods.exact.energy_program import build_energy_program
from scope_opt.methods.exact.tables import build_tables, structure

WARM_START_METHOD = {"merged": "scope", "segmented": "segmented", "sequential": "sequential"}


def solve_exact(instance: Instance, backend: Backend, space: str = "merged", settings: SolverSettings = SolverSettings(),
                terms: CostTerms | None = None, export: Path | None = None,
                progress: Callable[[str], None] | None = None, objective: str = "latency") -> SolveResult:
    """Minimise `objective` (latency or energy) with the exact model on `backend`."""
    say = progress or (lambda _: None)
    terms = terms or CostTerms(instance)
    start = time.perf_counter()
    deadline = time.monotonic() + settings.time_limit_s
    from scope_opt.methods.registry import for_backend
    method = for_backend(backend).name
    recorded = {**settings.to_dict(), "backend": backend.value}
    backend_module = _backend_module(backend)
    say("tables" if objective == "latency" else "energy options")
    try:
        build, stranded, sizes = _formulation(terms, space, objective, backend_module, settings, deadline)
    except OutOfTime:
        build, stranded, sizes = None, None, {}
    table_time = time.perf_counter() - start
    hint, hint_ev = None, None
    if settings.warm_start:
        say("warm start")
        from scope_opt.methods.scope.search import search
        h = search(instance, WARM_START_METHOD[space], space if space == "merged" else None, terms=terms)
        if h.evaluation is not None and h.evaluation.feasible:
            hint, hint_ev = h.mapping, h.evaluation
    if stranded is not None:
        return SolveResult(method, space, "infeasible", None, None, None, time.perf_counter() - start, 0, recorded,
                           {"reason": f"layer {stranded} fits in no cluster on any chiplet count, "
                                      "and its activations leave no room for weight tiles"}, objective)
    try:  # an exported model is built whole, whatever the time limit
        with _gc_paused():
            model = build(hint, math.inf if export is not None else deadline) if build else None
    except OutOfTime:
        model = None
    if export is not None:
        _export(model, backend, Path(export))
    out = _run_backend(backend_module, model, backend, settings, deadline - time.monotonic(), say)
    out, source = _fall_back_to_hint(out, hint)
    ev = evaluate(instance, out.mapping, terms.reference) if out.mapping is not None else None
    if hint is not None and out.status == "feasible" and ev is not None and value(objective, hint_ev) < value(objective, ev):
        out, ev, source = out.but(mapping=hint), hint_ev, "warm start"  # the solver did not improve on its start
    status, bound = _checked_bound(out, ev, objective)
    unit = OBJECTIVES[objective].unit.lower()
    stats = {"mapping_from": source, f"objective_{unit}": out.objective, "solver_status": out.solver_status,
             "table_time_s": table_time, f"rounding_tolerance_{unit}": out.rounding_tolerance, **sizes,
             f"warm_start_{objective}_{unit}": value(objective, hint_ev) if hint_ev else None,
             **{(f"unit_{unit}" if k == "unit" else k): v for k, v in out.stats.items()}}
    return SolveResult(method, space, status, out.mapping, ev, bound, time.perf_counter() - start, None, recorded, stats,
                       objective)


def _backend_module(backend: Backend):
    if backend is Backend.CPSAT:
        from scope_opt.methods.exact import cpsat as backend_module
    else:
        from scope_opt.methods.exact import milp as backend_module
    return backend_module


def _formulation(terms: CostTerms, space: str, objective: str, backend_module, settings: SolverSettings,
                 deadline: float) -> tuple[Callable, int | None, dict]:
    """(build(hint, deadline) -> the backend's model, the first layer no option covers or
    None, sizes for the stats): the latency tables, or the energy program."""
    if objective == "latency":
        tables = build_tables(terms, space)
        st = structure(tables)
        stranded = [l for l, c in enumerate(st.covers_cl) if not c and l not in tables.single]
        return (lambda hint, d: backend_module.build(tables, st, settings, hint, d),
                stranded[0] if stranded else None, {"cluster_tables": len(tables.clusters)})
    prog = build_energy_program(terms, space, deadline)
    covered = {l for o in prog.options if o.kind != "segment" for l in range(o.first, o.last)}
    stranded = [l for l in range(terms.layers) if l not in covered]
    return (lambda hint, d: backend_module.build_program(prog, settings, hint, d), stranded[0] if stranded else None,
            {"energy_options": len(prog.options), "energy_variables": prog.variables, "energy_rows": len(prog.rows)})


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """A model build makes millions of small objects and no cycles; the collector's passes
    over them took half its time (ResNet-50 on 8x8: 8.1 s, 4.6 s without)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


MIN_SOLVE_S = 0.05  # less time than this left for the solver: it is not started


def _run_backend(backend_module, model, backend: Backend, settings: SolverSettings, left_s: float,
                 say: Callable[[str], None]) -> BackendOutcome:
    """`--time-limit` bounds the whole solve: the solver gets what the tables, the warm
    start and the model build left of it."""
    if model is None or left_s < MIN_SOLVE_S:
        return BackendOutcome("unknown", None, None, None, 0.0, "not started", 0.0,
                              {"reason": f"the time limit ({settings.time_limit_s:g} s) was spent on the tables, "
                                         "the warm start and the model before the solver could start"})
    say(f"solving ({backend.value}, {left_s:.3g} s left of the time limit)")
    with solver_output_to_stderr():  # solvers print banners (HiGHS at every Highs()) straight to fd 1
        return backend_module.solve(model, backend, replace(settings, time_limit_s=left_s))


def _fall_back_to_hint(out: BackendOutcome, hint: Mapping | None) -> tuple[BackendOutcome, str]:
    """A solver that found nothing returns the warm start, labelled; one that calls a model
    holding the (valid) warm start infeasible failed numerically."""
    source = "solver"
    if out.status == "infeasible" and hint is not None:
        reason = ("the solver reported the model infeasible although the warm start is a valid "
                  "mapping (a numerical failure, e.g. a huge batch or times); returning the warm start, unproven")
        out = out.but(mapping=None, bound=None, status="unknown", stats={**out.stats, "reason": reason})
    if out.mapping is None and hint is not None and out.status == "unknown":
        out, source = out.but(mapping=hint, status="feasible"), "warm start"  # the best mapping known when time ran out
    return out, source


def _checked_bound(out: BackendOutcome, ev, objective: str) -> tuple[str, float | None]:
    """A lower bound above a real mapping's value is solver noise; 'optimal' at a relative
    gap beyond the rounding tolerance is only 'feasible'."""
    status, bound = out.status, out.bound
    if bound is not None and ev is not None and ev.feasible:
        v = value(objective, ev)
        bound = min(bound, v)
        tol = out.rounding_tolerance + 1e-8 * v
        if status == "optimal" and v - bound > tol:
            status = "feasible"  # stopped at a relative gap: not proven optimal
    return status, bound


def _export(model, backend: Backend, path: Path) -> None:
    if backend is Backend.CPSAT:
        if not model.model.ExportToFile(str(path)):
            raise InputError(path, "--export", "could not write the CP-SAT model; expected a writable .pb or .pb.txt path")
        return
    if path.suffix == ".lp":
        model.prob.writeLP(str(path))
    elif path.suffix == ".mps":
        model.prob.writeMPS(str(path))
    else:
        raise InputError(path, "--export", "expected a .lp or .mps file for the MILP")
