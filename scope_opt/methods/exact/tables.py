"""Cost tables the exact models read.

T depends on a cluster's partitions only through its stage time T_c and whether it fits
(docs/exact-models.md), so for every candidate cluster (layer range, chiplets) the table
holds the exact minimum T_c over the partition tuples that fit; the tuple itself is
rebuilt only for the clusters a solver chooses.  The tables come from the compiled
engine (methods/dp/clusters.py); `best_cluster` below is the plain Python reference it is
tested against: a DP along the layers, and when the unconstrained optimum does not fit,
a label-setting DP that keeps every Pareto-optimal (time, per-chiplet weights,
per-chiplet largest activation) label, which is exact because weights and the largest
activation only grow as layers are added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scope_opt.cost.reference import CostModel
from scope_opt.methods.dp.clusters import cluster_partitions, cluster_table
from scope_opt.cost.formulas import may_tile
from scope_opt.cost.layer_tables import LayerTables
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InvariantError
from scope_opt.problem.mapping import Partition
from scope_opt.methods.space import chiplet_choices, cluster_ranges_ok, max_segment_length


def best_cluster(cost: CostModel, a: int, b: int, n: int) -> tuple[float, tuple[Partition, ...] | None]:
    """Exact min over fitting partition tuples of the stage time of cluster [a, b) on n chiplets."""
    t, parts = cost.partition_dp(a, b, n)
    if cost.fits(a, parts):
        return t, parts
    return _pareto(cost, a, b, cost.instance.allowed_partitions[n])


def _pareto(cost: CostModel, a: int, b: int, options) -> tuple[float, tuple[Partition, ...] | None]:
    cap = cost.pkg.sram_bytes
    labels: dict = {}
    for p in options:
        w, act = cost.weight_bytes(a, p).astype(float), cost.act_bytes(a, p).astype(float)
        if (w + act).max() <= cap:
            labels[p] = [(cost.layer_time(a, p, None), w, act, (p,))]
    for l in range(a + 1, b):
        new: dict = {}
        for p in options:
            wl, al = cost.weight_bytes(l, p), cost.act_bytes(l, p)
            cands = []
            for q, lst in labels.items():
                dt = cost.layer_time(l, p, q)
                for t, w, act, path in lst:
                    w2, a2 = w + wl, np.maximum(act, al)
                    if (w2 + a2).max() <= cap:
                        cands.append((t + dt, w2, a2, path + (p,)))
            cands.sort(key=lambda v: v[0])
            kept: list = []
            for c in cands:  # sorted by time: c is dominated iff a kept label is no worse in memory
                if not any(np.all(k[1] <= c[1]) and np.all(k[2] <= c[2]) for k in kept):
                    kept.append(c)
            if kept:
                new[p] = kept
        labels = new
        if not labels:
            return math.inf, None
    finals = [lab for lst in labels.values() for lab in lst]
    if not finals:
        return math.inf, None
    t, _, _, path = min(finals, key=lambda v: v[0])
    return t, path


@dataclass(frozen=True)
class Tables:
    """Everything the exact models need, for one instance and one space."""

    space: str
    layers: int
    chiplets: int
    batch: int
    clusters: dict[tuple[int, int, int], float]  # least T_c of each fitting cluster (x, y, n)
    segments: list[tuple[int, int]]
    dram_s: dict[tuple[int, int], float]  # D_s / b_dram
    weights_s: float  # sum over segments of W_s / b_dram: the same for every mapping
    layer_tables: LayerTables  # to rebuild a chosen cluster's partitions
    single: dict[int, tuple[float, int, Partition]]  # layer l alone in its segment: least T_s (tiling allowed), n, partition
    single_weights_s: dict[int, float]  # W_s / b_dram of that segment (already in weights_s)

    @property
    def upper_period_s(self) -> float:
        """No segment's period can exceed this (a big-M for the models)."""
        return max(list(self.clusters.values()) + list(self.dram_s.values()) + [0.0])

    def single_cost_s(self, l: int) -> float:
        """What choosing the one-layer segment [l, l+1) adds to the objective beyond the
        weight-loading constant: its T_s less W_s / b_dram."""
        return self.single[l][0] - self.single_weights_s[l]

    def partitions(self, x: int, y: int, n: int) -> tuple[Partition, ...]:
        t, parts = cluster_partitions(self.layer_tables, x, y, n)
        if parts is None or t != self.clusters[(x, y, n)]:
            raise InvariantError(f"cluster [{x}, {y}) on {n} chiplets: table {self.clusters[(x, y, n)]!r}, rebuilt {t!r}")
        return parts


