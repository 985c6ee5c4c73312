"""The chain DP: the exact optimum of a whole network from the exact cluster tables.

Segments run one after another and each holds the whole package, so T* is a shortest
path over segment boundaries 0..L whose arc (a, b) costs the least T_s of segment
[a, b); inside a segment the least T_s for a cluster count P is a min-bottleneck chain
partition of its layers into P clusters with a chiplet budget (docs/exact-models.md)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from scope_opt.cost.formulas import may_tile
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError, InvariantError
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment
from scope_opt.methods.dp.clusters import cluster_partitions, cluster_table, least_work
from scope_opt.methods.deadline import check_time
from scope_opt.methods.dp.pipelines import (backtrack_segment, best_segments, prefix_lower_bounds, segment_pipelines,
                                          shortest_path, start_order)

INF = math.inf
MEMORY_LIMIT_BYTES = 4 * 2**30  # refuse a DP whose tables would need more than this


@njit(cache=True)
def budget_table(tab, tabm, argn):
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


def _budget(tab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tabm, argn = np.empty_like(tab), np.zeros(tab.shape, np.int64)
    budget_table(tab, tabm, argn)
    return tabm, argn


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
    stats: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Tables:
    """The DP's tables: clusters (tab, with budgets tabm / argn) and segments (f, fp)."""

    tab: np.ndarray
    tabm: np.ndarray
    argn: np.ndarray
    f: np.ndarray  # least T_s of every segment [a, b)
    fp: np.ndarray  # its cluster count
    single_n: np.ndarray  # one-layer segments: chiplet count and partition index
    single_j: np.ndarray
    max_p: int
    quick: bool
    peak: int


def _check_memory(instance: Instance, memory_limit: int) -> None:
    L, N = len(instance.network.layers), instance.package.chiplets
    need = dp_memory_bytes(L, N)
    if need > memory_limit:
        raise InputError(instance.source or instance.name, "workload/hardware",
                         f"the chain DP needs about {need / 2**30:.1f} GiB for {L} layers on {N} chiplets "
                         f"(limit {memory_limit / 2**30:.1f} GiB); slice the network with workload.layers, "
                         "use a smaller mesh, or --space segmented/sequential")


SEGMENT_CHUNK = 8  # segment starts per call of the parallel kernel, between two checks of the time limit
PROGRESS_EVERY_S = 0.5  # at most this often a progress line within one step


def _ticker(step: str, say: Callable[[str], None], deadline: float) -> Callable[[int, int], None]:
    """tick(done, total): checks the time limit and says '<step> done/total' now and then."""
    last = [time.monotonic()]

    def tick(done: int, total: int) -> None:
        check_time(deadline, step)
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or done == total:
            last[0] = now
            say(f"{step} {done}/{total}")
    return tick


USELESS_SLACK = 1e-9  # relative: far above the round-off of a path's sum, so no optimal stage is cut


def _segments(tabm, terms: CostTerms, max_p: int, f, fp, tick: Callable[[int, int], None], t_ub: float,
              single: np.ndarray, least_s: np.ndarray | None) -> None:
    """best_segments over every start, a chunk at a time so that the time limit is checked.
    With a known T_ub, starts go in order and each start a is pruned by T_ub less a lower
    bound on the time before it (prefix_lower_bounds) and the DRAM time of every weight
    after it: a segment from a on a path no slower than T_ub has
    T_s <= T_ub - dist(a) - W[a, L) / b_dram, less the least compute time (least_s, per
    layer) of the layers after its stages (docs/exact-models.md, "Useless stages")."""
    L = terms.layers
    pruned = math.isfinite(t_ub)
    tail = np.zeros(L + 1)
    if pruned and least_s is not None:
        tail[:L] = np.cumsum(least_s[::-1])[::-1]
    order = np.arange(L) if pruned else start_order(L)
    before = np.zeros(L + 1)
    idx = np.arange(L)
    f[idx, idx + 1] = single  # final already: read by the prefix bounds
    for i in range(0, L, SEGMENT_CHUNK):
        starts = order[i:i + SEGMENT_CHUNK]
        limits = np.full(len(starts), INF)
        if pruned:
            prefix_lower_bounds(f, terms.weights_s, tail, i, int(starts[-1]), before)
            limits = t_ub - before[starts] - terms.weights_s[starts, L] + USELESS_SLACK * t_ub
        best_segments(tabm, terms.dram_s, terms.weights_s, terms.instance.batch, max_p, f, fp, starts, limits, tail)
        tick(min(i + SEGMENT_CHUNK, L), L)


