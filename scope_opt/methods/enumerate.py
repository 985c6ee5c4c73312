"""The exhaustive enumerator: every distinct valid mapping of a small instance, scored
by factoring the space (clusters and segments score independently; a segment's T_s
values are an outer max over its clusters' stage times, the network's T values an
outer sum over its segments)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from scope_opt.cost.reference import CostModel
from scope_opt.errors import InputError
from scope_opt.cost.evaluate import evaluate
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment
from scope_opt.methods.result import SolveResult
from scope_opt.methods.space import (FeasibleParts, StructuralSpace, chiplet_choices, iter_allocations, iter_compositions,
                     max_segment_length)

DEFAULT_MAX_MAPPINGS = 2_000_000
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


def enumerate_space(instance: Instance, space: str = "merged", max_mappings: int = DEFAULT_MAX_MAPPINGS,
                    cost: CostModel | None = None) -> Enumeration:
    cost = cost or CostModel(instance)
    structural = StructuralSpace.build(instance, space).size
    if structural > max_mappings:
        raise InputError(instance.source or instance.name, "--max-mappings",
                         f"the {space} space has {structural} mappings, more than the limit {max_mappings}; "
                         "raise --max-mappings or use a smaller instance")
    L, N = len(instance.network.layers), instance.package.chiplets
    feasible = FeasibleParts(cost)
    times: dict[tuple[int, int, int], np.ndarray] = {}

    def cluster_times(x: int, y: int, n: int) -> np.ndarray:
        if (x, y, n) not in times:
            times[(x, y, n)] = np.array([cost.cluster_time(x, p) for p in feasible.get(x, y, n)], dtype=float)
        return times[(x, y, n)]

    batch, bw = instance.batch, instance.package.dram_bps
    seg_values: dict[tuple[int, int], np.ndarray] = {}
    seg_best: dict[tuple[int, int], tuple[float, Segment | None]] = {}
    for a in range(L):
        for b in range(a + 1, min(L, a + max_segment_length(space, L)) + 1):
            d, w = cost.segment_traffic(a, b)
            chunks, best = [], (math.inf, None)
            if b - a == 1:  # one layer alone: a closed form of (chiplets, partition), weights tiled if need be
                for n in chiplet_choices(space, N):
                    for p in feasible.single(a, n):
                        t = cost.single_segment_time(a, p)
                        chunks.append(np.array([t]))
                        if t < best[0]:
                            best = (t, Segment((Cluster(a, b, n, (p,)),)))
                seg_values[(a, b)] = np.concatenate(chunks) if chunks else np.zeros(0)
                seg_best[(a, b)] = best
                continue
            for comp in iter_compositions(a, b, space):
                p = len(comp)
                for alloc in iter_allocations(p, N, chiplet_choices(space, N)):
                    arrays = [cluster_times(x, y, n) for (x, y), n in zip(comp, alloc)]
                    if any(arr.size == 0 for arr in arrays):
                        continue
                    stage = arrays[0]
                    for arr in arrays[1:]:
                        stage = np.maximum.outer(stage, arr).ravel()
                    t = (batch + p - 1) * np.maximum(stage, d / bw) + w / bw
                    chunks.append(t)
                    i = int(np.argmin(t))
                    if t[i] < best[0]:
                        idx = np.unravel_index(i, [arr.size for arr in arrays])
                        seg = Segment(tuple(Cluster(x, y, n, feasible.get(x, y, n)[k])
                                            for ((x, y), n), k in zip(zip(comp, alloc), idx)))
                        best = (float(t[i]), seg)
            seg_values[(a, b)] = np.concatenate(chunks) if chunks else np.zeros(0)
            seg_best[(a, b)] = best
    prefix: list[np.ndarray] = [np.zeros(1)]
    best_prefix: list[tuple[float, list[Segment]]] = [(0.0, [])]
    for j in range(1, L + 1):
        parts, bp = [], (math.inf, [])
        for i in range(max(0, j - max_segment_length(space, L)), j):
            vals = seg_values.get((i, j))
            if vals is None or vals.size == 0 or prefix[i].size == 0:
                continue
            parts.append(np.add.outer(prefix[i], vals).ravel())
            t = best_prefix[i][0] + seg_best[(i, j)][0]
            if t < bp[0]:
                bp = (t, best_prefix[i][1] + [seg_best[(i, j)][1]])
        prefix.append(np.concatenate(parts) if parts else np.zeros(0))
        best_prefix.append(bp)
    values = np.sort(prefix[L])
    t_best, segs = best_prefix[L]
    return Enumeration(space, int(values.size), structural, t_best, Mapping(tuple(segs)) if segs else None, values)


def solve_enumerate(instance: Instance, space: str = "merged", max_mappings: int = DEFAULT_MAX_MAPPINGS,
                    cost: CostModel | None = None) -> tuple[SolveResult, Enumeration]:
    start = time.perf_counter()
    cost = cost or CostModel(instance)
    en = enumerate_space(instance, space, max_mappings, cost)
    elapsed = time.perf_counter() - start
    ev = evaluate(instance, en.best, cost) if en.best else None
    status = "optimal" if en.best else "infeasible"
    result = SolveResult("enumerate", space, status, en.best, ev, en.best_latency_s if en.best else None, elapsed,
                         en.count, {"max_mappings": max_mappings},
                         {"valid_mappings": en.count, "structural_mappings": en.structural})
    return result, en
