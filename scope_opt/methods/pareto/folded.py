"""The energy optimum in one pass over the layer boundaries, with the segment starts
folded into the labels.  The reference (chain.py's boundary DP over segments.py) runs
the segment step once per segment start a; energy needs no T, so here a label at
boundary y holds F[a] (the least energy of layers [0, a)) plus its segment's energy so
far, its DRAM bytes counted as they are read, and labels of different starts that
agree on everything the rest costs share one key: the offset u, where the live
producers sit, the tensors already read from DRAM that are read again, and whether the
segment has one layer only (a one-layer segment is `single_segment`'s, with its weight
tiling).  About L times less work than the reference, which stays as the oracle the
tests compare it with (docs/exact-models.md, "The folded energy DP")."""

from __future__ import annotations

import math
from collections.abc import Callable

from scope_opt.cost.energy import joules
from scope_opt.methods.deadline import check_time
from scope_opt.methods.pareto.clusters import EnergyContext, cluster_options
from scope_opt.methods.pareto.placements import drop_far_placements
from scope_opt.methods.pareto.segments import segment_of, single_segment
from scope_opt.methods.space import chiplet_choices, max_segment_length
from scope_opt.problem.mapping import Mapping


def energy_optimum(cx: EnergyContext, space: str, deadline: float = math.inf,
                   say: Callable[[str], None] | None = None) -> tuple[Mapping, float] | None:
    """The mapping of `space` of least energy and that energy without the MACs (every
    mapping pays the same), or None when no segmentation fits.  A key is
    (u, live, seen, short), a label (0, 0.0, e, back) as `drop_far_placements` reads them."""
    L = len(cx.instance.network.layers)
    F: list[tuple | None] = [(0.0, None)] + [None] * L  # F[b] = (least energy of [0, b), (a, last segment))
    grown: dict[int, dict] = {}
    for y in range(L + 1):
        check_time(deadline, f"energy DP, boundary {y}")
        labels = grown.pop(y, {})
        if cx.placement_dominance and labels:
            kept = drop_far_placements(cx, {k: [v] for k, v in labels.items()}, y)
            labels = {k: v[0] for k, v in kept.items()}
        if y > 0:
            F[y] = _least_end(cx, y, labels, F, space)
        if y < L and F[y] is not None and max_segment_length(space, L) > 1:  # merged, segmented: no cap but L
            labels[(0, (), (), True)] = (0, 0.0, F[y][0], None)  # no cluster yet
        if y < L:
            _extend(cx, y, labels, space, grown, deadline)
        if say:
            say(f"energy DP (folded): boundary {y}/{L}, {len(labels)} keys")
    return (_mapping(F, L), F[L][0]) if F[L] is not None else None


def _least_end(cx: EnergyContext, b: int, labels: dict, F: list, space: str) -> tuple | None:
    """F[b]: the least of every segment ending at b, a one-layer one (single_segment) or
    a label's, which adds the DRAM writes of what later layers read (its live
    producers) and of the network's output."""
    net, pkg = cx.instance.network, cx.pkg
    best = None
    if F[b - 1] is not None:
        for _, e, seg in single_segment(cx, b - 1, space):
            best = min(best, (F[b - 1][0] + e, (b - 1, seg)), key=_energy)
    for (_, live, _, short), (_, _, e, back) in labels.items():
        if short:
            continue
        out = [q for q, _, _ in live] + ([b - 1] if b == len(net.layers) else [])
        written = sum(net.shape(net.layers[q].name).elements for q in out) * pkg.bytes_per_element
        seg = segment_of(cx, back)
        best = min(best, (e + joules(pkg, 0.0, 0.0, written), (seg.clusters[0].first, seg)), key=_energy)
    return best


def _energy(entry: tuple | None) -> float:
    return math.inf if entry is None else entry[0]


def _extend(cx: EnergyContext, y: int, labels: dict, space: str, grown: dict, deadline: float) -> None:
    """Every label at boundary y followed by one more cluster [y, z) into `grown[z]`,
    each new key keeping its label of least energy (the first of equal ones)."""
    N, L = cx.pkg.chiplets, len(cx.instance.network.layers)
    for (u, live, seen, _), (_, _, e, back) in labels.items():
        check_time(deadline, f"energy DP, boundary {y}")
        where = {q: (off, nq) for q, off, nq in live}
        layers, ends = tuple(where), {}  # ends: z -> what a cluster [y, z) leaves, whatever its chiplets
        for n in chiplet_choices(space, N):
            if u + n > N:
                break
            cross: dict = {}  # cross key -> cross part: (y, u, live, n) are fixed here, and many z share one
            end = y + 1 if space == "segmented" else L
            for z, by_key in cluster_options(cx, y, n, cx.shape_offset(u), end).items():
                got = ends.get(z)
                if got is None:  # the DRAM joules, the new seen, the old and the new live producers
                    got = ends[z] = (*_dram_reads(cx, y, z, layers, seen),
                                     tuple(v for v in live if cx.last_use[v[0]] >= z),
                                     tuple(q for q in range(y, z) if cx.last_use[q] >= z))
                dram, seen2, old, new = got
                bucket = grown.setdefault(z, {})
                key = (u + n, old + tuple((q, u, n) for q in new), seen2, u == 0 and z == y + 1)
                best = bucket.get(key)
                for ckey, ((_, e_c, parts),) in by_key.items():
                    c = cross.get(ckey)
                    if c is None:
                        c = cross[ckey] = cx.cross_j(ckey, n, y, u, where)
                    e2 = e + (e_c + c) + dram
                    if best is None or e2 < best[2]:
                        best = (0, 0.0, e2, ((y, z, n, parts), back))
                bucket[key] = best


def _dram_reads(cx: EnergyContext, y: int, z: int, on_chip: tuple, seen: tuple) -> tuple[float, tuple]:
    """DRAM joules of cluster [y, z) given the segment's live producers `on_chip` and the
    tensors it has read from DRAM that are read again (`seen`): its weights once per
    batch and every tensor made before the segment (or outside the network) the first
    time the segment reads it; and the new `seen`."""
    key = ("dram", y, z, on_chip, seen)
    got = cx.memo.get(key)
    if got is None:
        net, pkg = cx.instance.network, cx.pkg
        read, elements = set(seen), 0
        for l in range(y, z):
            for t in net.reads(l):
                q = net.producer(t)
                if (q is None or (q < y and q not in on_chip)) and t not in read:
                    read.add(t)
                    elements += net.shape(t).elements
        weights = sum(net.layers[l].weights for l in range(y, z)) * pkg.bytes_per_element
        again = tuple(sorted(t for t in read if max(net.consumers.get(t, ()), default=-1) >= z))
        dram = weights / cx.instance.batch + elements * pkg.bytes_per_element
        got = cx.memo[key] = (joules(pkg, 0.0, 0.0, dram), again)
    return got


def _mapping(F: list, L: int) -> Mapping:
    segments, b = [], L
    while b > 0:
        a, seg = F[b][1]
        segments.append(seg)
        b = a
    return Mapping(tuple(reversed(segments)))
