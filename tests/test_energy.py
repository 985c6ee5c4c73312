"""Energy as an objective: the exact energy DP's front equals the front of every enumerated
mapping (both scored by the reference evaluator), its energy and EDP optima equal the
enumerator's, and the `pareto` command writes what it says."""

import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from conftest import ROOT, interrupt_when
from strategies import tiny_instances
from test_everyday import cli
from scope_opt.cost.energy import dram_hop_vector, hop_vector
from scope_opt.cost.objectives import value
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.methods.dispatch import MethodOptions, solve
from scope_opt.methods.enumerate_energy import enumerated_front, enumerated_points
from scope_opt.methods.pareto.chain import energy_front
from scope_opt.methods.pareto.clusters import EnergyContext
from scope_opt.methods.pareto.points import prune_3
from scope_opt.methods.pareto.solver import energy_lower_bound_j
from scope_opt.methods.settings import SolverSettings
from scope_opt.methods.space import StructuralSpace
from scope_opt.problem.instance import load_instance
from scope_opt.problem.placement import serpentine

SMALL = ROOT / "instances" / "small"
SPACES = ["merged", "segmented", "sequential"]


def same_front(a, b) -> bool:
    """Point for point: T bit for bit (both are sums in the evaluator's order), energy to
    float rounding (the DP adds the same pieces cluster by cluster)."""
    return len(a) == len(b) and all(p.latency_s == q.latency_s and p.energy_j == pytest.approx(q.energy_j, rel=1e-9)
                                    for p, q in zip(a, b))


def check_front(inst, space):
    points = enumerated_points(inst, space, 10**6)
    exact = energy_front(inst, space)
    assert same_front(exact, enumerated_front(points))
    for p in exact:  # proven non-dominated: no enumerated mapping beats it in both
        assert not any(q.latency_s <= p.latency_s and q.energy_j < p.energy_j * (1 - 1e-9) for q in points)
    for objective in ("energy", "edp"):
        dp = solve(inst, "dp", MethodOptions(space=space, objective=objective))
        best = min((value(objective, q.evaluation) for q in points), default=math.inf)
        if not math.isfinite(best):
            assert dp.status == "infeasible"
            continue
        assert dp.status == "optimal" and dp.value == pytest.approx(best, rel=1e-9)
        assert dp.bound_s == dp.value and dp.gap == 0.0


@given(tiny_instances(max_layers=4, max_chiplets=6), st.sampled_from(SPACES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_front_equals_enumerated_front_on_random_tiny_instances(inst, space):
    assume(StructuralSpace.build(inst, space).size <= 20000)
    check_front(inst, space)


@pytest.mark.parametrize("name", ["tiny-chain4-2x1", "tiny-chain4-4x1-hybrid"])
def test_front_equals_enumerated_front_on_bundled_instances(name):
    for space in SPACES:
        check_front(load_instance(SMALL / f"{name}.toml"), space)


@given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from([0.5, 1.0, 2.0]), st.sampled_from([1.0, 2.0, 3.0])),
                max_size=12))
def test_label_sweep_equals_pairwise_dominance(labels):
    """prune_3's one sweep against the plain pairwise rule it replaces."""
    labels = [(*v, i) for i, v in enumerate(labels)]
    plain = []
    for v in sorted(labels, key=lambda v: (v[1], v[2], v[0])):
        if not any(k[0] <= v[0] and k[1] <= v[1] and k[2] <= v[2] for k in plain):
            plain.append(v)
    assert sorted(prune_3(labels)) == sorted(plain)


def test_hop_geometry_repeats_every_two_rows():
    """The DP reuses a cluster's passes at offset u mod 2X: two rows down the walk, every
    hop to another cluster and to the west edge is the same."""
    mesh = (3, 5)
    walk = serpentine(*mesh)
    for u in range(0, 9):
        for n in (1, 2, 4):
            for v, m in ((0, 2), (u, n), (max(0, u - 3), 3)):
                if max(u + n, v + m) + 6 > len(walk):
                    continue
                a = hop_vector(walk[u:u + n], walk[v:v + m], mesh)
                b = hop_vector(walk[u + 6:u + 6 + n], walk[v + 6:v + 6 + m], mesh)
                assert list(a) == list(b)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances(max_layers=4, max_chiplets=16, wide=True))
def test_memoised_cross_terms_equal_the_unshifted_sum(inst):
    """`cross_nop` memoises a read's byte-hops after moving both walk ranges up by whole
    double rows: it must give the very float of the unshifted placements, computed
    afresh (`cold`, its memo emptied first) and from a memo shared by every call."""
    warm = EnergyContext(CostTerms(inst), "energy")
    cold = EnergyContext(warm.terms, "energy")
    N, mesh = inst.package.chiplets, inst.package.mesh

    def both(l, j, n, u, r, src):
        cold.memo.clear()
        return cold.cross_nop(l, j, n, u, r, src), warm.cross_nop(l, j, n, u, r, src)

    for l in range(len(inst.network.layers)):
        for n in range(1, N + 1):
            for j in range(len(inst.allowed_partitions[n])):
                for r, (q, by) in enumerate(warm.parts_of(l, j, None, n)[1]):
                    for u in range(N - n + 1):
                        place = warm.place(u, n)
                        want = float((by * dram_hop_vector(place, mesh)).sum())
                        assert both(l, j, n, u, r, None) == (want, want)
                        for off in range(u):
                            for nq in range(1, u - off + 1):
                                want = float((by * hop_vector(place, warm.place(off, nq), mesh)).sum())
                                assert both(l, j, n, u, r, (off, nq)) == (want, want)


