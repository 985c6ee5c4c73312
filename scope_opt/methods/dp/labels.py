"""The two label passes behind the cluster tables (docs/exact-models.md, "Cluster tables").

For a first layer x and chiplet count n, a pass over y = x+1, x+2, ... extends labels
(time, last partition, per-chiplet weight sum W, per-chiplet largest activation A) by one
layer at a time and writes row[y], the least time of a label covering [x, y).

- `quick_pass` keeps, per last partition, at most BEAM labels on a scalar time-memory
  front: its rows are times of real fitting tuples (upper bounds), not always the least.
- `exact_pass` keeps every label that no other dominates, except those that provably
  cannot beat the quick pass's row anywhere (bound pruning).

Both drop a label dominated by one with the same last partition (dominance.py): no slower,
and on every chiplet no fuller for any largest activation the rest can add (every
extension of the dropped label is matched by one of the other that is no slower and fits
whenever it fits); the exact pass's bounds are in rest_bounds.py."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from scope_opt.cost.kernels import fits
from scope_opt.methods.dp.budget import unbounded
from scope_opt.methods.dp.dominance import act_range, act_suffix, keep_undominated
from scope_opt.methods.dp.label_store import grow1, grow2, add_node, new_store, push
from scope_opt.methods.dp.rest_bounds import hopeless, no_bounds

INF = math.inf
BEAM = 32  # labels per last partition in the quick upper-bound pass
USELESS = 1e300  # a row only useless labels reach (batch * time > limit): it may fit, and is no use
UNIT_ROUNDOFF = 2.0**-53  # IEEE double; the bound pruning's slack is a multiple of it
PRICED_FROM = 32  # candidates per partition from which the exact pass tries the priced bounds too


@njit(cache=True)
def _seed(lt, w, act, cap, x, track, batch, limit, capped):
    """The labels of cluster [x, x + 1): every partition of layer x that fits (and is
    not useless: batch * time <= limit[x]; `capped[0]` records that one was)."""
    q, n = lt.shape[2], w.shape[2]
    st = new_store(64, n)
    arena = (np.empty(1024, np.int64), np.empty(1024, np.int64))
    cnt = na = 0
    for j in range(q):
        ok = True
        for i in range(n):
            if not fits(w[x, j, i] + act[x, j, i], cap):
                ok = False
                break
        if ok and batch * lt[x, q, j] > limit[x]:
            capped[0] = True
        elif ok:
            node = na
            if track:
                arena, na = add_node(arena, na, j, -1)
            st = push(st, cnt, lt[x, q, j], j, w[x, j], act[x, j], node, 0, 0)
            cnt += 1
    return st, cnt, arena, na


@njit(cache=True)
def _row(st, cnt, row, y, x, target, arena, track):
    """row[y] = the least label time; at y == target (tracking), the path of that label."""
    best, bi = INF, -1
    for k in range(cnt):
        if st[0][k] < best:
            best, bi = st[0][k], k
    row[y] = best
    if not (track and y == target):
        return False, np.empty(0, np.int64)
    path = np.empty(target - x, np.int64)
    v = st[4][bi]
    for p in range(target - x - 1, -1, -1):
        path[p] = arena[0][v]
        v = arena[1][v]
    return True, path


@njit(cache=True)
def _candidates(lt, w, act, cap, l, j, st, cnt, cand, batch, limit, capped):
    """Every label extended by layer l with partition j that still fits and is not
    useless (batch * time <= limit[l], else `capped[0]` is set).  `cand` is reusable
    scratch storage; returns (count, cand)."""
    ct, cW, cA, cnode = cand
    n = w.shape[2]
    m = 0
    for k in range(cnt):
        if m >= ct.shape[0]:
            size = 2 * ct.shape[0]
            ct, cW, cA, cnode = grow1(ct, size), grow2(cW, size), grow2(cA, size), grow1(cnode, size)
        ok = True
        for i in range(n):
            wv = st[2][k, i] + w[l, j, i]
            av = max(st[3][k, i], act[l, j, i])
            if not fits(wv + av, cap):
                ok = False
                break
            cW[m, i] = wv
            cA[m, i] = av
        if ok and batch * (st[0][k] + lt[l, st[1][k], j]) > limit[l]:
            capped[0] = True
        elif ok:
            ct[m] = st[0][k] + lt[l, st[1][k], j]
            cnode[m] = k
            m += 1
    return m, (ct, cW, cA, cnode)


SHORT_SORT = 32  # up to this many candidates, an insertion sort (no allocation)


@njit(cache=True)
def _by_time(ct, m, order):
    """The candidates' order by time, stable (equal times keep their order), in `order`
    (grown when short): an insertion sort for a few, numpy's mergesort beyond."""
    if m > SHORT_SORT:
        return np.argsort(ct[:m], kind="mergesort")
    if order.shape[0] < m:
        order = np.empty(2 * m, np.int64)
    for k in range(m):
        i = k
        while i > 0 and ct[order[i - 1]] > ct[k]:
            order[i] = order[i - 1]
            i -= 1
        order[i] = k
    return order


