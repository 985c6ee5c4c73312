"""Commands on files: show an instance, evaluate and draw a mapping, import ONNX."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scope_opt.cli.app import command, console
from scope_opt.cli.options import JsonOpt, WideOpt
from scope_opt.cli.report import LEGEND, show_evaluation, show_instance, si
from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.reference import CostModel
from scope_opt.errors import InputError
from scope_opt.formats.outputs import check_no_overwrite, check_output_path, safe_name, write_json, write_text_atomic
from scope_opt.methods.baselines import tiled_layers, unfit_layers
from scope_opt.problem.instance import load_instance
from scope_opt.problem.network import OPS
from scope_opt.problem.mapping import load_mapping


@command()
def show(instance: Path = typer.Argument(..., help="Instance TOML file."),
         all_layers: bool = typer.Option(False, "--all", help="List every layer, not the first and last 12."),
         json_out: Optional[str] = JsonOpt, wide: bool = WideOpt) -> None:
    """Summarise an instance: its network's layers, MACs and weights, and the package."""
    check_output_path(json_out, "--json", allow_stdout=True)
    inst = load_instance(instance)
    cost = CostModel(inst)
    unfit, tiled = unfit_layers(inst, cost), tiled_layers(inst, cost)
    if json_out != "-":
        show_instance(console, inst, unfit, all_layers, tiled, wide)
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
                 json_out: Optional[str] = JsonOpt, wide: bool = WideOpt) -> None:
    """Score a mapping with the reference evaluator."""
    check_output_path(json_out, "--json", allow_stdout=True)
    inst = load_instance(instance)
    mp = load_mapping(mapping)
    ev = evaluate(inst, mp, CostModel(inst), src=str(mapping))
    if json_out != "-":
        show_evaluation(console, ev, f"{inst.name} / {mapping.name}", inst, wide)
        console.print(f"[dim]{LEGEND}[/dim]")
    write_json(json_out, {"instance": inst.name, **ev.to_dict(), "mapping": mp.to_dict()})



def _input_shape(text: Optional[str]) -> tuple[int, int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise InputError("(arguments)", "--input-shape", f"expected C,H,W as three positive integers, e.g. 3,224,224, got {text!r}")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


@command("import")
def import_cmd(model: Path = typer.Argument(..., help="ONNX model file."),
               out: Optional[Path] = typer.Option(None, "--out", help="Network YAML to write (default ./<name>.yaml)."),
               input_shape: Optional[str] = typer.Option(None, "--input-shape", help="C,H,W when the model's input dims are symbolic."),
               skip_unsupported: bool = typer.Option(False, "--skip-unsupported", help="Drop operators the model cannot express, with a warning."),
               name: Optional[str] = typer.Option(None, "--name", help="Network name (default: the file name)."),
               force: bool = typer.Option(False, "--force", help="Overwrite the output file if it exists.")) -> None:
    """Convert an ONNX model to a network YAML (shapes only: no weights, no runtime)."""
    import yaml
    from scope_opt.problem.network_yaml import build_network
    from scope_opt.problem.onnx_import import import_onnx
    if name is not None:
        safe_name(name, "(arguments)", "--name")
    target = out or Path.cwd() / f"{safe_name(name or model.stem, model, '(file name)')}.yaml"
    check_output_path(target, "--out", (".yaml", ".yml"))
    check_no_overwrite(target, "--out", force)
    rep = import_onnx(model, _input_shape(input_shape), skip_unsupported, name)
    net = build_network(rep.description, str(model), model.stem)
    header = f"# {net.name}: imported from {model.name} by scope-opt import\n"
    text = header + yaml.safe_dump(rep.description, sort_keys=False, default_flow_style=None, width=160)
    write_text_atomic(target, text)
    err = Console(stderr=True)
    for d in rep.dropped:
        err.print(f"[yellow]warning[/yellow]: dropped {escape(d)} (--skip-unsupported)", highlight=False)
    table = Table(title=f"{escape(net.name)}: imported from {escape(model.name)}")
    ops = Counter(layer.op for layer in net.layers)
    for col in ("layers", *OPS, "residual adds", "MACs/sample", "weights"):
        table.add_column(col, justify="right")
    table.add_row(str(len(net.layers)), *(str(ops[op]) for op in OPS),
                  str(sum(1 for layer in net.layers if layer.residual)), si(net.macs), si(net.weights))
    console.print(table)
    if rep.dropped:
        console.print(f"dropped with --skip-unsupported ({len(rep.dropped)} node(s), each keeping its tensor's shape; "
                      "the MACs and weights above count none of them): " + escape("; ".join(rep.dropped)), highlight=False)
    if rep.side_inputs:
        console.print("side inputs (the network's input is their embedding lookups; a mask's arithmetic is constant "
                      "here): " + escape(", ".join(rep.side_inputs)), highlight=False)
    if rep.folded:
        console.print("folded: " + ", ".join(f"{op} x{k}" for op, k in sorted(rep.folded.items())), highlight=False)
    console.print(f"wrote {escape(str(target))}", highlight=False)



@command()
def draw(instance: Path = typer.Argument(..., help="Instance TOML file."),
         mapping: Path = typer.Argument(..., help="Mapping JSON file."),
         out: Optional[Path] = typer.Option(None, "--out", help="PNG file to write (default mapping.png, unless --trace alone)."),
         trace: Optional[Path] = typer.Option(None, "--trace", help="Chrome trace-event JSON to write (opens in Perfetto).")) -> None:
    """Draw a mapping: the mesh coloured by cluster per segment, and the pipeline timeline;
    with --trace, the same schedule as a trace for Perfetto or chrome://tracing."""
    from scope_opt.studies.draw import draw_mapping
    from scope_opt.studies.trace import trace_events
    out = out if out is not None or trace is not None else Path("mapping.png")
    check_output_path(out, "--out", (".png",))
    check_output_path(trace, "--trace", (".json",))
    inst = load_instance(instance)
    ev = evaluate(inst, load_mapping(mapping), CostModel(inst), src=str(mapping))
    if not ev.feasible:
        raise InputError(mapping, "mapping", f"is infeasible ({ev.reason}); only a valid mapping has a schedule to draw")
    if out is not None:
        draw_mapping(inst, ev, out)
        console.print(f"wrote {out}", markup=False, highlight=False)
    if trace is not None:
        write_json(trace, trace_events(inst, ev))
        console.print(f"wrote {trace}", markup=False, highlight=False)
