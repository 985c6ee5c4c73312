"""Human-readable output: rich tables for instances and evaluations that fit 80 columns
(compact units, the essential columns), or every column with `wide`.

Layer ranges are written first:last, half-open, as in the mapping line and the JSON."""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scope_opt.cost.evaluate import Evaluation
from scope_opt.problem.instance import Instance

LEGEND = ("first:last = half-open layer range; K/H = channel/row split; T_c/T_s = stage/segment time; "
          "merged = Scope's space; '-' = none proven (docs/cost-model.md)")
PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"))


def si(x: float, unit: str = "", digits: int = 4, space: str = " ") -> str:
    if x is None or not math.isfinite(x):
        return "-"
    for factor, prefix in PREFIXES:
        if abs(x) >= factor:
            return f"{x / factor:.{digits}g}{space}{prefix}{unit}"
    return f"{x:.{digits}g}{space}{unit}"


def short(x: float, unit: str = "") -> str:
    """Three significant digits, no space: 124us, 652kB (for 80-column tables)."""
    return si(x, unit, 3, "")


def big(n: int) -> str:
    """An exact integer, shortened to scientific notation past 15 digits."""
    digits = str(n)
    return digits if len(digits) <= 15 else f"{digits[0]}.{digits[1:4]}e{len(digits) - 1}"


def span(first: int, last: int) -> str:
    return f"{first}:{last}"


def _table(title: str, columns: list[str], wide: bool, left: tuple[str, ...] = ()) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD if not wide else box.HEAVY_HEAD, pad_edge=False)
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right", no_wrap=col not in left,
                         overflow="ellipsis", max_width=16 if col in left and not wide else None)
    return table


def show_instance(console: Console, instance: Instance, unfit: list[tuple[int, int]], all_layers: bool,
                  tiled: list | None = None, wide: bool = False) -> None:
    net, pkg = instance.network, instance.package
    e = pkg.bytes_per_element
    cols = ["#", "name", "op", "K", "C", "HxW", "RxS/s", "MACs", "weights"] + (["groups", "reads"] if wide else [])
    table = _table(f"{escape(instance.name)}: {escape(net.name)}, {len(net.layers)} layers", cols, wide,
                   ("name", "op", "reads"))
    rows = list(enumerate(net.layers))
    if not all_layers and len(rows) > 24:
        rows = rows[:12] + [None] + rows[-12:]
    num = si if wide else short
    for row in rows:
        if row is None:
            table.add_row("...", *[""] * (len(cols) - 1))
            continue
        i, layer = row
        cells = [str(i), escape(layer.name), layer.op, str(layer.K), str(layer.C), f"{layer.H}x{layer.W}",
                 f"{layer.R}x{layer.S}/{layer.stride}", num(layer.macs), num(layer.weights * e, "B")]
        if wide:
            cells += [str(layer.groups), escape(", ".join(layer.inputs) + (f" + res {layer.residual}" if layer.residual else ""))]
        table.add_row(*cells)
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


def _segments(ev: Evaluation, title: str, wide: bool) -> Table:
    num = si if wide else short
    cols = (["seg", "layers", "clusters", "max stage", "DRAM B/sample", "DRAM time", "weights B", "passes", "T_s"] if wide
            else ["seg", "layers", "P", "max T_c", "DRAM/sample", "weights", "passes", "T_s"])
    table = _table(f"{title}: segments", cols, wide)
    for s in ev.segments:
        cells = [str(s.index), span(s.first, s.last), str(s.clusters), num(s.stage_max_s, "s"), num(s.dram_bytes, "B")]
        cells += [num(s.dram_s, "s")] if wide else []
        cells += [num(s.weight_bytes, "B"), str(s.passes) if s.passes > 1 else "-", num(s.time_s, "s")]
        table.add_row(*cells)
    return table


def _clusters(ev: Evaluation, title: str, wide: bool) -> Table:
    num = si if wide else short
    cols = (["seg", "layers", "chiplets", "stage T_c", "compute", "NoP", "memory B", "fits"] if wide
            else ["seg", "layers", "n", "T_c", "bound by", "memory", "fits"])
    table = _table(f"{title}: clusters", cols, wide)
    for c in ev.clusters:
        fits = f"tiled x{c.passes}" if c.passes > 1 else "yes" if c.fits else "[red]no[/red]"
        if wide:
            table.add_row(str(c.segment), span(c.first, c.last), str(c.chiplets), si(c.stage_s, "s"), si(c.compute_s, "s"),
                          si(c.nop_s, "s"), si(c.memory_bytes), fits)
        else:
            table.add_row(str(c.segment), span(c.first, c.last), str(c.chiplets), num(c.stage_s, "s"),
                          "compute" if c.compute_s >= c.nop_s else "NoP", num(c.memory_bytes, "B"), fits)
    return table


def show_evaluation(console: Console, ev: Evaluation, title: str, instance: Instance | None = None,
                    wide: bool = False) -> None:
    title = escape(title)
    console.print(_segments(ev, title, wide))
    console.print(_clusters(ev, title, wide))
    en = ev.energy
    console.print(f"Energy per sample: {si(en.total_j, 'J')} (MAC {si(en.mac_j, 'J')}, SRAM {si(en.sram_j, 'J')}, "
                  f"NoP {si(en.nop_j, 'J')}, DRAM {si(en.dram_j, 'J')})")
    if ev.feasible:
        peak = ""
        if instance is not None and instance.network.macs:
            share = ev.throughput * instance.network.macs / instance.package.peak_macs_per_s
            peak = f", {share:.1%} of the package's peak MAC rate"
        console.print(f"[bold]Batch latency T = {si(ev.latency_s, 's')}[/bold], throughput {ev.throughput:.6g} samples/s "
                      f"(batch {ev.batch}){peak}")
    else:
        console.print(f"[bold red]infeasible[/bold red]: {escape(str(ev.reason))}")
