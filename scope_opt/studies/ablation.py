"""Ablation of the Scope search: each of its steps replaced by its exact counterpart, alone
and in combination, to measure how much of its gap to the optimum each step explains
(docs/search.md, "Ablation").

- partition: the search's per-cluster DP plus memory repair -> the exact cluster table
  (least fitting T_c, methods/dp/clusters.py);
- clustering: compute-balanced cuts for each cluster count, then min-max allocation ->
  the exact clustering and allocation of the segment (the chain DP's segment step);
- segmentation: weight-balanced cuts over a window of segment counts -> the shortest
  path over every segment boundary, each segment priced by the per-segment solver.
- allocation is already exact in the search (min-max by bisection on the chosen cuts),
  so it has no counterpart to swap in.

With no step swapped this is `--method scope` (same mapping); with all three it is the
optimum (`--method dp`).  Every variant's mapping is re-scored by the evaluator."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from scope_opt.cost import formulas
from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.dp.clusters import cluster_partitions, cluster_table
from scope_opt.methods.dp.pipelines import (backtrack_segment, best_segments, budget_table, segment_pipelines,
                                          shortest_path, start_order)
from scope_opt.methods.result import SolveResult
from scope_opt.methods.scope.search import ScopeSearch, step_cluster
from scope_opt.methods.scope.step_kernels import scope_segment, scope_segments_all, scope_table
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment

INF = math.inf
STEPS = ("segmentation", "clustering", "partition")


def variant_name(exact: frozenset[str] | set[str]) -> str:
    """`scope`, or `scope+exact-<steps>` in STEPS order."""
    return "scope" if not exact else "scope+exact-" + "-".join(s for s in STEPS if s in exact)


def all_variants() -> list[frozenset[str]]:
    return [frozenset(c) for k in range(len(STEPS) + 1) for c in itertools.combinations(STEPS, k)]


@dataclass
class _Table:
    tab: np.ndarray
    tabm: np.ndarray
    argn: np.ndarray
    build_s: float


class Ablation:
    """The tables every variant reads, built once per instance."""

    def __init__(self, instance: Instance, terms: CostTerms | None = None) -> None:
        self.instance = instance
        self.terms = terms or CostTerms(instance)
        self.L, self.N = self.terms.layers, self.terms.chiplets
        self.search = ScopeSearch(instance, terms=self.terms, engine=False)  # for its segmentation
        self.done = np.ones((self.L, self.L + 1), np.bool_)
        self.tables: dict[str, _Table] = {}

    def table(self, kind: str) -> _Table:
        """The cluster table of the partition step: `scope` (DP + repair) or `exact`."""
        if kind not in self.tables:
            start = time.perf_counter()
            if kind == "exact":
                tab, _ = cluster_table(self.terms.layer_tables, self.L)
            else:
                tab = np.full((self.L, self.L + 1, self.N + 1), INF)
                scope_table(self.terms.flat, self.terms.wsize, self.N, tab)
            tabm, argn = np.empty_like(tab), np.zeros(tab.shape, np.int64)
            budget_table(tab, tabm, argn)
            self.tables[kind] = _Table(tab, tabm, argn, time.perf_counter() - start)
        return self.tables[kind]

    def cluster(self, kind: str, x: int, y: int, n: int) -> Cluster:
        if kind == "exact":
            return Cluster(x, y, n, cluster_partitions(self.terms.layer_tables, x, y, n)[1])
        return step_cluster(self.terms, x, y, n)

    # -- per-segment solvers -------------------------------------------------------------
    def segment_scope(self, kind: str, a: int, b: int) -> tuple[float, Segment | None]:
        """The search's segment step (balanced cuts, min-max allocation) on table `kind`;
        a one-layer segment that fits nowhere is tiled, as the search does."""
        tab, tm = self.table(kind).tab, self.terms
        t, p, bounds, alloc, _, _ = scope_segment(tm.flat, a, b, False, self.instance.batch, tm.load_prefix, tm.wsize,
                                                  tm.dram_s, tm.weights_s, tab, self.done)
        if t == INF:
            return tm.single_segment(a) if formulas.may_tile(a, b) else (INF, None)
        return float(t), Segment(tuple(self.cluster(kind, int(bounds[c]), int(bounds[c + 1]), int(alloc[c]))
                                       for c in range(p)))

    def segment_exact(self, kind: str, a: int, b: int) -> tuple[float, Segment | None]:
        """The least T_s of [a, b) over every clustering and allocation, on table `kind`
        (a one-layer segment: its closed form, weight tiling included)."""
        if formulas.may_tile(a, b):
            return self.terms.single_segment(a)
        tb = self.table(kind)
        G = np.empty((min(self.L, self.N) + 1, self.L + 1, self.N + 1))
        if segment_pipelines(tb.tabm, a, min(self.L, self.N), b, G) < b:
            return INF, None  # no clustering covers [a, b) (and G's rows at b are not written)
        best, best_p = INF, 0
        for p in range(1, min(b - a, self.N) + 1):
            beta = G[p, b, self.N]
            if beta < INF:
                period = formulas.resident_period(beta, self.terms.dram_s[a, b])
                t = formulas.segment_time(self.instance.batch, p, period, self.terms.weights_s[a, b])
                if t < best:
                    best, best_p = t, p
        if best == INF:
            return INF, None
        rows = backtrack_segment(tb.tabm, a, b, best_p, G)
        return float(best), Segment(tuple(self.cluster(kind, int(x), int(y), int(tb.argn[x, y, k])) for x, y, k in rows))

    # -- a variant -------------------------------------------------------------------------
    def run(self, exact: frozenset[str]) -> SolveResult:
        start = time.perf_counter()
        kind = "exact" if "partition" in exact else "scope"
        solve_segment = self.segment_exact if "clustering" in exact else self.segment_scope
        if "segmentation" in exact:
            f = self._all_segments(kind, "clustering" in exact)
            dist, prev = shortest_path(f)
            if not math.isfinite(dist[self.L]):
                segments = None
            else:
                cuts = [self.L]
                while cuts[-1] > 0:
                    cuts.append(int(prev[cuts[-1]]))
                cuts.reverse()
                segments = [solve_segment(kind, a, b)[1] for a, b in zip(cuts, cuts[1:])]
        else:
            search = _FixedStepSearch(self.instance, lambda a, b: solve_segment(kind, a, b), self.search)
            _, mapping = search.run()
            segments = list(mapping.segments) if mapping else None
        mapping = Mapping(tuple(segments)) if segments and all(s is not None for s in segments) else None
        elapsed = time.perf_counter() - start
        ev = evaluate(self.instance, mapping, self.terms.reference) if mapping else None
        status = "heuristic" if ev is not None and ev.feasible else "infeasible"
        return SolveResult(variant_name(exact), "merged", status, mapping, ev, None, elapsed, None,
                           {"exact_steps": sorted(exact)},
                           {"table_build_s": {k: v.build_s for k, v in self.tables.items()}})

    def _all_segments(self, kind: str, exact_clustering: bool) -> np.ndarray:
        """f[a, b]: every segment priced by the per-segment solver (exact segmentation)."""
        L, N = self.L, self.N
        f = np.full((L, L + 1), INF)
        fp = np.zeros((L, L + 1), np.int64)
        tb = self.table(kind)
        tm = self.terms
        if exact_clustering:
            best_segments(tb.tabm, tm.dram_s, tm.weights_s, self.instance.batch, min(L, N), f, fp, start_order(L),
                          np.full(L, np.inf), np.zeros(L + 1))
        else:
            cap = float(N * math.floor(self.instance.package.sram_bytes))
            scope_segments_all(tm.flat, self.instance.batch, tm.load_prefix, tm.wsize, tm.dram_s, tm.weights_s, tb.tab,
                               self.done, tm.weight_bytes, cap, f, fp)
        for l in range(L):
            f[l, l + 1] = (tm.single()[0][l] if exact_clustering else self.segment_scope(kind, l, l + 1)[0])
        return f


class _FixedStepSearch(ScopeSearch):
    """The Scope search's segmentation with another per-segment solver."""

    def __init__(self, instance: Instance, solve_segment, base: ScopeSearch) -> None:
        super().__init__(instance, base.space, base.window, base.terms, engine=False)
        self.solve_segment = solve_segment

    def best_segment(self, a: int, b: int):
        if (a, b) not in self.segment_cache:
            self.segment_cache[(a, b)] = self.solve_segment(a, b)
        return self.segment_cache[(a, b)]


def shapley(latency: dict[frozenset[str], float]) -> dict[str, float]:
    """Each step's share of the gap T(scope) - T(all exact): its marginal saving averaged
    over the 3! orders in which the steps can be made exact (the shares add up to the gap)."""
    out = {s: 0.0 for s in STEPS}
    orders = list(itertools.permutations(STEPS))
    for order in orders:
        done: frozenset[str] = frozenset()
        for s in order:
            out[s] += (latency[done] - latency[done | {s}]) / len(orders)
            done = done | {s}
    return out
