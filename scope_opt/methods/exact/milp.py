"""MILP backend (PuLP, solved by CBC or HiGHS): the CP-SAT formulation with its
implications written as big-M constraints (docs/exact-models.md).  Times are in units
of `settings.milp_unit_s` for conditioning; nothing is rounded."""

from __future__ import annotations

import math
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pulp

from scope_opt.cost.formulas import may_tile
from scope_opt.problem.mapping import Mapping
from scope_opt.methods.exact.milp_stopping import StoppableHiGHS, cbc_watchdog, interrupt_safe_tempdir
from scope_opt.methods.deadline import check_time
from scope_opt.methods.exact.outcome import BackendOutcome
from scope_opt.methods.settings import Backend, SolverSettings, solver_output_to_stderr
from scope_opt.methods.exact.energy_program import EnergyProgram
from scope_opt.methods.exact.tables import Structure, Tables, mapping_from_choice


ABS_GAP_UNITS = 1e-6  # absolute MIP gap, in time units: the solvers' optimality tolerance
# HiGHS's integrality and row tolerance (default 1e-6): at the default its dual bound could
# trail a proven optimum by 1e-7 relative on tiny attention nets, so the facade said "feasible"
HIGHS_MIP_FEASIBILITY_TOL = 1e-9


@dataclass
class MilpModel:
    prob: pulp.LpProblem
    decode: Callable[[], Mapping]  # the mapping of the solution the solver left in the variables
    unit: float  # one model unit of the objective, in the objective's unit (s or J)
    offset: float  # constant part of the objective (weight loading; MAC energy)


def build(t: Tables, st: Structure, settings: SolverSettings, hint: Mapping | None = None,
          deadline: float = math.inf) -> MilpModel:
    """The model; raises OutOfTime when `deadline` (time.monotonic) passes while it is built."""
    u = settings.milp_unit_s
    L, N = t.layers, t.chiplets
    prob = pulp.LpProblem("scope_mapping", pulp.LpMinimize)
    s = {k: pulp.LpVariable(f"seg_{k[0]}_{k[1]}", cat="Binary") for k in t.segments}
    x = {k: pulp.LpVariable(f"cl_{k[0]}_{k[1]}_{k[2]}", cat="Binary") for k in t.clusters}
    upper = t.upper_period_s / u
    period = [pulp.LpVariable(f"period_{l}", 0, upper) for l in range(L)]
    q_seg = [pulp.LpVariable(f"qseg_{l}", 0, upper) for l in range(L)]
    q_cl = [pulp.LpVariable(f"qcl_{l}", 0, upper) for l in range(L)]
    for l in range(L):
        check_time(deadline)
        prob += _ones(s[k] for k in st.covers_seg[l]) == 1, f"cover_seg_{l}"
        alone = [s[(l, l + 1)]] if (l, l + 1) in s else []  # or the layer is a segment of its own
        prob += _ones([x[k] for k in st.covers_cl[l]] + alone) == 1, f"cover_cl_{l}"
    for j in range(1, L):
        check_time(deadline)
        cut = _ones(s[k] for k in st.ends_at[j])
        prob += _ones(x[k] for k in st.crosses[j]) + cut <= 1, f"no_cross_{j}"
        # equal periods inside a segment: |p[j-1] - p[j]| <= U * cut
        prob += period[j - 1] - period[j] <= upper * cut, f"same_period_a_{j}"
        prob += period[j] - period[j - 1] <= upper * cut, f"same_period_b_{j}"
    # chiplets: the chiplets taken so far in the current segment never exceed N; the
    # running count restarts at every segment boundary (docs/exact-models.md, constraint 3)
    used = [pulp.LpVariable(f"used_{l}", 0, N) for l in range(L)]
    for l in range(L):
        here = pulp.LpAffineExpression([(x[c], c[2]) for c in st.starts_cl[l]])
        prob += used[l] >= here, f"chiplets_{l}"
        if l > 0:  # carried over from layer l - 1 unless a segment starts at l
            cut = pulp.LpAffineExpression([(s[k], N) for k in st.ends_at[l]])
            prob += used[l] >= here + used[l - 1] - cut, f"chiplets_carried_{l}"
    for k, v in s.items():
        if k in st.long:
            prob += period[k[0]] >= (t.dram_s[k] / u) * v, f"dram_{k[0]}_{k[1]}"
    for i, (k, v) in enumerate(x.items()):
        if i % 4096 == 0:
            check_time(deadline)
        prob += period[k[0]] >= (t.clusters[k] / u) * v, f"stage_{k[0]}_{k[1]}_{k[2]}"
    for l in range(L):
        prob += q_seg[l] >= period[l] - upper * (1 - _ones(s[k] for k in st.starts_seg[l])), f"qseg_{l}"
        prob += q_cl[l] >= period[l] - upper * (1 - _ones(x[k] for k in st.starts_cl[l])), f"qcl_{l}"
    prob += (pulp.lpSum((t.batch - 1) * q_seg[l] + q_cl[l] for l in range(L))
             + pulp.lpSum((t.single_cost_s(k[0]) / u) * v for k, v in s.items() if k not in st.long))
    if hint is not None:
        chosen_s = {(seg.first, seg.last) for seg in hint.segments}
        chosen_x = {(c.first, c.last, c.chiplets) for seg in hint.segments if not may_tile(seg.first, seg.last) for c in seg.clusters}
        for k, v in s.items():
            v.setInitialValue(1 if k in chosen_s else 0)
        for k, v in x.items():
            v.setInitialValue(1 if k in chosen_x else 0)

    def decode() -> Mapping:
        return mapping_from_choice(t, _ones_of(s), _ones_of(x))
    return MilpModel(prob, decode, u, t.weights_s)


