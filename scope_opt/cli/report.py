"""Human-readable output: rich tables for instances and evaluations."""

from __future__ import annotations

import math

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scope_opt.cost.evaluate import Evaluation
from scope_opt.problem.instance import Instance


def si(x: float, unit: str = "") -> str:
    if x is None or not math.isfinite(x):
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")):
        if abs(x) >= factor:
            return f"{x / factor:.4g} {prefix}{unit}"
    return f"{x:.4g} {unit}"


def big(n: int) -> str:
    """An exact integer, shortened to scientific notation past 15 digits."""
    digits = str(n)
    return digits if len(digits) <= 15 else f"{digits[0]}.{digits[1:4]}e{len(digits) - 1}"


def show_instance(console: Console, instance: Instance, unfit: list[tuple[int, int]], all_layers: bool,
                  tiled: list | None = None) -> None:
    net, pkg = instance.network, instance.package
    e = pkg.bytes_per_element
    table = Table(title=f"{escape(instance.name)}: {escape(net.name)}, {len(net.layers)} layers")
    for col in ("#", "name", "op", "K", "C", "out HxW", "RxS/s", "groups", "MACs", "weights B", "reads"):
        table.add_column(col, justify="right" if col not in ("name", "op", "reads") else "left")
    rows = list(enumerate(net.layers))
    if not all_layers and len(rows) > 24:
        rows = rows[:12] + [None] + rows[-12:]
    for row in rows:
        if row is None:
            table.add_row("...", *[""] * 10)
            continue
        i, layer = row
        reads = escape(", ".join(layer.inputs) + (f" + res {layer.residual}" if layer.residual else ""))
        table.add_row(str(i), escape(layer.name), layer.op, str(layer.K), str(layer.C), f"{layer.H}x{layer.W}",
                      f"{layer.R}x{layer.S}/{layer.stride}", str(layer.groups), si(layer.macs), si(layer.weights * e), reads)
    console.print(table)
    console.print(f"Total: {si(net.macs)}MACs per sample, {si(net.weights * e)}B of weights")
    console.print(f"Package: {pkg.mesh[0]}x{pkg.mesh[1]} = {pkg.chiplets} chiplets, PE {pkg.pe_k}x{pkg.pe_c} at "
                  f"{pkg.freq_ghz:g} GHz ({si(pkg.peak_macs_per_s)}MAC/s peak), SRAM {pkg.sram_kib:g} KiB/chiplet "
                  f"({si(pkg.sram_bytes * pkg.chiplets)}B in all), NoP {pkg.nop_gbps:g} GB/s/chiplet, DRAM {pkg.dram_gbps:g} GB/s, "
                  f"{e} B/element")
    console.print(f"Batch {instance.batch}; partitions: {'every factorisation (hybrid)' if instance.partitions == 'hybrid' else 'K or H'}")
    for tl in tiled or []:
        console.print(f"[yellow]weight tiling[/yellow]: layer {tl.layer} ({escape(net.layers[tl.layer].name)}) fits on no "
                      f"chiplet count; alone in its segment it streams its weights in {tl.passes} passes at best on "
                      f"{tl.chiplets} chiplets, partition {list(tl.partition)} (T_s {si(tl.segment_time_s, 's')})")
    for l, need in unfit:
        console.print(f"[red]infeasible[/red]: layer {l} ({escape(net.layers[l].name)}) needs {need} bytes of activations "
                      f"on one chiplet whatever its chiplet count and partition, leaving no room for a weight tile; "
                      f"each chiplet has {int(pkg.sram_bytes)} bytes")


def show_evaluation(console: Console, ev: Evaluation, title: str) -> None:
    title = escape(title)
    seg = Table(title=f"{title}: segments")
    for col in ("seg", "layers", "clusters", "max stage", "DRAM B/sample", "DRAM time", "weights B", "passes", "T_s"):
        seg.add_column(col, justify="right")
    for s in ev.segments:
        seg.add_row(str(s.index), f"{s.first}-{s.last - 1}", str(s.clusters), si(s.stage_max_s, "s"), si(s.dram_bytes),
                    si(s.dram_s, "s"), si(s.weight_bytes), str(s.passes) if s.passes > 1 else "-", si(s.time_s, "s"))
    console.print(seg)
    cl = Table(title=f"{title}: clusters")
    for col in ("seg", "layers", "chiplets", "stage T_c", "compute", "NoP", "memory B", "fits"):
        cl.add_column(col, justify="right")
    for c in ev.clusters:
        cl.add_row(str(c.segment), f"{c.first}-{c.last - 1}", str(c.chiplets), si(c.stage_s, "s"), si(c.compute_s, "s"),
                   si(c.nop_s, "s"), si(c.memory_bytes),
                   f"tiled x{c.passes}" if c.passes > 1 else "yes" if c.fits else "[red]no[/red]")
    console.print(cl)
    en = ev.energy
    console.print(f"Energy per sample: {si(en.total_j, 'J')} (MAC {si(en.mac_j, 'J')}, SRAM {si(en.sram_j, 'J')}, "
                  f"NoP {si(en.nop_j, 'J')}, DRAM {si(en.dram_j, 'J')})")
    if ev.feasible:
        console.print(f"[bold]Batch latency T = {si(ev.latency_s, 's')}[/bold], throughput {ev.throughput:.6g} samples/s "
                      f"(batch {ev.batch})")
    else:
        console.print(f"[bold red]infeasible[/bold red]: {ev.reason}")
