"""A sweep's plots (one per swept field) and its Markdown summary."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scope_opt.formats.outputs import save_figure, write_text_atomic
from scope_opt.studies.executor import Executor
from scope_opt.studies.sweep import SWEPT

if TYPE_CHECKING:
    from scope_opt.studies.sweep import Sweep


def _x(field: str, value: Any) -> float:
    if field == "mesh":
        a, b = (int(v) for v in str(value).split("x"))
        return a * b
    if isinstance(value, list):
        return math.prod(value)
    return float(value)


def plot_sweep(sw: Sweep, rows: list[dict], out: Path) -> None:
    """Per swept field: throughput and energy against it (the other fields at their
    reference values), per network and method, with the peak-MAC limit."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ok = [r for r in rows if r.get("throughput")]
    ref = {f: ("x".join(map(str, v)) if isinstance(v, list) and f == "mesh" else v) for f, v in sw.reference.items()}
    for field in sw.fields:
        fig, axes = plt.subplots(2, len(sw.networks), figsize=(4.2 * len(sw.networks), 6.4), squeeze=False)
        for col, net in enumerate(sw.networks):
            sub = [r for r in ok if r["network"] == net and all(r.get(f) == ref[f] for f in sw.fields if f != field)]
            for metric, ax in (("throughput", axes[0][col]), ("energy_j", axes[1][col])):
                for m in sw.methods:
                    pts = sorted((_x(field, r[field]), r[metric]) for r in sub if r["method"] == m)
                    if pts:
                        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=m)
                if metric == "throughput":
                    peak = sorted({(_x(field, r[field]), r["peak_throughput"]) for r in sub})
                    if peak:
                        ax.plot([p[0] for p in peak], [p[1] for p in peak], "k--", label="peak MACs limit")
                    ax.set_yscale("log")
                    ax.set_title(net)
                ax.set_xlabel("chiplets" if field == "mesh" else field)
                ax.set_ylabel("samples/s" if metric == "throughput" else "J per sample")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=7)
        fig.suptitle(f"{sw.name}: against {field} (others at " +
                     ", ".join(f"{f} {ref[f]}" for f in sw.fields if f != field) + ")", fontsize=9)
        fig.tight_layout(rect=(0, 0.06, 1, 0.96))
        save_figure(fig, out / f"{field}.png", dpi=110)
        plt.close(fig)


def write_outputs(sw: Sweep, rows: list[dict], out: Path, executor: Executor, interrupted: bool = False) -> None:
    """results.csv and summary.md, and the plots unless the run was interrupted."""
    write_csv(rows, out / "results.csv")
    if not interrupted:
        plot_sweep(sw, rows, out)
    write_text_atomic(out / "summary.md", sweep_summary(sw, rows, executor, interrupted))


def sweep_summary(sw: Sweep, rows: list[dict], executor: Executor, interrupted: bool = False) -> str:
    ok = [r for r in rows if r.get("throughput")]
    failed = [r for r in rows if r.get("status") == "failed"]
    lines = [f"# Sweep `{sw.name}`", "", f"Spec: `{sw.src}`; {len(sw.cells)} cells; executor: {executor.name}.", ""]
    if interrupted:
        lines += [f"**Interrupted**: {len(rows)} of {len(sw.cells)} cells finished; run the sweep again to "
                  "finish the rest (finished cells are cached).", ""]
    lines += ["## Best throughput per chiplet, per network", "",
              "| network | method | instance | throughput/s | per chiplet | limited by (share of T) |", "|---|---|---|---|---|---|"]
    for net in sw.networks:
        for m in sw.methods:
            cand = [r for r in ok if r["network"] == net and r["method"] == m]
            if cand:
                b = max(cand, key=lambda r: r["throughput_per_chiplet"])
                lines.append(f"| {net} | {m} | {b['instance']} | {b['throughput']:.4g} | {b['throughput_per_chiplet']:.4g} | "
                             f"{b['limit']} ({b.get('share_' + b['limit'], 0):.0%}) |")
    if failed:
        lines += ["", "## Failed cells", ""] + [f"- {r['instance']} / {r['method']}: {r['error']}" for r in failed]
    timed_out = [r for r in rows if r.get("timed_out")]
    if timed_out:
        lines += ["", "## Cells that ran out of time", "", "Their best mapping is shown, not proven optimal; those "
                  "cut by `--cell-time-limit` are not cached and run again next time.", ""]
        lines += [f"- {r['instance']} / {r['method']}: {r['status']}" + (" (cut by --cell-time-limit)"
                                                                        if r.get("cut_by_cell_limit") else "")
                  for r in timed_out]
    lines += ["", "Plots: " + ", ".join(f"`{f}.png`" for f in sw.fields) + "; every cell: `results.csv`.", ""]
    return "\n".join(lines)


def limiting_resource(ev) -> tuple[str, dict[str, float]]:
    """What bounds a mapping's T: each segment's period is set by DRAM traffic or by its
    slowest stage, whose layers are compute- or NoP-bound; weight loading is DRAM time.
    Returns the largest share and every share of T."""
    share = {"compute": 0.0, "NoP": 0.0, "DRAM": 0.0}
    for seg in ev.segments:
        load = seg.weight_load_s
        periods = seg.time_s - load
        if seg.dram_s >= seg.stage_max_s:
            share["DRAM"] += periods
        else:
            slow = max((c for c in ev.clusters if c.segment == seg.index), key=lambda c: c.stage_s)
            share["compute" if slow.compute_s >= slow.nop_s else "NoP"] += periods
        share["DRAM"] += load
    total = sum(share.values()) or 1.0
    share = {k: v / total for k, v in share.items()}
    return max(share, key=share.get), share


FIELDS = ("network", "instance", *SWEPT, "method", "chiplets", "status", "latency_s", "throughput",
          "throughput_per_chiplet", "energy_j", "peak_throughput", "limit", "share_compute", "share_NoP", "share_DRAM",
          "solve_time_s", "timed_out", "cut_by_cell_limit", "error", "cell")


def write_csv(rows: list[dict], path: Path) -> None:
    f = io.StringIO()
    present = [k for k in FIELDS if any(k in r for r in rows)]
    w = csv.DictWriter(f, fieldnames=present, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) for k in present})
    write_text_atomic(path, f.getvalue())
