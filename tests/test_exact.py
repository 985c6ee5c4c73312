"""Exact models: on random tiny instances the enumerator, CP-SAT, MILP+CBC and MILP+HiGHS
agree on the optimal T, and the evaluator's T of each returned mapping equals the
solver's reported objective (CP-SAT: within its documented rounding tolerance)."""

import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import ROOT
from strategies import tiny_instances
from scope_opt.cost.reference import CostModel
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.settings import Backend, SolverSettings
from scope_opt.methods.exact.facade import solve_exact
from scope_opt.methods.exact.tables import best_cluster
from scope_opt.problem.instance import load_instance
from scope_opt.methods.enumerate import enumerate_space
from scope_opt.methods.space import FeasibleParts

COLD = SolverSettings(time_limit_s=60, threads=1, seed=0, warm_start=False)


def check_agreement(inst, space, settings_=COLD):
    cost = CostModel(inst)
    en = enumerate_space(inst, space, max_mappings=10**7, cost=cost)
    for backend in Backend:
        r = solve_exact(inst, backend, space, settings_, CostTerms(inst, cost))
        if en.count == 0:
            assert r.status == "infeasible" and r.mapping is None
            continue
        assert r.status == "optimal", (backend, r.stats)
        tol = r.stats["rounding_tolerance_s"] + 1e-7 * en.best_latency_s
        assert r.latency_s == pytest.approx(en.best_latency_s, abs=tol), backend
        assert r.stats["objective_s"] == pytest.approx(r.latency_s, abs=tol), backend
        assert r.bound_s <= r.latency_s and r.gap is not None and r.gap <= tol / r.latency_s + 1e-12
        assert r.evaluation.feasible


@given(tiny_instances(max_layers=4, max_chiplets=8), st.sampled_from(["merged", "segmented", "sequential"]))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_all_exact_methods_agree_on_random_tiny_instances(inst, space):
    check_agreement(inst, space)


@pytest.mark.parametrize("name", ["tiny-chain6-2x2", "tiny-residual-2x2", "tiny-chain4-4x1-hybrid", "resnet18-head-2x2"])
def test_all_exact_methods_agree_on_bundled_small_instances(name):
    check_agreement(load_instance(ROOT / "instances" / "small" / f"{name}.toml"), "merged")


@given(tiny_instances(max_layers=4, max_chiplets=6))
@settings(max_examples=30, deadline=None)
def test_cluster_table_is_the_exact_minimum_over_fitting_partitions(inst):
    """The tables' inner optimum (DP, then Pareto labels under memory) equals brute force."""
    cost = CostModel(inst)
    fp = FeasibleParts(cost)
    L, N = len(inst.network.layers), inst.package.chiplets
    for a in range(L):
        for b in range(a + 1, L + 1):
            for n in range(1, N + 1):
                t, parts = best_cluster(cost, a, b, n)
                brute = min((cost.cluster_time(a, p) for p in fp.get(a, b, n)), default=math.inf)
                assert t == pytest.approx(brute, rel=1e-12)
                if parts is not None:
                    assert cost.fits(a, parts) and cost.cluster_time(a, parts) == pytest.approx(t, rel=1e-12)


def test_time_limit_returns_best_mapping_with_bound_not_fake_optimal():
    """A 12-layer ResNet-18 slice on 16 chiplets takes CP-SAT about 30 s to prove; cut at 1.5 s
    (the whole solve: tables, warm start and model take a few tenths)."""
    inst = load_instance(ROOT / "instances" / "scaling" / "resnet18-0-12-4x4.toml")
    # a first call compiles the table engine on a fresh machine, which would eat the 1.5 s
    solve_exact(inst, Backend.CPSAT, "merged", SolverSettings(time_limit_s=0.01, threads=2, seed=0))
    r = solve_exact(inst, Backend.CPSAT, "merged", SolverSettings(time_limit_s=1.5, threads=2, seed=0))
    assert r.status == "feasible"
    assert r.mapping is not None and r.evaluation.feasible
    assert r.bound_s is not None and r.bound_s <= r.latency_s and r.gap > 0
    # the warm start is a valid mapping, so the result is never worse than the Scope search's
    assert r.latency_s <= r.stats["warm_start_latency_s"] * (1 + 1e-9)


def test_export_formats(tmp_path):
    inst = load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml")
    for backend, name, marker in ((Backend.CBC, "m.lp", "Minimize"), (Backend.HIGHS, "m.mps", "ROWS"),
                                  (Backend.CPSAT, "m.pb.txt", "variables")):
        solve_exact(inst, backend, "merged", COLD, export=tmp_path / name)
        assert marker in (tmp_path / name).read_text()


def test_settings_are_recorded():
    inst = load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml")
    r = solve_exact(inst, Backend.CPSAT, "merged", SolverSettings(seed=7, threads=1))
    d = r.to_dict()
    assert d["settings"]["seed"] == 7 and d["settings"]["threads"] == 1 and d["settings"]["backend"] == "cpsat"
