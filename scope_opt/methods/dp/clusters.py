"""Exact cluster tables: tab[x, y, n] = the least stage time T_c over the partition tuples
of cluster [x, y) on n chiplets that fit in SRAM (inf when none fits).

For a fixed first layer x and chiplet count n, one pass over y = x+1, x+2, ... extends
labels (time, last partition, per-chiplet weight sum W, per-chiplet largest activation A).
A label is dropped when another with the same last partition has time <=, W' <= W and
W' + A' <= W + A on every chiplet: every extension of the dropped label is then matched by
an extension of the other that is no slower and fits whenever it fits, since a chiplet's
need is W + w_future + max(A, a_future) = max(W + A, W + a_future) + w_future.  Memory only
grows with y, so the pass stops at the first y where no label fits
(docs/exact-models.md, "Cluster tables")."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from scope_opt.cost.layer_tables import LayerTables

INF = math.inf


@njit(cache=True)
def _grow2(a, size):
    b = np.empty((size, a.shape[1]), a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _grow1(a, size):
    b = np.empty(size, a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True, inline="always")
def _labels(size, n):
    """Empty label storage: time, last partition, per-chiplet W and A, path node."""
    return (np.empty(size), np.empty(size, np.int64), np.empty((size, n), np.int64),
            np.empty((size, n), np.int64), np.empty(size, np.int64))


@njit(cache=True)
def _label_pass(lt, w, act, cap, x, last, row, target, beam, F, ub):
    """Fill row[y] = the least time of a fitting partition tuple of [x, y), for y in
    (x, last]; with target > x, also return the partition indices (one per layer of
    [x, target)) of a tuple attaining row[target].  Returns (path, largest label count).

    beam > 0: keep only the `beam` fastest labels per last partition: a quick pass whose
    rows are times of real fitting tuples (upper bounds).  beam = 0 with `ub` (such
    upper bounds) and F (F[l, j, y]: the least time of layers l..y-1 after partition j,
    memory ignored): the exact pass, which drops a label when, for every later y, its
    time plus F cannot beat ub[y]: such a label leads to no row below the known tuples'."""
    q = lt.shape[2]
    n = w.shape[2]
    size = 64
    t_, last_, W_, A_, node_ = _labels(size, n)
    cnt = 0
    track = target > x
    arena_part = np.empty(1024, np.int64)
    arena_parent = np.empty(1024, np.int64)
    na = 0
    for j in range(q):
        ok = True
        for i in range(n):
            if float(w[x, j, i] + act[x, j, i]) > cap:
                ok = False
                break
        if ok:
            t_[cnt] = lt[x, q, j]
            last_[cnt] = j
            W_[cnt] = w[x, j]
            A_[cnt] = act[x, j]
            if track:
                arena_part[na] = j
                arena_parent[na] = -1
                node_[cnt] = na
                na += 1
            cnt += 1
    peak = cnt
    path = np.empty(0, np.int64)
    # candidate buffers
    csize = 64
    ct = np.empty(csize)
    cW = np.empty((csize, n), np.int64)
    cA = np.empty((csize, n), np.int64)
    cnode = np.empty(csize, np.int64)
    y = x + 1
    while True:
        if cnt == 0:
            break
        best = INF
        bi = -1
        for k in range(cnt):
            if t_[k] < best:
                best = t_[k]
                bi = k
        row[y] = best
        if track and y == target:
            path = np.empty(target - x, np.int64)
            v = node_[bi]
            for p in range(target - x - 1, -1, -1):
                path[p] = arena_part[v]
                v = arena_parent[v]
            break
        if y >= last:
            break
        l = y
        # extend every label by layer l, grouped by the new partition j
        new_cnt = 0
        nt_, nlast, nW, nA, nnode = _labels(size, n)
        nsW = np.empty(size, np.int64)
        nsWA = np.empty(size, np.int64)
        for j in range(q):
            m = 0
            for k in range(cnt):
                if m >= csize:
                    csize *= 2
                    ct = _grow1(ct, csize)
                    cW = _grow2(cW, csize)
                    cA = _grow2(cA, csize)
                    cnode = _grow1(cnode, csize)
                fits = True
                for i in range(n):
                    wv = W_[k, i] + w[l, j, i]
                    av = max(A_[k, i], act[l, j, i])
                    if float(wv + av) > cap:
                        fits = False
                        break
                    cW[m, i] = wv
                    cA[m, i] = av
                if not fits:
                    continue
                ct[m] = t_[k] + lt[l, last_[k], j]
                cnode[m] = k
                m += 1
            if m == 0:
                continue
            order = np.argsort(ct[:m], kind="mergesort")
            first_new = new_cnt
            kept_w = np.empty(beam)
            kept_wa = np.empty(beam)
            nk = 0
            for oi in range(m):
                c = order[oi]
                if beam > 0:
                    # the quick pass keeps a scalar Pareto front: faster labels first, then
                    # only those with a smaller largest weight sum or weight + activation
                    if nk >= beam:
                        break
                    mw, mwa = 0, 0
                    for i in range(n):
                        mw = max(mw, cW[c, i])
                        mwa = max(mwa, cW[c, i] + cA[c, i])
                    covered = False
                    for kk in range(nk):
                        if kept_w[kk] <= mw and kept_wa[kk] <= mwa:
                            covered = True
                            break
                    if covered:
                        continue
                    kept_w[nk], kept_wa[nk] = mw, mwa
                    nk += 1
                if beam == 0 and ub.shape[0] > 0:
                    hopeless = True
                    for yy in range(l + 1, last + 1):  # rows this label could still reach
                        if ct[c] + F[l + 1, j, yy] < ub[yy] * (1.0 - 1e-12):
                            hopeless = False
                            break
                    if hopeless:
                        continue
                sw = 0
                swa = 0
                for i in range(n):
                    sw += cW[c, i]
                    swa += cW[c, i] + cA[c, i]
                dominated = False
                for kk in range(first_new, new_cnt):
                    if nsW[kk] > sw or nsWA[kk] > swa:  # cannot be <= on every chiplet
                        continue
                    dom = True
                    for i in range(n):
                        if nW[kk, i] > cW[c, i] or nW[kk, i] + nA[kk, i] > cW[c, i] + cA[c, i]:
                            dom = False
                            break
                    if dom:
                        dominated = True
                        break
                if dominated:
                    continue
                if new_cnt >= size:
                    size *= 2
                    nt_ = _grow1(nt_, size)
                    nlast = _grow1(nlast, size)
                    nW = _grow2(nW, size)
                    nA = _grow2(nA, size)
                    nnode = _grow1(nnode, size)
                    nsW = _grow1(nsW, size)
                    nsWA = _grow1(nsWA, size)
                nsW[new_cnt] = sw
                nsWA[new_cnt] = swa
                nt_[new_cnt] = ct[c]
                nlast[new_cnt] = j
                nW[new_cnt] = cW[c]
                nA[new_cnt] = cA[c]
                if track:
                    if na >= arena_part.shape[0]:
                        arena_part = _grow1(arena_part, 2 * na)
                        arena_parent = _grow1(arena_parent, 2 * na)
                    arena_part[na] = j
                    arena_parent[na] = node_[cnode[c]]
                    nnode[new_cnt] = na
                    na += 1
                new_cnt += 1
        t_, last_, W_, A_, node_ = nt_, nlast, nW, nA, nnode
        cnt = new_cnt
        peak = max(peak, cnt)
        y += 1
    return path, peak


