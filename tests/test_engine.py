"""The compiled table engine against its plain Python references, and the chain DP
against every other exact method.

- layer tables (times, per-chiplet weights and activations) equal CostModel exactly;
- cluster tables equal best_cluster (the Python label DP, itself checked against brute
  force in test_exact.py), and the rebuilt partitions fit and have that time;
- the Scope search on the compiled step returns exactly what the Python step returns,
  and what it returned on the paper suite before the engine existed;
- the chain DP equals the enumerator, CP-SAT, CBC and HiGHS, and every optimum the
  solver-scaling benchmark proved on the bundled slices."""

import csv
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from conftest import ROOT
from strategies import tiling_instances, tiny_instances
from scope_opt.cost.reference import CostModel
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.dp.chain import chain_dp
from scope_opt.methods.dp.budget import unbounded
from scope_opt.methods.dp.clusters import _tab_for_n, binding_chiplets, binding_view, cluster_partitions, cluster_table
from scope_opt.cost.layer_tables import build_layer_tables, reference_layer_tables
from scope_opt.cost.segment_tables import segment_traffic_table
from scope_opt.errors import InputError
from scope_opt.cost.evaluate import evaluate
from scope_opt.methods.dp.solver import solve_dp
from scope_opt.methods.settings import Backend, SolverSettings
from scope_opt.methods.exact.facade import solve_exact
from scope_opt.methods.exact.tables import best_cluster
from scope_opt.problem.instance import load_instance
from scope_opt.methods.enumerate import enumerate_space
from scope_opt.methods.space import StructuralSpace
from scope_opt.methods.scope.search import search

SPACES = ["merged", "segmented", "sequential"]
COLD = SolverSettings(time_limit_s=60, threads=1, seed=0, warm_start=False)


def assert_layer_tables_equal(inst, ns):
    tables, cost = build_layer_tables(inst), CostModel(inst)
    for n in ns:
        lt, w, act = reference_layer_tables(cost, n)
        assert np.array_equal(lt, tables.lt[n]), n  # bit for bit: same integer counts, same divisions
        assert np.array_equal(w, tables.w[n]) and np.array_equal(act, tables.act[n]), n


@given(tiny_instances(max_layers=5, max_chiplets=8))
@settings(max_examples=40, deadline=None)
def test_layer_tables_equal_the_cost_model(inst):
    assert_layer_tables_equal(inst, range(1, inst.package.chiplets + 1))


@pytest.mark.parametrize("model", ["resnet18", "mobilenetv2", "vgg16", "alexnet"])
def test_layer_tables_equal_the_cost_model_on_bundled_networks(model, tmp_path):
    """Grouped (depthwise) convs, pools, flattening fc layers, concatenation-free residuals."""
    p = tmp_path / "i.toml"
    p.write_text(f'batch = 8\n[workload]\nmodel = "{ROOT / "models" / model}.yaml"\n[hardware]\nmesh = [3, 2]\n'
                 '[space]\npartitions = ["hybrid"]\n')
    assert_layer_tables_equal(load_instance(p), [1, 2, 5, 6])


def test_segment_traffic_equals_the_cost_model():
    for name in ("resnet18-head-2x2", "tiny-residual-2x2"):
        inst = load_instance(ROOT / "instances" / "small" / f"{name}.toml")
        cost, L = CostModel(inst), len(inst.network.layers)
        dram, weights = segment_traffic_table(inst)
        for a in range(L):
            for b in range(a + 1, L + 1):
                assert (dram[a, b], weights[a, b]) == cost.segment_traffic(a, b)


def assert_cluster_table_equals_the_python_label_dp(inst, partitions=True):
    """Every entry equals best_cluster; with `partitions`, the rebuilt tuples fit and take that time."""
    cost, tables = CostModel(inst), build_layer_tables(inst)
    L, N = len(inst.network.layers), inst.package.chiplets
    tab, _ = cluster_table(tables, L)
    for a in range(L):
        for b in range(a + 1, L + 1):
            for n in range(1, N + 1):
                t, parts = best_cluster(cost, a, b, n)
                assert tab[a, b, n] == t, (a, b, n)
                if not partitions:
                    continue
                t2, parts2 = cluster_partitions(tables, a, b, n)
                assert t2 == t and (parts2 is None) == (parts is None)
                if parts2 is not None:
                    assert cost.fits(a, parts2) and cost.cluster_time(a, parts2) == t


@given(tiny_instances(max_layers=5, max_chiplets=6))
@settings(max_examples=40, deadline=None)
def test_cluster_table_equals_the_python_label_dp(inst):
    """Tight SRAM sizes in the strategy make memory bind often."""
    assert_cluster_table_equals_the_python_label_dp(inst)


