"""The chain DP: the exact optimum of a whole network from the exact cluster tables.

Segments run one after another and each holds the whole package, so T* is a shortest
path over segment boundaries 0..L whose arc (a, b) costs the least T_s of segment
[a, b); inside a segment the least T_s for a cluster count P is a min-bottleneck chain
partition of its layers into P clusters with a chiplet budget (docs/exact-models.md)."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scope_opt.cost.formulas import may_tile
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError, InvariantError
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment
from scope_opt.methods.dp.clusters import cluster_partitions, cluster_table, least_work
from scope_opt.methods.deadline import check_time
from scope_opt.methods.dp.pipelines import backtrack_segment, segment_pipelines, shortest_path, with_budgets
from scope_opt.methods.dp.segment_step import merged_segments, stage_limit
from scope_opt.methods.dp.upper_bounds import coarse_bound, coarse_counts, one_cluster_bound, segmented_bound

INF = math.inf
MEMORY_LIMIT_BYTES = 4 * 2**30  # refuse a DP whose tables would need more than this


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


def _counts_into(tab, tables, max_len: int, quick: bool, tick, total: int, batch: int, deadline: float, work,
                 known: dict, counts: list[int], t_stage: float) -> int:
    """cluster_table for `counts` into tab, ticking on from the counts already done
    (`known`, shared across calls); returns the largest label count."""
    start = len(known)
    return cluster_table(tables, max_len, counts, quick, lambda done, _: tick(start + done, total), batch, t_stage,
                         deadline, work, into=tab, known=known)[1]


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
        t_ub = segmented_bound(with_budgets(cluster_table(tables, 1, chiplets)[0])[0], terms, max_p, single)
        timings["known_upper_bound_s"] = t_ub
    say("cluster tables (chiplet counts)")
    tick = _ticker("cluster tables (chiplet counts)", say, deadline)
    work = least_work(tables) if math.isfinite(t_ub) else None
    tab = np.full((L, L + 1, N + 1), INF)
    run = functools.partial(_counts_into, tab, tables, L if space == "merged" else 1, quick, tick, len(chiplets),
                            terms.instance.batch, deadline, work, {})
    first: list[int] = []
    peak = 0
    if math.isfinite(t_ub) and N > 1:  # all N chiplets first: one-cluster segments may beat the segmented bound
        first = [N]
        peak = run(first, stage_limit(terms, t_ub))
        t_ub = min(t_ub, one_cluster_bound(tab, terms, single))
        timings["one_cluster_bound_s"] = t_ub
        coarse = [n for n in coarse_counts(N) if n != N]
        if coarse:  # then the counts of a coarse merged mapping, often within a percent of T*
            peak = max(peak, run(coarse, stage_limit(terms, t_ub)))
            t_ub = min(t_ub, coarse_bound(tab, terms, max_p, single, t_ub, work[1]))
            timings["coarse_bound_s"] = t_ub
            first += coarse
    done = set(first)
    peak = max(peak, run([n for n in chiplets if n not in done], stage_limit(terms, t_ub)))
    timings["cluster_tables_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("segments (starts)")
    f = np.full((L, L + 1), INF)
    fp = np.zeros((L, L + 1), np.int64)
    tabm, argn = with_budgets(tab)
    if space != "sequential":
        merged_segments(tabm, terms, max_p, f, fp, _ticker("segments (starts)", say, deadline), t_ub, single,
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
