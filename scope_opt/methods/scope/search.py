"""Scope's search as we read it (docs/search.md), and the two classic baselines built on
the same steps: segmentation by weight balance, clustering by compute balance,
allocation by min-max over the clusters, partitions by dynamic programming.

The segment step runs on the compiled tables (engine/scope_step.py); the plain Python
step below (`engine=False`) is its reference, and the tests check they agree exactly."""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from scope_opt.methods.baselines import layer_sequential
from scope_opt.cost.reference import CostModel
from scope_opt.cost.evaluate import evaluate
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Partition, Segment
from scope_opt.methods.result import SolveResult

INF = math.inf


@dataclass
class Tally:
    """Effort counters: candidate segment schedules scored, cluster cost tables filled."""

    mappings: int = 0
    clusters: int = 0
    segmentations: int = 0


class ClusterCosts:
    """Best partitions and stage time of a cluster (layer range, chiplets), cached."""

    def __init__(self, cost: CostModel, tally: Tally) -> None:
        self.cost, self.tally = cost, tally
        self.cache: dict[tuple[int, int, int], tuple[float, tuple[Partition, ...] | None]] = {}

    def __call__(self, a: int, b: int, n: int) -> tuple[float, tuple[Partition, ...] | None]:
        key = (a, b, n)
        if key not in self.cache:
            self.tally.clusters += 1
            self.cache[key] = self._solve(a, b, n)
        return self.cache[key]

    def _solve(self, a: int, b: int, n: int) -> tuple[float, tuple[Partition, ...] | None]:
        """Partition DP along the layers (only neighbours interact through ownership), then
        a memory repair: switch the layers holding most weight to their leanest partition
        until the cluster fits."""
        cost = self.cost
        options = cost.instance.allowed_partitions[n]
        t, parts = cost.partition_dp(a, b, n)
        if cost.fits(a, parts):
            return t, parts
        lean = {l: min(options, key=lambda p: float(cost.weight_bytes(l, p).max()) + float(cost.act_bytes(l, p).max()))
                for l in range(a, b)}
        order = sorted(range(a, b), key=lambda l: -cost.net.layers[l].weights)
        parts = list(parts)
        for l in order:
            parts[l - a] = lean[l]
            if cost.fits(a, tuple(parts)):
                return cost.cluster_time(a, tuple(parts)), tuple(parts)
        return INF, None


def balanced_cuts(prefix: np.ndarray, a: int, b: int, parts: int) -> list[int] | None:
    """Cut [a, b) into `parts` non-empty contiguous ranges whose sums of a per-layer load
    (prefix sums in `prefix`, prefix[i] = load of layers before i) are as even as the
    boundaries allow; returns the boundaries [a, ..., b]."""
    if parts > b - a:
        return None
    total = prefix[b] - prefix[a]
    bounds = [a]
    for k in range(1, parts):
        target = prefix[a] + total * k / parts
        i = int(np.searchsorted(prefix, target, side="left"))
        # the nearer of the two boundaries around the target
        if i > 0 and abs(prefix[i - 1] - target) <= abs(prefix[min(i, len(prefix) - 1)] - target):
            i -= 1
        i = max(i, bounds[-1] + 1)
        i = min(i, b - (parts - k))
        bounds.append(i)
    bounds.append(b)
    return bounds


