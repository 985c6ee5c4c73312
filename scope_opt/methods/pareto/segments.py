"""One segment's options in the exact energy DP: every (T_s, E_s) a segment [a, b) can
take, reduced to its Pareto front (or to its least energy), with a segment that takes
it.  Clusters are added left to right on consecutive ranges of the serpentine walk; a
label is keyed by what the rest of the segment's cost depends on: the layers covered,
the chiplets used (the next cluster's offset) and where the live producers sit."""

from __future__ import annotations

import bisect
import math

from scope_opt.cost.energy import joules, layer_bytes, segment_dram_bytes
from scope_opt.methods.deadline import check_time
from scope_opt.methods.pareto.clusters import EnergyContext, cluster_options
from scope_opt.methods.pareto.placements import drop_far_placements
from scope_opt.methods.pareto.points import front, prune_3
from scope_opt.methods.space import FeasibleParts, chiplet_choices, max_segment_length
from scope_opt.problem.mapping import Cluster, Segment

SegPoint = tuple[float, float, Segment]  # (T_s, E_s in J without the MACs, the segment)


def _reduce(cx: EnergyContext, points: list[SegPoint]) -> list[SegPoint]:
    if not points:
        return []
    if cx.mode == "energy":
        return [min(points, key=lambda p: (p[1], p[0]))]
    return front(points)


def single_segment(cx: EnergyContext, a: int, space: str) -> list[SegPoint]:
    """Layer a alone: every chiplet count and partition, weight tiling included."""
    cost, pkg = cx.cost, cx.pkg
    feasible = FeasibleParts(cost)
    points = []
    for n in chiplet_choices(space, pkg.chiplets):
        place = cx.place(0, n)
        for p in feasible.single(a, n):
            reps = cost.passes(a, p)
            sram, nop = layer_bytes(cost, a, p, None, reps, place, lambda q: None)
            e = joules(pkg, sram, nop, segment_dram_bytes(cost, a, a + 1, reps))
            points.append((cost.single_segment_time(a, p), e, Segment((Cluster(a, a + 1, n, (p,)),))))
    return _reduce(cx, points)


def _extend(cx: EnergyContext, a: int, y: int, labels: dict, space: str, last: int, grown: dict,
            deadline: float) -> None:
    """Every label at boundary y extended by one more cluster [y, z) into `grown[z]`."""
    N = cx.pkg.chiplets
    for (u, live), group in labels.items():
        check_time(deadline, f"energy DP, segments from layer {a}")
        group = sorted(group, key=lambda v: v[1])  # by stage max, as _join reads it
        where = {q: (off, nq) for q, off, nq in live}
        for n in chiplet_choices(space, N):
            if u + n > N:
                break
            end = y + 1 if space == "segmented" else last
            cross: dict = {}  # ckey -> cross part: (a, y, u, live, n) are fixed here, and many z share a ckey

            def cross_of(ckey):  # called in this iteration only: n, u, cross and where are this one's
                got = cross.get(ckey)
                if got is None:
                    got = cross[ckey] = cx.cross_j(ckey, n, y, u, where)
                return got

            for z, by_key in cluster_options(cx, y, n, cx.shape_offset(u), end).items():
                live2 = tuple((q, *where.get(q, (u, n))) for q in cx.live(a, z))
                bucket = grown.setdefault(z, {}).setdefault((u + n, live2), [])
                if cx.mode == "energy":
                    _join_least(group[0], by_key, cross_of, (y, z, n), bucket)
                    continue
                for ckey, options in by_key.items():
                    _join(group, options, cross_of(ckey), (y, z, n), bucket)


def _join(group: list[tuple], options: list, cross: float, where: tuple, bucket: list) -> None:
    """Each label of `group` (P, s, e, back; sorted by s) followed by the cluster options
    (a front: T_c rising, energy falling), skipping the pairs whose candidate another
    joined one dominates or equals (docs/exact-models.md, "Joining a cluster"): the
    bucket's non-dominated values are unchanged."""
    ts = [o[0] for o in options]
    for P, s, e, back in group:
        k = bisect.bisect_right(ts, s) - 1
        if k >= 0:
            bucket.append((P + 1, s, e + (options[k][1] + cross), ((*where, options[k][2]), back)))
    least: dict[int, tuple] = {}  # P -> the label of least e among those with stage max below T_c
    i = 0
    for t_c, e_c, parts in options:
        while i < len(group) and group[i][1] < t_c:
            v = group[i]
            if v[0] not in least or v[2] < least[v[0]][2]:
                least[v[0]] = v
            i += 1
        for P, _, e, back in least.values():
            bucket.append((P + 1, t_c, e + (e_c + cross), ((*where, parts), back)))


def _join_least(label: tuple, by_key: dict, cross_of, where: tuple, bucket: list) -> None:
    """Energy mode: a key holds one label and a cross key one option (`by_key`: cross
    key -> [option]), and the bucket keeps only its first label of least (e, s, P), the
    one `_prune` would pick from all of them; `cross_of(ckey)` is the cross part."""
    P, s, e, back = label
    best = bucket[0] if bucket else None
    for ckey, ((t_c, e_c, parts),) in by_key.items():
        e2, s2 = e + (e_c + cross_of(ckey)), max(s, t_c)
        if best is None or (e2, s2, P + 1) < (best[2], best[1], best[0]):
            best = (P + 1, s2, e2, ((*where, parts), back))
    if bucket:
        bucket[0] = best
    else:
        bucket.append(best)


def segments_from(cx: EnergyContext, a: int, space: str, deadline: float = math.inf) -> dict[int, list[SegPoint]]:
    """b -> the reduced options of segment [a, b), for every b the space allows; the
    deadline is checked at every boundary (one start's work can take minutes)."""
    L = len(cx.instance.network.layers)
    out = {a + 1: single_segment(cx, a, space)}
    last = min(L, a + max_segment_length(space, L))
    grown: dict[int, dict] = {a: {(0, ()): [(0, 0.0, 0.0, None)]}}
    for y in range(a, last + 1):
        check_time(deadline, f"energy DP, segments from layer {a}")
        labels = {key: _prune(cx, group) for key, group in grown.pop(y, {}).items()}
        if cx.placement_dominance:
            labels = drop_far_placements(cx, labels, y)
        if y > a + 1:
            out[y] = _finish(cx, a, y, labels)
        if labels and y < last:
            _extend(cx, a, y, labels, space, last, grown, deadline)
    return {b: pts for b, pts in out.items() if pts}


def _prune(cx: EnergyContext, group: list[tuple]) -> list[tuple]:
    if cx.mode == "energy":
        return [min(group, key=lambda v: (v[2], v[1], v[0]))]
    return prune_3(group)


def _finish(cx: EnergyContext, a: int, b: int, labels: dict) -> list[SegPoint]:
    """Segment [a, b) closed: T_s from its stage max and clusters, E_s plus its DRAM bytes."""
    if b <= a + 1:
        return []
    cost, pkg = cx.cost, cx.pkg
    dram = joules(pkg, 0.0, 0.0, segment_dram_bytes(cost, a, b, 1))
    points = [(cost.segment_time(a, b, s, P), e + dram, back)
              for group in labels.values() for P, s, e, back in group]
    return [(t, e, segment_of(cx, back)) for t, e, back in _reduce(cx, points)]


def segment_of(cx: EnergyContext, back) -> Segment:
    """The segment a label's chain of clusters (newest first) describes."""
    clusters = []
    while back is not None:
        (y, z, n, parts), back = back
        clusters.append(Cluster(y, z, n, tuple(cx.partition(n, j) for j in parts)))
    return Segment(tuple(reversed(clusters)))
