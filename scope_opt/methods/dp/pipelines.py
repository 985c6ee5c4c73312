"""Pipelines inside a segment and the path over segments, for the chain DP
(docs/exact-models.md, "The chain DP"): the cluster tables with idle chiplets allowed
(budgets), the best pipeline for every cluster count (a
min-bottleneck chain partition with a chiplet budget), the least T_s of every segment,
the shortest path over segment boundaries, and the backtrack to the chosen clusters."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from scope_opt.cost.kernels import resident_period, segment_time

INF = math.inf


@njit(cache=True)
def budget_table(tab, tabm, argn):
    """tabm[x, y, k] = min over n <= k of tab[x, y, n] (idle chiplets are allowed and tab is
    not monotone in n); argn = the least n attaining it."""
    L, Y, M = tab.shape
    for x in range(L):
        for y in range(Y):
            best, arg = INF, 0
            for k in range(1, M):
                if tab[x, y, k] < best:
                    best, arg = tab[x, y, k], k
                tabm[x, y, k] = best
                argn[x, y, k] = arg
            tabm[x, y, 0] = INF


def with_budgets(tab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tabm, argn) of a cluster table (budget_table)."""
    tabm, argn = np.empty_like(tab), np.zeros(tab.shape, np.int64)
    budget_table(tab, tabm, argn)
    return tabm, argn



@njit(cache=True)
def _conv(A, B, p, N, out):
    """out[k] = min(out[k], min over n of max(A[k - n], B[n])) for k in p..N, where A[m]
    is the bottleneck of p - 1 clusters on at most m chiplets and B[n] a cluster's time
    on at most n chiplets; both non-increasing, so the best n for each k is where they
    cross, and that crossing moves right as k grows (one two-pointer sweep).  No
    candidate is below max(A[N], B[N]) and out is non-increasing too, so the budgets
    where out is already that low (a suffix) are skipped: the same out, less work."""
    lb = max(A[N], B[N])
    top = N
    while top >= p and out[top] <= lb:
        top -= 1
    s = 1  # smallest n with B[n] <= A[k - n]
    for k in range(p, top + 1):
        hi = k - (p - 1)  # the other p - 1 clusters need at least one chiplet each
        if s < 1:
            s = 1
        while s <= hi and B[s] > A[k - s]:
            s += 1
        best = INF
        if s <= hi:
            best = A[k - s]
        if s >= 2 and s - 1 <= hi:
            v = B[s - 1]
            if v < best:
                best = v
        if best < out[k]:
            out[k] = best


@njit(cache=True)
def _mark_useful(G, y, top, useful):
    """useful[p] for p in 2..top: G[p, y, k] < G[p', y, k] for every p' < p at some
    budget k.  A row that is nowhere strictly better than fewer clusters feeds no best
    pipeline (docs/exact-models.md, "Dominated pipelines")."""
    N = G.shape[2] - 1
    low = G[1, y].copy()
    for p in range(2, top + 1):
        better = False
        for k in range(N + 1):
            v = G[p, y, k]
            if v < low[k]:
                better = True
                low[k] = v
        useful[p] = better


@njit(cache=True)
def segment_pipelines(tabm, a, max_p, max_y, G, batch=1, t_ub=INF, tail=None, dominance=False):
    """G[p, y, k]: least bottleneck of clusters covering [a, y) with exactly p clusters on
    at most k chiplets (inf when impossible).  tabm[x, y, k] is the cluster table with
    idle chiplets allowed (min over n <= k).  Returns the last y reached: a prefix that
    no clustering covers ends the sweep, since a cover of [a, y') holds one of [a, y).
    With `t_ub` (what the segment from a and the layers after it may take on a mapping no
    slower than a known one, less their weights' DRAM time), a p-th cluster ending at y is
    not added when (batch + p - 1) x the bottleneck so far plus tail[y] (the least compute
    time of the layers from y on) exceeds it: T_s >= (B + p - 1) x that bottleneck + the
    stage times of its later clusters (docs/exact-models.md, "Useless stages"); G stays
    exact wherever it may lie on such a mapping and only grows elsewhere.  Only the rows
    G[p, y] with p <= min(max_p, y - a, N) and y up to the returned y are written (the
    others are never read, and filling all of G cost more than the sweep on 16x16).
    With `dominance`, no cluster is added to a row of p clusters that is nowhere better
    than fewer (_mark_useful): G only grows where fewer clusters do as well, so the least
    T_s of each segment and the fewest clusters attaining it stay exact."""
    L = tabm.shape[0]
    N = tabm.shape[2] - 1
    y_end = a
    useful = np.ones((max_p + 1, L + 1), np.bool_)
    for y in range(a + 1, min(L, max_y) + 1):
        G[1:min(max_p, y - a, N) + 1, y, :] = INF
        room = t_ub if tail is None else t_ub - tail[y]
        any_fit = False
        if tabm[a, y, N] < INF:
            G[1, y, :] = tabm[a, y, :]
            any_fit = True
        for p in range(2, min(max_p, y - a, N) + 1):
            for x in range(y - 1, a + p - 2, -1):
                if tabm[x, y, N] == INF:
                    break  # a longer cluster ending at y fits nowhere either
                if not useful[p - 1, x]:
                    continue
                # the pipeline part of T_s for a segment of at least p clusters (no weights)
                if G[p - 1, x, N] == INF or segment_time(batch, p, max(G[p - 1, x, N], tabm[x, y, N]), 0.0) > room:
                    continue
                _conv(G[p - 1, x], tabm[x, y], p, N, G[p, y])
            if G[p, y, N] < INF:
                any_fit = True
        if not any_fit:
            break
        if dominance:
            _mark_useful(G, y, min(max_p, y - a, N), useful[:, y])
        y_end = y
    return y_end


