"""Searches, enumerator, counting and ranks: cross-checked against each other and the evaluator."""

import itertools
import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT
from strategies import tiny_instances
from scope_opt.cost.reference import CostModel
from scope_opt.cost.terms import CostTerms
from scope_opt.cost.evaluate import evaluate, latency
from scope_opt.problem.instance import load_instance
from scope_opt.studies.rank import rank_of
from scope_opt.methods.enumerate import enumerate_space
from scope_opt.methods.scope.search import balanced_cuts, min_max_allocation, search
from scope_opt.methods.space import SPACES, FeasibleParts, StructuralSpace, count_mappings
from scope_opt.problem.mapping import validate

SMALL = ["tiny-chain4-2x1", "tiny-chain6-2x2", "tiny-residual-2x2", "tiny-chain4-4x1-hybrid", "resnet18-head-2x2"]


def small(name):
    return load_instance(ROOT / "instances" / "small" / f"{name}.toml")


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("space", SPACES)
def test_enumerator_count_equals_counting_dp(name, space):
    inst = small(name)
    cost = CostModel(inst)
    en = enumerate_space(inst, space, cost=cost)
    fp = FeasibleParts(cost)
    assert en.count == fp.ways(inst, space)
    # structural: the length-only DP equals the range DP with every partition allowed
    structural = count_mappings(inst, space, lambda a, b, n: len(inst.allowed_partitions[n]) ** (b - a))
    assert en.structural == structural == StructuralSpace.build(inst, space).size
    assert en.count <= en.structural and en.latencies.size == en.count


@pytest.mark.parametrize("name", SMALL)
def test_optimum_below_every_heuristic_and_ranks(name):
    inst = small(name)
    cost = CostModel(inst)
    en = enumerate_space(inst, "merged", cost=cost)
    assert evaluate(inst, en.best, cost).latency_s == pytest.approx(en.best_latency_s, rel=1e-12)
    assert en.latencies[0] == pytest.approx(en.best_latency_s, rel=1e-12)
    for method in ("scope", "segmented", "sequential"):
        res = search(inst, method, terms=CostTerms(inst, cost))
        assert res.evaluation.feasible
        assert en.best_latency_s <= res.latency_s * (1 + 1e-12)
        rank = en.rank(res.latency_s)
        # the rank is the share of the enumerated distribution strictly below the heuristic's T
        assert rank == sum(1 for t in en.latencies if t < res.latency_s * (1 - 1e-9)) / en.count
        assert rank_of(inst, res.latency_s, "merged", cost=cost).rank == rank
    # the segmented and sequential optima are mappings of the merged space too
    for sub in ("segmented", "sequential"):
        assert enumerate_space(inst, sub, cost=cost).best_latency_s >= en.best_latency_s * (1 - 1e-12)


@given(tiny_instances())
@settings(max_examples=40, deadline=None)
def test_scope_search_returns_valid_mappings_that_the_evaluator_agrees_with(inst):
    cost = CostModel(inst)
    en = enumerate_space(inst, "merged", max_mappings=10**7, cost=cost)
    for method in ("scope", "segmented", "sequential"):
        res = search(inst, method, terms=CostTerms(inst, cost))
        if res.mapping is None or not res.evaluation.feasible:
            # only allowed when nothing of that paradigm fits
            assert enumerate_space(inst, res.space, max_mappings=10**7, cost=cost).count == 0
            continue
        validate(res.mapping, inst)
        if "search_latency_s" in res.stats:
            assert res.stats["search_latency_s"] == pytest.approx(res.latency_s, rel=1e-12)
        assert en.best_latency_s <= res.latency_s * (1 + 1e-12)


def test_scope_search_feasible_on_bundled_paper_instances():
    for m in (4, 6, 8):
        inst = load_instance(ROOT / "instances" / "paper" / f"resnet50-simba-{m}x{m}.toml")
        cost = CostModel(inst)
        res = search(inst, "scope", terms=CostTerms(inst, cost))
        assert res.evaluation.feasible and res.mappings_scored > 0
        assert res.stats["search_latency_s"] == pytest.approx(res.latency_s, rel=1e-12)
        seg = search(inst, "segmented", terms=CostTerms(inst, cost))
        assert seg.evaluation.feasible
        assert all(len(range(c.first, c.last)) == 1 for c in seg.mapping.clusters)


@given(st.lists(st.lists(st.floats(0.1, 10), min_size=4, max_size=4), min_size=1, max_size=3), st.integers(1, 4))
@settings(max_examples=100, deadline=None)
def test_min_max_allocation_is_exact(tables, chiplets):
    stage, alloc = min_max_allocation(tables, chiplets)
    brute = math.inf
    for combo in itertools.product(range(1, 5), repeat=len(tables)):
        if sum(combo) <= chiplets:
            brute = min(brute, max(t[n - 1] for t, n in zip(tables, combo)))
    assert stage == brute
    if alloc:
        assert sum(alloc) <= chiplets and max(t[n - 1] for t, n in zip(tables, alloc)) == stage


def test_balanced_cuts():
    import numpy as np
    prefix = np.concatenate([[0], np.cumsum([1, 1, 1, 1, 10, 1, 1, 1])])
    bounds = balanced_cuts(prefix.astype(float), 0, 8, 3)
    assert bounds[0] == 0 and bounds[-1] == 8 and len(bounds) == 4
    assert all(b > a for a, b in zip(bounds, bounds[1:]))
    assert balanced_cuts(prefix.astype(float), 0, 2, 3) is None


def test_structural_sampling_is_uniform():
    """tiny-chain4-2x1 has 365 structural merged mappings; 36500 draws hit each about 100 times."""
    inst = small("tiny-chain4-2x1")
    st_ = StructuralSpace.build(inst, "merged")
    rng = random.Random(1)
    seen = Counter(st_.sample(rng) for _ in range(36500))
    assert len(seen) == st_.size == 365
    for mp in seen:
        validate(mp, inst)
    # a binomial(36500, 1/365) count lies within 100 +- 45 with overwhelming probability
    assert 55 <= min(seen.values()) and max(seen.values()) <= 145


def test_sampled_rank_brackets_exact_rank():
    inst = small("tiny-chain6-2x2")
    cost = CostModel(inst)
    t = search(inst, "sequential", terms=CostTerms(inst, cost)).latency_s
    exact = rank_of(inst, t, "merged", cost=cost)
    sampled = rank_of(inst, t, "merged", max_mappings=10, samples=4000, seed=3, cost=cost)
    assert exact.method == "exact" and sampled.method == "sampled"
    lo, hi = sampled.interval
    assert lo <= exact.rank <= hi


def test_sampled_latencies_match_the_evaluator():
    inst = small("resnet18-head-2x2")
    cost = CostModel(inst)
    st_ = StructuralSpace.build(inst, "merged")
    rng = random.Random(0)
    for _ in range(30):
        mp = st_.sample(rng)
        ev = evaluate(inst, mp, cost)
        assert latency(inst, mp, cost) == (ev.latency_s if ev.feasible else math.inf)