def build_tables(terms: CostTerms, space: str) -> Tables:
    inst = terms.instance
    L, N = terms.layers, terms.chiplets
    layer_tables = terms.layer_tables
    tab, _ = cluster_table(layer_tables, L if space == "merged" else 1, chiplet_choices(space, N))
    clusters = {(int(a), int(b), int(n)): float(tab[a, b, n]) for a, b, n in zip(*np.nonzero(np.isfinite(tab)))
                if cluster_ranges_ok(space, int(a), int(b))}
    best, best_n, best_j = terms.single(chiplet_choices(space, N))
    single = {l: (float(best[l]), int(best_n[l]), terms.partition(int(best_n[l]), int(best_j[l])))
              for l in range(L) if np.isfinite(best[l])}
    # a one-layer segment is offered only when its layer can be mapped alone (resident or tiled)
    segments = [(a, b) for a in range(L) for b in range(a + 1, min(L, a + max_segment_length(space, L)) + 1)
                if b - a > 1 or a in single]
    dram = {(a, b): float(terms.dram_s[a, b]) for a, b in segments}
    bw = inst.package.dram_bps
    weights = sum(layer.weights for layer in inst.network.layers) * inst.package.bytes_per_element / bw
    single_w = {l: inst.network.layers[l].weights * inst.package.bytes_per_element / bw for l in single}
    return Tables(space, L, N, inst.batch, clusters, segments, dram, weights, layer_tables, single, single_w)


@dataclass(frozen=True)
class Structure:
    """Index sets of the formulation shared by the CP-SAT and MILP backends."""

    covers_seg: list[list[tuple[int, int]]]  # per layer l: segments containing l
    covers_cl: list[list[tuple[int, int, int]]]  # per layer l: clusters containing l
    ends_at: list[list[tuple[int, int]]]  # per boundary j: segments ending at j
    crosses: list[list[tuple[int, int, int]]]  # per boundary j: clusters with x < j < y
    long: frozenset[tuple[int, int]]  # segments of two or more layers (a period, a chiplet budget)
    starts_seg: list[list[tuple[int, int]]]  # per layer l: segments starting at l
    starts_cl: list[list[tuple[int, int, int]]]  # per layer l: clusters starting at l


def structure(t: Tables) -> Structure:
    """Index sets.  A one-layer segment [l, l+1) is priced whole (t.single, weight tiling
    included): it takes the place of the cluster covering l, has no period and no
    chiplet constraint, so it is left out of `long` and `starts_seg`."""
    L = t.layers
    covers_seg: list[list[tuple[int, int]]] = [[] for _ in range(L)]
    ends_at: list[list[tuple[int, int]]] = [[] for _ in range(L + 1)]
    starts_seg: list[list[tuple[int, int]]] = [[] for _ in range(L)]
    for seg in t.segments:  # each index set in one pass over its candidates (not layers x candidates)
        for l in range(seg[0], seg[1]):
            covers_seg[l].append(seg)
        ends_at[seg[1]].append(seg)
        if seg[1] - seg[0] > 1:
            starts_seg[seg[0]].append(seg)
    covers_cl: list[list[tuple[int, int, int]]] = [[] for _ in range(L)]
    crosses: list[list[tuple[int, int, int]]] = [[] for _ in range(L + 1)]
    starts_cl: list[list[tuple[int, int, int]]] = [[] for _ in range(L)]
    for c in t.clusters:
        for l in range(c[0], c[1]):
            covers_cl[l].append(c)
            if l > c[0]:
                crosses[l].append(c)
        starts_cl[c[0]].append(c)
    long = frozenset(s for s in t.segments if s[1] - s[0] > 1)
    return Structure(covers_seg, covers_cl, ends_at, crosses, long, starts_seg, starts_cl)


def mapping_from_choice(t: Tables, segments: list[tuple[int, int]], clusters: list[tuple[int, int, int]]):
    """Build the Mapping a solver chose: clusters grouped into their segments, partitions
    from the cluster table."""
    from scope_opt.problem.mapping import Cluster, Mapping, Segment
    segs = []
    for a, b in sorted(segments):
        if may_tile(a, b):
            _, n, part = t.single[a]
            segs.append(Segment((Cluster(a, b, n, (part,)),)))
            continue
        inner = sorted(c for c in clusters if a <= c[0] and c[1] <= b)
        segs.append(Segment(tuple(Cluster(x, y, n, t.partitions(x, y, n)) for x, y, n in inner)))
    return Mapping(tuple(segs))
