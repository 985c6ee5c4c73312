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


def _no_worse(a: tuple, b: tuple, use_time: bool, slack: float = 0.0) -> bool:
    """Label a = (P, s, e, back) is no worse than b in what the segment's end reads, when
    a's completions can cost at most `slack` more energy than b's."""
    return a[2] + slack <= b[2] and (not use_time or (a[0] <= b[0] and a[1] <= b[1]))


MARGIN = 1e-9  # the slack is widened by this share, so that rounding never drops a label a bound does not


def _slacks(stack: np.ndarray, prof: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per kept key: the most its completions' NoP energy can exceed those of the key with
    profile `prof`: each live producer's future bytes (`weight`, J per hop) times how much
    farther it is from the worst free chiplet (0 where it is no farther from every one)."""
    far = np.maximum(0.0, (stack - prof).max(axis=2, initial=0.0))
    return (far * weight).sum(axis=1) * (1 + MARGIN)


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
    for (u, _, _), keys in by_u.items():
        if len(keys) < 2 or u >= N:
            out.update((k, labels[k]) for k in keys)
            continue
        keys.sort(key=lambda k: min(v[2] for v in labels[k]))
        weight = np.array([cx.future_nop_j(q, y) for q, _, _ in keys[0][1]])
        stack = np.empty((min(COMPARED, len(keys)), len(keys[0][1]), N - u))  # the profiles of the first kept keys
        kept: list[list] = []  # their labels
        least = np.empty(len(stack))  # and each one's least energy
        for k in keys:
            prof, group = _profile(cx, k[1], u), labels[k]
            if kept:
                slack = _slacks(stack[:len(kept)], prof, weight)
                worst = max(v[2] for v in group)
                for i in np.flatnonzero(least[:len(kept)] + slack <= worst):
                    group = [v for v in group if not any(_no_worse(o, v, use_time, slack[i]) for o in kept[i])]
                    if not group:
                        break
            if group:
                out[k] = group
                if len(kept) < len(stack):
                    stack[len(kept)], least[len(kept)] = prof, min(v[2] for v in group)
                    kept.append(group)
    return {k: out[k] for k in labels if k in out}  # in the order given: ties are broken as before