def min_max_allocation(tables: list[list[float]], chiplets: int) -> tuple[float, list[int]]:
    """Give each cluster n_c >= 1 chiplets, sum <= `chiplets`, minimising the largest stage
    time; tables[c][n - 1] is cluster c's time on n chiplets.  Exact: binary search over
    the candidate stage times, each cluster taking the fewest chiplets that meet it."""
    prefix_min, prefix_arg = [], []
    for tab in tables:
        pm, pa, cur, arg = [], [], INF, 0
        for n, t in enumerate(tab, start=1):
            if t < cur:
                cur, arg = t, n
            pm.append(-cur)  # negated: non-decreasing, for bisect
            pa.append(arg)
        prefix_min.append(pm)
        prefix_arg.append(pa)

    def need(tau: float) -> list[int] | None:
        out = []
        for pm, pa in zip(prefix_min, prefix_arg):
            i = bisect.bisect_left(pm, -tau)
            if i == len(pm):
                return None
            out.append(pa[i])
        return out if sum(out) <= chiplets else None

    candidates = sorted({t for tab in tables for t in tab if t < INF})
    lo, hi = 0, len(candidates) - 1
    if not candidates or need(candidates[-1]) is None:
        return INF, []
    while lo < hi:
        mid = (lo + hi) // 2
        if need(candidates[mid]) is None:
            lo = mid + 1
        else:
            hi = mid
    alloc = need(candidates[lo])
    return max(tab[n - 1] for tab, n in zip(tables, alloc)), alloc


class ScopeSearch:
    """One search over an instance; `space` picks which clusterings are tried."""

    def __init__(self, instance: Instance, space: str = "merged", window: int = 16,
                 cost: CostModel | None = None, engine: bool = True) -> None:
        self.instance, self.space, self.window = instance, space, window
        self.cost = cost or CostModel(instance)
        self.tally = Tally()
        self.clusters = ClusterCosts(self.cost, self.tally)
        net = instance.network
        self.L = len(net.layers)
        self.N = instance.package.chiplets
        self.weight_prefix = np.concatenate([[0], np.cumsum([l.weights for l in net.layers])]).astype(float)
        # compute load for clustering: MACs, plus output elements so that pools weigh something
        load = [l.macs + l.K * l.H * l.W for l in net.layers]
        self.load_prefix = np.concatenate([[0], np.cumsum(load)]).astype(float)
        self.segment_cache: dict[tuple[int, int], tuple[float, Segment | None]] = {}
        self.engine = _EngineStep(instance, self.load_prefix) if engine else None

    # -- one segment -----------------------------------------------------------------
    def cluster_counts(self, a: int, b: int) -> Iterator[int]:
        if self.space == "segmented":
            yield b - a
        else:
            yield from range(1, min(b - a, self.N) + 1)

    def best_segment(self, a: int, b: int) -> tuple[float, Segment | None]:
        """Sweep the cluster count P; for each, compute-balanced cuts and the min-max
        allocation (each cluster with its DP partitions); keep the fastest T_s."""
        if (a, b) in self.segment_cache:
            return self.segment_cache[(a, b)]
        if self.engine is not None:
            best = self.engine.best_segment(a, b, self.space == "segmented", self.tally)
            if best[0] == INF and b - a == 1:
                best = self.engine.tiled(a)
            self.segment_cache[(a, b)] = best
            return best
        best: tuple[float, Segment | None] = (INF, None)
        for p in self.cluster_counts(a, b):
            bounds = balanced_cuts(self.load_prefix, a, b, p) if p < b - a else list(range(a, b + 1))
            if bounds is None or p > self.N:
                continue
            ranges = list(zip(bounds, bounds[1:]))
            tables = [[self.clusters(x, y, n)[0] for n in range(1, self.N + 1)] for x, y in ranges]
            stage, alloc = min_max_allocation(tables, self.N)
            self.tally.mappings += 1
            if stage == INF:
                continue
            t = self.cost.segment_time(a, b, stage, p)
            if t < best[0]:
                seg = Segment(tuple(Cluster(x, y, n, self.clusters(x, y, n)[1]) for (x, y), n in zip(ranges, alloc)))
                best = (t, seg)
        if best[0] == INF and b - a == 1:
            best = self.tiled(a)
        self.segment_cache[(a, b)] = best
        return best

    def tiled(self, l: int) -> tuple[float, Segment | None]:
        """A layer that fits on no chiplet count alone in its segment: the fastest way to
        stream its weights in tiles (first minimum over chiplets, then partitions)."""
        best: tuple[float, Segment | None] = (INF, None)
        for n in range(1, self.N + 1):
            for p in self.instance.allowed_partitions[n]:
                t = self.cost.single_segment_time(l, p)
                if t < best[0]:
                    best = (t, Segment((Cluster(l, l + 1, n, (p,)),)))
        return best

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

    def __init__(self, instance: Instance, load_prefix: np.ndarray) -> None:
        from scope_opt.cost.layer_tables import build_layer_tables
        from scope_opt.methods.scope.step_kernels import flatten
        from scope_opt.cost.segment_tables import segment_traffic_table
        self.instance = instance
        self.tables = build_layer_tables(instance)
        self.flat = flatten(self.tables)
        L, N = len(instance.network.layers), instance.package.chiplets
        dram, weights = segment_traffic_table(instance)
        self.dram_s, self.weights_s = dram / instance.package.dram_bps, weights / instance.package.dram_bps
        self.wsize = np.array([layer.weights for layer in instance.network.layers], np.int64)
        self.load_prefix = load_prefix
        self.cache = np.full((L, L + 1, N + 1), INF)
        self.done = np.zeros((L, L + 1), np.bool_)
        self.single = None  # one-layer segment table, built when a layer needs tiling

    def tiled(self, l: int) -> tuple[float, Segment | None]:
        """ScopeSearch.tiled on the compiled tables."""
        from scope_opt.cost.segment_tables import single_segment_table
        if self.single is None:
            self.single = single_segment_table(self.instance, self.tables, range(1, self.instance.package.chiplets + 1))
        t, n, j = (v[l] for v in self.single)
        if t == INF:
            return INF, None
        p = self.tables.parts[int(n)][int(j)]
        return float(t), Segment((Cluster(l, l + 1, int(n), ((int(p[0]), int(p[1])),)),))

    def best_segment(self, a: int, b: int, segmented: bool, tally: Tally) -> tuple[float, Segment | None]:
        from scope_opt.methods.scope.step_kernels import cluster_step, scope_segment
        t, p, bounds, alloc, scored, filled = scope_segment(
            self.flat, a, b, segmented, self.instance.batch, self.load_prefix, self.wsize, self.dram_s,
            self.weights_s, self.cache, self.done)
        tally.mappings += int(scored)
        tally.clusters += int(filled)
        if t == INF:
            return INF, None
        clusters = []
        for c in range(p):
            x, y, n = int(bounds[c]), int(bounds[c + 1]), int(alloc[c])
            path, scratch = np.empty(y - x, np.int64), np.empty((2, n), np.int64)
            cluster_step(self.flat, x, y, n, self.wsize, path, scratch[0], scratch[1])
            parts = self.tables.parts[n]
            clusters.append(Cluster(x, y, n, tuple((int(parts[j, 0]), int(parts[j, 1])) for j in path)))
        return float(t), Segment(tuple(clusters))


