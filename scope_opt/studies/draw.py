"""Mapping pictures: one mesh per segment with its clusters' chiplets coloured, and a
pipeline timeline of the stages over the batch."""

from __future__ import annotations

from pathlib import Path

from scope_opt.cost.evaluate import Evaluation
from scope_opt.problem.instance import Instance
from scope_opt.formats.outputs import save_figure


def draw_mapping(instance: Instance, ev: Evaluation, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    X, Y = instance.package.mesh
    segs = ev.segments
    cols = min(len(segs), 6)
    rows_mesh = -(-len(segs) // cols)
    fig = plt.figure(figsize=(2.4 * cols, 2.4 * rows_mesh + 3.2))
    grid = fig.add_gridspec(rows_mesh + 1, cols, height_ratios=[1] * rows_mesh + [1.3])
    cmap = plt.get_cmap("tab20")
    for s in segs:
        ax = fig.add_subplot(grid[s.index // cols, s.index % cols])
        clusters = [c for c in ev.clusters if c.segment == s.index]
        for k, c in enumerate(clusters):
            for chip in c.placement:
                ax.add_patch(Rectangle((chip % X, Y - 1 - chip // X), 0.92, 0.92, color=cmap(k % 20)))
                ax.text(chip % X + 0.46, Y - 1 - chip // X + 0.46, str(k), ha="center", va="center", fontsize=6)
        ax.set_xlim(0, X)
        ax.set_ylim(0, Y)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"seg {s.index}: layers {s.first}-{s.last - 1}\n{len(clusters)} clusters", fontsize=7)
    ax = fig.add_subplot(grid[rows_mesh, :])
    t0 = 0.0
    row = 0
    for s in segs:
        clusters = [c for c in ev.clusters if c.segment == s.index]
        load = s.weight_load_s
        ax.barh(row, load, left=t0, color="lightgray")
        for k, c in enumerate(clusters):
            # stage k handles sample b during period k + b
            start = t0 + load + k * s.period_s
            ax.barh(row + k + 1, instance.batch * s.period_s, left=start, color=cmap(k % 20), alpha=0.8)
        t0 += s.time_s
        row += len(clusters) + 1
    ax.set_xlabel("time (s): grey = weight loading, coloured = a stage busy with the batch")
    ax.set_yticks([])
    ax.set_title(f"{instance.name}: T = {ev.latency_s:.4g} s, {ev.throughput:.4g} samples/s", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out, dpi=110)
    plt.close(fig)
