"""The scope-opt command line.  Bad input prints one line naming file, field and fix, exit 2."""

from __future__ import annotations

import functools
import threading
import math
from collections import Counter
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from scope_opt.methods.baselines import tiled_layers, unfit_layers
from scope_opt.cost.reference import CostModel
from scope_opt.errors import InputError
from scope_opt.cost.evaluate import evaluate
from scope_opt.methods.settings import SolverSettings
from scope_opt.problem.instance import load_instance
from scope_opt.formats.inputs import check_options
from scope_opt.problem.mapping import load_mapping
from scope_opt.formats.outputs import check_output_folder, check_output_path, write_json, write_text_atomic
from scope_opt.studies.rank import rank_of, sample_latencies
from scope_opt.cli.report import big, show_evaluation, show_instance, si
from scope_opt.methods.result import SolveResult
from scope_opt.solve import METHODS, SolveOptions
from scope_opt.solve import solve as run_solve
from scope_opt.methods.space import SPACES, FeasibleParts, StructuralSpace, wilson

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Map neural networks onto multi-chip-module accelerators: evaluate, search, solve exactly.")
console = Console()


_SIGINT = {"seen": False}


def _on_sigint(signum, frame) -> None:
    """Remember the interrupt, then raise it as Python would.  Compiled code (numba)
    can wrap it in a SystemError; the flag still tells us it was a Ctrl-C."""
    _SIGINT["seen"] = True
    raise KeyboardInterrupt


def _interrupted() -> typer.Exit:
    Console(stderr=True).print("[yellow]interrupted[/yellow]: stopped before finishing; no result was written")
    return typer.Exit(130)


def guarded(fn: Callable) -> Callable:
    """Turn bad input into one line on stderr and exit code 2, with no traceback; an
    interrupt at any moment (compiling included) into exit code 130."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        import signal
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _on_sigint)
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            if _SIGINT["seen"]:
                raise _interrupted() from None
            Console(stderr=True).print(f"[red]error[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True, markup=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            raise _interrupted() from None
        except (typer.Exit, Exception):
            if _SIGINT["seen"]:
                raise _interrupted() from None
            raise
    return run


def command(name: str | None = None) -> Callable:
    return lambda fn: app.command(name)(guarded(fn))


JsonOpt = typer.Option(None, "--json", help="Write the result as JSON to this file ('-' for standard output).")


@command()
def show(instance: Path = typer.Argument(..., help="Instance TOML file."),
         all_layers: bool = typer.Option(False, "--all", help="List every layer, not the first and last 12."),
         json_out: Optional[str] = JsonOpt) -> None:
    """Summarise an instance: its network's layers, MACs and weights, and the package."""
    check_output_path(json_out, "--json", allow_stdout=True)
    inst = load_instance(instance)
    cost = CostModel(inst)
    unfit, tiled = unfit_layers(inst, cost), tiled_layers(inst, cost)
    if json_out != "-":
        show_instance(console, inst, unfit, all_layers, tiled)
    net = inst.network
    write_json(json_out, {
        "instance": inst.name, "network": net.name, "layers": len(net.layers), "macs": net.macs,
        "weight_bytes": net.weights * inst.package.bytes_per_element, "chiplets": inst.package.chiplets,
        "batch": inst.batch, "feasible": not unfit,
        "unfit_layers": [{"layer": l, "name": net.layers[l].name, "bytes": b} for l, b in unfit],
        "tiled_layers": [{"layer": t.layer, "name": net.layers[t.layer].name, "chiplets": t.chiplets,
                          "partition": list(t.partition), "passes": t.passes, "segment_time_s": t.segment_time_s}
                         for t in tiled]})


@command("evaluate")
def evaluate_cmd(instance: Path = typer.Argument(..., help="Instance TOML file."),
                 mapping: Path = typer.Argument(..., help="Mapping JSON file."),
                 json_out: Optional[str] = JsonOpt) -> None:
    """Score a mapping with the reference evaluator."""
    check_output_path(json_out, "--json", allow_stdout=True)
    inst = load_instance(instance)
    mp = load_mapping(mapping)
    ev = evaluate(inst, mp, CostModel(inst), src=str(mapping))
    if json_out != "-":
        show_evaluation(console, ev, f"{inst.name} / {mapping.name}")
    write_json(json_out, {"instance": inst.name, **ev.to_dict(), "mapping": mp.to_dict()})


