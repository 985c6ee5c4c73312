"""Scope's search as we read it (docs/search.md), and the two classic baselines built on
the same steps: segmentation by weight balance, clustering by compute balance,
allocation by min-max over the clusters, partitions by dynamic programming.

The segment step runs on the compiled tables (step_kernels.py); the plain Python step
(reference_step.py, `engine=False`) is its reference, and the tests check they agree."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np

from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.formulas import may_tile
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.baselines import layer_sequential
from scope_opt.methods.result import SolveResult
from scope_opt.methods.scope.reference_step import (ClusterCosts, Tally, balanced_cuts, min_max_allocation,
                                                    reference_segment, reference_tiled)
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment

INF = math.inf
DEFAULT_WINDOW = 16  # segment counts tried after the fewest whose weights fit (docs/search.md)


class ScopeSearch:
    """One search over an instance; `space` picks which clusterings are tried."""

    def __init__(self, instance: Instance, space: str = "merged", window: int = DEFAULT_WINDOW,
                 terms: CostTerms | None = None, engine: bool = True) -> None:
        self.instance, self.space, self.window = instance, space, window
        self.terms = terms or CostTerms(instance)
        self.cost = self.terms.reference
        self.tally = Tally()
        self.clusters = ClusterCosts(self.cost, self.tally)
        self.L = self.terms.layers
        self.N = self.terms.chiplets
        self.weight_prefix = self.terms.weight_prefix
        self.load_prefix = self.terms.load_prefix
        self.segment_cache: dict[tuple[int, int], tuple[float, Segment | None]] = {}
        self.engine = _EngineStep(self.terms) if engine else None

    # -- one segment -----------------------------------------------------------------
    def cluster_counts(self, a: int, b: int) -> Iterator[int]:
        if self.space == "segmented":
            yield b - a
        else:
            yield from range(1, min(b - a, self.N) + 1)

    def best_segment(self, a: int, b: int) -> tuple[float, Segment | None]:
        """The search's schedule of segment [a, b); a one-layer segment that fits on no
        chiplet count streams its weights in tiles."""
        if (a, b) not in self.segment_cache:
            if self.engine is not None:
                best = self.engine.best_segment(a, b, self.space == "segmented", self.tally)
            else:
                best = reference_segment(self.cost, self.clusters, self.load_prefix, self.cluster_counts(a, b), a, b,
                                         self.tally)
            if best[0] == INF and may_tile(a, b):
                best = self.terms.single_segment(a) if self.engine is not None else reference_tiled(self.cost, a)
            self.segment_cache[(a, b)] = best
        return self.segment_cache[(a, b)]

    # -- segmentation ------------------------------------------------------------------
    def segmentations(self) -> Iterator[list[int]]:
        """Weight-balanced cuts for a window of segment counts, starting from the fewest
        segments whose weights could fit in the package's SRAM."""
        capacity = self.N * self.instance.package.sram_bytes / self.instance.package.bytes_per_element
        # at most one segment per layer: weights beyond the package stream in tiles
        s_min = min(self.L, max(1, math.ceil(self.weight_prefix[-1] / capacity)))
        if self.space == "segmented":
            s_min = max(s_min, math.ceil(self.L / self.N))
        seen = set()
        for s in range(s_min, min(self.L, s_min + self.window) + 1):
            bounds = balanced_cuts(self.weight_prefix, 0, self.L, s)
            bounds = self._split_long(bounds)
            if tuple(bounds) not in seen:
                seen.add(tuple(bounds))
                yield bounds

    def _split_long(self, bounds: list[int]) -> list[int]:
        """A segmented pipeline needs at most one layer per chiplet in a segment."""
        if self.space != "segmented":
            return bounds
        out = [bounds[0]]
        for x, y in zip(bounds, bounds[1:]):
            k = math.ceil((y - x) / self.N)
            out.extend(balanced_cuts(self.weight_prefix, x, y, k)[1:] if k > 1 else [y])
        return out

    def solve_range(self, x: int, y: int) -> list[tuple[float, Segment | None]]:
        """Best schedule of segment [x, y); a segment that cannot fit is split in two by
        weight (recursively), so memory is respected whatever the first cut was."""
        t, seg = self.best_segment(x, y)
        if t < INF or y - x == 1:
            return [(t, seg)]
        mid = balanced_cuts(self.weight_prefix, x, y, 2)[1]
        return self.solve_range(x, mid) + self.solve_range(mid, y)

    def run(self) -> tuple[float, Mapping | None]:
        best: tuple[float, Mapping | None] = (INF, None)
        for bounds in self.segmentations():
            self.tally.segmentations += 1
            parts = [r for x, y in zip(bounds, bounds[1:]) for r in self.solve_range(x, y)]
            total = sum(t for t, _ in parts)
            if total < best[0]:
                best = (total, Mapping(tuple(seg for _, seg in parts)))
        return best


