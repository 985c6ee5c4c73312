"""The Scope search's segment step on the compiled tables: for one segment, every cluster
count P with compute-balanced cuts, each cluster's partitions by the DP along its layers
plus the memory repair, the exact min-max chiplet allocation, and the fastest T_s.

This is `ScopeSearch.best_segment` (search/scope.py, the reference) statement for
statement, with the same tie-breaking, so it returns the same segments and times; a
property test and a recorded paper-suite test check that."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from scope_opt.cost.kernels import fits, resident_period, segment_time

INF = math.inf


@njit(cache=True, inline="always")
def _lt(ft, n, l, i, j):
    q = ft.q[n]
    return ft.lt[ft.lt_off[n] + (l * (q + 1) + i) * q + j]


@njit(cache=True, inline="always")
def _wa(arr, ft, n, l, j, i):
    return arr[ft.wa_off[n] + (l * ft.q[n] + j) * n + i]


@njit(cache=True)
def _memory(ft, n, x, path, W, A):
    """Per chiplet: weight slices summed (W) and largest activation (A) of the cluster."""
    W[:n] = 0
    A[:n] = 0
    for k in range(path.shape[0]):
        base = ft.wa_off[n] + ((x + k) * ft.q[n] + path[k]) * n
        for i in range(n):
            W[i] += ft.w[base + i]
            A[i] = max(A[i], ft.act[base + i])


@njit(cache=True, inline="always")
def _fit(ft, n, W, A):
    """CostModel.fits: every chiplet's weights plus its largest activation <= SRAM."""
    worst = 0
    for i in range(n):
        worst = max(worst, W[i] + A[i])
    return fits(worst, ft.cap)


@njit(cache=True)
def _cannot_fit(ft, n, x, y):
    """A necessary condition: some chiplet holds at least the average over the n chiplets
    of the least total weights plus the least total activation of any one layer."""
    total_w = 0
    most_a = 0
    for l in range(x, y):
        total_w += ft.least_w[n, l]
        most_a = max(most_a, ft.least_a[n, l])
    return float(total_w + most_a) > n * ft.cap


@njit(cache=True)
def _path_time(ft, n, x, path):
    q = ft.q[n]
    t = 0.0
    for k in range(path.shape[0]):
        t += _lt(ft, n, x + k, q if k == 0 else path[k - 1], path[k])
    return t


@njit(cache=True)
def cluster_step(ft, x, y, n, wsize, path, W, A):
    """Stage time of cluster [x, y) on n chiplets as the Scope search picks its
    partitions (CostModel.partition_dp, then ClusterCosts' memory repair), writing the
    partition indices into path; inf when the repair cannot make it fit.  W and A are
    scratch vectors of at least n entries."""
    if _cannot_fit(ft, n, x, y):
        return INF  # no partition tuple fits, so neither the DP's nor any repaired one
    q = ft.q[n]
    m = y - x
    best = np.empty(q)
    par = np.zeros((m, q), np.int64)
    for j in range(q):
        best[j] = _lt(ft, n, x, q, j)
    nb = np.empty(q)
    for k in range(1, m):
        for j in range(q):
            v = INF
            arg = 0
            for i in range(q):
                c = best[i] + _lt(ft, n, x + k, i, j)
                if i == 0 or c < v:
                    v, arg = c, i
            nb[j] = v
            par[k, j] = arg
        best[:] = nb
    t = best[0]
    j = 0
    for jj in range(1, q):
        if best[jj] < t:
            t, j = best[jj], jj
    for k in range(m - 1, -1, -1):
        path[k] = j
        j = par[k, j]
    _memory(ft, n, x, path[:m], W, A)
    if _fit(ft, n, W, A):
        return t
    # memory repair: the layers holding most weight (stable order) take their leanest
    # partition, one at a time, until the cluster fits; W and A are updated in place
    order = np.argsort(-wsize[x:y], kind="mergesort")
    for k in order:
        l = x + k
        lean = ft.lean[n, l]
        old = path[k]
        path[k] = lean
        if old != lean:
            stale = False
            for i in range(n):
                W[i] += _wa(ft.w, ft, n, l, lean, i) - _wa(ft.w, ft, n, l, old, i)
                a_new = _wa(ft.act, ft, n, l, lean, i)
                if a_new >= A[i]:
                    A[i] = a_new
                elif _wa(ft.act, ft, n, l, old, i) == A[i]:
                    stale = True  # the old partition held this chiplet's largest activation
            if stale:
                _memory(ft, n, x, path[:m], W, A)
        if _fit(ft, n, W, A):
            return _path_time(ft, n, x, path[:m])
    return INF


@njit(cache=True)
def balanced_cuts(prefix, a, b, parts):
    """search/scope.py balanced_cuts, for parts <= b - a."""
    total = prefix[b] - prefix[a]
    bounds = np.empty(parts + 1, np.int64)
    bounds[0] = a
    last = prefix.shape[0] - 1
    for k in range(1, parts):
        target = prefix[a] + total * k / parts
        i = np.searchsorted(prefix, target)
        if i > 0 and abs(prefix[i - 1] - target) <= abs(prefix[min(i, last)] - target):
            i -= 1
        i = max(i, bounds[k - 1] + 1)
        i = min(i, b - (parts - k))
        bounds[k] = i
    bounds[parts] = b
    return bounds


