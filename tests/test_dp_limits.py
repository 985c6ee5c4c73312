"""The chain DP inside --time-limit: it stops between pieces of its work and returns the
Scope search's mapping labelled `feasible`, with a lower bound valid for every mapping and
the gap; it says what it is doing while it runs."""

import json
import math
import subprocess
import sys

from hypothesis import given, settings, strategies as st

from conftest import ROOT
from strategies import tiling_instances, tiny_instances
from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.dp.out_of_time import lower_bound_s
from scope_opt.methods.dp.solver import solve_dp
from scope_opt.problem.instance import load_instance

PAPER = ROOT / "instances" / "paper"


@given(st.one_of(tiny_instances(max_layers=4, max_chiplets=8, wide=True), tiling_instances()))
@settings(max_examples=40, deadline=None)
def test_timeout_lower_bound_is_below_every_optimum(inst):
    terms = CostTerms(inst)
    for space in ("merged", "segmented", "sequential"):
        r = solve_dp(inst, space, terms)
        if r.status == "optimal":
            assert lower_bound_s(terms) <= r.latency_s * (1 + 1e-12), space


def test_dp_past_its_time_limit_returns_a_labelled_mapping_with_bound_and_gap():
    inst = load_instance(PAPER / "resnet152-simba-8x8.toml")
    terms = CostTerms(inst)
    terms.layer_tables  # built before the limit starts, so that the limit falls in the cluster tables
    steps = []
    r = solve_dp(inst, "merged", terms, progress=steps.append, time_limit_s=0.05)
    assert r.status == "feasible" and r.stats["timed_out"] and "cluster tables" in r.stats["timed_out_in"]
    ev = evaluate(inst, r.mapping, terms.reference)
    assert ev.feasible and ev.latency_s == r.latency_s  # the incumbent is a real mapping, re-scored
    opt = solve_dp(inst, "merged", terms)
    assert 0 < r.bound_s <= opt.latency_s <= r.latency_s and 0 < r.gap < 1
    assert any(s.startswith("cluster tables") for s in steps) and steps[-1].startswith("time limit reached")


def test_fastdp_past_its_time_limit_is_still_a_heuristic_without_bound():
    inst = load_instance(PAPER / "resnet50-simba-6x6.toml")
    r = solve_dp(inst, "merged", max_clusters=9, time_limit_s=0.0)
    assert r.status == "heuristic" and r.bound_s is None and r.stats["timed_out"] and math.isfinite(r.latency_s)


def test_dp_prints_its_progress_and_obeys_the_cli_time_limit(tmp_path):
    out = tmp_path / "r.json"
    run = lambda limit: subprocess.run([sys.executable, "-m", "scope_opt.cli", "solve", PAPER / "resnet50-simba-6x6.toml",
                                        "--method", "dp", "--time-limit", limit, "--json", out],
                                       capture_output=True, text=True, timeout=300)
    res = run("600")
    assert res.returncode == 0, res.stderr
    assert "cluster tables (chiplet counts) 36/36" in res.stderr and "segments (starts) 56/56" in res.stderr
    assert json.loads(out.read_text())["status"] == "optimal"
    res = run("0.01")
    r = json.loads(out.read_text())
    assert res.returncode == 0 and r["status"] == "feasible" and r["gap"] > 0 and "time limit" in r["stats"]["reason"]


def test_one_long_label_pass_cannot_outlive_the_time_limit():
    """EfficientNet-B0 on 4x4: the pass of 5 chiplets from layer 0 holds ~49,000 labels by
    layer 80 and ran for minutes, and the limit was only checked between chiplet counts
    (a 30 s limit returned after 78 s).  The passes now get the work the time left allows."""
    import time
    from scope_opt.api import instance, load_network
    from scope_opt.methods.dp.solver import load_engine
    inst = instance(load_network(ROOT / "models" / "efficientnet_b0.yaml"), (4, 4), batch=64)
    terms = CostTerms(inst)
    terms.layer_tables
    load_engine()  # a cold machine compiles for a minute first; that is not the limit's time
    solve_dp(load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml"), "merged", time_limit_s=0.0)  # the fallback's kernels too
    start = time.monotonic()
    r = solve_dp(inst, "merged", terms, time_limit_s=3.0)
    took = time.monotonic() - start
    assert r.status == "feasible" and r.stats["timed_out"] and "cluster tables" in r.stats["timed_out_in"]
    assert took < 3.0 + 15.0, took  # the limit, then the Scope search's fallback (about 2 s)
    assert 0 < r.bound_s <= r.latency_s


def test_a_pass_past_its_work_budget_raises_out_of_time():
    import time
    import pytest
    from scope_opt.methods.deadline import OutOfTime
    from scope_opt.methods.dp.clusters import cluster_table
    inst = load_instance(PAPER / "resnet50-simba-6x6.toml")
    tables = CostTerms(inst).layer_tables
    with pytest.raises(OutOfTime, match="cluster tables"):
        cluster_table(tables, 56, range(4, 5), deadline=time.monotonic() - 1.0)
    tab, _ = cluster_table(tables, 56, range(4, 5))
    assert math.isfinite(tab[0, 1, 4])