def search(instance: Instance, method: str = "scope", space: str | None = None, window: int = 16,
           cost: CostModel | None = None, engine: bool = True) -> SolveResult:
    """Run a heuristic: scope (merged unless `space` says otherwise), segmented, sequential."""
    start = time.perf_counter()
    cost = cost or CostModel(instance)
    if method == "sequential" or space == "sequential":
        mapping = layer_sequential(instance, "best", cost)
        found, tally, space = None, Tally(mappings=1), "sequential"
    else:
        space = "segmented" if method == "segmented" else (space or "merged")
        s = ScopeSearch(instance, space, window, cost, engine)
        found, mapping = s.run()
        tally = s.tally
    elapsed = time.perf_counter() - start
    ev = evaluate(instance, mapping, cost) if mapping is not None else None
    stats = {"cluster_tables": tally.clusters, "segmentations": tally.segmentations}
    if found is not None and ev is not None and math.isfinite(found):
        stats["search_latency_s"] = found
    status = "heuristic" if ev is not None and ev.feasible else "infeasible"
    return SolveResult(method, space, status, mapping, ev,
                       None, elapsed, tally.mappings, {"window": window} if method != "sequential" else {}, stats)


__all__ = ["search", "ScopeSearch", "min_max_allocation", "balanced_cuts"]
