"""CP-SAT backend (OR-Tools): build the model in one function, solve it in another.

Times are floored to integer units of `settings.unit_s`, so every mapping's model
objective is at most its true T and the solver's bound is a valid lower bound on T;
the optimum found is within `rounding_tolerance_s` of the true optimum.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from scope_opt.cost.formulas import may_tile
from scope_opt.problem.mapping import Mapping
from scope_opt.methods.deadline import check_time
from scope_opt.methods.exact.outcome import BackendOutcome
from scope_opt.methods.settings import Backend, SolverSettings, solver_output_to_stderr
from scope_opt.methods.exact.energy_program import EnergyProgram
from scope_opt.methods.exact.tables import Structure, Tables, mapping_from_choice


@dataclass
class CpsatModel:
    model: cp_model.CpModel
    decode: Callable[[Callable[[cp_model.IntVar], int]], Mapping]  # the mapping of a solution, from the variables' values
    unit: float  # one integer unit of the objective, in the objective's unit (s or J)
    offset: float  # constant part of the objective (weight loading; MAC energy)
    tolerance: float  # how far the floored objective may sit below the true one
    booleans: int


def rounding_tolerance_s(t: Tables, unit_s: float) -> float:
    """Largest gap between a mapping's floored model objective and its true T: one unit
    per floored term, weighted by its coefficient (B - 1 per segment start, 1 per cluster;
    a one-layer segment is one floored term, less than the B it replaces)."""
    return (t.layers * (t.batch - 1) + t.layers + 1) * unit_s


OBJECTIVE_LIMIT = 2**50  # keep every integer CP-SAT sees far inside int64


def time_unit(t: Tables, unit_s: float) -> float:
    """The integer time unit: `unit_s`, or coarser when the largest objective would leave
    CP-SAT's integer range (huge batches or times); the rounding tolerance scales with it."""
    singles = sum(t.single_cost_s(l) for l in t.single)
    largest = (t.batch * t.layers * t.upper_period_s + singles) / unit_s
    return unit_s * math.ceil(largest / OBJECTIVE_LIMIT) if largest > OBJECTIVE_LIMIT else unit_s


def build(t: Tables, st: Structure, settings: SolverSettings, hint: Mapping | None = None,
          deadline: float = math.inf) -> CpsatModel:
    """The model; raises OutOfTime when `deadline` (time.monotonic) passes while it is built."""
    u = time_unit(t, settings.unit_s)
    m = cp_model.CpModel()
    L = t.layers
    s = {k: m.NewBoolVar(f"seg_{k[0]}_{k[1]}") for k in t.segments}
    x = {k: m.NewBoolVar(f"cl_{k[0]}_{k[1]}_{k[2]}") for k in t.clusters}
    upper = int(math.floor(t.upper_period_s / u)) + 1
    period = [m.NewIntVar(0, upper, f"period_{l}") for l in range(L)]
    cuts = {}
    for l in range(L):
        check_time(deadline)
        m.AddExactlyOne(s[k] for k in st.covers_seg[l])
        alone = [s[(l, l + 1)]] if (l, l + 1) in s else []  # or the layer is a segment of its own
        m.AddExactlyOne([x[k] for k in st.covers_cl[l]] + alone)
    for j in range(1, L):
        check_time(deadline)
        boundary = sum(s[k] for k in st.ends_at[j])
        m.Add(sum(x[k] for k in st.crosses[j]) + boundary <= 1)
        cut = cuts[j] = m.NewBoolVar(f"cut_{j}")
        m.Add(boundary == cut)
        m.Add(period[j - 1] == period[j]).OnlyEnforceIf(cut.Not())
    used = [m.NewIntVar(0, t.chiplets, f"used_{l}") for l in range(L)]  # constraint 3, a running count
    for l in range(L):
        here = sum(c[2] * x[c] for c in st.starts_cl[l])
        m.Add(used[l] >= here)
        if l > 0:  # carried over from layer l - 1 unless a segment starts at l
            m.Add(used[l] >= here + used[l - 1] - t.chiplets * cuts[l])
    for k, v in s.items():
        if k in st.long:
            m.Add(period[k[0]] >= int(math.floor(t.dram_s[k] / u))).OnlyEnforceIf(v)
    for i, (k, v) in enumerate(x.items()):
        if i % 4096 == 0:
            check_time(deadline)
        m.Add(period[k[0]] >= int(math.floor(t.clusters[k] / u))).OnlyEnforceIf(v)
    terms, charged = [], []
    for l in range(L):
        for kind, weight, starts, var in (("seg", t.batch - 1, st.starts_seg[l], s), ("cl", 1, st.starts_cl[l], x)):
            if not starts or weight == 0:
                continue
            q = m.NewIntVar(0, upper, f"q{weight}_{l}")
            starts_here = _any(m, [var[k] for k in starts])
            m.Add(q >= period[l]).OnlyEnforceIf(starts_here)
            terms.append(weight * q)
            charged.append((l, kind, q, starts_here))
    terms += [int(math.floor(t.single_cost_s(k[0]) / u)) * v for k, v in s.items() if k not in st.long]
    m.Minimize(sum(terms))
    if hint is not None:
        _hint(m, t, u, hint, s, x, period, cuts, charged, used)

    def decode(val) -> Mapping:
        return mapping_from_choice(t, [k for k, v in s.items() if val(v)], [k for k, v in x.items() if val(v)])
    return CpsatModel(m, decode, u, t.weights_s, rounding_tolerance_s(t, u), len(s) + len(x))