TimeLimitOpt = typer.Option(60.0, "--time-limit", help="Exact models: seconds before stopping with the best mapping and bound.")
ThreadsOpt = typer.Option(2, "--threads", help="Exact models: solver threads (recorded).")
SeedOpt = typer.Option(0, "--seed", help="Exact models: random seed (recorded).")
GapOpt = typer.Option(0.0, "--gap", help="Exact models: relative gap at which to stop (0: prove optimality).")
WarmOpt = typer.Option(True, "--warm-start/--no-warm-start", help="Exact models: start from the Scope search's mapping.")
VerboseOpt = typer.Option(False, "--verbose", help="Exact models: stream the solver log (to stderr).")


def solver_settings(time_limit: float, threads: int, seed: int, gap_rel: float, warm: bool, verbose: bool) -> SolverSettings:
    check_options(time_limit=time_limit, threads=threads, seed=seed, gap=gap_rel)
    return SolverSettings(time_limit_s=time_limit, threads=threads, seed=seed, gap_rel=gap_rel, warm_start=warm, verbose=verbose)


WorkersOpt = typer.Option(None, "--workers", help="Run on a local Dask cluster of this many worker processes.")
SchedulerOpt = typer.Option(None, "--scheduler", help="Run on a running Dask cluster: its scheduler address, e.g. tcp://host:8786.")


def executor_of(workers: Optional[int], scheduler: Optional[str]):
    from scope_opt.studies.executor import Executor
    if workers is not None and scheduler is not None:
        raise InputError("(arguments)", "--workers/--scheduler", "give at most one: a local cluster or a running one")
    if workers is not None and not 1 <= workers <= 256:
        raise InputError("(arguments)", "--workers", f"expected 1 to 256 worker processes, got {workers}")
    return Executor(workers, scheduler)


SpaceOpt = typer.Option("merged", "--space", help="merged (Scope), segmented, or sequential.")


def print_result(res: SolveResult, title: str) -> None:
    if res.evaluation is not None:
        show_evaluation(console, res.evaluation, title)
    console.print(f"method {escape(res.method)} ({res.space} space): status [bold]{res.status}[/bold], "
                  f"T = {si(res.latency_s, 's')}, bound {si(res.bound_s, 's') if res.bound_s is not None else '-'}, "
                  f"gap {f'{res.gap:.3%}' if res.gap is not None else '-'}, {res.solve_time_s:.3g} s, "
                  f"{res.mappings_scored if res.mappings_scored is not None else '-'} mappings scored")
    if res.mapping is not None:
        console.print(f"mapping: {res.mapping.describe()}", soft_wrap=True)


@command()
def solve(instance: Path = typer.Argument(..., help="Instance TOML file."),
          method: str = typer.Option("scope", "--method", "-m", help=f"One of: {', '.join(METHODS)}."),
          space: str = SpaceOpt,
          max_mappings: int = typer.Option(2_000_000, "--max-mappings", help="Enumerator: refuse larger spaces."),
          solver: str = typer.Option("highs", "--solver", help="MILP solver: cbc or highs."),
          time_limit: float = TimeLimitOpt, threads: int = ThreadsOpt, seed: int = SeedOpt, gap_rel: float = GapOpt,
          warm_start: bool = WarmOpt, verbose: bool = VerboseOpt,
          export: Optional[Path] = typer.Option(None, "--export", help="Write the model: .lp/.mps (MILP) or .pb/.pb.txt (CP-SAT)."),
          json_out: Optional[str] = JsonOpt,
          out: Optional[Path] = typer.Option(None, "--out", help="Write the mapping as JSON to this file.")) -> None:
    """Find a mapping with a heuristic search or an exact method; the evaluator re-scores it."""
    check_output_path(json_out, "--json", allow_stdout=True)
    check_output_path(out, "--out")
    if export is not None:
        suffixes = (".pb", ".pb.txt") if method == "cpsat" else (".lp", ".mps")
        if method not in ("cpsat", "milp"):
            raise InputError("(arguments)", "--export", f"only the exact models cpsat and milp write a model, not {method!r}")
        check_output_path(export, "--export", suffixes)
    check_options(max_mappings=max_mappings)
    inst = load_instance(instance)
    settings = solver_settings(time_limit, threads, seed, gap_rel, warm_start, verbose)
    what = f"{method} on {inst.name} ({len(inst.network.layers)} layers, {inst.package.chiplets} chiplets)"
    with Console(stderr=True).status(what + "...") as status:
        res = run_solve(inst, method, SolveOptions(space=space, max_mappings=max_mappings, solver=solver,
                                                   settings=settings, export=export),
                        progress=lambda step: status.update(f"{what}: {step}..."))
    if json_out != "-":
        print_result(res, f"{inst.name} / {method}")
    if out is not None and res.mapping is not None:
        write_text_atomic(out, res.mapping.to_json() + "\n")
    write_json(json_out, {"instance": inst.name, **res.to_dict()})


