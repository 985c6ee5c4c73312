"""The bench's plots, computed from the result rows: throughput and energy against the
chiplet count, the rank distributions, the heuristics' gaps and the ablation's shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scope_opt.formats.outputs import save_figure
from scope_opt.methods.registry import special
from scope_opt.studies.bench_report import HEURISTICS, STEPS, _own_gap, ablation_shares


def _plotted(r: dict) -> bool:
    """The throughput and energy plots show the searches and the optima, not the ablation variants."""
    return (special(r["method"]) or ("",))[0] != "ablation"


def plots(rows: list[dict], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not rows:  # every instance was skipped: summary.md says why, there is nothing to draw
        return
    for draw in (_metric_plots, _rank_plot, _gap_plot, _ablation_plot):
        draw(plt, rows, out)


def colours(plt, methods: list[str]) -> dict:
    """One distinct colour per method (tab20 has 20; the default cycle repeats after 10)."""
    cmap = plt.get_cmap("tab20")
    return {m: cmap(i % 20) for i, m in enumerate(methods)}


def _metric_plots(plt, rows: list[dict], out: Path) -> None:
    """Throughput and energy against the chiplet count, per network and method; where some
    network sits on one package size only (the small suite), bars per instance instead."""
    networks = sorted({r["network"] for r in rows})
    methods = sorted({r["method"] for r in rows if _plotted(r)}, key=lambda m: (m not in HEURISTICS, m))
    colour = colours(plt, methods)
    one_size = any(len({r["chiplets"] for r in rows if r["network"] == n}) == 1 for n in networks)
    for metric, label, fname in (("throughput", "throughput (samples/s)", "throughput.png"),
                                 ("energy_j", "energy per sample (J)", "energy.png")):
        if one_size:
            fig, ax = plt.subplots(figsize=(max(10, 1.6 * len({r["instance"] for r in rows})), 4.6))
            _bars(ax, rows, methods, colour, metric)
            ax.set_ylabel(label)
            handles, labels = ax.get_legend_handles_labels()
        else:
            fig, axes = plt.subplots(1, len(networks), figsize=(4.2 * len(networks), 3.6), squeeze=False)
            for ax, net in zip(axes[0], networks):
                _lines(ax, [r for r in rows if r["network"] == net], methods, colour, metric)
                ax.set_title(net)
                ax.set_xlabel("chiplets")
                ax.set_ylabel(label)
            handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3 if one_size else 5), fontsize=7)
        fig.tight_layout(rect=(0, 0.2 if one_size else 0.12, 1, 1))
        save_figure(fig, out / fname, dpi=110)
        plt.close(fig)


def _lines(ax, sub: list[dict], methods: list[str], colour: dict, metric: str) -> None:
    for m in methods:
        pts = sorted((r["chiplets"], r[metric]) for r in sub
                     if r["method"] == m and r[metric] is not None and r["latency_s"] is not None)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=m, color=colour[m])
    if metric == "throughput":
        peak = sorted({(r["chiplets"], r["peak_throughput"]) for r in sub})
        ax.plot([p[0] for p in peak], [p[1] for p in peak], "k--", label="peak MACs limit")
        ax.set_yscale("log")


def _bars(ax, rows: list[dict], methods: list[str], colour: dict, metric: str) -> None:
    insts = sorted({r["instance"] for r in rows})
    width = 0.8 / max(1, len(methods))
    for k, m in enumerate(methods):
        vals = [next((r[metric] for r in rows if r["instance"] == i and r["method"] == m and r[metric] is not None
                      and r["latency_s"] is not None), 0) for i in insts]
        ax.bar(np.arange(len(insts)) + k * width, vals, width, label=m, color=colour[m])
    ax.set_xticks(np.arange(len(insts)) + 0.4 - width / 2, insts, rotation=30, ha="right", fontsize=7)
    ax.set_yscale("log")  # instances differ by orders of magnitude


def _rank_plot(plt, rows: list[dict], out: Path) -> None:
    """Each enumerated instance's distribution of T, with the heuristics and the optimum marked."""
    with_dist = [r for r in rows if r["method"] == "enumerate" and r.get("latencies_file")]
    if with_dist:
        fig, axes = plt.subplots(1, len(with_dist), figsize=(4 * len(with_dist), 3.4), squeeze=False)
        for ax, er in zip(axes[0], with_dist):
            lat = np.load(er["latencies_file"])
            ax.hist(lat * 1e6, bins=60, color="lightgray")
            for r in rows:
                if r["instance"] == er["instance"] and r["method"] in (*HEURISTICS, "enumerate") and r["latency_s"]:
                    style = {"scope": "r-", "segmented": "b--", "sequential": "g:", "fastdp": "m-.", "enumerate": "k-"}[r["method"]]
                    ax.axvline(r["latency_s"] * 1e6, color=style[0], linestyle=style[1:], lw=3 if r["method"] == "scope" else 1.2,
                               label=f"{'optimum' if r['method'] == 'enumerate' else r['method']}")
            ax.set_title(f"{er['instance']} ({lat.size} mappings)", fontsize=8)
            ax.set_xlabel("T (us)")
            ax.set_yscale("log")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        save_figure(fig, out / "ranks.png", dpi=110)
        plt.close(fig)


def _gap_plot(plt, rows: list[dict], out: Path) -> None:
    """Each heuristic's gap to its own space's optimum, per instance."""
    heur = [r for r in rows if (r["method"] in HEURISTICS or (special(r["method"]) or ("",))[0] == "user")
            and (r.get("gap_to_space_optimum") is not None or r["gap_to_optimum"] is not None)]
    if heur:
        insts = sorted({r["instance"] for r in heur})
        hm = sorted({r["method"] for r in heur})
        fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(insts)), 3.6))
        width = 0.8 / len(hm)
        for k, m in enumerate(hm):
            vals = [next((100 * _own_gap(r) for r in heur if r["instance"] == i and r["method"] == m and _own_gap(r) is not None), 0)
                    for i in insts]
            ax.bar(np.arange(len(insts)) + k * width, vals, width, label=m, color=colours(plt, hm)[m])
        ax.set_xticks(np.arange(len(insts)) + 0.4 - width / 2, insts, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel("gap to its space's optimum (%)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        save_figure(fig, out / "gaps.png", dpi=110)
        plt.close(fig)


def _ablation_plot(plt, rows: list[dict], out: Path) -> None:
    """Where Scope's search loses: each step's Shapley share of its gap, per instance."""
    shares = ablation_shares(rows)
    if shares:
        insts = list(shares)
        fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(insts)), 3.8))
        up, down = np.zeros(len(insts)), np.zeros(len(insts))  # a negative share is drawn below zero
        for step in STEPS:
            vals = np.array([100 * shares[i][step] for i in insts])
            base = np.where(vals >= 0, up, down)
            ax.bar(range(len(insts)), vals, 0.6, bottom=base, label=f"{step} (exact)")
            up += np.maximum(vals, 0)
            down += np.minimum(vals, 0)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(range(len(insts)), [i.replace("-simba-", " ") for i in insts], rotation=40, ha="right", fontsize=7)
        ax.set_ylabel("Scope's gap to the optimum (%)")
        ax.set_title("Where Scope's search loses: each step's Shapley share of its gap", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        save_figure(fig, out / "ablation.png", dpi=110)
        plt.close(fig)