def _best_path_s(tab, terms: CostTerms, max_p: int, single: np.ndarray, limits: np.ndarray) -> float:
    """T of the best mapping whose segments are one layer (free from `single`) or pipelines
    of the clusters in tab (at most max_p stages), by the same segment step as the DP."""
    L = terms.layers
    idx = np.arange(L)
    f = np.full((L, L + 1), INF)
    f[idx, idx + 1] = single
    best_segments(tab, terms.dram_s, terms.weights_s, terms.instance.batch, max_p, f, np.zeros(f.shape, np.int64),
                  start_order(L), limits, np.zeros(L + 1))
    f[idx, idx + 1] = single
    return float(shortest_path(f)[0][L])


def _known_upper_bound(tabm, terms: CostTerms, max_p: int, single: np.ndarray) -> float:
    """T of the best segmented mapping (one layer per cluster), found by the same segment
    step on the one-layer clusters of tabm, itself pruned by the best sequential-like
    mapping (one layer per segment, free from `single`).  The merged optimum is at most
    this, so the merged segment step may skip stages that cannot beat it."""
    L = terms.layers
    idx = np.arange(L)
    f = np.full((L, L + 1), INF)
    f[idx, idx + 1] = single
    one_per_segment = float(shortest_path(f)[0][L])  # summed as the DP sums, so never below its own paths
    one_layer = np.full_like(tabm, INF)
    one_layer[idx, idx + 1, :] = tabm[idx, idx + 1, :]
    return _best_path_s(one_layer, terms, max_p, single, np.full(L, one_per_segment))


def _stage_limit(terms: CostTerms, t_ub: float) -> float:
    """What the pipelines may take on a mapping no slower than T_ub: T_ub less every weight's
    DRAM load, widened by the slack (useless_limits)."""
    return t_ub - terms.weights_s[0, terms.layers] + USELESS_SLACK * t_ub


def _one_cluster_bound(tab_n: np.ndarray, terms: CostTerms, single: np.ndarray) -> float:
    """T of the best mapping whose segments are one layer (any chiplets) or one cluster on
    all N chiplets (tab_n holds those clusters): a merged mapping, so the merged optimum is
    at most this.  At batch 1 with large SRAM it is often the optimum itself (ResNet-152 on
    8x8 at 4 MiB: 1.249 ms against the segmented 1.856 ms), and a tighter T_ub makes more
    stages useless in the other chiplet counts' tables."""
    return _best_path_s(_budget(tab_n)[0], terms, 1, single, np.full(terms.layers, INF))