@njit(cache=True)
def min_max_allocation(tables, chiplets):
    """search/scope.py min_max_allocation on a (clusters, N) array of stage times: the
    least candidate stage time tau that the clusters meet with at most `chiplets`
    chiplets, each taking the fewest chiplets n with tables[c, n - 1] <= tau (found by
    bisection on the running minimum, which is non-increasing)."""
    P, N = tables.shape
    run = np.empty((P, N))
    vals = np.empty(P * N)
    m = 0
    for c in range(P):
        cur = INF
        for n in range(N):
            v = tables[c, n]
            if v < INF:
                vals[m] = v
                m += 1
            if v < cur:
                cur = v
            run[c, n] = cur
    alloc = np.zeros(P, np.int64)
    if m == 0:
        return INF, alloc
    cands = np.unique(vals[:m])

    def need(tau, out):
        total = 0
        for c in range(P):
            if run[c, N - 1] > tau:
                return False
            lo, hi = 0, N - 1  # first n with run[c, n] <= tau
            while lo < hi:
                mid = (lo + hi) // 2
                if run[c, mid] <= tau:
                    hi = mid
                else:
                    lo = mid + 1
            out[c] = lo + 1
            total += lo + 1
        return total <= chiplets

    if not need(cands[-1], alloc):
        return INF, alloc
    lo, hi = 0, cands.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if need(cands[mid], alloc):
            hi = mid
        else:
            lo = mid + 1
    need(cands[lo], alloc)
    stage = -INF
    for c in range(P):
        stage = max(stage, tables[c, alloc[c] - 1])
    return stage, alloc


@njit(cache=True)
def scope_segment(ft, a, b, segmented, batch, load_prefix, wsize, dram_s, weights_s, cache, done):
    """Best T_s of segment [a, b) as the Scope search finds it.  cache[x, y, n] holds the
    cluster step's times (done[x, y] once filled).  Returns (T_s, P, bounds, alloc,
    schedules scored, cluster tables filled)."""
    N = cache.shape[2] - 1
    best_t = INF
    best_p = 0
    best_bounds = np.zeros(1, np.int64)
    best_alloc = np.zeros(1, np.int64)
    scored = 0
    filled = 0
    path = np.empty(b - a, np.int64)
    W = np.empty(N, np.int64)
    A = np.empty(N, np.int64)
    lo_p = b - a if segmented else 1
    for p in range(lo_p, min(b - a, N) + 1):
        if p < b - a:
            bounds = balanced_cuts(load_prefix, a, b, p)
        else:
            bounds = np.arange(a, b + 1)
        tables = np.empty((p, N))
        for c in range(p):
            x, y = bounds[c], bounds[c + 1]
            if not done[x, y]:
                for n in range(1, N + 1):
                    cache[x, y, n] = cluster_step(ft, x, y, n, wsize, path, W, A)
                done[x, y] = True
                filled += N
            tables[c] = cache[x, y, 1:]
        stage, alloc = min_max_allocation(tables, N)
        scored += 1
        if stage == INF:
            continue
        t = segment_time(batch, p, resident_period(stage, dram_s[a, b]), weights_s[a, b])
        if t < best_t:
            best_t, best_p, best_bounds, best_alloc = t, p, bounds, alloc.copy()
    return best_t, best_p, best_bounds, best_alloc, scored, filled


@njit(cache=True, parallel=True)
def scope_table(ft, wsize, N, out):
    """out[x, y, n] = cluster_step's stage time for every cluster (the Scope search's
    partition step over the whole table, for the ablation); a cluster that cannot fit on
    any chiplet count ends the scan over y (a longer one loads at least as much)."""
    L = ft.layers
    for i in prange(L):
        x = i // 2 if i % 2 == 0 else L - 1 - i // 2
        path = np.empty(L, np.int64)
        W = np.empty(N, np.int64)
        A = np.empty(N, np.int64)
        for y in range(x + 1, L + 1):
            hopeless = True
            for n in range(1, N + 1):
                if _cannot_fit(ft, n, x, y):
                    out[x, y, n] = INF
                else:
                    hopeless = False
                    out[x, y, n] = cluster_step(ft, x, y, n, wsize, path, W, A)
            if hopeless:
                break


@njit(cache=True, parallel=True)
def scope_segments_all(ft, batch, load_prefix, wsize, dram_s, weights_s, table, done, weight_bytes, cap_bytes, f, fp):
    """f[a, b] = the Scope search's T_s of every segment [a, b) of two or more layers whose
    weights could fit in the whole package (`cap_bytes`: every weight is held by some
    chiplet), its segment step run on `table` (the ablation's exact segmentation over
    Scope's per-segment solver); fp[a, b] = its cluster count."""
    L = ft.layers
    for i in prange(L):
        a = i // 2 if i % 2 == 0 else L - 1 - i // 2
        for b in range(a + 2, L + 1):
            if weight_bytes[a, b] > cap_bytes:
                break
            t, p, _, _, _, _ = scope_segment(ft, a, b, False, batch, load_prefix, wsize, dram_s, weights_s, table, done)
            f[a, b] = t
            fp[a, b] = p
