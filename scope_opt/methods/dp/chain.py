"""The chain DP: the exact optimum of a whole network from the exact cluster tables.

Segments run one after another and each holds the whole package, so T* is a shortest
path over segment boundaries 0..L whose arc (a, b) costs the least T_s of segment
[a, b); inside a segment the least T_s for a cluster count P is a min-bottleneck chain
partition of its layers into P clusters with a chiplet budget (docs/exact-models.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

from scope_opt.errors import InputError
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment
from scope_opt.methods.dp.clusters import cluster_partitions, cluster_table
from scope_opt.cost.layer_tables import LayerTables, build_layer_tables
from scope_opt.cost.segment_tables import (backtrack_segment, best_segments, segment_pipelines, segment_traffic_table, shortest_path,
                       single_segment_table)

INF = math.inf
MEMORY_LIMIT_BYTES = 4 * 2**30  # refuse a DP whose tables would need more than this


@njit(cache=True)
def _budget_table(tab, tabm, argn):
    """tabm[x, y, k] = min over n <= k of tab[x, y, n] (idle chiplets are allowed and tab is
    not monotone in n); argn = the least n attaining it."""
    L, Y, M = tab.shape
    for x in range(L):
        for y in range(Y):
            best, arg = INF, 0
            for k in range(1, M):
                if tab[x, y, k] < best:
                    best, arg = tab[x, y, k], k
                tabm[x, y, k] = best
                argn[x, y, k] = arg
            tabm[x, y, 0] = INF


def dp_memory_bytes(layers: int, chiplets: int) -> int:
    """What the DP's dense tables take: tab, tabm, argn over (x, y, n) and one segment's
    (P, y, k) pipeline table."""
    cube = layers * (layers + 1) * (chiplets + 1)
    pipes = (min(layers, chiplets) + 1) * (layers + 1) * (chiplets + 1)
    return 8 * (3 * cube + pipes)


@dataclass(frozen=True)
class ChainSolution:
    latency_s: float
    mapping: Mapping | None
    segment_times: tuple[float, ...]
    stats: dict


def chain_dp(instance: Instance, space: str = "merged", tables: LayerTables | None = None,
             progress: Callable[[str], None] | None = None, memory_limit: int = MEMORY_LIMIT_BYTES,
             max_clusters: int | None = None) -> ChainSolution:
    """Exact least T over the space (merged, segmented or sequential), and a mapping.
    With `max_clusters` (fastdp): at most that many clusters (pipeline stages) per segment,
    and the quick cluster tables; every mapping it returns is valid and re-scored, but T
    is only an upper bound on the optimum."""
    import time
    net, pkg = instance.network, instance.package
    L, N = len(net.layers), pkg.chiplets
    need = dp_memory_bytes(L, N)
    if need > memory_limit:
        raise InputError(instance.source or instance.name, "workload/hardware",
                         f"the chain DP needs about {need / 2**30:.1f} GiB for {L} layers on {N} chiplets "
                         f"(limit {memory_limit / 2**30:.1f} GiB); slice the network with workload.layers, "
                         "use a smaller mesh, or --space segmented/sequential")
    say = progress or (lambda _: None)
    timings = {}
    t0 = time.perf_counter()
    say("layer tables")
    tables = tables or build_layer_tables(instance)
    timings["layer_tables_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("cluster tables")
    quick = max_clusters is not None  # fastdp: the quick cluster tables (real tuples, maybe not the least)
    if space == "sequential":
        tab, peak = cluster_table(tables, 1, range(N, N + 1), quick)
    else:
        tab, peak = cluster_table(tables, L if space == "merged" else 1, quick=quick)
    timings["cluster_tables_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("segments")
    dram, weights = segment_traffic_table(instance)
    dram_s = dram / pkg.dram_bps
    weights_s = weights / pkg.dram_bps
    f = np.full((L, L + 1), INF)
    fp = np.zeros((L, L + 1), np.int64)
    tabm = np.empty_like(tab)
    argn = np.zeros(tab.shape, np.int64)
    if space != "sequential":
        _budget_table(tab, tabm, argn)
        best_segments(tabm, dram_s, weights_s, instance.batch, min(L, N, max_clusters or L), f, fp)
    # a one-layer segment is a closed form of its chiplets and partition, weight tiling
    # included; with t = 1 it equals the value above, so this only adds options
    single, single_n, single_j = single_segment_table(instance, tables, range(N, N + 1) if space == "sequential"
                                                      else range(1, N + 1))
    idx = np.arange(L)
    f[idx, idx + 1] = single
    fp[idx, idx + 1] = 1
    dist, prev = shortest_path(f)
    timings["segments_s"] = time.perf_counter() - t0
    stats = {**timings, "peak_labels": int(peak), "fitting_clusters": int(np.isfinite(tab).sum()),
             "feasible_segments": int(np.isfinite(f).sum())}
    if not math.isfinite(dist[L]):
        return ChainSolution(INF, None, (), stats)
    say("mapping")
    cuts = [L]
    while cuts[-1] > 0:
        cuts.append(int(prev[cuts[-1]]))
    cuts.reverse()
    segments, times = [], []
    G = np.empty((min(L, N, max_clusters or L) + 1, L + 1, N + 1))
    for a, b in zip(cuts, cuts[1:]):
        p = int(fp[a, b])
        times.append(float(f[a, b]))
        if b - a == 1:
            parts = tables.parts[int(single_n[a])][int(single_j[a])]
            segments.append(Segment((Cluster(a, b, int(single_n[a]), ((int(parts[0]), int(parts[1])),)),)))
            continue
        segment_pipelines(tabm, a, p, b, G)
        clusters = [tuple(int(v) for v in row) for row in backtrack_segment(tabm, a, b, p, G)]
        segs = []
        for x, y, budget in clusters:
            n = int(argn[x, y, budget])
            t, parts = cluster_partitions(tables, x, y, n, quick)
            assert parts is not None and t == tab[x, y, n]
            segs.append(Cluster(x, y, n, parts))
        segments.append(Segment(tuple(segs)))
    return ChainSolution(float(dist[L]), Mapping(tuple(segments)), tuple(times), stats)
