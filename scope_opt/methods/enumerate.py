"""The exhaustive enumerator: every distinct valid mapping of a small instance, scored
by factoring the space (clusters and segments score independently; a segment's T_s
values are an outer max over its clusters' stage times, the network's T values an
outer sum over its segments)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from scope_opt.cost import formulas
from scope_opt.cost.reference import CostModel
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.cost.evaluate import evaluate
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment
from scope_opt.methods.result import SolveResult
from scope_opt.methods.space import (FeasibleParts, StructuralSpace, chiplet_choices, iter_allocations, iter_compositions,
                     max_segment_length)

DEFAULT_MAX_MAPPINGS = 2_000_000  # the enumerator refuses larger spaces (--max-mappings)
RANK_RTOL = 1e-9  # T values closer than this (relative) count as equal, not lower


@dataclass(frozen=True)
class Enumeration:
    space: str
    count: int  # distinct valid mappings
    structural: int  # all decision combinations, memory ignored
    best_latency_s: float
    best: Mapping | None
    latencies: np.ndarray  # every valid mapping's T, sorted

    def rank(self, latency_s: float) -> float:
        """Share of valid mappings with T strictly lower than `latency_s`."""
        if self.count == 0:
            return math.nan
        return int(np.searchsorted(self.latencies, latency_s * (1 - RANK_RTOL), side="left")) / self.count


class _Scorer:
    """Every valid partition tuple's stage time per cluster, and every T_s per segment."""

    def __init__(self, instance: Instance, space: str, cost: CostModel) -> None:
        self.instance, self.space, self.cost = instance, space, cost
        self.feasible = FeasibleParts(cost)
        self.times: dict[tuple[int, int, int], np.ndarray] = {}

    def cluster_times(self, x: int, y: int, n: int) -> np.ndarray:
        if (x, y, n) not in self.times:
            self.times[(x, y, n)] = np.array([self.cost.cluster_time(x, p) for p in self.feasible.get(x, y, n)],
                                             dtype=float)
        return self.times[(x, y, n)]

    def single(self, a: int) -> tuple[list[np.ndarray], tuple[float, Segment | None]]:
        """One layer alone: a closed form of (chiplets, partition), weights tiled if need be."""
        chunks, best = [], (math.inf, None)
        for n in chiplet_choices(self.space, self.instance.package.chiplets):
            for p in self.feasible.single(a, n):
                t = self.cost.single_segment_time(a, p)
                chunks.append(np.array([t]))
                if t < best[0]:
                    best = (t, Segment((Cluster(a, a + 1, n, (p,)),)))
        return chunks, best

    def segment(self, a: int, b: int) -> tuple[np.ndarray, tuple[float, Segment | None]]:
        """Every valid T_s of segment [a, b), and the least with its segment."""
        if formulas.may_tile(a, b):
            chunks, best = self.single(a)
            return (np.concatenate(chunks) if chunks else np.zeros(0)), best
        d, w = self.cost.segment_traffic(a, b)
        bw, N = self.instance.package.dram_bps, self.instance.package.chiplets
        chunks, best = [], (math.inf, None)
        for comp in iter_compositions(a, b, self.space):
            for alloc in iter_allocations(len(comp), N, chiplet_choices(self.space, N)):
                arrays = [self.cluster_times(x, y, n) for (x, y), n in zip(comp, alloc)]
                if any(arr.size == 0 for arr in arrays):
                    continue
                stage = arrays[0]
                for arr in arrays[1:]:
                    stage = np.maximum.outer(stage, arr).ravel()
                t = formulas.segment_time(self.instance.batch, len(comp), formulas.resident_period(stage, d / bw), w / bw)
                chunks.append(t)
                i = int(np.argmin(t))
                if t[i] < best[0]:
                    idx = np.unravel_index(i, [arr.size for arr in arrays])
                    best = (float(t[i]), Segment(tuple(Cluster(x, y, n, self.feasible.get(x, y, n)[k])
                                                      for ((x, y), n), k in zip(zip(comp, alloc), idx))))
        return (np.concatenate(chunks) if chunks else np.zeros(0)), best


def _combine(L: int, max_len: int, seg_values: dict, seg_best: dict) -> tuple[np.ndarray, float, list[Segment]]:
    """Every mapping's T (an outer sum over its segments' T_s) and the least, with its segments."""
    prefix: list[np.ndarray] = [np.zeros(1)]
    best_prefix: list[tuple[float, list[Segment]]] = [(0.0, [])]
    for j in range(1, L + 1):
        parts, bp = [], (math.inf, [])
        for i in range(max(0, j - max_len), j):
            vals = seg_values.get((i, j))
            if vals is None or vals.size == 0 or prefix[i].size == 0:
                continue
            parts.append(np.add.outer(prefix[i], vals).ravel())
            t = best_prefix[i][0] + seg_best[(i, j)][0]
            if t < bp[0]:
                bp = (t, best_prefix[i][1] + [seg_best[(i, j)][1]])
        prefix.append(np.concatenate(parts) if parts else np.zeros(0))
        best_prefix.append(bp)
    return np.sort(prefix[L]), best_prefix[L][0], best_prefix[L][1]


def check_space_size(instance: Instance, space: str, max_mappings: int) -> int:
    """The space's structural size; refuses one over `max_mappings` (--max-mappings)."""
    structural = StructuralSpace.build(instance, space).size
    if structural > max_mappings:
        raise InputError(instance.source or instance.name, "--max-mappings",
                         f"the {space} space has {structural} mappings, more than the limit {max_mappings}; "
                         "raise --max-mappings or use a smaller instance")
    return structural


def enumerate_space(instance: Instance, space: str = "merged", max_mappings: int = DEFAULT_MAX_MAPPINGS,
                    cost: CostModel | None = None) -> Enumeration:
    """Every distinct valid mapping's T, scored by the plain Python reference `cost`."""
    cost = cost or CostModel(instance)
    structural = check_space_size(instance, space, max_mappings)
    L = len(instance.network.layers)
    scorer = _Scorer(instance, space, cost)
    seg_values, seg_best = {}, {}
    for a in range(L):
        for b in range(a + 1, min(L, a + max_segment_length(space, L)) + 1):
            seg_values[(a, b)], seg_best[(a, b)] = scorer.segment(a, b)
    values, t_best, segs = _combine(L, max_segment_length(space, L), seg_values, seg_best)
    return Enumeration(space, int(values.size), structural, t_best, Mapping(tuple(segs)) if segs else None, values)


def solve_enumerate(instance: Instance, space: str = "merged", max_mappings: int = DEFAULT_MAX_MAPPINGS,
                    terms: CostTerms | None = None) -> tuple[SolveResult, Enumeration]:
    start = time.perf_counter()
    cost = (terms or CostTerms(instance)).reference
    en = enumerate_space(instance, space, max_mappings, cost)
    elapsed = time.perf_counter() - start
    ev = evaluate(instance, en.best, cost) if en.best else None
    status = "optimal" if en.best else "infeasible"
    result = SolveResult("enumerate", space, status, en.best, ev, en.best_latency_s if en.best else None, elapsed,
                         en.count, {"max_mappings": max_mappings},
                         {"valid_mappings": en.count, "structural_mappings": en.structural})
    return result, en
