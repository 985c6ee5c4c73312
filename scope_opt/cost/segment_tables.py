"""Segment terms in bulk: D_in, D_out and W of every segment range, and the least T_s of
every one-layer segment (weight tiling included).
CostModel.segment_traffic_split and CostModel.single_segment_time for all ranges at once;
property tests check them against the reference."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from scope_opt.cost.kernels import passes, segment_time, tiled_period
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


def single_segment_table(instance: Instance, tables, traffic: tuple[np.ndarray, np.ndarray, np.ndarray],
                         chiplets: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least T_s of every one-layer segment over the chiplet counts in `chiplets` and the
    partitions (weight tiling allowed), with the chiplet count and partition index;
    `traffic` is segment_traffic_split_table's (D_s, D_in, W_s)."""
    L = len(instance.network.layers)
    dram, reads, weights = traffic
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
def single_segments(comp, nop, w, act, cap, batch, d_in, d_out, weights, bw, best, best_j):
    """For each layer l alone in its segment on n chiplets (the arrays are this n's):
    best[l] = min(best[l], least T_s over partitions j, tiled when the weights do not fit),
    T_s by formulas.tiled_period and formulas.segment_time (CostModel.single_segment_time); best_j[l] = the partition, -1 if none was better."""
    L, q = comp.shape
    for l in range(L):
        best_j[l] = -1
        for j in range(q):
            t = passes(w[l, j], act[l, j], cap)
            if t == 0:
                continue
            v = segment_time(batch, 1, tiled_period(comp[l, j], nop[l, j], t, d_in[l], d_out[l], bw), weights[l] / bw)
            if v < best[l]:
                best[l] = v
                best_j[l] = j