def build_program(prog: EnergyProgram, settings: SolverSettings, hint: Mapping | None = None,
                  deadline: float = math.inf) -> CpsatModel:
    """The energy model (exact/energy_program.py) with its costs floored to integer units
    small enough that the largest objective stays under OBJECTIVE_LIMIT."""
    m = cp_model.CpModel()
    v = [m.NewBoolVar(f"v{i}") for i in range(prog.variables)]
    for i, (row, sense, rhs) in enumerate(prog.rows):
        if i % 4096 == 0:
            check_time(deadline)
        expr = cp_model.LinearExpr.WeightedSum([v[j] for j, _ in row], [c for _, c in row])
        m.Add(expr == rhs if sense == "==" else expr <= rhs)
    u = max(sum(abs(c) for c in prog.cost_j) / OBJECTIVE_LIMIT, 1e-300)
    m.Minimize(cp_model.LinearExpr.WeightedSum(v, [int(math.floor(c / u)) for c in prog.cost_j]))
    if hint is not None:
        for j, on in prog.assignment(hint).items():
            m.AddHint(v[j], on)

    def decode(val) -> Mapping:
        return prog.mapping([j for j in range(prog.variables) if val(v[j])])
    return CpsatModel(m, decode, u, prog.constant_j, prog.max_chosen * u, prog.variables)


def _hint(m, t: Tables, u: float, hint: Mapping, s, x, period, cuts, charged, used) -> None:
    """Hint every variable (a complete solution), so the solver starts from the mapping."""
    chosen_s = {(seg.first, seg.last) for seg in hint.segments}
    chosen_x = {(c.first, c.last, c.chiplets) for seg in hint.segments if not may_tile(seg.first, seg.last) for c in seg.clusters}
    if not chosen_x <= set(x) or not chosen_s <= set(s):
        return
    for k, v in s.items():
        m.AddHint(v, k in chosen_s)
    for k, v in x.items():
        m.AddHint(v, k in chosen_x)
    value = [0] * t.layers
    for seg in hint.segments:
        if may_tile(seg.first, seg.last):
            continue  # priced whole, no period
        p = max([int(math.floor(t.dram_s[(seg.first, seg.last)] / u))] +
                [int(math.floor(t.clusters[(c.first, c.last, c.chiplets)] / u)) for c in seg.clusters])
        for l in range(seg.first, seg.last):
            value[l] = p
    for l, v in enumerate(period):
        m.AddHint(v, value[l])
    for j, v in cuts.items():
        m.AddHint(v, any(seg.last == j for seg in hint.segments))
    for l, v in enumerate(running_chiplets(t, chosen_x, {seg.last for seg in hint.segments})):
        m.AddHint(used[l], v)
    long = [seg for seg in hint.segments if not may_tile(seg.first, seg.last)]
    starts = {"seg": {seg.first for seg in long}, "cl": {c.first for seg in long for c in seg.clusters}}
    for l, kind, q, lit in charged:
        on = l in starts[kind]
        m.AddHint(lit, on)
        m.AddHint(q, value[l] if on else 0)


def running_chiplets(t: Tables, clusters: set, cuts: set) -> list[int]:
    """The least value of each `used[l]` for a chosen set of clusters and segment ends."""
    out, prev = [], 0
    for l in range(t.layers):
        here = sum(c[2] for c in clusters if c[0] == l)
        prev = max(here, here + prev - (t.chiplets if l in cuts else 0))
        out.append(prev)
    return out


def _any(m: cp_model.CpModel, lits: list) -> cp_model.IntVar:
    """A literal equal to the OR of `lits` (at most one of them can be true here)."""
    b = m.NewBoolVar("")
    m.Add(sum(lits) == b)
    return b


STATUS = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible",
          cp_model.MODEL_INVALID: "unknown", cp_model.UNKNOWN: "unknown"}


def solve(cm: CpsatModel, backend: Backend, settings: SolverSettings) -> BackendOutcome:
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = settings.time_limit_s
    p.num_workers = settings.threads
    p.random_seed = settings.seed
    p.relative_gap_limit = settings.gap_rel
    p.log_search_progress = settings.verbose
    p.catch_sigint_signal = False  # Ctrl-C is ours: it stops the search and is reported as an interrupt
    start = time.perf_counter()
    with solver_output_to_stderr():
        code = _solve_interruptibly(solver, cm.model)
    elapsed = time.perf_counter() - start
    status = STATUS.get(code, "unknown")
    mapping = None
    objective = bound = None
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        mapping = cm.decode(solver.Value)
        objective = solver.ObjectiveValue() * cm.unit + cm.offset
    if code not in (cp_model.INFEASIBLE, cp_model.MODEL_INVALID):
        bound = solver.BestObjectiveBound() * cm.unit + cm.offset
    stats = {"branches": solver.NumBranches(), "conflicts": solver.NumConflicts(), "booleans": cm.booleans,
             "unit": cm.unit}
    if code == cp_model.MODEL_INVALID:
        stats["reason"] = f"CP-SAT rejected the model: {cm.model.Validate() or 'invalid'}"
    return BackendOutcome(status, mapping, objective, bound, elapsed, solver.StatusName(code), cm.tolerance, stats)


def _solve_interruptibly(solver: cp_model.CpSolver, model: cp_model.CpModel) -> int:
    """Solve in a worker thread (CP-SAT releases the GIL) so that Ctrl-C reaches Python at
    once: the search is stopped, we wait for the solver to return, and the
    KeyboardInterrupt goes on, never reported as 'feasible'.  The wait is on an Event, not
    on Thread.join, which a KeyboardInterrupt can leave believing the thread is done."""
    result: list[int] = []
    done = threading.Event()

    def work() -> None:
        try:
            result.append(solver.Solve(model))
        finally:
            done.set()

    threading.Thread(target=work, daemon=True).start()
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        solver.StopSearch()
        while not done.wait(0.1):
            pass
        raise
    return result[0]
