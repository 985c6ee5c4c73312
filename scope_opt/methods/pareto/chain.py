"""The exact energy DP over segment boundaries.  Both T and the energy per sample are sums
over segments and segments share nothing, so the front of the first j layers is the
front of (front of the first i layers) + (options of segment [i, j)) over every i; the
energy optimum is the same recursion with one point per boundary (docs/exact-models.md,
"The exact energy DP")."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from scope_opt.cost.evaluate import Evaluation, evaluate
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.deadline import check_time
from scope_opt.methods.pareto.clusters import MODES, EnergyContext
from scope_opt.methods.pareto.folded import energy_optimum
from scope_opt.methods.pareto.points import front
from scope_opt.methods.pareto.segments import segments_from
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Mapping


@dataclass(frozen=True)
class FrontPoint:
    latency_s: float  # the evaluator's T
    energy_j: float  # the evaluator's energy per sample
    mapping: Mapping
    evaluation: Evaluation


def _boundary_dp(cx: EnergyContext, space: str, deadline: float, say: Callable[[str], None] | None) -> list:
    """F[L]: (T, E, back) points, back = (i, index in F[i], segment)."""
    L = len(cx.instance.network.layers)
    seg = {}
    for a in range(L):
        check_time(deadline, f"energy DP, segments from layer {a}")
        seg[a] = segments_from(cx, a, space, deadline)
        if say:
            say(f"energy DP ({cx.mode}): segment starts {a + 1}/{L}")
    F: list[list] = [[(0.0, 0.0, None)]]
    for j in range(1, L + 1):
        check_time(deadline, f"energy DP, the front of the first {j} layers")
        cands = [(t + T, e + E, (i, k, s)) for i in range(j) for k, (t, e, _) in enumerate(F[i])
                 for T, E, s in seg[i].get(j, ())]
        if cx.mode == "energy" and cands:
            cands = [min(cands, key=lambda p: (p[1], p[0]))]
        F.append(front(cands))
    return F


def _mapping(F: list, L: int, k: int) -> Mapping:
    segments, j = [], L
    while j > 0:
        i, k, s = F[j][k][2]
        segments.append(s)
        j = i
    return Mapping(tuple(reversed(segments)))


def energy_front(instance: Instance, space: str = "merged", mode: str = "front", terms: CostTerms | None = None,
                 deadline: float = math.inf, say: Callable[[str], None] | None = None,
                 placement_dominance: bool = True, folded: bool = True, compiled: bool = True) -> list[FrontPoint]:
    """The exact front of (T, energy per sample) in `space` (mode "front"), or the one
    energy-optimal point (mode "energy"); every mapping re-scored by the evaluator, and
    points the evaluator's rounding makes dominated dropped.  Empty when nothing fits.
    `placement_dominance=False` keeps every placement of the live producers, and
    `folded=False` runs the energy mode per segment start (folded.py), and
    `compiled=False` the cluster passes in Python: the references the tests compare the
    rule, the fold and the kernel against."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    terms = terms or CostTerms(instance)
    cost = terms.reference
    cx = EnergyContext(terms, mode, placement_dominance=placement_dominance, deadline=deadline, compiled=compiled)
    L = len(instance.network.layers)
    if mode == "energy" and folded:
        best = energy_optimum(cx, space, deadline, say)
        mappings = [] if best is None else [best[0]]
    else:
        F = _boundary_dp(cx, space, deadline, say)
        mappings = [_mapping(F, L, k) for k in range(len(F[L]))]
    points = []
    for m in mappings:
        check_time(deadline, "energy DP, re-scoring the front")
        ev = evaluate(instance, m, cost)
        points.append(FrontPoint(ev.latency_s, ev.energy.total_j, m, ev))
    return front(points, key=lambda p: (p.latency_s, p.energy_j))
