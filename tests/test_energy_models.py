"""The CP-SAT and MILP energy model (methods/exact/energy_program.py): every enumerated
mapping is a solution of its rows that costs what the evaluator says, and its optimum
equals the enumerator's and the energy DP's on random tiny instances and the small suite."""

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings

from conftest import ROOT
from strategies import tiny_instances
from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.methods.dispatch import MethodOptions, solve
from scope_opt.methods.enumerate_energy import iter_mappings
from scope_opt.methods.exact.energy_program import build_energy_program
from scope_opt.methods.settings import SolverSettings
from scope_opt.methods.space import StructuralSpace
from scope_opt.problem.instance import load_instance

SMALL = ROOT / "instances" / "small"
SPACES = ["merged", "segmented", "sequential"]
FAST = SolverSettings(time_limit_s=60, threads=1)


def satisfied(prog, values: dict) -> bool:
    for row, sense, rhs in prog.rows:
        lhs = sum(c * values[v] for v, c in row)
        if (lhs != rhs) if sense == "==" else (lhs > rhs):
            return False
    return True


def check_program(inst, space):
    """Every valid mapping, as the program's assignment, satisfies every row, costs the
    evaluator's energy and decodes back to itself; the least of these costs is the optimum."""
    terms = CostTerms(inst)
    prog = build_energy_program(terms, space)
    best = math.inf
    for m in iter_mappings(inst, space, terms.reference):
        values = prog.assignment(m)
        assert satisfied(prog, values)
        energy = prog.constant_j + sum(c * values[v] for v, c in enumerate(prog.cost_j))
        ev = evaluate(inst, m, terms.reference)
        assert energy == pytest.approx(ev.energy.total_j, rel=1e-9)
        assert prog.mapping([v for v, x in values.items() if x]) == m
        best = min(best, ev.energy.total_j)
    return best


def check_models(inst, space, best, methods=("dp", "cpsat", "milp-highs")):
    for method in methods:
        r = solve(inst, method, MethodOptions(space=space, objective="energy", settings=FAST))
        if not math.isfinite(best):
            assert r.status == "infeasible", method
            continue
        assert r.status == "optimal" and r.value == pytest.approx(best, rel=1e-9), method
        assert r.bound_s <= r.value * (1 + 1e-12), method
        if method != "dp":  # the model's own objective agrees with the evaluator's re-score
            tol = r.stats["rounding_tolerance_j"] + 1e-9 * r.value
            assert r.stats["objective_j"] == pytest.approx(r.value, abs=tol), method


@given(tiny_instances(max_layers=4, max_chiplets=6))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_energy_models_equal_enumeration_on_random_tiny_instances(inst):
    """Every space of instances with two or more chiplets (cross terms need two clusters)."""
    assume(inst.package.chiplets >= 2 and StructuralSpace.build(inst, "merged").size <= 5000)
    for space in SPACES:
        check_models(inst, space, check_program(inst, space))


@pytest.mark.parametrize("name", ["tiny-chain4-2x1", "tiny-chain4-4x1-hybrid", "tiny-residual-2x2",
                                  "tiny-chain6-2x2", "resnet18-head-2x2"])
def test_energy_models_agree_on_the_small_suite(name):
    inst = load_instance(SMALL / f"{name}.toml")
    for space in SPACES:
        best = solve(inst, "dp", MethodOptions(space=space, objective="energy")).value
        check_models(inst, space, best, ("cpsat", "milp-highs", "milp-cbc"))


def test_enumeration_checks_the_program_on_a_bundled_instance():
    inst = load_instance(SMALL / "tiny-chain4-2x1.toml")
    for space in SPACES:
        check_models(inst, space, check_program(inst, space), ("cpsat",))


def test_edp_is_refused_by_the_models_with_the_methods_that_take_it():
    inst = load_instance(SMALL / "tiny-chain4-2x1.toml")
    for method in ("cpsat", "milp"):
        with pytest.raises(InputError, match="minimises latency, energy, not 'edp'; methods that do: dp, enumerate"):
            solve(inst, method, MethodOptions(objective="edp"))


def test_energy_model_out_of_time_is_labelled():
    """No time for the solver: the warm start, labelled feasible, never a fake optimum."""
    inst = load_instance(SMALL / "tiny-residual-2x2.toml")
    for method in ("cpsat", "milp-highs"):
        r = solve(inst, method, MethodOptions(objective="energy", settings=SolverSettings(time_limit_s=0.0)))
        assert r.status == "feasible" and r.stats["mapping_from"] == "warm start", method
        assert r.evaluation.feasible and r.value == r.stats["warm_start_energy_j"]


def test_too_many_options_is_a_clear_error(monkeypatch):
    import scope_opt.methods.exact.energy_program as ep
    monkeypatch.setattr(ep, "MAX_OPTIONS", 10)
    inst = load_instance(SMALL / "tiny-residual-2x2.toml")
    with pytest.raises(InputError, match="use --method dp for energy"):
        solve(inst, "cpsat", MethodOptions(objective="energy"))
