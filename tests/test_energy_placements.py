"""Placement dominance in the exact energy DP: the hops it compares are the very floats the
cost uses, and the DP with it gives the front and the energy optimum of the DP without
it (itself checked against enumeration in test_energy.py), while dropping labels."""

import math
from types import SimpleNamespace

import numpy as np

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from conftest import ROOT
from strategies import tiny_instances
from scope_opt.cost.energy import hop_vector, layer_pieces
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.pareto import placements
from scope_opt.methods.pareto.chain import energy_front
from scope_opt.methods.pareto.clusters import EnergyContext
from scope_opt.problem.instance import Package, load_instance
from scope_opt.problem.placement import serpentine


def values(points):
    return [(p.latency_s, p.energy_j) for p in points]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances(max_layers=4, max_chiplets=16, wide=True))
def test_reach_is_the_hop_vector_of_every_free_chiplet(inst):
    cx = EnergyContext(CostTerms(inst), "energy")
    N, mesh = inst.package.chiplets, inst.package.mesh
    for off in range(N):
        for n in range(1, N - off + 1):
            for u in range(off + n, N):
                want = hop_vector(cx.place(u, N - u), cx.place(off, n), mesh)
                assert list(placements.reach(cx, off, n, u)) == list(want)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances(max_layers=5, max_chiplets=16, wide=True), st.sampled_from(["energy", "front"]),
       st.sampled_from([1, 64]))
def test_the_dp_with_placement_dominance_gives_the_front_without_it(inst, mode, compared):
    """Point for point, T bit for bit and energy to the last bits (ties may pick another
    mapping of the same values), with every key compared or only the first."""
    placements.COMPARED, before = compared, placements.COMPARED
    try:
        got = energy_front(inst, "merged", mode)
    finally:
        placements.COMPARED = before
    want = energy_front(inst, "merged", mode, placement_dominance=False)
    assert [t for t, _ in values(got)] == [t for t, _ in values(want)]
    assert [e for _, e in values(got)] == pytest.approx([e for _, e in values(want)], rel=1e-12)


def test_placement_dominance_drops_labels_on_a_residual_network(monkeypatch, tmp_path):
    """A rule that never fires would pass the test above: count what it drops."""
    seen = {"in": 0, "out": 0}
    real = placements.drop_far_placements

    def counting(cx, labels, y):
        out = real(cx, labels, y)
        seen["in"] += sum(map(len, labels.values()))
        seen["out"] += sum(map(len, out.values()))
        return out

    monkeypatch.setattr("scope_opt.methods.pareto.segments.drop_far_placements", counting)
    path = tmp_path / "head.toml"
    path.write_text(f'name = "head"\nbatch = 4\n[workload]\nmodel = "{ROOT / "models" / "resnet18.yaml"}"\n'
                    'layers = [1, 6]\n[hardware]\nmesh = [3, 2]\nsram_kib = 752\n')
    inst = load_instance(path)
    for mode in ("energy", "front"):
        got, want = values(energy_front(inst, "merged", mode)), values(energy_front(inst, "merged", mode,
                                                                                       placement_dominance=False))
        assert [t for t, _ in got] == [t for t, _ in want]
        assert [e for _, e in got] == pytest.approx([e for _, e in want], rel=1e-12)
    assert seen["out"] < seen["in"]


@st.composite
def boundary_labels(draw):
    """One boundary's keys (u, live) -> labels (P, s, e, back), live producers on walk ranges
    before u, with few distinct values so that ties and dominance both occur."""
    mesh = draw(st.sampled_from([(3, 2), (4, 2), (4, 4)]))
    N, lives = mesh[0] * mesh[1], draw(st.integers(1, 2))
    keys = {}
    for _ in range(draw(st.integers(2, 12))):
        u = draw(st.integers(2, N - 1))
        live = []
        for q in range(lives):
            off = draw(st.integers(0, u - 1))
            live.append((q, off, draw(st.integers(1, u - off))))
        labels = [(draw(st.integers(1, 3)), draw(st.sampled_from([1.0, 2.0])), draw(st.sampled_from([1.0, 2.0, 3.0])),
                   None) for _ in range(draw(st.integers(1, 3)))]
        keys[(u, tuple(live))] = labels
    weights = [draw(st.sampled_from([0.0, 0.25, 1.0])) for _ in range(lives)]  # J per hop of the later reads
    nexts = [np.array(draw(st.lists(st.sampled_from([0.0, 0.1, 0.5]), min_size=3 * N, max_size=3 * N))).reshape(3, N)
             for _ in range(lives)]  # the next layer's reads: J per hop per (next cluster, chiplet)
    return mesh, keys, weights, nexts


