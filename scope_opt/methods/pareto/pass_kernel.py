"""The energy DP's cluster pass, compiled.  The same labels, order and floats as the
plain Python pass (reference_pass.py, the oracle tests/test_energy_kernel.py compares
it with): a label is (t, inner energy, W, A, last partition, cross key, path node);
the cross key is an interned id (the partitions of the layers with a cross part, added
in layer order) and the path a node of an arena of (partition, parent) pairs, so that
nothing grows as a tuple (docs/exact-models.md, "The exact energy DP", 3).  A pass
counts its steps against a budget, since compiled code cannot read the clock."""

from __future__ import annotations

import numpy as np
from numba import njit

from scope_opt.methods.dp.label_store import add_node, grow1, grow2

FROM_DRAM = -1  # a read of a tensor made outside the network (prod[l, r])
NO_READ = -2  # padding of a layer with fewer reads than the widest


@njit(cache=True)
def _inner_j(l, j, jp, y, prod, sram_b, terms, coef):
    """Layer l's inner energy (SRAM, and the reads from DRAM or its own cluster [y, .)),
    summed in the order of EnergyContext.inner_j and joules()."""
    nop = 0.0
    for r in range(prod.shape[1]):
        p = prod[l, r]
        if p == FROM_DRAM or p >= y:
            nop += terms[l, j, jp, r]
    return sram_b[l, j, jp] * coef[0] * coef[3] + nop * coef[1] * coef[3] + 0.0 * coef[2] * coef[3]


@njit(cache=True)
def _has_cross(l, y, prod):
    for r in range(prod.shape[1]):
        if 0 <= prod[l, r] < y:
            return True
    return False


@njit(cache=True)
def _stable_order(first, second):
    """Indices sorted by (first, second), ties in index order (Python's sorted)."""
    order = np.argsort(second, kind="mergesort")
    return order[np.argsort(first[order], kind="mergesort")]


@njit(cache=True)
def _intern(ck_next, ck_parent, ck_j, n_ck, c, j):
    """The id of cross key c extended by partition j (a new one the first time)."""
    if ck_next[c, j] < 0:
        if n_ck >= ck_parent.shape[0]:
            ck_next, ck_parent, ck_j = grow2(ck_next, 2 * n_ck), grow1(ck_parent, 2 * n_ck), grow1(ck_j, 2 * n_ck)
            ck_next[n_ck:] = -1
        ck_next[c, j], ck_parent[n_ck], ck_j[n_ck] = n_ck, c, j
        n_ck += 1
    return ck_next[c, j], ck_next, ck_parent, ck_j, n_ck


@njit(cache=True)
def _grow(l, y, cnt, t, e, W, A, lastj, ck, node, lt, w, act, cap, prod, sram_b, terms, coef, cks):
    """Every label followed by every partition of layer l that fits, in (label, partition) order."""
    q, k = w.shape[1], w.shape[2]
    cross = _has_cross(l, y, prod)
    m = cnt * q
    gt, ge = np.empty(m), np.empty(m)
    gj, gck, gpar = np.empty(m, np.int64), np.empty(m, np.int64), np.empty(m, np.int64)
    gW, gA = np.empty((m, k), np.int64), np.empty((m, k), np.int64)
    ck_next, ck_parent, ck_j, n_ck = cks
    g = 0
    for i in range(cnt):
        jp = lastj[i]
        for j in range(q):
            need = 0
            for c in range(k):
                gW[g, c] = W[i, c] + w[l, j, c]
                gA[g, c] = max(A[i, c], act[l, j, c])
                need = max(need, gW[g, c] + gA[g, c])
            if not float(need) <= cap:
                continue
            gt[g] = t[i] + lt[l, jp, j]
            ge[g] = e[i] + _inner_j(l, j, jp, y, prod, sram_b, terms, coef)
            gj[g], gpar[g] = j, node[i]
            if cross:
                gck[g], ck_next, ck_parent, ck_j, n_ck = _intern(ck_next, ck_parent, ck_j, n_ck, ck[i], j)
            else:
                gck[g] = ck[i]
            g += 1
    return (gt[:g], ge[:g], gW[:g], gA[:g], gj[:g], gck[:g], gpar[:g]), (ck_next, ck_parent, ck_j, n_ck)


@njit(cache=True)
def _dominates(a, b, use_time, gt, ge, gW, gA):
    """Grown label a makes b useless (same last partition and cross key): no later, no
    more energy, and on every chiplet no more weights and no more weights + activation."""
    if (use_time and gt[a] > gt[b]) or ge[a] > ge[b]:
        return False
    for c in range(gW.shape[1]):
        if gW[a, c] > gW[b, c] or gW[a, c] + gA[a, c] > gW[b, c] + gA[b, c]:
            return False
    return True