@njit(cache=True)
def _front_covered(kept_w, kept_wa, nk, cW, cA, c):
    """The quick pass's scalar front: is candidate c's (largest W, largest W + A) no
    better than a faster kept one's?  Returns (covered, its largest W, largest W + A)."""
    mw = mwa = 0
    for i in range(cW.shape[1]):
        mw = max(mw, cW[c, i])
        mwa = max(mwa, cW[c, i] + cA[c, i])
    for kk in range(nk):
        if kept_w[kk] <= mw and kept_wa[kk] <= mwa:
            return True, mw, mwa
    return False, mw, mwa


@njit(cache=True)
def _select_quick(new, new_cnt, first, cand, m, order, j, st, arena, na, track, scratch, lo, hi):
    """The quick pass's rule for the candidates ending in partition j: at most the beam
    (the front's size in `scratch`), faster first, each kept only when it widens the
    scalar (largest W, largest W + A) front, and not dominated.  `scratch` holds the
    front and an unused work counter."""
    nk = 0
    kept_w, kept_wa, no_work = scratch
    for oi in range(m):
        if nk >= kept_w.shape[0]:
            break
        covered, mw, mwa = _front_covered(kept_w, kept_wa, nk, cand[1], cand[2], order[oi])
        if covered:
            continue
        kept_w[nk], kept_wa[nk] = mw, mwa
        nk += 1
        new, new_cnt, arena, na = keep_undominated(new, new_cnt, first, cand, order[oi], j, st, arena, na, track,
                                                    no_work, lo, hi)
    return new, new_cnt, arena, na


@njit(cache=True)
def _select_exact(new, new_cnt, first, cand, m, order, j, st, arena, na, track, y, bounds, last, ub, keep_below, work,
                  budget, lo, hi, cap, batch, limit, capped, hint):
    """The exact pass's rule: every candidate that is not dominated and that could still
    beat the quick pass's row somewhere (bound pruning).  Stops once `work` passes `budget`."""
    for oi in range(m):
        if work[0] > budget[0]:
            break
        work[0] += last - y  # the bound test's loop (its priced bounds count themselves)
        if hopeless(cand[0][order[oi]], cand[1][order[oi]], cand[2][order[oi]], bounds, y, j, last, ub, keep_below,
                    cap, lo, batch, limit, capped, hint, m >= PRICED_FROM, work):
            continue
        new, new_cnt, arena, na = keep_undominated(new, new_cnt, first, cand, order[oi], j, st, arena, na, track,
                                                    work, lo, hi)
    return new, new_cnt, arena, na


