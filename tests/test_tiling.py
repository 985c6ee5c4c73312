"""Weight tiling of a one-layer segment (docs/cost-model.md, "Weight tiling").

A hand-worked case, the t = 1 identity (bit for bit the resident formula and the
recorded paper-suite values), and agreement of every exact method on random instances
where tiling binds (t = 2..5)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import DATA, ROOT
from strategies import tiling_instances, tiny_instances
from scope_opt.cost.reference import CostModel
from scope_opt.cost.terms import CostTerms
from scope_opt.cost.evaluate import evaluate
from scope_opt.methods.dp.solver import solve_dp
from scope_opt.methods.settings import Backend, SolverSettings
from scope_opt.methods.exact.facade import solve_exact
from scope_opt.problem.instance import load_instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment, mapping_from_dict
from scope_opt.methods.enumerate import enumerate_space
from scope_opt.methods.scope.search import search
from scope_opt.methods.space import FeasibleParts

COLD = SolverSettings(time_limit_s=60, threads=1, seed=0, warm_start=False)


def fc_instance(tmp_path, mesh, sram_kib):
    p = tmp_path / "fc.toml"
    p.write_text(f'batch = 4\n[workload]\nmodel = "{DATA / "tiling_fc.yaml"}"\n[hardware]\nmesh = {list(mesh)}\n'
                 f'pe_array = [8, 8]\nfreq_ghz = 1.0\nsram_kib = {sram_kib}\nnop_gbps = 1.0\ndram_gbps = 1.0\n'
                 '[hardware.energy]\nmac_pj = 1.0\nsram_pj_per_byte = 1.0\nnop_pj_per_byte_hop = 1.0\ndram_pj_per_byte = 1.0\n')
    return load_instance(p)


def test_hand_worked_three_passes(tmp_path):
    """fc 64 -> 32 on one chiplet, SRAM 1024 B, batch 4, 8x8 PEs at 1 GHz, NoP and DRAM 1 GB/s.
    w = 2048 B of weights; a = 64 B input + 32 B output = 96 B; room M - a = 928 B,
    so t = ceil(2048 / 928) = 3 passes.
    t_comp = ceil(32/8) * ceil(64/8) = 32 cycles = 32 ns; t_nop = 64 B / 1 GB/s = 64 ns, x3 = 192 ns;
    DRAM per sample (t * D_in + D_out) = 3 * 64 + 32 = 224 B = 224 ns.
    T = B * max(32, 192, 224) ns + W / b_dram = 4 * 224 + 2048 = 2944 ns.
    Energy per sample (1 pJ per unit): MAC 2048; SRAM weights 2048 + t * (needed 64 + received 64)
    + output 32 = 2464; NoP 3 * 64 B * 1 hop = 192; DRAM W / B + 224 = 512 + 224 = 736."""
    inst = fc_instance(tmp_path, (1, 1), 1.0)
    mp = Mapping((Segment((Cluster(0, 1, 1, ((1, 1),)),)),))
    ev = evaluate(inst, mp)
    assert ev.feasible and ev.segments[0].passes == 3 and ev.clusters[0].passes == 3
    assert ev.latency_s == pytest.approx(2944e-9, rel=1e-12)
    assert ev.segments[0].dram_bytes == 224
    e = ev.energy
    assert (e.mac_j, e.sram_j, e.nop_j, e.dram_j) == pytest.approx((2048e-12, 2464e-12, 192e-12, 736e-12), rel=1e-12)
    # K split over 2 chiplets: 1024 B of weights and 64 + 16 = 80 B of activations each;
    # room 944 B, t = ceil(1024 / 944) = 2; t_comp = ceil(16/8) * 8 = 16 ns, t_nop = 64 ns,
    # DRAM 2 * 64 + 32 = 160 ns: T = 4 * max(16, 128, 160) ns + 2048 ns = 2688 ns.
    inst2 = fc_instance(tmp_path, (2, 1), 1.0)
    ev2 = evaluate(inst2, Mapping((Segment((Cluster(0, 1, 2, ((2, 1),)),)),)))
    assert ev2.segments[0].passes == 2 and ev2.latency_s == pytest.approx(2688e-9, rel=1e-12)
    # Every exact method and the searches find it (H on 2 chiplets replicates: t = 3, slower)
    for method in ("scope", "segmented", "sequential"):
        assert search(inst2, method).latency_s == ev2.latency_s
    assert solve_dp(inst2).latency_s == ev2.latency_s == enumerate_space(inst2).best_latency_s


def test_no_room_for_a_weight_tile_is_infeasible(tmp_path):
    inst = fc_instance(tmp_path, (1, 1), 0.09)  # 92 B of SRAM < 96 B of activations
    ev = evaluate(inst, Mapping((Segment((Cluster(0, 1, 1, ((1, 1),)),)),)))
    assert not ev.feasible and "no room for a weight tile" in ev.reason
    assert solve_dp(inst).status == "infeasible"


@given(tiny_instances(max_layers=4, max_chiplets=8))
@settings(max_examples=40, deadline=None)
def test_one_layer_segment_formula_equals_the_resident_one_when_t_is_1(inst):
    """B * max(t_comp, t * t_nop, (t * D_in + D_out) / b_dram) + W / b_dram with t = 1 is
    (B + 1 - 1) * max(T_c, D / b_dram) + W / b_dram, bit for bit."""
    cost = CostModel(inst)
    for l in range(len(inst.network.layers)):
        for n in range(1, inst.package.chiplets + 1):
            for p in inst.allowed_partitions[n]:
                if cost.fits(l, (p,)):
                    assert cost.passes(l, p) == 1
                    assert cost.single_segment_time(l, p) == cost.segment_time(l, l + 1, cost.layer_time(l, p, None), 1)
                else:
                    assert cost.passes(l, p) is None or cost.passes(l, p) > 1


def test_recorded_paper_mappings_score_the_same():
    """Every mapping the searches returned on the paper suite before tiling existed scores
    the same T now, bit for bit."""
    ref = json.loads((ROOT / "tests" / "data" / "scope_paper_reference.json").read_text())
    for key, rec in ref.items():
        if rec["feasible"]:
            inst = load_instance(ROOT / "instances" / "paper" / f"{key.split('/')[0]}.toml")
            assert evaluate(inst, mapping_from_dict(rec["mapping"])).latency_s == rec["latency_s"], key


@given(tiling_instances(), st.sampled_from(["merged", "segmented", "sequential"]))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_all_exact_methods_agree_where_tiling_binds(inst, space):
    cost = CostModel(inst)
    en = enumerate_space(inst, space, max_mappings=10**7, cost=cost)
    assert en.count == FeasibleParts(cost).ways(inst, space)
    dp = solve_dp(inst, space, CostTerms(inst, cost))
    if en.count == 0:
        assert dp.status == "infeasible"
        return
    assert dp.status == "optimal" and dp.latency_s == en.best_latency_s
    for backend in Backend:
        r = solve_exact(inst, backend, space, COLD, CostTerms(inst, cost))
        assert r.status == "optimal", (backend, r.stats)
        tol = r.stats["rounding_tolerance_s"] + 1e-9 * en.best_latency_s
        assert r.latency_s == pytest.approx(en.best_latency_s, abs=tol), backend
        assert r.evaluation.feasible
    for method in ("scope", "segmented", "sequential"):
        h = search(inst, method, terms=CostTerms(inst, cost))
        sub = enumerate_space(inst, h.space, max_mappings=10**7, cost=cost)
        if sub.count:
            assert h.evaluation.feasible and h.latency_s >= sub.best_latency_s * (1 - 1e-12)


def test_tiling_binds_in_the_random_instances():
    """The strategy above really exercises tiling: the optima use t >= 2 on many draws."""
    used = []

    @given(tiling_instances())
    @settings(max_examples=30, deadline=None)
    def probe(inst):
        r = solve_dp(inst, "sequential")
        if r.evaluation is not None:
            used.append(max(s.passes for s in r.evaluation.segments))

    probe()
    assert sum(t >= 2 for t in used) >= 10 and max(used) >= 3