@njit(cache=True)
def _prune(grown, q, n_ck, use_time, work):
    """The grown labels no other of their group (last partition, cross key) dominates:
    by (e, t), groups in the order they first appear, as the Python pass keeps them."""
    gt, ge, gW, gA, gj, gck, _ = grown
    order = _stable_order(ge, gt)
    first_seen = np.full(n_ck * q, -1, np.int64)
    rank = np.empty(order.shape[0], np.int64)
    groups = 0
    for v in order:
        gid = gck[v] * q + gj[v]
        if first_seen[gid] < 0:
            first_seen[gid] = groups
            groups += 1
        rank[v] = first_seen[gid]
    order = order[np.argsort(rank[order], kind="mergesort")]
    kept = np.empty(order.shape[0], np.int64)
    nk = start = 0
    for i in range(order.shape[0]):
        v = order[i]
        if i > 0 and rank[v] != rank[order[i - 1]]:
            start = nk
        dominated = False
        for kk in range(start, nk):
            work[0] += 1
            if _dominates(kept[kk], v, use_time, gt, ge, gW, gA):
                dominated = True
                break
        if not dominated:
            kept[nk] = v
            nk += 1
    return kept[:nk]


@njit(cache=True)
def _options(labels, cnt, n_ck, front):
    """The options a cluster end keeps, per cross key in the order the keys first appear
    among the labels: energy mode the first of least (e, t), front mode the (t, e) front
    (the first of equal points, energy strictly falling)."""
    t, e, ck = labels[0], labels[1], labels[5]
    slot = np.full(n_ck, -1, np.int64)
    keys = np.empty(cnt, np.int64)
    nkeys = 0
    for i in range(cnt):
        if slot[ck[i]] < 0:
            slot[ck[i]] = nkeys
            keys[nkeys] = ck[i]
            nkeys += 1
    out = np.empty(cnt, np.int64)
    m = 0
    for s in range(nkeys):
        members = np.flatnonzero(ck[:cnt] == keys[s])
        if not front:
            best = members[0]
            for i in members:
                if e[i] < e[best] or (e[i] == e[best] and t[i] < t[best]):
                    best = i
            out[m] = best
            m += 1
            continue
        best_e = np.inf
        for i in members[_stable_order(t[members], e[members])]:
            if e[i] < best_e:
                out[m] = i
                m += 1
                best_e = e[i]
    return out[:m]


@njit(cache=True)
def energy_pass(lt, w, act, cap, prod, sram_b, terms, coef, y, last, front, budget):
    """The cluster pass of [y, .) on the chiplets of w, act (binding ones) up to layer
    `last`: per option (cluster end z, cross key id, T_c, inner energy, path node), the
    path arena (partition, parent) and the cross keys (parent id, partition; id 0 is the
    empty key).  ok is False when the pass ran past `budget` steps (nothing is usable)."""
    q, k = w.shape[1], w.shape[2]
    labels = (np.zeros(1), np.zeros(1), np.zeros((1, k), np.int64), np.zeros((1, k), np.int64),
              np.full(1, q, np.int64), np.zeros(1, np.int64), np.full(1, -1, np.int64))
    cnt = 1
    arena = (np.empty(64, np.int64), np.empty(64, np.int64))
    na = 0
    cks = (np.full((8, q), -1, np.int64), np.zeros(8, np.int64), np.zeros(8, np.int64), 1)
    oz, ock, onode = np.empty(64, np.int64), np.empty(64, np.int64), np.empty(64, np.int64)
    ot, oe = np.empty(64), np.empty(64)
    m = 0
    work = np.zeros(1, np.int64)
    for l in range(y, last):
        grown, cks = _grow(l, y, cnt, labels[0], labels[1], labels[2], labels[3], labels[4], labels[5], labels[6],
                           lt, w, act, cap, prod, sram_b, terms, coef, cks)
        work[0] += grown[0].shape[0]
        kept = _prune(grown, q, cks[3], front, work)
        if work[0] > budget:
            return False, oz[:0], ock[:0], ot[:0], oe[:0], onode[:0], arena, cks
        cnt = kept.shape[0]
        if cnt == 0:
            break
        nodes = np.empty(cnt, np.int64)
        for i in range(cnt):
            nodes[i] = na
            arena, na = add_node(arena, na, grown[4][kept[i]], grown[6][kept[i]])
        labels = (grown[0][kept], grown[1][kept], grown[2][kept], grown[3][kept], grown[4][kept], grown[5][kept], nodes)
        picks = _options(labels, cnt, cks[3], front)
        if m + picks.shape[0] > oz.shape[0]:
            size = 2 * (m + picks.shape[0])
            oz, ock, onode = grow1(oz, size), grow1(ock, size), grow1(onode, size)
            ot, oe = grow1(ot, size), grow1(oe, size)
        for i in picks:
            oz[m], ock[m], ot[m], oe[m], onode[m] = l + 1, labels[5][i], labels[0][i], labels[1][i], nodes[i]
            m += 1
    return True, oz[:m], ock[:m], ot[:m], oe[:m], onode[:m], arena, cks