def test_heuristics_refuse_the_energy_objective():
    inst = load_instance(SMALL / "tiny-chain4-2x1.toml")
    for method in ("scope", "fastdp"):
        with pytest.raises(InputError, match="minimises latency"):
            solve(inst, method, MethodOptions(objective="energy"))


def test_time_limit_gives_a_labelled_mapping_and_a_valid_bound():
    inst = load_instance(SMALL / "tiny-chain4-4x1-hybrid.toml")
    for objective in ("energy", "edp"):
        r = solve(inst, "dp", MethodOptions(objective=objective, settings=SolverSettings(time_limit_s=0.0)))
        assert r.status == "feasible" and r.stats["timed_out"]
        best = solve(inst, "dp", MethodOptions(objective=objective))
        assert r.bound_s <= best.value <= r.value and 0 < r.gap < 1
    terms = CostTerms(inst)
    assert energy_lower_bound_j(terms) <= min(p.energy_j for p in enumerated_points(inst, "merged", 10**6))


def test_pareto_command_writes_sorted_front_csv_and_plot(tmp_path):
    inst = SMALL / "tiny-chain4-4x1-hybrid.toml"
    out = tmp_path / "front.json"
    r = cli("pareto", inst, "--json", out, "--csv", tmp_path / "front.csv", "--plot", tmp_path / "front.png")
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    lat = [p["latency_s"] for p in data["points"]]
    energy = [p["energy_j"] for p in data["points"]]
    assert data["complete"] and lat == sorted(lat) and energy == sorted(energy, reverse=True)
    want = energy_front(load_instance(inst))
    assert lat == [p.latency_s for p in want]
    assert {h["method"] for h in data["heuristics"]} == {"scope", "segmented", "sequential", "fastdp"}
    assert data["energy_price_of_latency_optimum"] == pytest.approx(energy[0] / energy[-1])
    assert (tmp_path / "front.png").stat().st_size > 1000
    assert (tmp_path / "front.csv").read_text().count("\nfront,") == len(lat)
    again = cli("pareto", inst, "--json", out)
    assert again.returncode == 2 and "--force" in again.stderr
    cut = cli("pareto", inst, "--json", "-", "--time-limit", "0")
    assert cut.returncode == 3 and json.loads(cut.stdout)["complete"] is False


def test_python_api_gives_the_front_and_the_energy_optimum():
    import scope_opt as so
    inst = so.load_instance(SMALL / "tiny-chain4-2x1.toml")
    study = so.pareto(inst)
    best = so.solve(inst, "dp", objective="energy")
    assert study.complete and study.points[-1].energy_j == pytest.approx(best.value, rel=1e-12)
    assert study.summary()["latency_optimum"]["latency_s"] == so.solve(inst, "dp").latency_s
    assert best.to_dict()["objective_unit"] == "J"


def test_time_limit_is_honoured_inside_a_long_segment_start():
    """The deadline is checked inside a segment start, not only between starts."""
    inst = load_instance(ROOT / "instances" / "default.toml")
    r = solve(inst, "dp", MethodOptions(objective="energy", settings=SolverSettings(time_limit_s=1.0)))
    assert r.status == "feasible" and r.stats["timed_out_in"].startswith("energy DP")
    assert r.solve_time_s < 30  # the limit plus the Scope search, with room for a loaded machine


def test_the_deadline_is_checked_after_the_segment_steps_too(monkeypatch):
    """Joining the segment fronts and re-scoring the front's mappings take long on big
    fronts (a BERT-base EDP cell once ran 88 s on a 60 s limit): both check the deadline."""
    from scope_opt.methods.pareto import chain
    steps = []
    real = chain.check_time
    monkeypatch.setattr(chain, "check_time", lambda deadline, step: (steps.append(step), real(deadline, step)))
    inst = load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml")
    assert energy_front(inst, "merged", "front", folded=False)
    assert any(s.startswith("energy DP, the front of the first") for s in steps)
    assert any(s == "energy DP, re-scoring the front" for s in steps)


def test_a_cluster_pass_checks_the_deadline():
    """One cluster pass can run for minutes (MobileNetV2 on 8x8 ran 40 minutes past a 60 s
    limit inside one): it stops at the deadline and leaves no half pass in the memo."""
    from scope_opt.methods.deadline import OutOfTime
    from scope_opt.methods.pareto.clusters import cluster_options
    inst = load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml")
    cx = EnergyContext(CostTerms(inst), "front", deadline=0.0)
    with pytest.raises(OutOfTime, match="cluster pass from layer 0"):
        cluster_options(cx, 0, 1, 0, 4)
    assert not any(k[0] == "pass" for k in cx.memo if isinstance(k, tuple))


def test_ctrl_c_during_the_front_exits_130_and_writes_nothing(tmp_path):
    """An interrupted front is never reported as a finished one: exit 130, no JSON, CSV or plot."""
    outs = [tmp_path / "f.json", tmp_path / "f.csv", tmp_path / "f.png"]
    code, err = interrupt_when(["pareto", ROOT / "instances" / "default.toml", "--json", outs[0], "--csv", outs[1],
                                "--plot", outs[2]], "segment starts 1/")
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err and not any(p.exists() for p in outs)