@given(tiny_instances(max_layers=7, max_chiplets=16, wide=True))
@settings(max_examples=40, deadline=None)
def test_cluster_table_equals_the_python_label_dp_with_large_sram_and_many_chiplets(inst):
    """Where the bounded-activation dominance and the priced bounds prune (test_dp_bounds.py)."""
    assert_cluster_table_equals_the_python_label_dp(inst, partitions=False)


@given(tiny_instances(max_layers=6, max_chiplets=16, wide=True))
@settings(max_examples=40, deadline=None)
def test_binding_chiplets_leave_the_exact_tables_unchanged(inst):
    """Every chiplet left out is covered by a kept one, no kept one covers another, and the
    exact tables on the binding chiplets equal those on every chiplet, bit for bit."""
    tables = build_layer_tables(inst)
    L = len(inst.network.layers)
    for n in range(1, inst.package.chiplets + 1):
        w, act, lt = tables.w[n], tables.act[n], tables.lt[n]
        kept = list(binding_chiplets(w, act))
        covers = lambda k, i: bool((w[:, :, k] >= w[:, :, i]).all() and (act[:, :, k] >= act[:, :, i]).all())
        assert all(any(covers(k, i) for k in kept) for i in range(n))
        assert not any(covers(k, i) for k in kept for i in kept if k != i)
        reduced, full = np.full((L, L + 1), np.inf), np.full((L, L + 1), np.inf)
        no_layer_bounds = np.zeros((2, L + 1))
        _tab_for_n(lt, w, act, *binding_view(w, act), tables.sram_bytes, L, reduced, False, 1, math.inf, unbounded(),
                   no_layer_bounds, n, 0)
        _tab_for_n(lt, w, act, w, act, tables.sram_bytes, L, full, False, 1, math.inf, unbounded(), no_layer_bounds, n, 0)
        assert np.array_equal(reduced, full)


@given(tiny_instances(max_layers=7, max_chiplets=16, wide=True))
@settings(max_examples=30, deadline=None)
def test_the_exact_pass_alone_gives_the_tables_of_both_passes(inst):
    """The first try by the exact pass alone (no upper bounds, a small budget) and the
    quick and exact passes together (probe_labels = 0: every first try runs past its
    budget at once) give the same tables bit for bit, also with a budget in between."""
    tables = build_layer_tables(inst)
    L = len(inst.network.layers)
    alone, _ = cluster_table(tables, L)
    both, _ = cluster_table(tables, L, probe_labels=0)
    mixed, _ = cluster_table(tables, L, probe_labels=1)
    assert np.array_equal(alone, both) and np.array_equal(alone, mixed)


def tables_without_shared_counts(fn):
    """fn() with every chiplet count's passes run, none taken from the count below."""
    from scope_opt.methods.dp import clusters
    real = clusters._same_passes
    try:
        clusters._same_passes = lambda a, b: False
        return fn()
    finally:
        clusters._same_passes = real


def assert_shared_counts_change_nothing(inst):
    """Rows taken from an equal count below equal the rows its own passes give, bit for
    bit; with the useless-stage pruning on, the DP's T and mapping are unchanged."""
    tables = build_layer_tables(inst)
    L = len(inst.network.layers)
    shared, _ = cluster_table(tables, L)
    own, _ = tables_without_shared_counts(lambda: cluster_table(tables, L))
    assert np.array_equal(shared, own)
    dp, dp_own = chain_dp(inst), tables_without_shared_counts(lambda: chain_dp(inst))
    assert dp.latency_s == dp_own.latency_s and dp.mapping == dp_own.mapping


@given(tiny_instances(max_layers=6, max_chiplets=16, wide=True))
@settings(max_examples=30, deadline=None)
def test_equal_chiplet_counts_share_their_rows(inst):
    assert_shared_counts_change_nothing(inst)


def test_equal_chiplet_counts_occur_and_share_their_rows_on_a_real_network(tmp_path):
    """ResNet-18 on 8x8: several counts pose the same passes as the count below."""
    p = tmp_path / "i.toml"
    p.write_text(f'batch = 1\n[workload]\nmodel = "{ROOT / "models" / "resnet18"}.yaml"\n[hardware]\nmesh = [8, 8]\n'
                 'sram_kib = 1024\n[space]\npartitions = ["K", "H"]\n')
    inst = load_instance(p)
    tables = build_layer_tables(inst)
    from scope_opt.methods.dp.clusters import _same_passes
    inputs = [(tables.lt[n], *binding_view(tables.w[n], tables.act[n])) for n in range(1, 65)]
    assert sum(_same_passes(a, b) for a, b in zip(inputs, inputs[1:])) >= 2
    assert_shared_counts_change_nothing(inst)


