"""Commands that run methods: solve, gap, rank and space."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from scope_opt.cli.app import command, console
from scope_opt.cli.options import (GapOpt, JsonOpt, SeedOpt, SpaceOpt, ThreadsOpt, TimeLimitOpt, VerboseOpt, WarmOpt,
                                   WideOpt, solver_settings)
from scope_opt.cli.progress import progress
from scope_opt.cli.report import LEGEND, big, show_evaluation, si
from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.objectives import OBJECTIVES
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.formats.inputs import check_options
from scope_opt.formats.outputs import check_output_path, write_json, write_text_atomic
from scope_opt.methods.enumerate import DEFAULT_MAX_MAPPINGS
from scope_opt.methods.registry import CLI_METHODS, DEFAULT_SOLVER, MILP_SOLVERS, Kind, dp_for, resolve
from scope_opt.methods.result import SolveResult
from scope_opt.methods.space import SPACES, FeasibleParts, StructuralSpace, wilson
from scope_opt.problem.instance import load_instance
from scope_opt.problem.mapping import load_mapping
from scope_opt.methods.dispatch import MethodOptions
from scope_opt.methods.dispatch import solve as run_solve
from scope_opt.studies.rank import rank_of, sample_latencies


def print_result(res: SolveResult, title: str, instance=None, wide: bool = False) -> None:
    if res.evaluation is not None:
        show_evaluation(console, res.evaluation, title, instance, wide)
    unit = OBJECTIVES[res.objective].unit
    what = (f"T = {si(res.latency_s, 's')}" if res.objective == "latency" else
            f"{res.objective} = {res.value:.6g} {unit} (T = {si(res.latency_s, 's')})")
    console.print(f"method {escape(res.method)} ({res.space} space, minimising {res.objective}): status "
                  f"[bold]{res.status}[/bold], {what}, bound "
                  f"{(si(res.bound_s, 's') if res.objective == 'latency' else f'{res.bound_s:.6g} {unit}') if res.bound_s is not None else '-'}, "
                  f"gap {f'{res.gap:.3%}' if res.gap is not None else '-'}, {res.solve_time_s:.3g} s, "
                  f"{res.mappings_scored if res.mappings_scored is not None else '-'} mappings scored")
    if res.mapping is not None:
        console.print(f"mapping: {res.mapping.describe()}", soft_wrap=True, markup=False, highlight=False)
    console.print(f"[dim]{LEGEND}[/dim]")


CHEAP_DP = 2000  # layers x chiplets up to which a heuristic solve also proves its gap (about a second)


def proven_gap(inst, res: SolveResult, terms: CostTerms, instance_file: Path) -> dict | None:
    """After a heuristic: its gap to the proven optimum of its space when the chain DP is
    cheap (printed), else how to get it."""
    if resolve(res.method).kind is not Kind.HEURISTIC or res.evaluation is None or not res.evaluation.feasible:
        return None
    if len(inst.network.layers) * inst.package.chiplets > CHEAP_DP:
        console.print(f"proven gap: run `scope-opt solve ... --out MAPPING.json`, then `scope-opt gap "
                      f"{escape(str(instance_file))} MAPPING.json --space {res.space}` (the chain DP)", highlight=False)
        return None
    opt = run_solve(inst, dp_for(res.space).name, terms=terms)
    if opt.status != "optimal":
        return None
    gap = (res.latency_s - opt.latency_s) / res.latency_s
    console.print(f"proven gap (T - T*) / T: {gap:.3%}, the {res.space} optimum T* = {si(opt.latency_s, 's')} "
                  f"(chain DP, {opt.solve_time_s:.2g} s)")
    return {"optimum_s": opt.latency_s, "gap_to_optimum": gap, "proved_by": opt.method}


@command()
def solve(instance: Path = typer.Argument(..., help="Instance TOML file."),
          method: str = typer.Option("scope", "--method", "-m", help=f"One of: {', '.join(CLI_METHODS)}."),
          space: str = SpaceOpt,
          max_mappings: int = typer.Option(DEFAULT_MAX_MAPPINGS, "--max-mappings", help="Enumerator: refuse larger spaces."),
          solver: str = typer.Option(DEFAULT_SOLVER, "--solver", help=f"MILP solver: {' or '.join(MILP_SOLVERS)}."),
          time_limit: float = TimeLimitOpt, threads: int = ThreadsOpt, seed: int = SeedOpt, gap_rel: float = GapOpt,
          warm_start: bool = WarmOpt, verbose: bool = VerboseOpt,
          export: Optional[Path] = typer.Option(None, "--export", help="Write the model: .lp/.mps (MILP) or .pb/.pb.txt (CP-SAT)."),
          json_out: Optional[str] = JsonOpt, wide: bool = WideOpt,
          out: Optional[Path] = typer.Option(None, "--out", help="Write the mapping as JSON to this file."),
          objective: str = typer.Option("latency", "--objective",
                                        help=f"What to minimise: {', '.join(OBJECTIVES)} (dp and enumerate; "
                                             "the heuristics minimise latency).")) -> None:
    """Find a mapping with a heuristic search or an exact method; the evaluator re-scores it."""
    check_output_path(json_out, "--json", allow_stdout=True)
    check_output_path(out, "--out")
    chosen = resolve(method, solver)
    if export is not None:
        if "export" not in chosen.options:
            raise InputError("(arguments)", "--export", f"only the exact models cpsat and milp write a model, not {method!r}")
        check_output_path(export, "--export", (".pb", ".pb.txt") if chosen.name == "cpsat" else (".lp", ".mps"))
    check_options(max_mappings=max_mappings)
    inst = load_instance(instance)
    settings = solver_settings(time_limit, threads, seed, gap_rel, warm_start, verbose)
    what = f"{method} on {inst.name} ({len(inst.network.layers)} layers, {inst.package.chiplets} chiplets)"
    terms = CostTerms(inst)
    with progress(what) as say:
        res = run_solve(inst, method, MethodOptions(space=space, max_mappings=max_mappings, settings=settings,
                                                    export=export, objective=objective), terms, progress=say,
                        solver=solver)
    extra = None
    if json_out != "-":
        print_result(res, f"{inst.name} / {method}", inst, wide)
        extra = proven_gap(inst, res, terms, instance) if objective == "latency" else None
    if out is not None and res.mapping is not None:
        write_text_atomic(out, res.mapping.to_json() + "\n")
    write_json(json_out, {"instance": inst.name, **res.to_dict(), "proven_gap": extra})


@command()
def gap(instance: Path = typer.Argument(..., help="Instance TOML file."),
        mapping: Path = typer.Argument(..., help="Mapping JSON file."),
        space: str = SpaceOpt,
        method: str = typer.Option("dp", "--method", "-m", help="Exact method proving the bound: dp (chain DP, proves the optimum), cpsat or milp."),
        solver: str = typer.Option(DEFAULT_SOLVER, "--solver", help=f"MILP solver: {' or '.join(MILP_SOLVERS)}."),
        time_limit: float = TimeLimitOpt, threads: int = ThreadsOpt, seed: int = SeedOpt, gap_rel: float = GapOpt,
        warm_start: bool = WarmOpt, verbose: bool = VerboseOpt,
        json_out: Optional[str] = JsonOpt) -> None:
    """Proven gap of a mapping: (T - best proven bound) / T, and to the optimum when it is proven."""
    check_output_path(json_out, "--json", allow_stdout=True)
    inst = load_instance(instance)
    terms = CostTerms(inst)
    ev = evaluate(inst, load_mapping(mapping), terms.reference, src=str(mapping))
    if not ev.feasible:
        raise InputError(mapping, "mapping", f"is infeasible ({ev.reason}); only a valid mapping has a gap")
    if method not in CLI_METHODS or resolve(method, solver).kind is not Kind.EXACT or method == "enumerate":
        raise InputError("(arguments)", "--method", f"expected dp, cpsat or milp, got {method!r}")
    res = run_solve(inst, method, MethodOptions(space=space, settings=solver_settings(time_limit, threads, seed, gap_rel,
                                                                                      warm_start, verbose)),
                    terms, solver=solver)
    bound = res.bound_s
    payload = {"instance": inst.name, "mapping_file": str(mapping), "latency_s": ev.latency_s, "space": space,
               "solver": res.to_dict() | {"mapping": None}, "bound_s": bound,
               "gap": None if bound is None else max(0.0, (ev.latency_s - bound) / ev.latency_s),
               "optimum_s": res.latency_s if res.status == "optimal" else None,
               "gap_to_optimum": (ev.latency_s - res.latency_s) / ev.latency_s if res.status == "optimal" else None,
               "proof": res.status}
    if json_out != "-":
        g = f"{payload['gap']:.4%}" if payload["gap"] is not None else "unknown (no bound)"
        console.print(f"{escape(mapping.name)}: T = {si(ev.latency_s, 's')}; {res.method} {res.status}: best bound "
                      f"{si(bound, 's') if bound is not None else '-'}; proven gap {g}"
                      + (f"; optimum {si(res.latency_s, 's')}" if res.status == "optimal" else
                         f"; best mapping found {si(res.latency_s, 's')} (time limit hit, not proven optimal)"))
    write_json(json_out, payload)


@command()
def rank(instance: Path = typer.Argument(..., help="Instance TOML file."),
         method: Optional[str] = typer.Option(None, "--method", "-m", help="Rank this method's mapping."),
         mapping: Optional[Path] = typer.Option(None, "--mapping", help="Rank this mapping file instead."),
         space: str = SpaceOpt,
         max_mappings: int = typer.Option(DEFAULT_MAX_MAPPINGS, "--max-mappings", help="Enumerate spaces up to this size."),
         samples: int = typer.Option(20_000, "--samples", help="Uniform samples when the space is too large to list."),
         seed: int = typer.Option(0, "--seed"),
         json_out: Optional[str] = JsonOpt) -> None:
    """Share of valid mappings with strictly lower T than a method's (or a file's) mapping."""
    check_output_path(json_out, "--json", allow_stdout=True)
    check_options(max_mappings=max_mappings, samples=samples, seed=seed)
    if samples < 1:
        raise InputError("(arguments)", "--samples", f"expected at least 1 sample, got {samples}")
    inst = load_instance(instance)
    terms = CostTerms(inst)
    cost = terms.reference
    if (method is None) == (mapping is None):
        raise InputError("(arguments)", "--method/--mapping", "give exactly one of --method M or --mapping FILE")
    if mapping is not None:
        ev = evaluate(inst, load_mapping(mapping), cost, src=str(mapping))
        label = str(mapping)
    else:
        ev = run_solve(inst, method, MethodOptions(space=space, max_mappings=max_mappings), terms).evaluation
        label = method
    if ev is None or not ev.feasible:
        raise InputError(label, "mapping", "is infeasible; only a valid mapping has a rank")
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("sampling", total=samples)
        rk = rank_of(inst, ev.latency_s, space, max_mappings, samples, seed, cost,
                     progress=lambda i: bar.update(task, completed=i))
    if rk.rank is None and json_out != "-":
        console.print(f"[yellow]no valid mapping among {rk.samples} uniform samples of the {big(rk.structural_size)} "
                      f"structural {space} mappings: almost none fit in SRAM, so the rank cannot be estimated; "
                      "use more --samples or a smaller instance[/yellow]")
    elif json_out != "-":
        extra = f" (95% interval {rk.interval[0]:.4%} to {rk.interval[1]:.4%}, {rk.valid_samples} valid of {rk.samples} samples)" if rk.interval else ""
        size = rk.space_size if rk.space_size is not None else f"{rk.structural_size} structural"
        console.print(f"{escape(label)}: T = {si(ev.latency_s, 's')}; rank {rk.rank:.4%} of {size} {space} mappings, {rk.method}{extra}")
    write_json(json_out, {"instance": inst.name, "subject": label, "latency_s": ev.latency_s, **rk.to_dict()})


@command("space")
def space_cmd(instance: Path = typer.Argument(..., help="Instance TOML file."),
              samples: int = typer.Option(0, "--samples", help="Estimate the valid share from this many samples where it cannot be counted."),
              seed: int = typer.Option(0, "--seed"),
              json_out: Optional[str] = JsonOpt) -> None:
    """Exact number of distinct mappings per space (and how many fit in SRAM)."""
    check_output_path(json_out, "--json", allow_stdout=True)
    check_options(samples=samples, seed=seed)
    inst = load_instance(instance)
    cost = CostTerms(inst).reference
    rows = []
    for sp in SPACES:
        structural = StructuralSpace.build(inst, sp).size
        row = {"space": sp, "structural": structural, "valid": None, "valid_method": None}
        fp = FeasibleParts(cost)
        if fp.checks_needed(inst, sp) <= 200_000:
            row["valid"] = fp.ways(inst, sp)
            row["valid_method"] = "exact"
        elif samples:
            _, values = sample_latencies(inst, sp, samples, seed, cost)
            ok = sum(1 for t in values if t < float("inf"))
            lo, hi = wilson(ok, samples)
            row.update(valid_method="sampled", valid_share=ok / samples, valid_share_interval=[lo, hi])
        rows.append(row)
    if json_out != "-":
        table = Table(title=f"{escape(inst.name)}: design-space size")
        for col in ("space", "mappings (all decisions)", "valid (fit in SRAM)", "log10"):
            table.add_column(col, justify="right")
        for r in rows:
            valid = (big(r["valid"]) if r["valid"] is not None else
                     f"~{r['valid_share']:.3%} of all (sampled)" if r.get("valid_share") is not None else "-")
            table.add_row(r["space"], big(r["structural"]), valid,
                          f"{math.log10(r['structural']):.1f}")
        console.print(table)
    write_json(json_out, {"instance": inst.name, "spaces": [{**r, "structural": str(r["structural"]),
                                                            "valid": None if r["valid"] is None else str(r["valid"])} for r in rows]})