@command()
def gap(instance: Path = typer.Argument(..., help="Instance TOML file."),
        mapping: Path = typer.Argument(..., help="Mapping JSON file."),
        space: str = SpaceOpt,
        method: str = typer.Option("dp", "--method", "-m", help="Exact method proving the bound: dp (chain DP, proves the optimum), cpsat or milp."),
        solver: str = typer.Option("highs", "--solver", help="MILP solver: cbc or highs."),
        time_limit: float = TimeLimitOpt, threads: int = ThreadsOpt, seed: int = SeedOpt, gap_rel: float = GapOpt,
        warm_start: bool = WarmOpt, verbose: bool = VerboseOpt,
        json_out: Optional[str] = JsonOpt) -> None:
    """Proven gap of a mapping: (T - best proven bound) / T, and to the optimum when it is proven."""
    check_output_path(json_out, "--json", allow_stdout=True)
    inst = load_instance(instance)
    cost = CostModel(inst)
    ev = evaluate(inst, load_mapping(mapping), cost, src=str(mapping))
    if not ev.feasible:
        raise InputError(mapping, "mapping", f"is infeasible ({ev.reason}); only a valid mapping has a gap")
    if method not in ("dp", "cpsat", "milp"):
        raise InputError("(arguments)", "--method", f"expected dp, cpsat or milp, got {method!r}")
    res = run_solve(inst, method, SolveOptions(space=space, solver=solver,
                                               settings=solver_settings(time_limit, threads, seed, gap_rel, warm_start, verbose)), cost)
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
         max_mappings: int = typer.Option(2_000_000, "--max-mappings", help="Enumerate spaces up to this size."),
         samples: int = typer.Option(20_000, "--samples", help="Uniform samples when the space is too large to list."),
         seed: int = typer.Option(0, "--seed"),
         json_out: Optional[str] = JsonOpt) -> None:
    """Share of valid mappings with strictly lower T than a method's (or a file's) mapping."""
    check_output_path(json_out, "--json", allow_stdout=True)
    check_options(max_mappings=max_mappings, samples=samples, seed=seed)
    if samples < 1:
        raise InputError("(arguments)", "--samples", f"expected at least 1 sample, got {samples}")
    inst = load_instance(instance)
    cost = CostModel(inst)
    if (method is None) == (mapping is None):
        raise InputError("(arguments)", "--method/--mapping", "give exactly one of --method M or --mapping FILE")
    if mapping is not None:
        ev = evaluate(inst, load_mapping(mapping), cost, src=str(mapping))
        label = str(mapping)
    else:
        ev = run_solve(inst, method, SolveOptions(space=space, max_mappings=max_mappings), cost).evaluation
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
    cost = CostModel(inst)
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


@command()
def bench(suite: str = typer.Argument(..., help="Suite: a folder name under instances/ (paper, small, scaling) or a folder path."),
          time_limit: float = typer.Option(60.0, "--time-limit", help="Per-solve time limit of the exact models (s)."),
          threads: int = ThreadsOpt, seed: int = SeedOpt,
          max_mappings: int = typer.Option(2_000_000, "--max-mappings", help="Enumerate spaces up to this size."),
          heuristic: Optional[str] = typer.Option(None, "--heuristic", help="Your heuristic, package.module:function (instance -> Mapping)."),
          ablation: bool = typer.Option(False, "--ablation", help="Also run the ablation of Scope's search (each step made exact)."),
          workers: Optional[int] = WorkersOpt, scheduler: Optional[str] = SchedulerOpt,
          out: Path = typer.Option(Path("results"), "--out", help="Results folder; the suite's results go to OUT/<suite>/.")) -> None:
    """Run every method on every instance of a suite (cached, resumable); write CSV, summary and plots."""
    from scope_opt.studies.bench import BenchSettings, run_suite
    check_options(time_limit=time_limit, threads=threads, seed=seed, max_mappings=max_mappings)
    check_output_folder(out, "--out")
    root = Path.cwd()
    settings = BenchSettings(time_limit, threads, seed, max_mappings, heuristic, ablation)
    ex = executor_of(workers, scheduler)
    with Progress(console=Console(stderr=True)) as bar:
        task = bar.add_task("bench", total=None)
        folder = run_suite(suite, root, out, settings, progress=lambda what: bar.update(task, description=what, advance=1),
                           executor=ex)
    console.print(f"wrote {folder / 'results.csv'}, {folder / 'summary.md'} and plots in {folder}", markup=False, highlight=False)


