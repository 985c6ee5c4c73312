"""Label dominance for the label passes (labels.py): when one label of a cluster's pass
makes another useless (docs/exact-models.md, "Cluster tables", Dominance)."""

from __future__ import annotations

import numpy as np
from numba import njit

from scope_opt.methods.dp.label_store import add_node, push

NO_FUTURE_RANGE = 2**40  # hi for the quick pass: W + max(A, hi) compares W, the rule it was measured with


@njit(cache=True)
def keep_undominated(new, new_cnt, first, cand, c, j, st, arena, na, track, work, lo, hi):
    """Append candidate c to the new labels unless a new label with the same last
    partition (those from `first` on) dominates it: on every chiplet, W + max(A, a) no
    larger at a = lo and a = hi, the range of the largest activation any extension can
    add (docs/exact-models.md, "Dominance"); `work[0]` counts the comparisons."""
    ct, cW, cA, cnode = cand
    n = cW.shape[1]
    work[0] += new_cnt - first + 1
    s_lo = s_hi = 0
    for i in range(n):
        s_lo += cW[c, i] + max(cA[c, i], lo[i])
        s_hi += cW[c, i] + max(cA[c, i], hi[i])
    for kk in range(first, new_cnt):
        if new[5][kk] > s_lo or new[6][kk] > s_hi:  # cannot be <= on every chiplet
            continue
        dom = True
        for i in range(n):
            kw, ka, vw, va = new[2][kk, i], new[3][kk, i], cW[c, i], cA[c, i]
            if kw + max(ka, lo[i]) > vw + max(va, lo[i]) or kw + max(ka, hi[i]) > vw + max(va, hi[i]):
                dom = False
                break
        if dom:
            return new, new_cnt, arena, na
    node = na
    if track:
        arena, na = add_node(arena, na, j, st[4][cnode[c]])
    new = push(new, new_cnt, ct[c], j, cW[c], cA[c], node, s_lo, s_hi)
    return new, new_cnt + 1, arena, na


@njit(cache=True)
def act_range(act, y, last, suffix, lo, hi, quick):
    """lo, hi: the least and the largest activation layers y..last-1 can add on each
    chiplet (an extension holds layer y, if any); the quick pass keeps its measured rule,
    lo = 0 and hi = NO_FUTURE_RANGE (W' + A' <= W + A and W' <= W)."""
    for i in range(act.shape[2]):
        if quick or y >= last:
            lo[i], hi[i] = 0, NO_FUTURE_RANGE
            continue
        least = act[y, 0, i]
        for jj in range(act.shape[1]):
            least = min(least, act[y, jj, i])
        lo[i], hi[i] = least, suffix[y, i]


@njit(cache=True)
def act_suffix(act, x, last):
    """suffix[l, i] = the largest activation of layers l..last-1 on chiplet i, any partition."""
    suffix = np.zeros((last + 1, act.shape[2]), np.int64)
    for l in range(last - 1, x - 1, -1):
        for i in range(act.shape[2]):
            m = suffix[l + 1, i]
            for jj in range(act.shape[1]):
                m = max(m, act[l, jj, i])
            suffix[l, i] = m
    return suffix
