"""Commands that run studies: bench and sweep."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from scope_opt.cli.app import command, console
from scope_opt.cli.options import SchedulerOpt, SeedOpt, ThreadsOpt, WorkersOpt, executor_of
from scope_opt.formats.inputs import check_options
from scope_opt.formats.outputs import check_output_folder
from scope_opt.methods.enumerate import DEFAULT_MAX_MAPPINGS


@command()
def bench(suite: str = typer.Argument(..., help="Suite: a folder name under instances/ (paper, small, scaling) or a folder path."),
          time_limit: float = typer.Option(60.0, "--time-limit", help="Per-solve time limit of the exact models (s)."),
          threads: int = ThreadsOpt, seed: int = SeedOpt,
          max_mappings: int = typer.Option(DEFAULT_MAX_MAPPINGS, "--max-mappings", help="Enumerate spaces up to this size."),
          heuristic: Optional[str] = typer.Option(None, "--heuristic", help="Your heuristic, package.module:function (instance -> Mapping)."),
          ablation: bool = typer.Option(False, "--ablation", help="Also run the ablation of Scope's search (each step made exact)."),
          objectives: str = typer.Option("latency", "--objectives",
                                         help="Comma-separated: latency, energy, edp. Past latency, the exact methods "
                                              "that take each objective also run on it (rows named METHOD@OBJECTIVE)."),
          workers: Optional[int] = WorkersOpt, scheduler: Optional[str] = SchedulerOpt,
          out: Path = typer.Option(Path("results"), "--out", help="Results folder; the suite's results go to OUT/<suite>/.")) -> None:
    """Run every method on every instance of a suite (cached, resumable); write CSV, summary and plots."""
    from scope_opt.studies.bench import BenchSettings, run_suite
    from scope_opt.studies.bench_energy import objective_list
    from scope_opt.studies.user_heuristic import load_heuristic
    check_options(time_limit=time_limit, threads=threads, seed=seed, max_mappings=max_mappings)
    check_output_folder(out, "--out")
    if heuristic is not None:
        load_heuristic(heuristic)  # refused now, with the expected form, not after the bench
    root = Path.cwd()
    settings = BenchSettings(time_limit, threads, seed, max_mappings, heuristic, ablation, objective_list(objectives))
    ex = executor_of(workers, scheduler)
    err = Console(stderr=True)
    with Progress(console=err) as bar:
        task = bar.add_task("bench", total=None)
        folder = run_suite(suite, root, out, settings,
                           progress=lambda what: bar.update(task, description=escape(what), advance=1), executor=ex,
                           warn=lambda file, why: err.print(f"[yellow]skipped[/yellow] {escape(file)}: {escape(why)}",
                                                            highlight=False, soft_wrap=True))
    console.print(f"wrote {folder / 'results.csv'}, {folder / 'summary.md'} and plots in {folder}", markup=False, highlight=False)



@command()
def sweep(spec: Path = typer.Argument(..., help="Sweep spec TOML (docs/sweeps.md)."),
          workers: Optional[int] = WorkersOpt, scheduler: Optional[str] = SchedulerOpt,
          out: Path = typer.Option(Path("results"), "--out", help="Results folder; the sweep's results go to OUT/<name>/."),
          cell_time_limit: Optional[float] = typer.Option(None, "--cell-time-limit", min=0.0,
                                                          help="Cut every cell's solver time limit to this many seconds; "
                                                               "a cell cut short is marked and solved again next run.")) -> None:
    """A design-space sweep: every network x hardware grid point x method, cached and resumable."""
    from scope_opt.studies.sweep import load_sweep, run_sweep
    ex = executor_of(workers, scheduler)
    check_output_folder(out, "--out")
    total = len(load_sweep(spec).cells)
    with Progress(console=Console(stderr=True)) as bar:
        task = bar.add_task(f"sweep ({ex.name})", total=total)
        folder = run_sweep(spec, out, ex, progress=lambda what: bar.update(task, advance=1, description=escape(what[:60])),
                           cell_time_limit=math.inf if cell_time_limit is None else cell_time_limit)
    console.print(f"wrote {folder / 'results.csv'}, {folder / 'summary.md'} and plots in {folder}", markup=False, highlight=False)
