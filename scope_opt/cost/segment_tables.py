"""Segment terms in bulk and the chain DP over them.

D(a, b) and W(a, b) for every segment (CostModel.segment_traffic for all ranges at once),
the best pipeline inside a segment for every cluster count (a min-bottleneck chain
partition with a chiplet budget), and the shortest path over segment boundaries
(docs/exact-models.md, "The chain DP")."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from scope_opt.problem.instance import Instance

INF = math.inf


def segment_traffic_table(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    """dram[a, b] = D_s and weights[a, b] = W_s in bytes for every segment [a, b)."""
    dram, _, weights = segment_traffic_split_table(instance)
    return dram, weights


def segment_traffic_split_table(instance: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """D_s, D_in (its reads) and W_s in bytes for every segment [a, b) (CostModel.segment_traffic_split)."""
    net = instance.network
    L = len(net.layers)
    tensors = list(net.external) + [layer.name for layer in net.layers]
    size = np.array([net.shape(t).elements for t in tensors], np.int64)
    producer = np.array([-1 if net.producer(t) is None else net.producer(t) for t in tensors], np.int64)
    cons = [sorted(net.consumers.get(t, ())) for t in tensors]
    width = max(1, max(len(c) for c in cons))
    consumers = np.full((len(tensors), width), -1, np.int64)
    for i, c in enumerate(cons):
        consumers[i, : len(c)] = c
    wsum = np.concatenate([[0], np.cumsum([layer.weights for layer in net.layers])]).astype(np.int64)
    return _traffic(L, size, producer, consumers, wsum, instance.package.bytes_per_element)


def single_segment_table(instance: Instance, tables, chiplets: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least T_s of every one-layer segment over the chiplet counts in `chiplets` and the
    partitions (weight tiling allowed), with the chiplet count and partition index."""
    L = len(instance.network.layers)
    dram, reads, weights = segment_traffic_split_table(instance)
    idx = np.arange(L)
    d_in, d_out, w = reads[idx, idx + 1], dram[idx, idx + 1] - reads[idx, idx + 1], weights[idx, idx + 1]
    best = np.full(L, INF)
    best_n = np.zeros(L, np.int64)
    best_j = np.zeros(L, np.int64)
    j = np.empty(L, np.int64)
    cap = int(math.floor(tables.sram_bytes))
    for n in chiplets:
        single_segments(tables.comp[n], tables.nop[n], tables.w[n], tables.act[n], cap, instance.batch, d_in, d_out, w,
                        instance.package.dram_bps, best, j)
        better = j >= 0
        best_n[better], best_j[better] = n, j[better]
    return best, best_n, best_j


@njit(cache=True)
def _traffic(L, size, producer, consumers, wsum, e):
    dram = np.zeros((L, L + 1), np.int64)
    reads = np.zeros((L, L + 1), np.int64)
    weights = np.zeros((L, L + 1), np.int64)
    T = size.shape[0]
    for a in range(L):
        for b in range(a + 1, L + 1):
            weights[a, b] = (wsum[b] - wsum[a]) * e
            d = 0
            r = 0
            for t in range(T):
                p = producer[t]
                if p >= a and p < b:  # made inside: written when a later segment reads it, or the output
                    out = p == L - 1
                    for c in consumers[t]:
                        if c >= b:
                            out = True
                    if out:
                        d += size[t]
                elif p < a:  # made outside: read once when a layer of the segment reads it
                    for c in consumers[t]:
                        if c >= a and c < b:
                            d += size[t]
                            r += size[t]
                            break
            dram[a, b] = d * e
            reads[a, b] = r * e
    return dram, reads, weights


@njit(cache=True)
def passes(w, a, cap):
    """CostModel.passes for one layer and partition: the weight-tiling passes t, or -1
    when some chiplet's activations leave no room for its weights (cap = floor(SRAM))."""
    t = 1
    for i in range(w.shape[0]):
        room = cap - a[i]
        if room < 0 or (room == 0 and w[i] > 0):
            return -1
        if w[i] > 0:
            t = max(t, -(-w[i] // room))
    return t


@njit(cache=True)
def single_segments(comp, nop, w, act, cap, batch, d_in, d_out, weights, bw, best, best_j):
    """For each layer l alone in its segment on n chiplets (the arrays are this n's):
    best[l] = min(best[l], least T_s over partitions j, tiled when the weights do not fit),
    T_s = B * max(t_comp, t * t_nop, (t * D_in + D_out) / b_dram) + W_s / b_dram
    (CostModel.single_segment_time); best_j[l] = the partition, -1 if none was better."""
    L, q = comp.shape
    for l in range(L):
        best_j[l] = -1
        for j in range(q):
            t = passes(w[l, j], act[l, j], cap)
            if t < 0:
                continue
            v = batch * max(comp[l, j], t * nop[l, j], (t * d_in[l] + d_out[l]) / bw) + weights[l] / bw
            if v < best[l]:
                best[l] = v
                best_j[l] = j


@njit(cache=True)
def _conv(A, B, p, N, out):
    """out[k] = min(out[k], min over n of max(A[k - n], B[n])) for k in p..N, where A[m]
    is the bottleneck of p - 1 clusters on at most m chiplets and B[n] a cluster's time
    on at most n chiplets; both non-increasing, so the best n for each k is where they
    cross, and that crossing moves right as k grows (one two-pointer sweep)."""
    s = 1  # smallest n with B[n] <= A[k - n]
    for k in range(p, N + 1):
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
def segment_pipelines(tabm, a, max_p, max_y, G):
    """G[p, y, k]: least bottleneck of clusters covering [a, y) with exactly p clusters on
    at most k chiplets (inf when impossible).  tabm[x, y, k] is the cluster table with
    idle chiplets allowed (min over n <= k).  Returns the last y reached: a prefix that
    no clustering covers ends the sweep, since a cover of [a, y') holds one of [a, y)."""
    L = tabm.shape[0]
    N = tabm.shape[2] - 1
    G[:] = INF
    y_end = a
    for y in range(a + 1, min(L, max_y) + 1):
        any_fit = False
        if tabm[a, y, N] < INF:
            G[1, y, :] = tabm[a, y, :]
            any_fit = True
        for p in range(2, min(max_p, y - a, N) + 1):
            for x in range(y - 1, a + p - 2, -1):
                if tabm[x, y, N] == INF:
                    break  # a longer cluster ending at y fits nowhere either
                if G[p - 1, x, N] == INF:
                    continue
                _conv(G[p - 1, x], tabm[x, y], p, N, G[p, y])
            if G[p, y, N] < INF:
                any_fit = True
        if not any_fit:
            break
        y_end = y
    return y_end


@njit(cache=True, parallel=True)
def best_segments(tabm, dram_s, weights_s, batch, max_p, f, fp):
    """f[a, b] = least T_s of segment [a, b) over every cluster count P (fp: that P).
    Segment starts are independent, so they run in parallel; each writes its own row."""
    L = tabm.shape[0]
    N = tabm.shape[2] - 1
    for i in prange(L):
        a = i // 2 if i % 2 == 0 else L - 1 - i // 2  # early starts cost most: pair them with late ones
        G = np.empty((max_p + 1, L + 1, N + 1))
        y_end = segment_pipelines(tabm, a, max_p, L, G)
        for b in range(a + 1, y_end + 1):
            for p in range(1, max_p + 1):
                beta = G[p, b, N]
                if beta == INF:
                    continue
                period = max(beta, dram_s[a, b])
                t = (batch + p - 1) * period + weights_s[a, b]
                if t < f[a, b]:
                    f[a, b] = t
                    fp[a, b] = p


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
