"""The enumerator for energy and EDP, and the reference front: every distinct valid mapping
of a small instance, built one by one and scored by the reference evaluator (no
factoring, no reduction), so that it checks the exact energy DP from outside."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.reference import CostModel
from scope_opt.methods.enumerate import check_space_size
from scope_opt.methods.pareto.chain import FrontPoint
from scope_opt.methods.pareto.points import front
from scope_opt.methods.space import FeasibleParts, chiplet_choices, iter_allocations, iter_compositions, max_segment_length
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment


def _segments(inst: Instance, feasible: FeasibleParts, a: int, b: int, space: str) -> Iterator[Segment]:
    N = inst.package.chiplets
    if b == a + 1:
        for n in chiplet_choices(space, N):
            for p in feasible.single(a, n):
                yield Segment((Cluster(a, b, n, (p,)),))
        return
    for comp in iter_compositions(a, b, space):
        for alloc in iter_allocations(len(comp), N, chiplet_choices(space, N)):
            choices = [feasible.get(x, y, n) for (x, y), n in zip(comp, alloc)]
            for parts in itertools.product(*choices):
                yield Segment(tuple(Cluster(x, y, n, p) for ((x, y), n), p in zip(zip(comp, alloc), parts)))


def iter_mappings(inst: Instance, space: str, cost: CostModel) -> Iterator[Mapping]:
    """Every valid mapping of the space, one by one."""
    L = len(inst.network.layers)
    feasible = FeasibleParts(cost)
    longest = max_segment_length(space, L)

    def rest(a: int) -> Iterator[tuple[Segment, ...]]:
        if a == L:
            yield ()
            return
        for b in range(a + 1, min(L, a + longest) + 1):
            for seg in _segments(inst, feasible, a, b, space):
                for tail in rest(b):
                    yield (seg, *tail)

    for segs in rest(0):
        yield Mapping(segs)


def enumerated_points(inst: Instance, space: str, max_mappings: int, cost: CostModel | None = None) -> list[FrontPoint]:
    """Every valid mapping with the evaluator's (T, energy); refuses spaces over `max_mappings`."""
    cost = cost or CostModel(inst)
    check_space_size(inst, space, max_mappings)
    points = []
    for m in iter_mappings(inst, space, cost):
        ev = evaluate(inst, m, cost)
        points.append(FrontPoint(ev.latency_s, ev.energy.total_j, m, ev))
    return points


def enumerated_front(points: list[FrontPoint]) -> list[FrontPoint]:
    return front(points, key=lambda p: (p.latency_s, p.energy_j))
