"""The Scope search's steps in plain Python: the reference the compiled segment step
(step_kernels.py) is tested against, statement for statement, and the step the search
runs with `engine=False`.  Compute-balanced cuts, the min-max chiplet allocation, and a
cluster's partitions by a DP along its layers plus a memory repair."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from scope_opt.cost.reference import CostModel
from scope_opt.problem.mapping import Cluster, Partition, Segment

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


def reference_segment(cost: CostModel, clusters: ClusterCosts, load_prefix: np.ndarray, counts, a: int, b: int,
                      tally: Tally) -> tuple[float, Segment | None]:
    """Sweep the cluster counts P in `counts`; for each, compute-balanced cuts and the
    min-max allocation (each cluster with its DP partitions); keep the fastest T_s."""
    N = cost.instance.package.chiplets
    best: tuple[float, Segment | None] = (INF, None)
    for p in counts:
        bounds = balanced_cuts(load_prefix, a, b, p) if p < b - a else list(range(a, b + 1))
        if bounds is None or p > N:
            continue
        ranges = list(zip(bounds, bounds[1:]))
        tables = [[clusters(x, y, n)[0] for n in range(1, N + 1)] for x, y in ranges]
        stage, alloc = min_max_allocation(tables, N)
        tally.mappings += 1
        if stage == INF:
            continue
        t = cost.segment_time(a, b, stage, p)
        if t < best[0]:
            best = (t, Segment(tuple(Cluster(x, y, n, clusters(x, y, n)[1]) for (x, y), n in zip(ranges, alloc))))
    return best


def reference_tiled(cost: CostModel, l: int) -> tuple[float, Segment | None]:
    """A layer that fits on no chiplet count alone in its segment: the fastest way to
    stream its weights in tiles (first minimum over chiplets, then partitions)."""
    best: tuple[float, Segment | None] = (INF, None)
    for n in range(1, cost.instance.package.chiplets + 1):
        for p in cost.instance.allowed_partitions[n]:
            t = cost.single_segment_time(l, p)
            if t < best[0]:
                best = (t, Segment((Cluster(l, l + 1, n, (p,)),)))
    return best
