"""One problem description: the cost rules written once (plain and compiled agree), the
terms built once per instance, operators as data, and the method registry."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT
from strategies import tiny_instances
from scope_opt.cost import formulas, kernels
from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.objectives import OBJECTIVES
from scope_opt.cost.reference import CostModel
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.methods.registry import CLI_METHODS, METHODS, Kind, ablation_method, dp_for, resolve, special, user_method
from scope_opt.problem.instance import load_instance
from scope_opt.problem.network_yaml import load_network
from scope_opt.problem.operators import Channels, Role, Rows
from scope_opt.methods.dispatch import MethodOptions, solve
from scope_opt.studies.ablation import STEPS, Ablation

times = st.floats(min_value=0.0, max_value=1e3, allow_nan=False)
counts = st.integers(min_value=0, max_value=2**40)


@given(times, times, st.integers(1, 64), counts, counts, st.floats(1e3, 1e12))
@settings(deadline=None)  # the first call compiles
def test_period_rules_compiled_equal_plain(comp, nop, t, d_in, d_out, bw):
    assert kernels.tiled_period(comp, nop, t, d_in, d_out, bw) == formulas.tiled_period(comp, nop, t, d_in, d_out, bw)
    assert kernels.resident_period(comp, nop) == formulas.resident_period(comp, nop)


@given(st.integers(1, 10**9), st.integers(1, 2048), times, times)
@settings(deadline=None)
def test_segment_time_compiled_equals_plain(batch, clusters, period, weights_s):
    assert kernels.segment_time(batch, clusters, period, weights_s) == formulas.segment_time(batch, clusters, period,
                                                                                            weights_s)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=16),
       st.integers(0, 2 * 10**6))
@settings(deadline=None)
def test_fit_and_tiling_rules_compiled_equal_plain(chiplets, cap):
    w = np.array([c[0] for c in chiplets], np.int64)
    a = np.array([c[1] for c in chiplets], np.int64)
    assert kernels.passes(w, a, cap) == formulas.passes(w.tolist(), a.tolist(), cap)
    worst = int((w + a).max())
    assert kernels.fits(worst, float(cap)) == formulas.fits(worst, float(cap)) == (worst <= cap)
    t = formulas.passes(w.tolist(), a.tolist(), cap)
    if t:  # every chiplet's tile of ceil(w / t) bytes fits beside its activations
        assert all(-(-wi // t) + ai <= cap or wi == 0 for wi, ai in zip(w.tolist(), a.tolist()))


@given(tiny_instances())
@settings(max_examples=25, deadline=None)
def test_terms_equal_the_reference(inst):
    """D_in, D_out, W per segment and the one-layer-segment table equal the plain model."""
    terms, cost = CostTerms(inst), CostModel(inst)
    L = len(inst.network.layers)
    for a in range(L):
        for b in range(a + 1, L + 1):
            d_in, d_out, w = cost.segment_traffic_split(a, b)
            assert (terms.traffic[0][a, b], terms.traffic[1][a, b], terms.traffic[2][a, b]) == (d_in + d_out, d_in, w)
        best = min((cost.single_segment_time(a, p) for n in range(1, inst.package.chiplets + 1)
                    for p in inst.allowed_partitions[n]), default=math.inf)
        assert terms.single()[0][a] == best


def test_operators_are_data():
    """conv, fc, pool, depthwise and the residual add are operand read rules, not branches."""
    net = load_network(ROOT / "models" / "mobilenetv2.yaml")
    dw = next(l for l in net.layers if l.op == "conv" and l.groups > 1)
    assert [(o.role, o.channels, o.rows) for o in dw.operands] == [
        (Role.INPUT, Channels.GROUP, Rows.HALO), (Role.WEIGHTS, Channels.SAME, Rows.ALL)]
    pool = next(l for l in load_network(ROOT / "models" / "resnet50.yaml").layers if l.op == "pool")
    assert [(o.role, o.channels) for o in pool.operands] == [(Role.INPUT, Channels.SAME)] and pool.weights == 0
    fc = load_network(ROOT / "models" / "vgg16.yaml").layers[-3]
    assert fc.flatten and fc.operands[0].channels is Channels.ALL and fc.operands[0].rows is Rows.ALL
    res = next(l for l in net.layers if l.residual)
    assert [o.role for o in res.operands] == [Role.INPUT, Role.RESIDUAL, Role.WEIGHTS]
    assert res.operands[1].channels is Channels.SAME and res.operands[1].rows is Rows.SAME


def test_read_rules_worked_example():
    """docs/cost-model.md, Operators as data: the worked example."""
    from scope_opt.problem.instance import Instance, Package
    from scope_opt.problem.network_yaml import build_network
    net = build_network({"input": {"C": 4, "H": 8, "W": 8}, "layers": [
        {"name": "c", "op": "conv", "K": 8, "R": 3}, {"name": "p", "op": "pool", "R": 3}]}, "(test)", "ex")
    cost = CostModel(Instance("ex", 1, net, Package(mesh=(2, 1))))
    conv = cost.regions(0, (1, 2))[0]
    assert (conv.c0.tolist(), conv.c1.tolist(), conv.r0.tolist(), conv.r1.tolist()) == ([0, 0], [4, 4], [0, 3], [5, 8])
    assert conv.elements().tolist() == [160, 160]
    pool = cost.regions(1, (2, 1))[0]
    assert (pool.c0.tolist(), pool.c1.tolist(), pool.r0.tolist(), pool.r1.tolist()) == ([0, 4], [4, 8], [0, 0], [8, 8])
    assert pool.elements().tolist() == [256, 256]


def test_registry_names_every_method_once_and_resolves_the_command_line():
    assert resolve("milp", "cbc").name == "milp-cbc" and resolve("milp").name == "milp-highs"
    assert resolve("dp-segmented").space == "segmented" and dp_for("sequential").name == "dp-sequential"
    assert set(CLI_METHODS) == {"scope", "segmented", "sequential", "fastdp", "dp", "enumerate", "cpsat", "milp"}
    assert special(user_method("a.b:c")) == ("user", "a.b:c")
    assert special(ablation_method({"partition", "clustering"})) == ("ablation", frozenset({"partition", "clustering"}))
    for bad, solver in (("nope", None), ("milp", "gurobi")):
        with pytest.raises(InputError):
            resolve(bad, solver)
    tiny = load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml")
    for method, objective in (("scope", "energy"), ("cpsat", "edp"), ("dp", "throughput")):  # not minimised / none such
        with pytest.raises(InputError, match="--objective"):
            solve(tiny, method, MethodOptions(objective=objective))
    assert solve(tiny, "dp", MethodOptions(objective="energy")).objective == "energy"
    assert all(set(m.objectives) <= set(OBJECTIVES) for m in METHODS.values())


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_registered_method_runs_and_is_rescored(name):
    inst = load_instance(ROOT / "instances" / "small" / "tiny-residual-2x2.toml")
    terms = CostTerms(inst)
    res = solve(inst, name, terms=terms)
    assert res.method == name and res.evaluation.feasible
    assert evaluate(inst, res.mapping).latency_s == res.latency_s
    if METHODS[name].kind is Kind.EXACT and METHODS[name].family != "model":
        space = METHODS[name].space or "merged"
        assert res.latency_s == solve(inst, dp_for(space).name).latency_s


@pytest.mark.parametrize("name", ["resnet50-simba-4x4", "alexnet-simba-4x4", "vgg16-simba-4x4"])
def test_ablation_ends_are_scope_and_the_optimum(name):
    """docs/search.md: no step exact is --method scope (same mapping); all three are dp."""
    inst = load_instance(ROOT / "instances" / "paper" / f"{name}.toml")
    terms = CostTerms(inst)
    ab = Ablation(inst, terms)
    none, every = ab.run(frozenset()), ab.run(frozenset(STEPS))
    scope, dp = solve(inst, "scope", terms=terms), solve(inst, "dp", terms=terms)
    assert none.mapping == scope.mapping and none.latency_s == scope.latency_s
    assert every.latency_s == dp.latency_s


def test_paper_suite_unchanged_by_the_refactoring():
    """T, energy and mapping of the heuristics and the DPs on the 4x4 paper instances equal,
    bit for bit, what the code before the refactoring computed (benchmarks/record_reference.py
    checks the whole suite)."""
    ref = json.loads((ROOT / "tests" / "data" / "paper_4x4_reference.json").read_text())
    for inst_name, row in ref.items():
        inst = load_instance(ROOT / "instances" / "paper" / f"{inst_name}.toml")
        terms = CostTerms(inst)
        for method, rec in row.items():
            res = solve(inst, method, terms=terms)
            got = {"status": res.status, "latency_s": res.latency_s, "energy_j": res.evaluation.energy.total_j,
                   "mapping": res.mapping.to_dict()}
            assert got == rec, (inst_name, method)