ENERGY_UNITS = 1e3  # the MILP's energy unit: the mean cost magnitude / ENERGY_UNITS (conditioning)


def build_program(prog: EnergyProgram, settings: SolverSettings, hint: Mapping | None = None,
                  deadline: float = math.inf) -> MilpModel:
    """The energy model (exact/energy_program.py); costs in units of a thousandth of the
    mean cost magnitude, so that the absolute gap ABS_GAP_UNITS is far below any real difference."""
    prob = pulp.LpProblem("scope_energy", pulp.LpMinimize)
    v = [pulp.LpVariable(f"v{i}", cat="Binary") for i in range(prog.variables)]
    for i, (row, sense, rhs) in enumerate(prog.rows):
        if i % 4096 == 0:
            check_time(deadline)
        expr = pulp.LpAffineExpression([(v[j], c) for j, c in row])
        prob += (expr == rhs if sense == "==" else expr <= rhs), f"r{i}"
    nonzero = [abs(c) for c in prog.cost_j if c]
    u = (sum(nonzero) / len(nonzero) if nonzero else 1.0) / ENERGY_UNITS
    prob += pulp.LpAffineExpression([(x, c / u) for x, c in zip(v, prog.cost_j)])
    if hint is not None:
        for j, on in prog.assignment(hint).items():
            v[j].setInitialValue(on)

    def decode() -> Mapping:
        return prog.mapping([j for j, x in enumerate(v) if (x.value() or 0) > 0.5])
    return MilpModel(prob, decode, u, prog.constant_j)


def _ones_of(variables: dict) -> list:
    return [k for k, v in variables.items() if (v.value() or 0) > 0.5]


def _ones(variables) -> pulp.LpAffineExpression:
    """The sum of binaries, built in one step (pulp.lpSum adds term by term, minutes on big tables)."""
    return pulp.LpAffineExpression([(v, 1) for v in variables])


def _cbc_bound(log: str) -> float | None:
    """CBC prints 'Lower bound: X' when it stops early; 'Objective value' when optimal."""
    m = re.search(r"Lower bound:\s+([-+0-9.eE]+)", log)
    return float(m.group(1)) if m else None


def _run_cbc(mm: MilpModel, settings: SolverSettings, gap: float, notes: dict) -> str:
    """Solve with the bundled CBC, retried without the warm start when CBC crashes on its
    file; returns CBC's log (it holds the lower bound when CBC stops early).  CBC writes
    its log to a file for us to read; with --verbose it is copied to standard error."""
    log = _cbc_logged(mm, settings, gap, notes)
    if settings.verbose and log:
        sys.stderr.write(log if log.endswith("\n") else log + "\n")
        sys.stderr.flush()
    return log