BEAM = 32  # labels per last partition in the quick upper-bound pass (a scalar time-memory front)


@njit(cache=True)
def rest_bounds(lt):
    """F[l, j, y]: the least time of layers l..y-1 when layer l - 1 has partition j
    (j = q: l starts its cluster), memory ignored; F[l, j, l] = 0."""
    L, q1, q = lt.shape
    F = np.full((L + 1, q1, L + 1), INF)
    for y in range(L + 1):
        for j in range(q1):
            F[y, j, y] = 0.0
        for l in range(y - 1, -1, -1):
            for j in range(q1):
                best = INF
                for jj in range(q):
                    v = lt[l, j, jj] + F[l + 1, jj, y]
                    if v < best:
                        best = v
                F[l, j, y] = best
    return F


@njit(cache=True)
def _exact_row(lt, w, act, cap, x, last, row, target, F, quick=False):
    """The exact pass, pruned by the quick pass's upper bounds; returns the path to
    `target` (from whichever pass attains row[target]) and the largest label count.
    With `quick`, only the quick pass: times of real fitting tuples, not proven least."""
    ub = np.full(row.shape[0], INF)
    bpath, bpeak = _label_pass(lt, w, act, cap, x, last, ub, target, BEAM, F, np.empty(0))
    if quick:
        row[:] = ub
        return bpath, bpeak
    epath, peak = _label_pass(lt, w, act, cap, x, last, row, target, 0, F, ub)
    use_beam = target > x and (epath.shape[0] != target - x or ub[target] < row[target])
    for y in range(x + 1, last + 1):
        if ub[y] < row[y]:
            row[y] = ub[y]
    return (bpath if use_beam else epath), peak


@njit(cache=True, parallel=True)
def _tab_for_n(lt, w, act, cap, max_len, out, quick=False):
    """out[x, y] for every first layer x, clusters of at most max_len layers; the passes
    are independent, so they run in parallel, early and late first layers paired."""
    L = lt.shape[0]
    F = rest_bounds(lt)
    peaks = np.zeros(L, np.int64)
    for i in prange(L):
        x = i // 2 if i % 2 == 0 else L - 1 - i // 2
        _, p = _exact_row(lt, w, act, cap, x, min(L, x + max_len), out[x], -1, F, quick)
        peaks[x] = p
    return peaks.max()


def cluster_table(tables: LayerTables, max_len: int, chiplets: range | None = None,
                  quick: bool = False) -> tuple[np.ndarray, int]:
    """tab[x, y, n] for every cluster of at most `max_len` layers and every chiplet count
    in `chiplets` (default all); inf elsewhere.  Also the largest label count seen.
    With `quick` (fastdp), the upper-bound pass only: real fitting tuples, not always
    the least time."""
    L = tables.lt[1].shape[0]
    N = tables.chiplets
    tab = np.full((L, L + 1, N + 1), INF)
    peak = 0
    row = np.empty((L, L + 1))
    for n in chiplets if chiplets is not None else range(1, N + 1):
        row.fill(INF)
        peak = max(peak, _tab_for_n(tables.lt[n], tables.w[n], tables.act[n], tables.sram_bytes, max_len, row, quick))
        tab[:, :, n] = row
    return tab, peak


def cluster_partitions(tables: LayerTables, x: int, y: int, n: int,
                       quick: bool = False) -> tuple[float, tuple[tuple[int, int], ...] | None]:
    """A fastest fitting partition tuple of cluster [x, y) on n chiplets, and its time
    (with `quick`, the tuple the quick pass found for the same table entry)."""
    L = tables.lt[n].shape[0]
    row = np.full(L + 1, INF)
    path, _ = _exact_row(tables.lt[n], tables.w[n], tables.act[n], tables.sram_bytes, x, y, row, y,
                         rest_bounds(tables.lt[n]), quick)
    if not math.isfinite(row[y]) or path.size != y - x:
        return INF, None
    parts = tables.parts[n]
    return float(row[y]), tuple((int(parts[j, 0]), int(parts[j, 1])) for j in path)
