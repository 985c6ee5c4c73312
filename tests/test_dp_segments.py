"""The chain DP's segment step (methods/dp/pipelines.py) against brute force on random
cluster tables: every clustering of a segment and every split of the chiplets is
listed, so the step's pruning (dominated pipelines, the stops over x and y) is checked
on what it claims, not through a whole solve."""

import itertools

import numpy as np
from hypothesis import given, settings, strategies as st

from scope_opt.cost import formulas
from scope_opt.methods.dp.pipelines import best_segments, segment_pipelines, start_order

INF = float("inf")


@st.composite
def _tabm(draw):
    """tabm[x, y, k] as the DP builds it: non-increasing in k (idle chiplets allowed),
    inf on no chiplets, and a cluster fits on at most k chiplets when its layers' sizes
    sum to at most cap[k] (non-decreasing in k), so a cluster holding one that does not
    fit on k does not fit on k either; few distinct times, so that extra clusters are
    often no better (the case the dominance rule prunes)."""
    L, N = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    size = np.cumsum([0] + draw(st.lists(st.integers(0, 3), min_size=L, max_size=L)))
    cap = np.maximum.accumulate([-1] + draw(st.lists(st.integers(0, 6), min_size=N, max_size=N)))
    tabm = np.full((L, L + 1, N + 1), INF)
    for y in range(1, L + 1):
        for x in range(y):
            vals = draw(st.lists(st.integers(1, 6), min_size=N + 1, max_size=N + 1))
            row = np.minimum.accumulate(np.array(vals, np.float64) / 3.0)
            tabm[x, y] = np.where(size[y] - size[x] <= cap, row, INF)
    dram = np.array(draw(st.lists(st.integers(0, 8), min_size=L * (L + 1), max_size=L * (L + 1))),
                    np.float64).reshape(L, L + 1) / 5.0
    weights = np.array(draw(st.lists(st.integers(0, 4), min_size=L * (L + 1), max_size=L * (L + 1))),
                       np.float64).reshape(L, L + 1) / 7.0
    return tabm, dram, weights, draw(st.sampled_from([1, 4, 64]))


def _compositions(a, b):
    """Every cut of [a, b) into consecutive clusters, as their boundaries."""
    for r in range(b - a):
        for cuts in itertools.combinations(range(a + 1, b), r):
            yield (a,) + cuts + (b,)


def _brute_segment(tabm, dram, weights, batch, a, b):
    """(least T_s of [a, b), the fewest clusters attaining it) over every clustering and
    every chiplet split (each cluster at least one chiplet, at most N in all)."""
    N = tabm.shape[2] - 1
    best, best_p = INF, 0
    for bounds in _compositions(a, b):
        p = len(bounds) - 1
        for alloc in itertools.product(range(1, N + 1), repeat=p):
            if sum(alloc) > N:
                continue
            beta = max(tabm[bounds[c], bounds[c + 1], alloc[c]] for c in range(p))
            if beta == INF:
                continue
            t = formulas.segment_time(batch, p, formulas.resident_period(beta, dram[a, b]), weights[a, b])
            if t < best or (t == best and p < best_p):
                best, best_p = t, p
    return best, best_p


@given(_tabm())
@settings(max_examples=300, deadline=None)
def test_segment_step_equals_brute_force(case):
    """f[a, b] and the cluster count fp[a, b] of best_segments (with the dominance rule)
    equal the brute-force least T_s of every multi-layer segment and its fewest-cluster
    attainer."""
    tabm, dram, weights, batch = case
    L, N = tabm.shape[0], tabm.shape[2] - 1
    f = np.full((L, L + 1), INF)
    fp = np.zeros((L, L + 1), np.int64)
    best_segments(tabm, dram, weights, batch, min(L, N), f, fp, start_order(L), np.full(L, INF), np.zeros(L + 1))
    for a in range(L):
        for b in range(a + 1, L + 1):
            t, p = _brute_segment(tabm, dram, weights, batch, a, b)
            assert f[a, b] == t, (a, b)
            if t < INF:
                assert fp[a, b] == p, (a, b)


@given(_tabm())
@settings(max_examples=300, deadline=None)
def test_dominance_only_grows_dominated_bottlenecks(case):
    """With the dominance rule each G entry is no smaller than the exact one, and where it
    is larger fewer clusters already do at least as well on the same budget (the claim
    docs/exact-models.md, "Dominated pipelines", proves); the sweep ends at the same y."""
    tabm = case[0]
    L, N = tabm.shape[0], tabm.shape[2] - 1
    max_p = min(L, N)
    for a in range(L):
        exact = np.full((max_p + 1, L + 1, N + 1), INF)
        pruned = np.full((max_p + 1, L + 1, N + 1), INF)
        y_end = segment_pipelines(tabm, a, max_p, L, exact)
        assert segment_pipelines(tabm, a, max_p, L, pruned, 1, INF, None, True) == y_end
        for y in range(a + 1, y_end + 1):
            for p in range(1, min(max_p, y - a) + 1):
                for k in range(N + 1):
                    g, h = exact[p, y, k], pruned[p, y, k]
                    assert h >= g
                    if h > g:
                        assert pruned[1:p, y, k].min() <= g, (a, p, y, k)