def _tables(terms: CostTerms, space: str, max_clusters: int | None, say: Callable[[str], None],
            timings: dict, deadline: float) -> _Tables:
    L, N = terms.layers, terms.chiplets
    t0 = time.perf_counter()
    say("layer tables")
    tables = terms.layer_tables
    timings["layer_tables_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    quick = max_clusters is not None  # fastdp: the quick cluster tables (real tuples, maybe not the least)
    chiplets = range(N, N + 1) if space == "sequential" else range(1, N + 1)
    max_p = min(L, N, max_clusters or L)
    # a one-layer segment is a closed form of its chiplets and partition, weight tiling
    # included; with t = 1 it equals the value of the segment step, so it only adds options
    single, single_n, single_j = terms.single(chiplets)
    t_ub = INF
    if space == "merged" and not quick:  # the segmented optimum first: what the merged tables must beat
        say("segmented bound")
        t_ub = _known_upper_bound(_budget(cluster_table(tables, 1, chiplets)[0])[0], terms, max_p, single)
        timings["known_upper_bound_s"] = t_ub
    say("cluster tables (chiplet counts)")
    tick = _ticker("cluster tables (chiplet counts)", say, deadline)
    work = least_work(tables) if math.isfinite(t_ub) else None
    tab_n, peak_n, done_n = None, 0, 0
    if math.isfinite(t_ub) and N > 1:  # all N chiplets first: one-cluster segments may beat the segmented bound
        tab_n, peak_n = cluster_table(tables, L, range(N, N + 1), False, None, terms.instance.batch,
                                      _stage_limit(terms, t_ub), deadline, work)
        t_ub = min(t_ub, _one_cluster_bound(tab_n, terms, single))
        timings["one_cluster_bound_s"] = t_ub
        chiplets, done_n = range(1, N), 1
        tick(1, N)
    tab, peak = cluster_table(tables, L if space == "merged" else 1, chiplets, quick,
                              lambda done, total: tick(done + done_n, total + done_n), terms.instance.batch,
                              _stage_limit(terms, t_ub), deadline, work)
    if tab_n is not None:
        tab[:, :, N] = tab_n[:, :, N]
        peak = max(peak, peak_n)
    timings["cluster_tables_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("segments (starts)")
    f = np.full((L, L + 1), INF)
    fp = np.zeros((L, L + 1), np.int64)
    tabm, argn = _budget(tab)
    if space != "sequential":
        _segments(tabm, terms, max_p, f, fp, _ticker("segments (starts)", say, deadline), t_ub, single,
                  None if work is None else work[1])
    idx = np.arange(L)
    f[idx, idx + 1] = single
    fp[idx, idx + 1] = 1
    timings["segments_s"] = time.perf_counter() - t0
    return _Tables(tab, tabm, argn, f, fp, single_n, single_j, max_p, quick, peak)


def _segment(terms: CostTerms, dt: _Tables, a: int, b: int, G: np.ndarray) -> Segment:
    """The clusters of the best segment [a, b): its pipeline rebuilt from the tables."""
    if may_tile(a, b):
        n = int(dt.single_n[a])
        return Segment((Cluster(a, b, n, (terms.partition(n, int(dt.single_j[a])),)),))
    p = int(dt.fp[a, b])
    segment_pipelines(dt.tabm, a, p, b, G)
    clusters = []
    for x, y, budget in (tuple(int(v) for v in row) for row in backtrack_segment(dt.tabm, a, b, p, G)):
        n = int(dt.argn[x, y, budget])
        t, parts = cluster_partitions(terms.layer_tables, x, y, n, dt.quick)
        if parts is None or t != dt.tab[x, y, n]:
            raise InvariantError(f"cluster [{x}, {y}) on {n} chiplets: the table says {dt.tab[x, y, n]!r}, "
                                 f"its rebuilt partitions {t!r}")
        clusters.append(Cluster(x, y, n, parts))
    return Segment(tuple(clusters))


def chain_dp(instance: Instance, space: str = "merged", terms: CostTerms | None = None,
             progress: Callable[[str], None] | None = None, memory_limit: int = MEMORY_LIMIT_BYTES,
             max_clusters: int | None = None, deadline: float = math.inf) -> ChainSolution:
    """Exact least T over the space (merged, segmented or sequential), and a mapping.
    With `max_clusters` (fastdp): at most that many clusters (pipeline stages) per segment,
    and the quick cluster tables; every mapping it returns is valid and re-scored, but T
    is only an upper bound on the optimum.  Raises OutOfTime once `deadline`
    (time.monotonic) has passed between two pieces of its work."""
    _check_memory(instance, memory_limit)
    terms = terms or CostTerms(instance)
    say = progress or (lambda _: None)
    timings: dict = {}
    dt = _tables(terms, space, max_clusters, say, timings, deadline)
    dist, prev = shortest_path(dt.f)
    L = terms.layers
    stats = {**timings, "peak_labels": int(dt.peak), "fitting_clusters": int(np.isfinite(dt.tab).sum()),
             "feasible_segments": int(np.isfinite(dt.f).sum())}
    if not math.isfinite(dist[L]):
        return ChainSolution(INF, None, (), stats)
    say("mapping")
    cuts = [L]
    while cuts[-1] > 0:
        cuts.append(int(prev[cuts[-1]]))
    cuts.reverse()
    G = np.empty((dt.max_p + 1, L + 1, terms.chiplets + 1))
    segments = tuple(_segment(terms, dt, a, b, G) for a, b in zip(cuts, cuts[1:]))
    times = tuple(float(dt.f[a, b]) for a, b in zip(cuts, cuts[1:]))
    return ChainSolution(float(dist[L]), Mapping(segments), times, stats)