@settings(max_examples=300, deadline=None)
@given(boundary_labels(), st.sampled_from(["energy", "front"]))
def test_a_label_is_dropped_exactly_when_a_kept_key_proves_it_useless(case, mode):
    """Against the rule's definition, in plain loops: each dropped label has a kept key of
    its offset with a label no worse by at least the slack (the most the next layer's
    reads cost it more over every next cluster, plus each live producer's later joules
    per hop times how much farther the kept key's copy is from the worst free chiplet);
    and (fewer keys than COMPARED) each kept label has none among the keys of less
    energy."""
    mesh, labels, weights, nexts = case
    cx = SimpleNamespace(mode=mode, memo={}, deadline=math.inf, pkg=Package(mesh), walk=serpentine(*mesh),  # what the rule reads;
                         producers=(None,), future_nop_j=lambda q, y, free: weights[q],  # boundary 0 has a next layer
                         next_read_j=lambda y, q, free: nexts[q][:, :free])
    cx.range_hops = lambda *where: EnergyContext.range_hops(cx, *where)
    if mode == "energy":
        labels = {k: [min(v, key=lambda x: x[2])] for k, v in labels.items()}
    use_time = mode == "front"
    out = placements.drop_far_placements(cx, labels, 0)

    def slack(ka, kb):  # the most ka's completions can cost more than kb's
        later, fa, fb = 0.0, [0.0] * 3, [0.0] * 3
        for (q, oa, na), (_, ob, nb) in zip(ka[1], kb[1]):
            ra, rb = placements.reach(cx, oa, na, ka[0]), placements.reach(cx, ob, nb, kb[0])
            later += weights[q] * max([0.0] + [float(x - y) for x, y in zip(ra, rb)])
            for m in range(3):  # the next layer's reads: exactly, for each next cluster
                fa[m] += sum(float(b) * float(h) for b, h in zip(nexts[q][m], ra))
                fb[m] += sum(float(b) * float(h) for b, h in zip(nexts[q][m], rb))
        first = max([0.0] + [a - b for a, b in zip(fa, fb)])
        return (first + later) * (1 + placements.MARGIN) + placements.ROUND * max(fa + fb)

    def no_worse(a, b, extra):
        return a[2] + extra <= b[2] and (not use_time or (a[0] <= b[0] and a[1] <= b[1]))

    for k, group in labels.items():
        for v in group:
            others = [(k2, o) for k2, g in out.items() if k2 != k and k2[0] == k[0] for o in g]
            if v not in out.get(k, []):
                assert any(no_worse(o, v, slack(k2, k)) for k2, o in others)
    for k, group in out.items():
        earlier = [k2 for k2 in out if k2 != k and k2[0] == k[0]  # visited before k: by least energy as given
                   and min(x[2] for x in labels[k2]) < min(x[2] for x in labels[k])]
        for v in group:
            assert not any(no_worse(o, v, slack(k2, k)) for k2 in earlier for o in out[k2])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances(max_layers=5, max_chiplets=8, wide=True))
def test_future_joules_per_hop_bound_every_later_read_of_a_producer(inst):
    """The weight of a producer's placement: for every later reader, its most bytes from
    that producer over every chiplet count up to the free ones and partition, in NoP
    joules per hop."""
    cx = EnergyContext(CostTerms(inst), "energy")
    net, pkg, cost = inst.network, inst.package, cx.cost
    per_hop = pkg.energy.nop_pj_per_byte_hop * 1e-12
    for q in range(len(net.layers)):
        for y in range(len(net.layers) + 1):
            for free in range(1, pkg.chiplets + 1):
                want = 0.0
                for l in range(max(y, q + 1), len(net.layers)):
                    if q in cx.producers[l]:
                        want += max(sum(float(by.sum()) for p, by in layer_pieces(cost, l, part, None)[1] if p == q)
                                    for n in range(1, free + 1) for part in inst.allowed_partitions[n])
                assert cx.future_nop_j(q, y, free) == pytest.approx(want * per_hop, rel=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances(max_layers=5, max_chiplets=8, wide=True), st.data())
def test_next_reads_are_the_cross_parts_of_the_next_clusters_first_layer(inst, data):
    """A row of `next_read_j` times the hops from a live producer's cluster is the NoP
    energy `cross_nop` gives that read, for every next cluster (chiplets, partition)."""
    cx = EnergyContext(CostTerms(inst), "energy")
    N, per_hop = inst.package.chiplets, inst.package.energy.nop_pj_per_byte_hop * 1e-12
    assume(N > 1)
    for y in range(1, len(inst.network.layers)):
        for q in {p for p in cx.producers[y] if p is not None}:
            u = data.draw(st.integers(1, N - 1))
            off = data.draw(st.integers(0, u - 1))
            nq = data.draw(st.integers(1, u - off))
            got = cx.next_read_j(y, q, N - u) @ placements.reach(cx, off, nq, u)
            want = [sum(cx.cross_nop(y, j, n, u, r, (off, nq)) for r, (p, _) in enumerate(cx.parts_of(y, j, None, n)[1])
                        if p == q) * per_hop
                    for n in range(1, N - u + 1) for j in range(len(inst.allowed_partitions[n]))]
            assert list(got) == pytest.approx(want, rel=1e-12)
