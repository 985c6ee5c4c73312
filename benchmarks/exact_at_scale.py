"""Proven optima at network scale: the chain DP on every paper instance in the three
spaces, against the Scope search and the segmented baseline; and the two timing targets
measured in fresh processes (the DP and the Scope search on ResNet-152 8x8, after a
first process has filled numba's cache).

Writes results/exact-at-scale.csv, results/exact-at-scale.png and
results/exact-at-scale-timing.csv.  Run: python benchmarks/exact_at_scale.py
"""

from __future__ import annotations

import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scope_opt.methods.dp.solver import solve_dp  # noqa: E402
from scope_opt.problem.instance import load_instance  # noqa: E402
from scope_opt.methods.scope.search import search  # noqa: E402

RESULTS = ROOT / "results"
NETWORKS = ("resnet50", "resnet152", "mobilenetv2", "vgg16", "alexnet")
MESHES = (4, 6, 8)
SPACES = ("merged", "segmented", "sequential")


def gap(t: float, opt: float) -> float | None:
    return (t - opt) / t if opt == opt and t < float("inf") and opt < float("inf") else None


def optima() -> list[dict]:
    small = load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml")
    solve_dp(small), search(small, "scope")  # load the compiled engine before timing
    rows = []
    for net in NETWORKS:
        for m in MESHES:
            path = ROOT / "instances" / "paper" / f"{net}-simba-{m}x{m}.toml"
            inst = load_instance(path)
            row = {"instance": path.stem, "network": net, "layers": len(inst.network.layers), "chiplets": m * m,
                   "batch": inst.batch}
            for space in SPACES:
                r = solve_dp(inst, space)
                row[f"opt_{space}_s"] = r.latency_s if r.status == "optimal" else None
                row[f"dp_{space}_time_s"] = round(r.solve_time_s, 3)
                row[f"dp_{space}_status"] = r.status
            for method in ("scope", "segmented"):
                h = search(inst, method)
                t = h.latency_s if h.evaluation is not None and h.evaluation.feasible else None
                own = row["opt_merged_s" if method == "scope" else "opt_segmented_s"]
                row[f"{method}_s"] = t
                row[f"{method}_search_time_s"] = round(h.solve_time_s, 3)
                row[f"{method}_gap"] = (t - own) / t if t and own else None
            rows.append(row)
            print({k: row[k] for k in ("instance", "opt_merged_s", "scope_s", "scope_gap", "dp_merged_time_s")}, flush=True)
    return rows


def fresh_process(args: list[str]) -> dict:
    """Wall time and peak memory of `scope-opt ARGS` in a new process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "scope_opt.cli", *args, "--json", str(out)], check=True,
                       capture_output=True, cwd=ROOT)
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        res = json.loads(out.read_text())
    return {"wall_s": round(wall, 3), "solve_time_s": round(res["solve_time_s"], 3),
            "peak_rss_mb": round(max(peak, before) / 1024, 1), "latency_s": res["latency_s"], "status": res["status"]}


def timing() -> list[dict]:
    inst = str(ROOT / "instances" / "paper" / "resnet152-simba-8x8.toml")
    fresh_process(["solve", inst, "--method", "dp"])  # fills numba's on-disk cache
    rows = []
    for method in ("dp", "scope"):
        for rep in range(3):
            r = fresh_process(["solve", inst, "--method", method])
            rows.append({"instance": "resnet152-simba-8x8", "method": method, "repeat": rep, **r,
                         "cpus": os.cpu_count(), "machine": platform.machine()})
            print(rows[-1], flush=True)
    return rows


def plot(rows: list[dict]) -> None:
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = [r["instance"].replace("-simba-", " ") for r in rows if r["opt_merged_s"]]
    feas = [r for r in rows if r["opt_merged_s"]]
    x = range(len(feas))
    ax[0].bar([i - 0.2 for i in x], [100 * r["scope_gap"] for r in feas], 0.4, label="Scope search vs merged optimum")
    ax[0].bar([i + 0.2 for i in x], [100 * r["segmented_gap"] for r in feas], 0.4, label="segmented baseline vs segmented optimum")
    ax[0].set_xticks(list(x), labels, rotation=60, ha="right")
    ax[0].set_ylabel("gap to its space's proven optimum (%)")
    ax[0].legend(fontsize=8)
    for space, mark in (("merged", "o"), ("segmented", "s"), ("sequential", "^")):
        ax[1].plot(list(x), [r[f"dp_{space}_time_s"] for r in feas], mark + "-", label=space)
    ax[1].set_xticks(list(x), labels, rotation=60, ha="right")
    ax[1].set_ylabel("chain DP time (s)")
    ax[1].set_yscale("log")
    ax[1].legend(fontsize=8)
    fig.suptitle("Proven optima on the paper suite (chain DP)")
    fig.tight_layout()
    fig.savefig(RESULTS / "exact-at-scale.png", dpi=120)


def write(rows: list[dict], name: str) -> None:
    with open(RESULTS / name, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    RESULTS.mkdir(exist_ok=True)
    rows = optima()
    write(rows, "exact-at-scale.csv")
    plot(rows)
    write(timing(), "exact-at-scale-timing.csv")
