"""`scope-opt pareto`: the exact throughput-energy front of an instance."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape
from rich.table import Table

from scope_opt.cli.app import command, console
from scope_opt.cli.options import JsonOpt, SpaceOpt
from scope_opt.cli.progress import progress
from scope_opt.cli.report import si
from scope_opt.formats.outputs import check_no_overwrite, check_output_path, write_json
from scope_opt.methods.registry import check_space
from scope_opt.problem.instance import load_instance

if TYPE_CHECKING:  # the energy DP is imported by the command that runs it: other commands start faster
    from scope_opt.studies.pareto import FrontStudy


def _table(study: FrontStudy, batch: int) -> Table:
    table = Table(title=f"{study.instance}: exact (T, energy) front, {study.space} space")
    for col in ("#", "T", "throughput", "energy / sample", "segments", "clusters"):
        table.add_column(col, justify="right")
    for i, p in enumerate(study.points):
        table.add_row(str(i + 1), si(p.latency_s, "s"), f"{batch / p.latency_s:.4g}/s", si(p.energy_j, "J"),
                      str(len(p.mapping.segments)), str(sum(len(s.clusters) for s in p.mapping.segments)))
    return table


@command()
def pareto(instance: Path = typer.Argument(..., help="Instance TOML file."),
           space: str = SpaceOpt,
           json_out: Optional[str] = JsonOpt,
           csv_out: Optional[Path] = typer.Option(None, "--csv", help="Write the front and the heuristics' points as CSV."),
           plot_out: Optional[Path] = typer.Option(None, "--plot", help="Draw the front and the heuristics (PNG or PDF)."),
           time_limit: float = typer.Option(600.0, "--time-limit", help="Seconds before giving up on the exact front."),
           force: bool = typer.Option(False, "--force", help="Overwrite existing output files.")) -> None:
    """The exact Pareto front of (batch latency, energy per sample): every point proven
    non-dominated, with the Scope search, the baselines and fastdp placed beside it."""
    check_space(space)
    check_output_path(json_out, "--json", allow_stdout=True)
    check_output_path(csv_out, "--csv", (".csv",))
    check_output_path(plot_out, "--plot", (".png", ".pdf", ".svg"))
    for path, option in ((json_out, "--json"), (csv_out, "--csv"), (plot_out, "--plot")):
        if path is not None and str(path) != "-":
            check_no_overwrite(path, option, force)
    inst = load_instance(instance)
    with progress(f"pareto on {inst.name}") as say:
        from scope_opt.studies.pareto import front_study, plot, write_csv
        study = front_study(inst, space, time_limit, say)
    if json_out != "-":
        if study.points:
            console.print(_table(study, inst.batch))
        for h in study.heuristics:
            where = "on the front" if h["on_front"] else f"{h['energy_excess']:.2%} more energy than the front at its T"
            console.print(f"{escape(h['method'])}: T = {si(h['latency_s'], 's')}, energy {si(h['energy_j'], 'J')}, {where}")
        s = study.summary()
        if s:
            console.print(f"latency optimum costs {s['energy_price_of_latency_optimum']:.3f}x the least energy; the energy "
                          f"optimum takes {s['latency_price_of_energy_optimum']:.3f}x the least T; front in "
                          f"{study.front_time_s:.3g} s")
        if not study.complete:
            console.print(f"[yellow]not proven[/yellow]: {escape(study.reason or '')}")
    write_json(json_out, study.to_dict())
    if csv_out is not None:
        write_csv(study, csv_out)
    if plot_out is not None:
        plot(study, plot_out)
    if not study.complete:
        raise typer.Exit(3)
