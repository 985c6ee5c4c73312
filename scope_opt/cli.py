"""The scope-opt command line.  Bad input prints one line naming file, field and fix, exit 2."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.console import Console

from .constructors import unfit_layers
from .cost import CostModel
from .errors import InputError
from .evaluate import evaluate
from .instance import load_instance
from .mapping import load_mapping
from .report import show_evaluation, show_instance

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Map neural networks onto multi-chip-module accelerators: evaluate, search, solve exactly.")
console = Console()

def guarded(fn: Callable) -> Callable:
    """Turn bad input into one line on stderr and exit code 2, with no traceback."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            Console(stderr=True).print(f"[red]error[/red]: {exc}", highlight=False, soft_wrap=True, markup=True)
            raise typer.Exit(2) from None
    return run


def command(name: str | None = None) -> Callable:
    return lambda fn: app.command(name)(guarded(fn))


JsonOpt = typer.Option(None, "--json", help="Write the result as JSON to this file ('-' for standard output).")


def write_json(target: Optional[str], payload: dict) -> None:
    if target is None:
        return
    text = json.dumps(payload, indent=1, default=str)
    if target == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(target).write_text(text + "\n")


@command()
def show(instance: Path = typer.Argument(..., help="Instance TOML file."),
         all_layers: bool = typer.Option(False, "--all", help="List every layer, not the first and last 12."),
         json_out: Optional[str] = JsonOpt) -> None:
    """Summarise an instance: its network's layers, MACs and weights, and the package."""
    inst = load_instance(instance)
    unfit = unfit_layers(inst)
    if json_out != "-":
        show_instance(console, inst, unfit, all_layers)
    net = inst.network
    write_json(json_out, {
        "instance": inst.name, "network": net.name, "layers": len(net.layers), "macs": net.macs,
        "weight_bytes": net.weights * inst.package.bytes_per_element, "chiplets": inst.package.chiplets,
        "batch": inst.batch, "feasible": not unfit,
        "unfit_layers": [{"layer": l, "name": net.layers[l].name, "bytes": b} for l, b in unfit]})


@command("evaluate")
def evaluate_cmd(instance: Path = typer.Argument(..., help="Instance TOML file."),
                 mapping: Path = typer.Argument(..., help="Mapping JSON file."),
                 json_out: Optional[str] = JsonOpt) -> None:
    """Score a mapping with the reference evaluator."""
    inst = load_instance(instance)
    mp = load_mapping(mapping)
    ev = evaluate(inst, mp, CostModel(inst), src=str(mapping))
    if json_out != "-":
        show_evaluation(console, ev, f"{inst.name} / {mapping.name}")
    write_json(json_out, {"instance": inst.name, **ev.to_dict(), "mapping": mp.to_dict()})


def main() -> None:
    app()


if __name__ == "__main__":
    main()
