"""Placement dominance in the energy DP's segment step.  Partial segments that end at the
same boundary and chiplet offset differ only in where their live producers sit, and
that changes only the byte-hops of the reads of those producers still to come: each
such byte travels to a chiplet at or after the offset the mean distance to its
producer's cluster.  If every live producer of one is no farther than the other's from
every chiplet still free, no completion costs it more, so with no more energy (and, for
the front, no more clusters and no larger stage max) it makes the other useless
(docs/exact-models.md, "Placement dominance")."""

from __future__ import annotations

import numpy as np

from scope_opt.methods.pareto.clusters import EnergyContext

COMPARED = 64  # each key is checked against at most this many kept keys of its offset (the least energy first)


def reach(cx: EnergyContext, off: int, n: int, u: int) -> np.ndarray:
    """Hops a byte of the cluster on walk range [off, off + n) travels to each walk position
    from u on (u >= off + n): the same floats as `hop_vector` (an exact integer sum, one
    division, at least one hop)."""
    return cx.range_hops(u, cx.pkg.chiplets - u, off, n)  # memoised there


def _profile(cx: EnergyContext, live: tuple, u: int) -> np.ndarray:
    if not live:
        return np.zeros((0, cx.pkg.chiplets - u))
    return np.stack([reach(cx, off, n, u) for _, off, n in live])


def _no_worse(a: tuple, b: tuple, use_time: bool) -> bool:
    """Label a = (P, s, e, back) is no worse than b in what the segment's end reads."""
    return a[2] <= b[2] and (not use_time or (a[0] <= b[0] and a[1] <= b[1]))


def drop_far_placements(cx: EnergyContext, labels: dict) -> dict:
    """The labels of one boundary (key (u, live) -> labels) without those that another key
    of the same offset u makes useless: its live producers no farther from every free
    chiplet, and one of its labels no worse.  Keys are visited by least energy (in
    energy mode a dominating key is so met first); a key with no free chiplet left is
    kept as it is."""
    use_time, N = cx.mode == "front", cx.pkg.chiplets
    by_u: dict[int, list] = {}
    for key in labels:
        by_u.setdefault(key[0], []).append(key)
    out = {}
    for u, keys in by_u.items():
        if len(keys) < 2 or u >= N:
            out.update((k, labels[k]) for k in keys)
            continue
        keys.sort(key=lambda k: min(v[2] for v in labels[k]))
        stack = np.empty((min(COMPARED, len(keys)), len(keys[0][1]), N - u))  # the profiles of the first kept keys
        kept: list[list] = []  # their labels
        for k in keys:
            prof, group = _profile(cx, k[1], u), labels[k]
            closer = np.flatnonzero((stack[:len(kept)] <= prof).all(axis=(1, 2))) if kept else ()
            for i in closer:
                group = [v for v in group if not any(_no_worse(o, v, use_time) for o in kept[i])]
                if not group:
                    break
            if group:
                out[k] = group
                if len(kept) < len(stack):
                    stack[len(kept)] = prof
                    kept.append(group)
    return {k: out[k] for k in labels if k in out}  # in the order given: ties are broken as before
