"""Scope search time (best of 3, compiled engine already loaded) and mappings scored
against network depth (ResNet-18..152, 8x8 Simba-like package), and Scope's throughput over the two baselines on ResNet-152 at
4x4, 6x6 and 8x8.  Writes results/search-scaling.csv, results/search-scaling.png and
results/resnet152-scope-vs-baselines.csv.  Run: python benchmarks/search_scaling.py
"""

from __future__ import annotations

import csv
import dataclasses
import platform
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scope_opt.cost.reference import CostModel  # noqa: E402
from scope_opt.cost.terms import CostTerms  # noqa: E402
from scope_opt.problem.instance import load_instance  # noqa: E402
from scope_opt.problem.network_yaml import load_network  # noqa: E402
from scope_opt.methods.scope.search import search  # noqa: E402

RESULTS = ROOT / "results"


def scaling() -> None:
    base = load_instance(ROOT / "instances" / "paper" / "resnet152-simba-8x8.toml")
    search(load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml"), "scope")  # load the compiled engine first
    rows = []
    for depth in (18, 34, 50, 101, 152):
        net = load_network(ROOT / "models" / f"resnet{depth}.yaml")
        inst = dataclasses.replace(base, name=f"resnet{depth}-simba-8x8", network=net)
        res = min((search(inst, "scope", terms=CostTerms(inst)) for _ in range(3)), key=lambda r: r.solve_time_s)
        rows.append({"network": f"resnet{depth}", "layers": len(net.layers), "search_time_s": round(res.solve_time_s, 3),
                     "mappings_scored": res.mappings_scored, "cluster_tables": res.stats["cluster_tables"],
                     "latency_s": res.latency_s, "throughput": res.evaluation.throughput})
        print(rows[-1], flush=True)
    with open(RESULTS / "search-scaling.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    layers = np.array([r["layers"] for r in rows], dtype=float)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    for a, key, label in ((ax[0], "search_time_s", "search time (s)"), (ax[1], "mappings_scored", "segment schedules scored")):
        y = np.array([r[key] for r in rows], dtype=float)
        a.plot(layers, y, "o-", label="Scope search")
        slope = (layers @ y) / (layers @ layers)
        a.plot(layers, slope * layers, "--", color="gray", label="linear fit through 0")
        a.set_xlabel("layers (ResNet-18 ... 152)")
        a.set_ylabel(label)
        a.legend()
    fig.suptitle(f"Scope search on the 8x8 Simba-like package ({platform.processor() or platform.machine()})")
    fig.tight_layout()
    fig.savefig(RESULTS / "search-scaling.png", dpi=120)


def versus_baselines() -> None:
    rows = []
    for m in (4, 6, 8):
        inst = load_instance(ROOT / "instances" / "paper" / f"resnet152-simba-{m}x{m}.toml")
        cost = CostModel(inst)
        res = {meth: search(inst, meth, terms=CostTerms(inst, cost)) for meth in ("scope", "segmented", "sequential")}
        row = {"package": f"{m}x{m}", "batch": inst.batch}
        for meth, r in res.items():
            row[f"{meth}_throughput"] = r.evaluation.throughput
            row[f"{meth}_energy_j"] = r.evaluation.energy.total_j
        row["scope_over_segmented"] = res["scope"].evaluation.throughput / res["segmented"].evaluation.throughput
        row["scope_over_sequential"] = res["scope"].evaluation.throughput / res["sequential"].evaluation.throughput
        row["energy_scope_over_segmented"] = res["scope"].evaluation.energy.total_j / res["segmented"].evaluation.energy.total_j
        rows.append(row)
        print(row, flush=True)
    with open(RESULTS / "resnet152-scope-vs-baselines.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    RESULTS.mkdir(exist_ok=True)
    scaling()
    versus_baselines()
