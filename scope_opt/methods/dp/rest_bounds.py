"""Lower bounds on the rest of a cluster, for the exact pass's bound pruning
(docs/exact-models.md, "Bound pruning"): F, the least time of the remaining layers with
memory ignored, and Lagrangian bounds that charge each byte of weight a chiplet takes
at a price lambda, which a label short of SRAM cannot avoid paying in time."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

INF = math.inf
PRICE_STEPS = (-3, -2, -1, 0, 1, 2)  # lambda = base x 4^k; base prices all of SRAM at the network's least time
LAGRANGE_MARGIN = 1e-9  # relative: far above the round-off of Fl - lambda x slack, so no label that could win is cut


@njit(cache=True)
def _priced_rest(lt, extra, lam, longest, out):
    """out[l, j, y] = least over partitions of layers l..y-1 (after partition j of l - 1)
    of time + lam x extra[l, partition] summed, memory ignored, for y - l up to the
    longest cluster that fits (other entries are left unset); out[l, j, l] = 0."""
    L, q1, q = lt.shape
    for y in range(L + 1):
        for j in range(q1):
            out[y, j, y] = 0.0
        for l in range(y - 1, max(-1, y - longest - 1), -1):
            for j in range(q1):
                best = INF
                for jj in range(q):
                    v = lt[l, j, jj] + lam * extra[l, jj] + out[l + 1, jj, y]
                    if v < best:
                        best = v
                out[l, j, y] = best


@njit(cache=True)
def _longest(wmin, cap):
    """The most layers a cluster can hold: its least weights alone fit on every chiplet."""
    L = wmin.shape[0] - 1
    longest = 0
    for x in range(L):
        yy = x
        while yy < L and (wmin[yy + 1] - wmin[x] <= cap).all():
            yy += 1
        longest = max(longest, yy - x)
    return longest


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
def pass_bounds(lt, wb, cap):
    """(F, Fl, prices, wmin, [longest]): F as rest_bounds; Fl[k, i, l, j, y] the same least
    with each weight byte on binding chiplet i priced at prices[k] (s/byte), for y - l up
    to `longest`, the most layers a cluster that fits can hold; wmin[y, i] the least
    weights of layers 0..y-1 on chiplet i, summed."""
    F = rest_bounds(lt)
    L, q1, _ = lt.shape
    nb = wb.shape[2]
    wmin = np.zeros((L + 1, nb))
    for l in range(L):
        for i in range(nb):
            wmin[l + 1, i] = wmin[l, i] + wb[l, :, i].min()
    longest = _longest(wmin, cap)
    base = F[0, q1 - 1, L] / cap
    prices = np.array([base * 4.0**k for k in PRICE_STEPS])
    Fl = np.empty((prices.shape[0], nb, L + 1, q1, L + 1))  # read only where l <= y <= l + longest
    for k in range(prices.shape[0]):
        for i in range(nb):
            _priced_rest(lt, wb[:, :, i].astype(np.float64), prices[k], longest, Fl[k, i])
    return F, Fl, prices, wmin, np.array([longest])


@njit(cache=True)
def no_bounds():
    """The bounds of a pass that prunes nothing by them (the quick pass)."""
    return np.empty((1, 1, 1)), np.empty((0, 1, 1, 1, 1)), np.empty(0), np.zeros((1, 1)), np.zeros(1, np.int64)


@njit(cache=True)
def _priced(t, W, A, bounds, l, j, yy, cap, lo, c):
    """Lower bound c (c = k x chiplets + i) on the time of any fitting extension of the
    label (time t, weights W and largest activation A on the binding chiplets, layer l
    with partition j) to row yy: t + Fl - lam x slack_i, with slack_i = cap - W_i -
    max(A_i, lo_i) the weight bytes a fitting extension can add on chiplet i, less a
    margin for the round-off of the difference."""
    if yy - l - 1 > bounds[4][0]:  # more layers than any cluster that fits holds
        return INF
    nb = W.shape[0]
    k, i = c // nb, c % nb
    lam = bounds[2][k]
    slack = cap - W[i] - max(A[i], lo[i])
    fl = bounds[1][k, i, l + 1, j, yy]
    return t + fl - lam * slack - LAGRANGE_MARGIN * (abs(fl) + lam * abs(slack))


@njit(cache=True)
def _reach(W, A, wmin, l, last, cap, lo):
    """The last row an extension of the label (layer l its last) can fit at: one holding
    layers l+1..yy-1 needs at least W + their least weights + max(A, lo) on each chiplet
    (wmin: prefix sums of each layer's least weight over partitions)."""
    reach = last
    for i in range(W.shape[0]):
        room = cap - W[i] - max(A[i], lo[i]) + wmin[l + 1, i]  # wmin[yy, i] may reach this
        lo_y, hi_y = l + 1, reach  # wmin[lo_y, i] <= room here, or no extension fits
        if wmin[lo_y, i] > room:
            return l + 1
        while lo_y < hi_y:
            mid = (lo_y + hi_y + 1) // 2
            if wmin[mid, i] <= room:
                lo_y = mid
            else:
                hi_y = mid - 1
        reach = lo_y
    return reach


@njit(cache=True)
def hopeless(t, W, A, bounds, l, j, last, ub, keep_below, cap, lo, batch, limit, capped, hint, priced, work):
    """True when no extension of the label can reach a row below the quick pass's (a
    bound >= ub[yy] x keep_below: t + F, memory ignored, or a priced bound) nor a row
    where it would not be useless (batch x bound > limit[yy - 1] x keep_below; then
    `capped[0]` is set, as when such a label is dropped, so that a row left empty reads
    useless, not 'fits nowhere').  `hint[0]`, the priced bound that cut last, is tried
    first; without `priced` (few labels: pruning would not pay), only F.  Each priced
    bound taken is a step of `work[0]` (budget.py; the caller counts the rows tested)."""
    used_limit = False
    nc = bounds[2].shape[0] * W.shape[0] if priced else 0
    if t < ub[l + 1] * keep_below:  # the label's own row
        return False
    for yy in range(l + 2, _reach(W, A, bounds[3], l, last, cap, lo) + 1):
        target = ub[yy] * keep_below
        if t + bounds[0][l + 1, j, yy] >= target:
            continue
        if nc > 0:
            work[0] += 1
            if _priced(t, W, A, bounds, l, j, yy, cap, lo, hint[0]) >= target:
                continue
        best = t + bounds[0][l + 1, j, yy]
        for c in range(nc):
            work[0] += 1
            v = _priced(t, W, A, bounds, l, j, yy, cap, lo, c)
            if v >= target:
                hint[0] = c
                best = v
                break
            best = max(best, v)
        if best >= target:
            continue
        if batch * best > limit[yy - 1] * keep_below:
            used_limit = True
            continue
        return False
    if used_limit:
        capped[0] = True
    return True