@njit(cache=True)
def _run(lt, w, act, cap, x, last, row, target, bounds, ub, beam, batch, limit, budget, work):
    """Rows (x, last] by extending labels one layer at a time under the quick or the
    exact rule; with target > x, also the partition indices of a tuple attaining
    row[target].  Returns (path, largest label count).  Labels ending at layer l with
    batch * time > limit[l] are dropped (useless stages); rows that only such labels
    could reach are USELESS, never inf, which keeps inf meaning 'fits nowhere'.  `work[x]` counts this pass's
    steps (the passes running at once each have their own entry); once it passes
    `budget[0]` (what one thread does in the time left), or all of them together pass
    `budget[1]` (what every thread does), the pass stops: largest label count -1, and
    the rows are not to be used."""
    q, n, track = lt.shape[2], w.shape[2], target > x
    keep_below = 1.0 + 4.0 * (last - x + 2) * UNIT_ROUNDOFF
    capped = np.zeros(1, np.bool_)
    own = work[x:x + 1]
    st, cnt, arena, na = _seed(lt, w, act, cap, x, track, batch, limit, capped)
    cand = (np.empty(64), np.empty((64, n), np.int64), np.empty((64, n), np.int64), np.empty(64, np.int64))
    order = np.empty(64, np.int64)
    quick = beam > 0  # else the exact rule
    scratch = (np.empty(beam), np.empty(beam), np.zeros(1, np.int64))
    new = new_store(st[0].shape[0], n)  # two stores, swapped each layer: no allocation per step
    suffix = act_suffix(act, x, last)
    lo, hi = np.empty(n, np.int64), np.empty(n, np.int64)
    hint = np.zeros(1, np.int64)  # the priced bound that cut last (rest_bounds.hopeless)
    peak, y = cnt, x + 1
    while cnt > 0:
        done, path = _row(st, cnt, row, y, x, target, arena, track)
        if done or y >= last:
            return path, peak
        new_cnt = 0
        act_range(act, y + 1, last, suffix, lo, hi, quick)  # what extensions of the new labels can add
        for j in range(q):
            m, cand = _candidates(lt, w, act, cap, y, j, st, cnt, cand, batch, limit, capped)
            order = _by_time(cand[0], m, order)
            own[0] += cnt  # extending every label by partition j
            if quick:
                new, new_cnt, arena, na = _select_quick(new, new_cnt, new_cnt, cand, m, order, j, st, arena, na, track,
                                                        scratch, lo, hi)
            else:
                new, new_cnt, arena, na = _select_exact(new, new_cnt, new_cnt, cand, m, order, j, st, arena, na, track,
                                                        y, bounds, last, ub, keep_below, own, budget, lo, hi, cap,
                                                        batch, limit, capped, hint)
        if own[0] > budget[0] or work.sum() > budget[1]:
            return np.empty(0, np.int64), -1
        st, new, cnt = new, st, new_cnt
        peak = max(peak, cnt)
        y += 1
    if capped[0]:
        for yy in range(y, last + 1):
            if row[yy] == INF:
                row[yy] = USELESS
    return np.empty(0, np.int64), peak


@njit(cache=True)
def quick_pass(lt, w, act, cap, x, last, row, target, batch, limit, beam):
    """Upper bounds: rows (x, last] from at most `beam` labels per last partition (real
    fitting tuples, not always the least)."""
    return _run(lt, w, act, cap, x, last, row, target, no_bounds(), np.empty(1), beam, batch, limit, unbounded(),
                np.zeros(lt.shape[0] + 1, np.int64))


@njit(cache=True)
def exact_pass(lt, w, act, cap, x, last, row, target, bounds, ub, batch, limit, budget, work):
    """Rows (x, last]: the least time of a fitting tuple (dominance is exact), pruned by
    the upper bounds `ub` of the quick pass.  `bounds` (rest_bounds.pass_bounds) holds F,
    the least time of the rest with memory ignored, and the priced bounds.  A label is
    dropped when even its best rest cannot bring it below ub at any later row it can
    reach (rest_bounds.hopeless); `keep_below` widens the test by
    the float round-off of summing the row's terms in two orders (docs/exact-models.md,
    "Bound pruning"), so no label that could beat ub is ever dropped.  With `limit`, a
    row is exact wherever a cluster of it may lie on a mapping no slower than the known
    one ("Useless stages", clusters.useless_limits).  Once its steps in `work`
    (an entry per first layer) pass `budget[0]`, or all of them `budget[1]`, it stops
    with largest label count -1."""
    return _run(lt, w, act, cap, x, last, row, target, bounds, ub, 0, batch, limit, budget, work)