def start_order(L: int) -> np.ndarray:
    """Segment starts, early ones (the costliest) paired with late ones."""
    i = np.arange(L)
    return np.where(i % 2 == 0, i // 2, L - 1 - i // 2)


@njit(cache=True, parallel=True)
def best_segments(tabm, dram_s, weights_s, batch, max_p, f, fp, starts, limits, tail):
    """f[a, b] = least T_s of segment [a, b) over every cluster count P (fp: that P), for
    each start a = starts[i], pruned by its known upper bound limits[i] and `tail`
    (segment_pipelines).  Starts are independent, so they run in parallel; each writes
    its own row."""
    L = tabm.shape[0]
    N = tabm.shape[2] - 1
    for i in prange(starts.shape[0]):
        a = starts[i]
        G = np.empty((max_p + 1, L + 1, N + 1))
        y_end = segment_pipelines(tabm, a, max_p, L, G, batch, limits[i], tail, True)
        for b in range(a + 1, y_end + 1):
            for p in range(1, min(max_p, b - a, N) + 1):
                beta = G[p, b, N]
                if beta == INF:
                    continue
                t = segment_time(batch, p, resident_period(beta, dram_s[a, b]), weights_s[a, b])
                if t < f[a, b]:
                    f[a, b] = t
                    fp[a, b] = p


@njit(cache=True)
def prefix_lower_bounds(f, weights_s, tail, done, hi, out):
    """out[b] for b <= hi: no more than the time of any path covering [0, b) whose
    segments are exact (those of an optimal path are): f for the starts before `done`
    (their rows are final) and the one-layer segments (final too); a segment from a later
    start counts only its weights' DRAM time and its layers' least compute time
    (tail[a] - tail[b]; docs/exact-models.md, "Useless stages")."""
    out[0] = 0.0
    for b in range(1, hi + 1):
        best = INF
        for a in range(b):
            v = f[a, b] if (a < done or b == a + 1) else weights_s[a, b] + (tail[a] - tail[b])
            if out[a] + v < best:
                best = out[a] + v
        out[b] = best


@njit(cache=True)
def shortest_path(f):
    """dist[b] = least sum of segment times covering [0, b), added left to right as the
    evaluator adds them; prev[b] = the start of the last segment."""
    L = f.shape[0]
    dist = np.full(L + 1, INF)
    prev = np.full(L + 1, -1, np.int64)
    dist[0] = 0.0
    for b in range(1, L + 1):
        for a in range(b):
            if dist[a] < INF and f[a, b] < INF:
                v = dist[a] + f[a, b]
                if v < dist[b]:
                    dist[b] = v
                    prev[b] = a
    return dist, prev


@njit(cache=True)
def backtrack_segment(tabm, a, b, p, G):
    """The clusters (x, y, chiplet budget k) of a best p-cluster pipeline of [a, b) on at
    most N chiplets, last cluster first."""
    N = tabm.shape[2] - 1
    out = np.empty((p, 3), np.int64)
    y, k = b, N
    for r in range(p, 0, -1):
        target = G[r, y, k]
        if r == 1:
            out[0] = (a, y, k)
            break
        found = False
        for x in range(y - 1, a + r - 2, -1):
            for n in range(1, k - (r - 1) + 1):
                if max(G[r - 1, x, k - n], tabm[x, y, n]) == target:
                    out[r - 1] = (x, y, n)
                    y, k = x, k - n
                    found = True
                    break
            if found:
                break
    return out
