"""Placement dominance in the energy DP's segment step.  Partial segments that end at the
same boundary y and chiplet offset u differ only in where their live producers sit, and
that changes only the byte-hops of the reads of those producers still to come: layer
y's, in the next cluster at u, known for every (chiplets, partition) that cluster can
take; and the later layers', each byte at most the mean distance to its producer's
cluster from the worst free chiplet.  A label cheaper than another by at least the most
its placement can cost more (and, for the front, with no more clusters and no larger
stage max) makes the other useless (docs/exact-models.md, "Placement dominance")."""

from __future__ import annotations

import numpy as np

from scope_opt.methods.deadline import check_time
from scope_opt.methods.pareto.clusters import EnergyContext

COMPARED = 1024  # each key is checked against at most this many kept keys of its group (the least energy first)


def reach(cx: EnergyContext, off: int, n: int, u: int) -> np.ndarray:
    """Hops a byte of the cluster on walk range [off, off + n) travels to each walk position
    from u on (u >= off + n): the same floats as `hop_vector` (an exact integer sum, one
    division, at least one hop)."""
    return cx.range_hops(u, cx.pkg.chiplets - u, off, n)  # memoised there


def _profile(cx: EnergyContext, live: tuple, u: int) -> np.ndarray:
    if not live:
        return np.zeros((0, cx.pkg.chiplets - u))
    return np.stack([reach(cx, off, n, u) for _, off, n in live])


def _no_worse(a: tuple, b: tuple, use_time: bool, slack: float = 0.0) -> bool:
    """Label a = (P, s, e, back) is no worse than b in what the segment's end reads, when
    a's completions can cost at most `slack` more energy than b's."""
    return a[2] + slack <= b[2] and (not use_time or (a[0] <= b[0] and a[1] <= b[1]))


MARGIN = 1e-9  # the slack is widened by this share, so that rounding never drops a label a bound does not
ROUND = 1e-12  # and by this share of the next reads' energy (summed in another order than the cost sums it)


def _next_reads(mats: list[np.ndarray], prof: np.ndarray) -> np.ndarray:
    """Per (chiplets, partition) of a next cluster at the key's offset: the NoP joules of
    its first layer's reads of the live producers (`mats`: `next_read_j` of each)."""
    return sum((m @ p for m, p in zip(mats, prof)), np.zeros(len(mats[0]) if mats else 0))


def _slacks(stack: np.ndarray, nexts: np.ndarray, prof: np.ndarray, nxt: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Per kept key (profiles `stack`, next reads `nexts`): the most its completions' NoP
    energy can exceed those of the key with profile `prof` and next reads `nxt`.  The
    next layer's reads exactly, over every next cluster; each later read of a live
    producer as its most bytes (`later`, J per hop) times how much farther it is from
    the worst free chiplet (0 where it is no farther from every one)."""
    far = np.maximum(0.0, (stack - prof).max(axis=2, initial=0.0))
    first = np.maximum(0.0, (nexts - nxt).max(axis=1, initial=0.0))
    scale = np.maximum(nexts.max(axis=1, initial=0.0), nxt.max(initial=0.0))
    return (first + (far * later).sum(axis=1)) * (1 + MARGIN) + ROUND * scale


def drop_far_placements(cx: EnergyContext, labels: dict, y: int) -> dict:
    """The labels of boundary y (key (u, live, ...) -> labels) without those that another
    key of the same offset, live layers and rest makes useless: one of its labels
    cheaper by at least the most its live producers' placement can cost more in what is
    still to come (nothing, when they are no farther from every free chiplet).  Keys
    are visited by least energy; a key with no free chiplet left is kept as it is."""
    use_time, N = cx.mode == "front", cx.pkg.chiplets
    by_u: dict[tuple, list] = {}  # keys that differ in the placements only (key[2:]: what else a key holds)
    for key in labels:
        by_u.setdefault((key[0], tuple(q for q, _, _ in key[1]), key[2:]), []).append(key)
    out = {}
    for (u, layers, _), keys in by_u.items():
        check_time(cx.deadline, f"energy DP, placement dominance at boundary {y}")
        if len(keys) < 2 or u >= N:
            out.update((k, labels[k]) for k in keys)
            continue
        keys.sort(key=lambda k: min(v[2] for v in labels[k]))
        later = np.array([cx.future_nop_j(q, y + 1, N - u) for q in layers])
        mats = [cx.next_read_j(y, q, N - u) for q in layers] if y < len(cx.producers) else []
        width = len(mats[0]) if mats else 0
        stack = np.empty((min(COMPARED, len(keys)), len(layers), N - u))  # the profiles of the first kept keys
        nexts = np.empty((len(stack), width))  # their next reads
        kept: list[list] = []  # their labels
        least = np.empty(len(stack))  # and each one's least energy
        for k in keys:
            prof, group = _profile(cx, k[1], u), labels[k]
            nxt = _next_reads(mats, prof)
            if kept:
                slack = _slacks(stack[:len(kept)], nexts[:len(kept)], prof, nxt, later)
                worst = max(v[2] for v in group)
                for i in np.flatnonzero(least[:len(kept)] + slack <= worst):
                    group = [v for v in group if not any(_no_worse(o, v, use_time, slack[i]) for o in kept[i])]
                    if not group:
                        break
            if group:
                out[k] = group
                if len(kept) < len(stack):
                    stack[len(kept)], nexts[len(kept)], least[len(kept)] = prof, nxt, min(v[2] for v in group)
                    kept.append(group)
    return {k: out[k] for k in labels if k in out}  # in the order given: ties are broken as before
