"""The folded energy DP (methods/pareto/folded.py): one pass over the boundaries gives the
energy optimum of the reference DP, which runs the segment step once per segment start
(itself checked against enumeration in test_energy.py); its DRAM pieces add up to each
segment's DRAM bytes; and it does fold: labels of different starts share keys."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import ROOT
from strategies import tiny_instances
from scope_opt.cost.energy import joules, mac_joules, segment_dram_bytes
from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.enumerate_energy import iter_mappings
from scope_opt.methods.pareto import folded, segments
from scope_opt.methods.pareto.chain import energy_front
from scope_opt.methods.pareto.clusters import EnergyContext
from scope_opt.problem.instance import load_instance

SPACES = ["merged", "segmented", "sequential"]


def energy_of(points):
    return [p.energy_j for p in points]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances(max_layers=5, max_chiplets=16, wide=True), st.sampled_from(SPACES), st.booleans())
def test_the_folded_dp_gives_the_energy_optimum_of_the_reference(inst, space, dominance):
    got = energy_front(inst, space, "energy", placement_dominance=dominance)
    want = energy_front(inst, space, "energy", placement_dominance=dominance, folded=False)
    assert energy_of(got) == pytest.approx(energy_of(want), rel=1e-12)  # ties may pick another mapping


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances(max_layers=6, max_chiplets=16, wide=True), st.sampled_from(SPACES))
def test_the_folded_dps_own_energy_is_the_evaluators(inst, space):
    """What the DP adds up for its optimum, MACs added, is the evaluator's energy of the
    mapping it returns: a key that forgets what the rest costs would add up another."""
    terms = CostTerms(inst)
    got = folded.energy_optimum(EnergyContext(terms, "energy"), space)
    if got is not None:
        ev = evaluate(inst, got[0], terms.reference)
        assert got[1] + mac_joules(terms.reference) == pytest.approx(ev.energy.total_j, rel=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances(max_layers=5, max_chiplets=6))
def test_dram_pieces_add_up_to_each_segments_dram_bytes(inst):
    """Cluster by cluster, as the DP reads them: the weights, each tensor made before the
    segment the first time it is read, then the live producers' and the output's writes."""
    cx = EnergyContext(CostTerms(inst), "energy")
    net, pkg, L = inst.network, inst.package, len(inst.network.layers)
    for m in list(iter_mappings(inst, "merged", cx.cost))[:200]:
        for seg in m.segments:
            a, b = seg.clusters[0].first, seg.clusters[-1].last
            total, seen = 0.0, ()
            for c in seg.clusters:
                piece, seen = folded._dram_reads(cx, c.first, c.last, cx.live(a, c.first), seen)
                total += piece
            written = [q for q in cx.live(a, b)] + ([L - 1] if b == L else [])
            total += joules(pkg, 0.0, 0.0, sum(net.shape(net.layers[q].name).elements for q in written)
                            * pkg.bytes_per_element)
            assert total == pytest.approx(joules(pkg, 0.0, 0.0, segment_dram_bytes(cx.cost, a, b, 1)), rel=1e-12)


def test_labels_of_different_segment_starts_share_keys(monkeypatch, tmp_path):
    """A fold that never merges would pass the tests above: on a residual head the folded
    DP extends fewer labels than the reference does over all its segment starts."""
    path = tmp_path / "head.toml"
    path.write_text(f'name = "head"\nbatch = 4\n[workload]\nmodel = "{ROOT / "models" / "resnet18.yaml"}"\n'
                    'layers = [1, 6]\n[hardware]\nmesh = [3, 2]\nsram_kib = 752\n')
    inst = load_instance(path)
    seen = {"folded": 0, "reference": 0}
    real_folded, real_reference = folded._extend, segments._extend

    def folded_extend(cx, y, labels, *rest):
        seen["folded"] += len(labels)
        return real_folded(cx, y, labels, *rest)

    def reference_extend(cx, a, y, labels, *rest):
        seen["reference"] += len(labels)
        return real_reference(cx, a, y, labels, *rest)

    monkeypatch.setattr(folded, "_extend", folded_extend)
    monkeypatch.setattr(segments, "_extend", reference_extend)
    got = energy_front(inst, "merged", "energy")
    want = energy_front(inst, "merged", "energy", folded=False)
    assert energy_of(got) == pytest.approx(energy_of(want), rel=1e-12)
    assert 0 < seen["folded"] < seen["reference"]