def _input_shape(text: Optional[str]) -> tuple[int, int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise InputError("(arguments)", "--input-shape", f"expected C,H,W as three positive integers, e.g. 3,224,224, got {text!r}")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


@command("import")
def import_cmd(model: Path = typer.Argument(..., help="ONNX model file."),
               out: Optional[Path] = typer.Option(None, "--out", help="Network YAML to write (default models/<name>.yaml beside the project, or ./<name>.yaml)."),
               input_shape: Optional[str] = typer.Option(None, "--input-shape", help="C,H,W when the model's input dims are symbolic."),
               skip_unsupported: bool = typer.Option(False, "--skip-unsupported", help="Drop operators the model cannot express, with a warning."),
               name: Optional[str] = typer.Option(None, "--name", help="Network name (default: the file name).")) -> None:
    """Convert an ONNX model to a network YAML (shapes only: no weights, no runtime)."""
    import yaml
    from scope_opt.problem.network_yaml import MODELS_DIR, build_network
    from scope_opt.problem.onnx_import import import_onnx
    check_output_path(out, "--out", (".yaml", ".yml"))
    rep = import_onnx(model, _input_shape(input_shape), skip_unsupported, name)
    net = build_network(rep.description, str(model), model.stem)
    target = out or ((MODELS_DIR if MODELS_DIR.is_dir() else Path.cwd()) / f"{net.name}.yaml")
    header = f"# {net.name}: imported from {model.name} by scope-opt import\n"
    text = header + yaml.safe_dump(rep.description, sort_keys=False, default_flow_style=None, width=160)
    write_text_atomic(target, text)
    err = Console(stderr=True)
    for d in rep.dropped:
        err.print(f"[yellow]warning[/yellow]: dropped {escape(d)} (--skip-unsupported)", highlight=False)
    table = Table(title=f"{escape(net.name)}: imported from {escape(model.name)}")
    for col in ("layers", "conv", "fc", "pool", "residual adds", "MACs/sample", "weights"):
        table.add_column(col, justify="right")
    ops = Counter(layer.op for layer in net.layers)
    table.add_row(str(len(net.layers)), str(ops["conv"]), str(ops["fc"]), str(ops["pool"]),
                  str(sum(1 for layer in net.layers if layer.residual)), si(net.macs), si(net.weights))
    console.print(table)
    if rep.folded:
        console.print("folded: " + ", ".join(f"{op} x{k}" for op, k in sorted(rep.folded.items())), highlight=False)
    console.print(f"wrote {escape(str(target))}", highlight=False)


@command()
def sweep(spec: Path = typer.Argument(..., help="Sweep spec TOML (docs/sweeps.md)."),
          workers: Optional[int] = WorkersOpt, scheduler: Optional[str] = SchedulerOpt,
          out: Path = typer.Option(Path("results"), "--out", help="Results folder; the sweep's results go to OUT/<name>/.")) -> None:
    """A design-space sweep: every network x hardware grid point x method, cached and resumable."""
    from scope_opt.studies.sweep import load_sweep, run_sweep
    ex = executor_of(workers, scheduler)
    check_output_folder(out, "--out")
    total = len(load_sweep(spec).cells)
    with Progress(console=Console(stderr=True)) as bar:
        task = bar.add_task(f"sweep ({ex.name})", total=total)
        folder = run_sweep(spec, out, ex, progress=lambda what: bar.update(task, advance=1, description=what[:60]))
    console.print(f"wrote {folder / 'results.csv'}, {folder / 'summary.md'} and plots in {folder}", markup=False, highlight=False)


@command()
def draw(instance: Path = typer.Argument(..., help="Instance TOML file."),
         mapping: Path = typer.Argument(..., help="Mapping JSON file."),
         out: Path = typer.Option(Path("mapping.png"), "--out", help="PNG file to write.")) -> None:
    """Draw a mapping: the mesh coloured by cluster per segment, and the pipeline timeline."""
    from scope_opt.cli.draw import draw_mapping
    check_output_path(out, "--out", (".png",))
    inst = load_instance(instance)
    ev = evaluate(inst, load_mapping(mapping), CostModel(inst), src=str(mapping))
    draw_mapping(inst, ev, out)
    console.print(f"wrote {out}", markup=False, highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