def _cbc_logged(mm: MilpModel, settings: SolverSettings, gap: float, notes: dict) -> str:
    with interrupt_safe_tempdir() as d, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*logPath.*")  # PuLP: the log file replaces msg=1, as we want
        log_path = Path(d) / "cbc.log"
        warm = settings.warm_start
        while True:
            solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=settings.time_limit_s, gapRel=gap,
                                       gapAbs=ABS_GAP_UNITS, threads=settings.threads, warmStart=warm, logPath=str(log_path),
                                       options=[f"randomSeed {settings.seed + 1}", f"randomCbcSeed {settings.seed + 1}"])
            solver.tmpDir = d  # CBC's model and solution files go where an interrupt still removes them
            try:
                with cbc_watchdog(time.monotonic() + settings.time_limit_s, notes):
                    mm.prob.solve(solver)
                break
            except pulp.PulpSolverError as exc:  # the bundled CBC can crash on a warm-start file
                if not warm or "stopped" in notes:  # (or it was killed past its deadline: no second run)
                    notes["solver_failure"] = f"CBC failed: {exc}"
                    break
                notes["retried_without_warm_start"] = f"CBC failed with the warm start ({exc}); solved again without it"
                warm = False
        return log_path.read_text() if log_path.exists() else ""


def solve(mm: MilpModel, backend: Backend, settings: SolverSettings) -> BackendOutcome:
    gap = settings.gap_rel if settings.gap_rel > 0 else 1e-9  # and an absolute gap of ABS_GAP_UNITS
    start = time.perf_counter()
    log = ""
    notes: dict = {}
    if backend is Backend.CBC:
        log = _run_cbc(mm, settings, gap, notes)
    else:
        solver = StoppableHiGHS(time.monotonic() + settings.time_limit_s, msg=settings.verbose,
                                timeLimit=settings.time_limit_s, gapRel=gap, gapAbs=ABS_GAP_UNITS,
                                threads=settings.threads, random_seed=settings.seed,
                                mip_feasibility_tolerance=HIGHS_MIP_FEASIBILITY_TOL)
        with solver_output_to_stderr():
            mm.prob.solve(solver)
        if solver.cancelled:
            notes["stopped"] = "HiGHS passed its time limit and was stopped by scope-opt"
        if mm.prob.solverModel.getInfo().primal_solution_status != 2:  # no feasible point (an interrupt says 'optimal')
            mm.prob.sol_status = pulp.LpSolutionNoSolutionFound
            if mm.prob.status == pulp.LpStatusOptimal:
                mm.prob.status = pulp.LpStatusNotSolved
    elapsed = time.perf_counter() - start
    if "solver_failure" in notes:
        mm.prob.status, mm.prob.sol_status = pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound
    has_solution = mm.prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    mapping = objective = bound = None
    if has_solution:
        mapping = mm.decode()
        objective = pulp.value(mm.prob.objective) * mm.unit + mm.offset
    if mm.prob.status == pulp.LpStatusInfeasible:
        status = "infeasible"
    elif mm.prob.sol_status == pulp.LpSolutionOptimal:
        status = "optimal"
    elif has_solution:
        status = "feasible"
    else:
        status = "unknown"
    if backend is Backend.HIGHS and status != "infeasible" and "solver_failure" not in notes:
        dual = mm.prob.solverModel.getInfo().mip_dual_bound
        if math.isfinite(dual):
            bound = dual * mm.unit + mm.offset
        else:
            notes["bound"] = "HiGHS stopped before it had a finite dual bound"
    elif backend is Backend.CBC:
        b = _cbc_bound(log)
        if b is not None:
            bound = b * mm.unit + mm.offset
        elif status == "optimal" and objective is not None:
            bound = objective * (1 - gap)  # CBC proved optimality within its relative gap
    return BackendOutcome(status, mapping, objective, bound, elapsed, pulp.LpStatus[mm.prob.status],
                          ABS_GAP_UNITS * mm.unit,
                          {"variables": len(mm.prob.variables()), "constraints": len(mm.prob.constraints), **notes})
