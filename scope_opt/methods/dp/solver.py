"""`--method dp`: the chain DP (methods/dp/chain.py) as a solver, its mapping re-scored by the
evaluator.  It proves the optimum outright, so status is `optimal`, the bound is T* and
the gap 0; a disagreement with the evaluator is a bug and is raised, never hidden."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InvariantError
from scope_opt.cost.evaluate import evaluate
from scope_opt.problem.instance import Instance
from scope_opt.methods.deadline import OutOfTime, deadline_after
from scope_opt.methods.dp.out_of_time import incumbent
from scope_opt.methods.result import SolveResult

ENGINE_STEP = "loading the DP engine (compiled on a first run: a minute or two)"
REL_TOL = 1e-12  # the DP adds the evaluator's terms in the evaluator's order; allow only float noise


def fast_max_clusters(instance: Instance) -> int:
    """`fastdp`'s pipeline depth: at most max(8, 1.5 x the longer mesh side) clusters per
    segment.  The optimal pipelines of ResNet-152 use 8 on 8x8, 13 on 10x10, 18 on 12x12
    and 32 on 16x16 (results/large-scaling.csv), so this keeps most of them in reach
    while the segment step's work, which grows with the depth, shrinks."""
    return max(8, -(-3 * max(instance.package.mesh) // 2))


@functools.cache
def load_engine() -> None:
    """Compile (or load from numba's cache) every kernel of the chain DP and of the energy
    DP by solving a 2-layer instance on 2 chiplets, so that a first run's compile time (a minute or two on a
    fresh machine) is not taken from its time limit."""
    from scope_opt.methods.dp.chain import chain_dp
    from scope_opt.problem.instance import Energy, Package
    from scope_opt.problem.network_yaml import build_network
    net = build_network({"input": {"C": 4, "H": 4, "W": 4},
                         "layers": [{"name": "a", "K": 4, "R": 3}, {"name": "b", "K": 4, "R": 1}]}, "(engine)", "engine")
    pkg = Package(mesh=(2, 1), pe_k=4, pe_c=4, freq_ghz=1.0, sram_kib=16.0, nop_gbps=10.0, dram_gbps=10.0,
                  bytes_per_element=1, energy=Energy())
    tiny = Instance("engine", 2, net, pkg, "KH")
    for space in ("merged", "segmented", "sequential"):
        chain_dp(tiny, space, CostTerms(tiny))
    chain_dp(tiny, "merged", CostTerms(tiny), max_clusters=1)
    from scope_opt.methods.pareto.chain import energy_front  # and the energy DP's cluster pass
    for mode in ("front", "energy"):
        energy_front(tiny, "merged", mode)


def solve_dp(instance: Instance, space: str = "merged", terms: CostTerms | None = None,
             progress: Callable[[str], None] | None = None, max_clusters: int | None = None,
             time_limit_s: float = math.inf) -> SolveResult:
    """The chain DP; with `max_clusters` it is `fastdp`, exact only over the mappings whose
    segments have at most that many clusters, so a heuristic for the whole space (no bound).
    Past `time_limit_s` it returns the Scope search's mapping, labelled (out_of_time.py)."""
    from scope_opt.methods.dp.chain import chain_dp
    if math.isfinite(time_limit_s):
        if progress:
            progress(ENGINE_STEP)
        load_engine()
    start = time.perf_counter()
    terms = terms or CostTerms(instance)
    method = "dp" if max_clusters is None else "fastdp"
    settings = {"time_limit_s": time_limit_s} if math.isfinite(time_limit_s) else {}
    if max_clusters is not None:
        settings["max_clusters"] = max_clusters
    try:
        sol = chain_dp(instance, space, terms, progress=progress, max_clusters=max_clusters,
                       deadline=deadline_after(time_limit_s))
    except OutOfTime as stop:
        if progress:
            progress("time limit reached: the Scope search's mapping")
        return incumbent(instance, space, terms, method, time_limit_s, time.perf_counter() - start, str(stop),
                         settings, {})
    elapsed = time.perf_counter() - start
    stats = {**sol.stats, "objective_s": sol.latency_s if sol.mapping else None}
    if sol.mapping is None:
        return SolveResult(method, space, "infeasible", None, None, None, elapsed, None, settings,
                           {**stats, "reason": "no segmentation of the network fits in SRAM"})
    ev = evaluate(instance, sol.mapping, terms.reference)
    if not ev.feasible or abs(ev.latency_s - sol.latency_s) > REL_TOL * sol.latency_s:
        raise InvariantError(f"chain DP and evaluator disagree on {instance.name}: DP {sol.latency_s!r}, "
                           f"evaluator {ev.latency_s!r} ({ev.reason}); please report this")
    stats["segment_times_s"] = list(sol.segment_times)
    if max_clusters is not None:
        return SolveResult(method, space, "heuristic", sol.mapping, ev, None, elapsed, None, settings, stats)
    return SolveResult(method, space, "optimal", sol.mapping, ev, sol.latency_s, elapsed, None, settings, stats)