@given(st.one_of(tiny_instances(max_layers=6, max_chiplets=16, wide=True), tiling_instances()))
@settings(max_examples=40, deadline=None)
def test_useless_stage_pruning_changes_no_optimum_nor_mapping(inst):
    """The merged tables and segment step skip stages that no mapping as fast as the
    segmented optimum can hold (stage time, area and weight bounds, the time before each
    segment start); the DP's T and mapping equal those of the unpruned DP, bit for bit.
    So they do when the bound is the optimum itself, the tightest one allowed."""
    from scope_opt.methods.dp import chain
    pruned = chain_dp(inst)
    real = chain.segmented_bound
    try:
        chain.segmented_bound = lambda *args: math.inf
        full = chain_dp(inst)
        if full.mapping is not None:
            chain.segmented_bound = lambda *args: full.latency_s
            tightest = chain_dp(inst)
            assert tightest.latency_s == full.latency_s and tightest.mapping == full.mapping
    finally:
        chain.segmented_bound = real
    assert pruned.latency_s == full.latency_s and pruned.mapping == full.mapping
    if pruned.mapping is not None:
        assert pruned.latency_s <= pruned.stats["known_upper_bound_s"]


@given(st.one_of(tiny_instances(max_layers=6, max_chiplets=16, wide=True), tiling_instances()))
@settings(max_examples=40, deadline=None)
def test_coarse_mapping_bound_changes_no_optimum_nor_mapping(inst):
    """The counts of a coarse mapping (multiples of g chiplets) are tabled first and its T
    tightens the bound: here 2 units of g = N // 2 chiplets, so that tiny packages take
    that path too.  The bound is no lower than T* and the DP's T and mapping are the
    unpruned DP's, bit for bit."""
    from scope_opt.methods.dp import chain, upper_bounds
    units, real = upper_bounds.COARSE_UNITS, chain.segmented_bound
    try:
        upper_bounds.COARSE_UNITS = 2
        pruned = chain_dp(inst)
        chain.segmented_bound = lambda *args: math.inf
        full = chain_dp(inst)
    finally:
        upper_bounds.COARSE_UNITS, chain.segmented_bound = units, real
    assert pruned.latency_s == full.latency_s and pruned.mapping == full.mapping
    if pruned.mapping is not None and inst.package.chiplets >= 4:
        assert full.latency_s <= pruned.stats["coarse_bound_s"] <= pruned.stats["one_cluster_bound_s"]


def test_coarse_mapping_bound_on_a_real_network(tmp_path):
    """ResNet-18 on 8x8: the coarse mapping (clusters on multiples of 4 chiplets) is a
    real mapping within a few percent of T*, tighter than the segmented bound."""
    p = tmp_path / "i.toml"
    p.write_text(f'batch = 64\n[workload]\nmodel = "{ROOT / "models" / "resnet18"}.yaml"\n[hardware]\nmesh = [8, 8]\n'
                 'sram_kib = 752\n[space]\npartitions = ["K", "H"]\n')
    dp = chain_dp(load_instance(p))
    coarse = dp.stats["coarse_bound_s"]
    assert dp.latency_s <= coarse <= 1.05 * dp.latency_s and coarse < dp.stats["known_upper_bound_s"]


def check_dp_agrees(inst, space, backends=tuple(Backend)):
    cost = CostModel(inst)
    en = enumerate_space(inst, space, max_mappings=10**7, cost=cost)
    r = solve_dp(inst, space, CostTerms(inst, cost))
    if en.count == 0:
        assert r.status == "infeasible" and r.mapping is None
        return
    assert r.status == "optimal" and r.gap == 0 and r.bound_s == r.latency_s
    assert r.latency_s == en.best_latency_s  # same terms added in the same order
    assert evaluate(inst, r.mapping, cost).latency_s == r.stats["objective_s"]
    for backend in backends:
        x = solve_exact(inst, backend, space, COLD, CostTerms(inst, cost))
        assert x.status == "optimal"
        assert r.latency_s == pytest.approx(x.latency_s, abs=x.stats["rounding_tolerance_s"] + 1e-9 * r.latency_s)


