"""Placement dominance in the exact energy DP: the hops it compares are the very floats the
cost uses, and the DP with it gives the front and the energy optimum of the DP without
it (itself checked against enumeration in test_energy.py), while dropping labels."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import ROOT
from strategies import tiny_instances
from scope_opt.cost.energy import hop_vector
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.pareto import placements
from scope_opt.methods.pareto.chain import energy_front
from scope_opt.methods.pareto.clusters import EnergyContext
from scope_opt.problem.instance import load_instance


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

    def counting(cx, labels, N):
        out = real(cx, labels, N)
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
