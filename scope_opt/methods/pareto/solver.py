"""`--method dp --objective energy|edp` and `enumerate --objective energy|edp`: the exact
energy DP (chain.py) and the enumerator as solvers.  EDP = T x E is not a sum over
segments, but it grows with each of T and E, so its minimum lies on the (T, E) front and
is read from it exactly.  Past `--time-limit` the DP returns the Scope search's mapping
labelled `feasible`, with a lower bound on the objective that holds for every mapping."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

from scope_opt.cost.energy import PJ, mac_joules
from scope_opt.cost.objectives import value
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.deadline import OutOfTime, deadline_after
from scope_opt.methods.dp.out_of_time import incumbent, lower_bound_s
from scope_opt.methods.dp.solver import ENGINE_STEP, load_engine
from scope_opt.methods.pareto.chain import FrontPoint, energy_front
from scope_opt.methods.result import SolveResult
from scope_opt.problem.instance import Instance

ENERGY_OBJECTIVES = ("energy", "edp")


def best_of(points: list[FrontPoint], objective: str) -> FrontPoint | None:
    """The point of least objective (ties: the faster); None for no points."""
    return min(points, key=lambda p: (value(objective, p.evaluation), p.latency_s), default=None)


def energy_lower_bound_j(terms: CostTerms) -> float:
    """MACs, plus every weight byte written to SRAM once and read from DRAM once per batch,
    plus every layer's output written to SRAM, plus the network input read from DRAM and
    its output written there: every mapping pays at least these."""
    inst, cost = terms.instance, terms.reference
    en, e = inst.package.energy, inst.package.bytes_per_element
    net = inst.network
    weights = sum(l.weights for l in net.layers) * e
    outputs = sum(net.shape(l.name).elements for l in net.layers) * e
    d_in = cost.segment_traffic_split(0, len(net.layers))[0]
    d_out = net.shape(net.layers[-1].name).elements * e
    return (mac_joules(cost) + (weights + outputs) * en.sram_pj_per_byte * PJ
            + (weights / inst.batch + d_in + d_out) * en.dram_pj_per_byte * PJ)


def _timed_out(instance: Instance, space: str, objective: str, terms: CostTerms, limit_s: float, elapsed: float,
               step: str, settings: dict) -> SolveResult:
    """The latency DP's fallback (the Scope search's mapping, labelled), with a bound on
    this objective: the energy bound, times the latency bound for EDP."""
    res = incumbent(instance, space, terms, "dp", limit_s, elapsed, step, settings, {})
    if res.status != "feasible":
        return dataclasses.replace(res, objective=objective)
    e_lb = energy_lower_bound_j(terms)
    bound = e_lb if objective == "energy" else e_lb * lower_bound_s(terms)
    res = dataclasses.replace(res, objective=objective)
    return dataclasses.replace(res, bound_s=min(bound, res.value))


def solve_energy_dp(instance: Instance, space: str, objective: str, terms: CostTerms | None = None,
                    progress: Callable[[str], None] | None = None, time_limit_s: float = math.inf) -> SolveResult:
    """The energy- or EDP-optimal mapping of `space`, proven (status optimal, bound = value)."""
    if math.isfinite(time_limit_s):  # a first run's compile time is not taken from the limit
        if progress:
            progress(ENGINE_STEP)
        load_engine()
    start = time.perf_counter()
    terms = terms or CostTerms(instance)
    settings = {"time_limit_s": time_limit_s} if math.isfinite(time_limit_s) else {}
    try:
        points = energy_front(instance, space, "energy" if objective == "energy" else "front", terms,
                              deadline_after(time_limit_s), progress)
    except OutOfTime as stop:
        return _timed_out(instance, space, objective, terms, time_limit_s, time.perf_counter() - start, str(stop),
                          settings)
    elapsed = time.perf_counter() - start
    best = best_of(points, objective)
    stats = {"front_points": len(points)} if objective == "edp" else {}
    if best is None:
        return SolveResult("dp", space, "infeasible", None, None, None, elapsed, None, settings,
                           {"reason": "no segmentation of the network fits in SRAM"}, objective)
    return SolveResult("dp", space, "optimal", best.mapping, best.evaluation, value(objective, best.evaluation),
                       elapsed, None, settings, stats, objective)


def solve_enumerate_energy(instance: Instance, space: str, objective: str, max_mappings: int,
                           terms: CostTerms | None = None) -> SolveResult:
    """Every valid mapping scored by the evaluator; the least objective."""
    from scope_opt.methods.enumerate_energy import enumerated_points
    start = time.perf_counter()
    terms = terms or CostTerms(instance)
    points = enumerated_points(instance, space, max_mappings, terms.reference)
    best = best_of([p for p in points if p.evaluation.feasible], objective)
    elapsed = time.perf_counter() - start
    if best is None:
        return SolveResult("enumerate", space, "infeasible", None, None, None, elapsed, len(points),
                           {"max_mappings": max_mappings}, {}, objective)
    return SolveResult("enumerate", space, "optimal", best.mapping, best.evaluation, value(objective, best.evaluation),
                       elapsed, len(points), {"max_mappings": max_mappings}, {"valid_mappings": len(points)}, objective)
