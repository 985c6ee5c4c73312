"""The compiled cluster pass of the energy DP against its plain Python oracle: the same
options (cluster ends, cross keys, T_c and inner energy to the last bit, partitions) for
every first layer, chiplet count and walk offset, in both modes; and it stops at its
work budget, leaving nothing half done."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import ROOT
from strategies import tiny_instances
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.deadline import OutOfTime
from scope_opt.methods.pareto import cluster_pass
from scope_opt.methods.pareto.chain import energy_front
from scope_opt.methods.pareto.clusters import EnergyContext, cluster_options
from scope_opt.problem.instance import load_instance


def as_plain(options: dict) -> list:
    """The options with every partition path a tuple, in the order they come."""
    return [(z, [(ckey, [(t, e, tuple(parts)) for t, e, parts in opts]) for ckey, opts in by_key.items()])
            for z, by_key in options.items()]


def check_every_pass(inst, mode):
    compiled = EnergyContext(CostTerms(inst), mode)
    python = EnergyContext(CostTerms(inst), mode, compiled=False)
    L, N = len(inst.network.layers), inst.package.chiplets
    for y in range(L):
        for n in range(1, N + 1):
            for u in sorted({compiled.shape_offset(u) for u in range(N - n + 1)}):
                got = as_plain(cluster_options(compiled, y, n, u, L))
                assert got == as_plain(cluster_options(python, y, n, u, L)), (y, n, u)
                for z, by_key in got:  # a path per layer of the cluster
                    assert all(len(p) == z - y for _, opts in by_key for _, _, p in opts)


@given(tiny_instances(max_layers=5, max_chiplets=8, wide=True), st.sampled_from(["energy", "front"]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_compiled_pass_gives_the_python_passs_options_bit_for_bit(inst, mode):
    check_every_pass(inst, mode)


@pytest.mark.parametrize("name", ["resnet18-head-2x2", "tiny-residual-2x2", "tiny-chain4-4x1-hybrid"])
def test_the_compiled_pass_on_the_small_residual_instances(name):
    inst = load_instance(ROOT / "instances" / "small" / f"{name}.toml")
    for mode in ("energy", "front"):
        check_every_pass(inst, mode)


def test_the_dp_gives_the_same_front_with_either_pass():
    inst = load_instance(ROOT / "instances" / "small" / "resnet18-head-2x2.toml")
    a = energy_front(inst, "merged", "front")
    b = energy_front(inst, "merged", "front", compiled=False)
    assert len(a) > 1
    assert [(p.latency_s, p.energy_j, p.mapping) for p in a] == [(p.latency_s, p.energy_j, p.mapping) for p in b]
    for space in ("merged", "segmented"):
        assert [p.mapping for p in energy_front(inst, space, "energy")] == \
            [p.mapping for p in energy_front(inst, space, "energy", compiled=False)]


def test_a_pass_past_its_work_budget_stops_and_memoises_nothing(monkeypatch):
    """Compiled code cannot read the clock: a pass counts its steps, and one past the
    budget the time left allows raises OutOfTime naming the pass."""
    monkeypatch.setattr(cluster_pass, "work_budget", lambda deadline: [1, 1])
    inst = load_instance(ROOT / "instances" / "small" / "resnet18-head-2x2.toml")
    cx = EnergyContext(CostTerms(inst), "front")
    with pytest.raises(OutOfTime, match="cluster pass from layer 0 on 4 chiplets"):
        cluster_options(cx, 0, 4, 0, len(inst.network.layers))
    assert not any(k[0] == "pass" for k in cx.memo if isinstance(k, tuple))


def test_parts_read_as_the_tuple_of_their_path():
    arena = (cluster_pass.np.array([1, 0, 1]), cluster_pass.np.array([-1, 0, 1]))
    parts = cluster_pass.Parts(arena, 2, 3)
    assert tuple(parts) == (1, 0, 1) and len(parts) == 3 and parts[0] == 1 and parts == (1, 0, 1)
    assert hash(parts) == hash((1, 0, 1)) and repr(parts) == "(1, 0, 1)" and parts != (1, 0) and parts != None  # noqa: E711


def test_a_label_of_less_weight_but_more_weight_and_activation_is_kept():
    """Dominance needs both sums (W, and W + A) on every chiplet: layer 0's cheap
    partition holds little weight but a large activation, and only the other one lets
    layer 2's weights fit (a rule on W alone would drop it and lose cluster [0, 3))."""
    from scope_opt.methods.pareto.pass_kernel import FROM_DRAM, energy_pass
    np = cluster_pass.np
    w = np.array([[[1], [2]], [[0], [50]], [[5], [50]]], np.int64)
    act = np.array([[[10], [1]], [[0], [0]], [[0], [0]]], np.int64)
    lt = np.ones((3, 3, 2))
    sram = np.array([[[1.0] * 3, [2.0] * 3]] * 3)  # partition 1 of layer 0 costs more energy
    prod = np.full((3, 1), FROM_DRAM, np.int64)
    ok, zs, _, _, es, nodes, arena, _ = energy_pass(lt, w, act, 11.0, prod, sram, np.zeros((3, 2, 3, 1)),
                                                    np.ones(4), 0, 3, False, 10**6)
    assert ok and zs.tolist() == [1, 2, 3]
    assert tuple(cluster_pass.Parts(arena, int(nodes[2]), 3)) == (1, 0, 0)
