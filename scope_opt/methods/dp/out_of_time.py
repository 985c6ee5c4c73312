"""What the chain DP returns when its time limit runs out: the Scope search's mapping in
the same space (a valid mapping, re-scored), labelled `feasible`, with a lower bound that
holds for every mapping, and the gap between them (docs/exact-models.md, "Time limit")."""

from __future__ import annotations

import numpy as np

from scope_opt.cost.terms import CostTerms
from scope_opt.problem.instance import Instance
from scope_opt.methods.result import SolveResult

SEARCH_FOR_SPACE = {"merged": "scope", "segmented": "segmented", "sequential": "sequential"}


def lower_bound_s(terms: CostTerms) -> float:
    """B * (the largest least compute time of one layer) + (every layer's weights over
    DRAM): each segment takes at least B periods, a period at least the compute time of
    each of its layers, and every weight is read from DRAM at least once."""
    tables = terms.layer_tables
    least_compute = np.min([tables.comp[n].min(axis=1) for n in range(1, terms.chiplets + 1)], axis=0)
    weights = sum(float(terms.weights_s[l, l + 1]) for l in range(terms.layers))
    return terms.instance.batch * float(least_compute.max()) + weights


def incumbent(instance: Instance, space: str, terms: CostTerms, method: str, limit_s: float, elapsed_s: float,
              step: str, settings: dict, stats: dict) -> SolveResult:
    """The Scope search's mapping with the bound and gap, or for fastdp (no bound) as a heuristic."""
    from scope_opt.methods.scope.search import search
    found = search(instance, SEARCH_FOR_SPACE[space], space if space == "merged" else None, terms=terms)
    reason = (f"the time limit ({limit_s:g} s) ran out in the {step}; returning the "
              f"{SEARCH_FOR_SPACE[space]} search's mapping")
    stats = {**stats, "reason": reason, "timed_out": True, "timed_out_in": step,
             "incumbent": SEARCH_FOR_SPACE[space], "incumbent_search_s": found.solve_time_s}
    if found.mapping is None or found.evaluation is None or not found.evaluation.feasible:
        return SolveResult(method, space, "unknown", None, None, None, elapsed_s + found.solve_time_s, None, settings,
                           {**stats, "reason": reason + ", which found none"})
    exact = method == "dp"
    bound = min(lower_bound_s(terms), found.latency_s) if exact else None
    return SolveResult(method, space, "feasible" if exact else "heuristic", found.mapping, found.evaluation, bound,
                       elapsed_s + found.solve_time_s, None, settings, stats)
