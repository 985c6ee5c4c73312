"""The exact pass's newer pruning rules against brute force: every partition tuple of a
cluster is listed, so the rules are checked on what they claim, not through the tables.

- the priced (Lagrangian) bounds and the reach never exceed the time of a fitting
  extension (rest_bounds.py);
- the bounded-activation dominance: when a label dominates another, every extension
  that fits for the dominated one fits for it (dominance.py).

The tables against the Python label DP on instances where these rules prune are in
test_engine.py."""

import itertools

import numpy as np
from hypothesis import given, settings, strategies as st

from scope_opt.methods.dp.rest_bounds import _priced, _reach, pass_bounds


def _label(lt, w, act, x, parts):
    """(time, W, A) of cluster [x, x + len(parts)) with those partition indices."""
    q = lt.shape[2]
    t, prev = 0.0, q
    W, A = np.zeros(w.shape[2], np.int64), np.zeros(w.shape[2], np.int64)
    for k, j in enumerate(parts):
        t += lt[x + k, prev, j]
        W, A, prev = W + w[x + k, j], np.maximum(A, act[x + k, j]), j
    return t, W, A


@st.composite
def _tables(draw):
    """Random layer tables (L layers, q partitions, 1-2 binding chiplets) with SRAM that
    binds: small integer weights and activations against a capacity of a few layers."""
    L, q, nb = draw(st.integers(2, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    ints = lambda *shape: np.array(draw(st.lists(st.integers(0, 9), min_size=int(np.prod(shape)),
                                                 max_size=int(np.prod(shape))))).reshape(shape)
    lt = ints(L, q + 1, q).astype(np.float64) / 7.0
    return lt, ints(L, q, nb), ints(L, q, nb), float(draw(st.integers(4, 40)))


def _cases(data, L):
    x = data.draw(st.integers(0, L - 2))
    return x, data.draw(st.integers(x, L - 2))  # a label covers [x, l + 1)


@given(_tables(), st.data())
@settings(max_examples=200, deadline=None)
def test_priced_bounds_and_reach_hold_for_every_fitting_extension(tabs, data):
    lt, w, act, cap = tabs
    L, q = lt.shape[0], lt.shape[2]
    bounds = pass_bounds(lt, w, cap)
    x, l = _cases(data, L)
    lo = act[l + 1].min(axis=0)
    for head in itertools.product(range(q), repeat=l + 1 - x):
        t, W, A = _label(lt, w, act, x, head)
        if (W + A > cap).any():
            continue
        reach = _reach(W, A, bounds[3], l, L, cap, lo)
        for yy in range(l + 2, L + 1):
            for tail in itertools.product(range(q), repeat=yy - l - 1):
                t2, W2, A2 = _label(lt, w, act, x, head + tail)
                if (W2 + A2 > cap).any():
                    continue
                assert yy <= reach, (head, tail)
                assert t + bounds[0][l + 1, head[-1], yy] <= t2 * (1 + 1e-12)
                for c in range(bounds[2].shape[0] * w.shape[2]):
                    assert _priced(t, W, A, bounds, l, head[-1], yy, cap, lo, c) <= t2 * (1 + 1e-12), (c, head, tail)


@given(_tables(), st.data())
@settings(max_examples=200, deadline=None)
def test_bounded_activation_dominance_keeps_every_fit(tabs, data):
    """k dominates v (W + max(A, a) no larger at the least and the largest activation a
    later layer can add): each extension that fits after v fits after k."""
    lt, w, act, cap = tabs
    L, q = lt.shape[0], lt.shape[2]
    x, l = _cases(data, L)
    lo, hi = act[l + 1].min(axis=0), act[l + 1:].max(axis=(0, 1))
    heads = [_label(lt, w, act, x, h) + (h,) for h in itertools.product(range(q), repeat=l + 1 - x)]
    g = lambda W, A, a: W + np.maximum(A, a)
    for (_, Wk, Ak, hk), (_, Wv, Av, hv) in itertools.permutations(heads, 2):
        if not ((g(Wk, Ak, lo) <= g(Wv, Av, lo)).all() and (g(Wk, Ak, hi) <= g(Wv, Av, hi)).all()):
            continue
        for yy in range(l + 2, L + 1):
            for tail in itertools.product(range(q), repeat=yy - l - 1):
                _, Wv2, Av2 = _label(lt, w, act, x, hv + tail)
                _, Wk2, Ak2 = _label(lt, w, act, x, hk + tail)
                if (Wv2 + Av2 <= cap).all():
                    assert (Wk2 + Ak2 <= cap).all(), (hk, hv, tail)