class _EngineStep:
    """ScopeSearch.best_segment on the compiled tables, with its cluster cache."""

    def __init__(self, terms: CostTerms) -> None:
        self.terms = terms
        L, N = terms.layers, terms.chiplets
        self.cache = np.full((L, L + 1, N + 1), INF)
        self.done = np.zeros((L, L + 1), np.bool_)

    def best_segment(self, a: int, b: int, segmented: bool, tally: Tally) -> tuple[float, Segment | None]:
        from scope_opt.methods.scope.step_kernels import scope_segment
        tm = self.terms
        t, p, bounds, alloc, scored, filled = scope_segment(
            tm.flat, a, b, segmented, tm.instance.batch, tm.load_prefix, tm.wsize, tm.dram_s, tm.weights_s,
            self.cache, self.done)
        tally.mappings += int(scored)
        tally.clusters += int(filled)
        if t == INF:
            return INF, None
        return float(t), Segment(tuple(step_cluster(tm, int(bounds[c]), int(bounds[c + 1]), int(alloc[c]))
                                       for c in range(p)))


def step_cluster(terms: CostTerms, x: int, y: int, n: int) -> Cluster:
    """Cluster [x, y) on n chiplets with the partitions the search's cluster step picks."""
    from scope_opt.methods.scope.step_kernels import cluster_step
    path, scratch = np.empty(y - x, np.int64), np.empty((2, n), np.int64)
    cluster_step(terms.flat, x, y, n, terms.wsize, path, scratch[0], scratch[1])
    return Cluster(x, y, n, tuple(terms.partition(n, int(j)) for j in path))


def search(instance: Instance, method: str = "scope", space: str | None = None, window: int = DEFAULT_WINDOW,
           terms: CostTerms | None = None, engine: bool = True) -> SolveResult:
    """Run a heuristic: scope (merged unless `space` says otherwise), segmented, sequential."""
    start = time.perf_counter()
    terms = terms or CostTerms(instance)
    if method == "sequential" or space == "sequential":
        mapping = layer_sequential(instance, "best", terms.reference)
        found, tally, space = None, Tally(mappings=1), "sequential"
    else:
        space = "segmented" if method == "segmented" else (space or "merged")
        s = ScopeSearch(instance, space, window, terms, engine)
        found, mapping = s.run()
        tally = s.tally
    elapsed = time.perf_counter() - start
    ev = evaluate(instance, mapping, terms.reference) if mapping is not None else None
    stats = {"cluster_tables": tally.clusters, "segmentations": tally.segmentations}
    if found is not None and ev is not None and math.isfinite(found):
        stats["search_latency_s"] = found
    status = "heuristic" if ev is not None and ev.feasible else "infeasible"
    return SolveResult(method, space, status, mapping, ev,
                       None, elapsed, tally.mappings, {"window": window} if method != "sequential" else {}, stats)


__all__ = ["search", "ScopeSearch", "min_max_allocation", "balanced_cuts", "DEFAULT_WINDOW"]
