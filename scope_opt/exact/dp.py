"""`--method dp`: the chain DP (engine/chain.py) as a solver, its mapping re-scored by the
evaluator.  It proves the optimum outright, so status is `optimal`, the bound is T* and
the gap 0; a disagreement with the evaluator is a bug and is raised, never hidden."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..cost import CostModel
from ..evaluate import evaluate
from ..instance import Instance
from ..result import SolveResult

REL_TOL = 1e-12  # the DP adds the evaluator's terms in the evaluator's order; allow only float noise


def solve_dp(instance: Instance, space: str = "merged", cost: CostModel | None = None,
             progress: Callable[[str], None] | None = None) -> SolveResult:
    from ..engine.chain import chain_dp
    start = time.perf_counter()
    sol = chain_dp(instance, space, progress=progress)
    elapsed = time.perf_counter() - start
    stats = {**sol.stats, "objective_s": sol.latency_s if sol.mapping else None}
    if sol.mapping is None:
        return SolveResult("dp", space, "infeasible", None, None, None, elapsed, None, {},
                           {**stats, "reason": "no segmentation of the network fits in SRAM"})
    ev = evaluate(instance, sol.mapping, cost or CostModel(instance))
    if not ev.feasible or abs(ev.latency_s - sol.latency_s) > REL_TOL * sol.latency_s:
        raise RuntimeError(f"chain DP and evaluator disagree on {instance.name}: DP {sol.latency_s!r}, "
                           f"evaluator {ev.latency_s!r} ({ev.reason}); please report this")
    stats["segment_times_s"] = list(sol.segment_times)
    return SolveResult("dp", space, "optimal", sol.mapping, ev, sol.latency_s, elapsed, None, {}, stats)
