"""The energy DP's join rules (docs/exact-models.md, "Joining a cluster") against joining
every label with every option: the bucket's non-dominated values must be the same."""

from hypothesis import given, settings, strategies as st

from scope_opt.methods.pareto.points import front, prune_3
from scope_opt.methods.pareto.segments import _join, _join_least

small = st.integers(0, 6).map(float)  # few distinct values, so ties are common
labels = st.lists(st.tuples(st.integers(0, 4), small, small), min_size=1, max_size=8)
options = st.lists(st.tuples(small, small), min_size=1, max_size=6)


def _all_pairs(group, opts, cross):
    return [(P + 1, max(s, t), e + (ec + cross)) for P, s, e, _ in group for t, ec, _ in opts]


def _values(bucket):
    return sorted({v[:3] for v in prune_3(bucket)})


@settings(max_examples=300, deadline=None)
@given(labels, options, st.sampled_from([0.0, 0.5, 2.0]))
def test_join_keeps_every_non_dominated_value(raw_labels, raw_options, cross):
    group = sorted(prune_3([(P, s, e, ("label", i)) for i, (P, s, e) in enumerate(raw_labels)]),
                   key=lambda v: v[1])
    opts = [(t, e, ("parts", i)) for i, (t, e) in enumerate(front(raw_options))]
    bucket: list = []
    _join(group, opts, cross, ("where",), bucket)
    assert _values(bucket) == _values(_all_pairs(group, opts, cross))
    by_back = {v[3]: v for v in group}
    by_parts = {o[2]: o for o in opts}
    for P2, s2, e2, ((where, parts), back) in bucket:  # each candidate is the pair it names
        (P, s, e, _), (t, ec, _) = by_back[back], by_parts[parts]
        assert where == "where" and (P2, s2, e2) == (P + 1, max(s, t), e + (ec + cross))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), small, small, small, small, small, st.integers(0, 2)),
                min_size=1, max_size=8))
def test_join_least_keeps_the_first_least_energy_label(pairs):
    """Energy mode: one label per call, one option per cross key; the bucket ends with the
    first candidate of least (e, s, P), as min() over every candidate would pick."""
    bucket: list = []
    candidates = []
    for i, (P, s, e, t, ec, cross, keys) in enumerate(pairs):
        by_key = {(i, k): [(t + k, ec, ("parts", k))] for k in range(keys + 1)}
        _join_least((P, s, e, None), by_key, lambda ckey: cross * (1 + ckey[1]), ("where",), bucket)
        candidates += [(P + 1, max(s, t + k), e + (ec + cross * (1 + k))) for k in range(keys + 1)]
    assert len(bucket) == 1 and bucket[0][:3] == min(candidates, key=lambda v: (v[2], v[1], v[0]))