@given(tiny_instances(max_layers=4, max_chiplets=8), st.sampled_from(SPACES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_dp_agrees_with_enumerator_cpsat_cbc_highs(inst, space):
    assume(StructuralSpace.build(inst, space).size <= 10**7)  # enumerable (a concatenation pool widens the space)
    check_dp_agrees(inst, space)


@given(tiny_instances(max_layers=6, max_chiplets=6), st.sampled_from(SPACES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_dp_agrees_with_enumerator_on_deeper_chains(inst, space):
    assume(StructuralSpace.build(inst, space).size <= 10**7)
    check_dp_agrees(inst, space, backends=())


@pytest.mark.parametrize("name", ["tiny-chain4-2x1", "tiny-chain6-2x2", "tiny-residual-2x2", "tiny-chain4-4x1-hybrid",
                                  "resnet18-head-2x2"])
def test_dp_agrees_on_bundled_small_instances(name):
    inst = load_instance(ROOT / "instances" / "small" / f"{name}.toml")
    for space in SPACES:
        check_dp_agrees(inst, space, backends=(Backend.CPSAT,))


def test_dp_equals_the_optima_proven_by_cpsat_and_highs_on_the_scaling_slices():
    """results/solver-scaling.csv records what CP-SAT, HiGHS and CBC proved (120 s runs)."""
    rows = [r for r in csv.DictReader(open(ROOT / "results" / "solver-scaling.csv")) if r["status"] == "optimal"]
    assert len(rows) >= 15
    done = {}
    for r in rows:
        file = ROOT / "instances" / "scaling" / (r["instance"].replace("[", "-").replace(":", "-").replace("]", "") + ".toml")
        if file not in done:
            done[file] = solve_dp(load_instance(file), "merged").latency_s
        assert done[file] == pytest.approx(float(r["latency_s"]), rel=1e-9), (file.name, r["solver"])


@given(tiny_instances(max_layers=5, max_chiplets=8), st.sampled_from(["scope", "segmented"]))
@settings(max_examples=40, deadline=None)
def test_compiled_scope_step_equals_the_python_step(inst, method):
    fast, slow = search(inst, method), search(inst, method, engine=False)
    assert (fast.mapping is None) == (slow.mapping is None)
    if fast.mapping is not None:
        assert fast.mapping == slow.mapping and fast.latency_s == slow.latency_s
    assert fast.mappings_scored == slow.mappings_scored and fast.stats == slow.stats


def test_scope_search_unchanged_on_the_paper_suite():
    """tests/data/scope_paper_reference.json was recorded with the Python step before the
    compiled engine replaced it: same mappings, same T, same effort counters."""
    ref = json.loads((ROOT / "tests" / "data" / "scope_paper_reference.json").read_text())
    for key, rec in ref.items():
        name, method = key.split("/")
        res = search(load_instance(ROOT / "instances" / "paper" / f"{name}.toml"), method)
        feasible = res.evaluation is not None and res.evaluation.feasible
        if not rec["feasible"]:  # VGG-16: infeasible before weight tiling, mappable with it
            assert feasible and name.startswith("vgg16"), key
            continue
        assert (res.latency_s if feasible else None) == rec["latency_s"], key
        assert (res.mapping.to_dict() if res.mapping else None) == rec["mapping"], key
        assert res.mappings_scored == rec["mappings_scored"] and res.stats == rec["stats"], key


def test_dp_on_a_full_network_beats_or_equals_every_heuristic():
    inst = load_instance(ROOT / "instances" / "paper" / "resnet50-simba-4x4.toml")
    opt = {space: solve_dp(inst, space) for space in SPACES}
    assert all(r.status == "optimal" for r in opt.values())
    assert opt["merged"].latency_s <= opt["segmented"].latency_s <= opt["sequential"].latency_s
    assert opt["merged"].latency_s <= search(inst, "scope").latency_s
    assert opt["segmented"].latency_s <= search(inst, "segmented").latency_s
    # the layer-sequential baseline picks each layer's fastest fitting partition: that is the optimum
    assert opt["sequential"].latency_s == search(inst, "sequential").latency_s


def test_dp_refuses_what_does_not_fit_in_memory_with_the_size_and_the_fix():
    inst = load_instance(ROOT / "instances" / "paper" / "resnet50-simba-4x4.toml")
    with pytest.raises(InputError) as err:
        chain_dp(inst, memory_limit=10**6)
    msg = str(err.value)
    assert "GiB" in msg and "workload.layers" in msg and "56 layers on 16 chiplets" in msg


def test_dp_reports_infeasible_when_nothing_fits(tmp_path):
    """Activations alone exceed the SRAM: not even weight tiling helps."""
    p = tmp_path / "i.toml"
    p.write_text(f'[workload]\nmodel = "{ROOT / "models" / "tiny_chain4.yaml"}"\n[hardware]\nmesh = [2, 1]\nsram_kib = 0.01\n')
    inst = load_instance(p)
    r = solve_dp(inst, "merged")
    assert r.status == "infeasible" and r.mapping is None and r.bound_s is None and math.isinf(r.latency_s)
