"""Exact-solver scaling: solve time and final gap of CP-SAT, MILP+CBC and MILP+HiGHS
against layers (ResNet-50 slices of 4 to 24 layers on 16 chiplets) and chiplets (a
12-layer ResNet-18 slice on 4 to 36 chiplets), time limit 120 s, 2 threads, seed 0,
Simba-like package, batch 64.  Writes results/solver-scaling.csv (resumable: rows
already there are kept) and results/solver-scaling.png.
Run: python benchmarks/solver_scaling.py [--time-limit 120] [--plot-only]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scope_opt.cost.reference import CostModel  # noqa: E402
from scope_opt.cost.terms import CostTerms  # noqa: E402
from scope_opt.methods.settings import Backend, SolverSettings  # noqa: E402
from scope_opt.methods.exact.facade import solve_exact  # noqa: E402
from scope_opt.problem.instance import load_instance  # noqa: E402
from scope_opt.problem.network_yaml import load_network  # noqa: E402
from scope_opt.methods.scope.search import search  # noqa: E402

OUT = ROOT / "results" / "solver-scaling.csv"
FIELDS = ["sweep", "instance", "layers", "chiplets", "solver", "status", "latency_s", "bound_s", "gap", "solve_time_s",
          "scope_latency_s", "scope_gap_to_best", "time_limit_s", "threads", "seed"]


def instances():
    base = load_instance(ROOT / "instances" / "paper" / "resnet50-simba-4x4.toml")
    r50, r18 = load_network(ROOT / "models" / "resnet50.yaml"), load_network(ROOT / "models" / "resnet18.yaml")
    for k in (4, 8, 12, 16, 20, 24):
        yield "layers", dataclasses.replace(base, name=f"resnet50[0:{k}]-4x4", network=r50.slice(0, k))
    for x, y in ((2, 2), (3, 3), (4, 4), (5, 5), (6, 6)):
        pkg = dataclasses.replace(base.package, mesh=(x, y))
        yield "chiplets", dataclasses.replace(base, name=f"resnet18[0:12]-{x}x{y}", network=r18.slice(0, 12), package=pkg)


def run(time_limit: float) -> None:
    done = set()
    if OUT.exists():
        with open(OUT) as f:
            done = {(r["sweep"], r["instance"], r["solver"]) for r in csv.DictReader(f)}
    new = not OUT.exists()
    settings = SolverSettings(time_limit_s=time_limit, threads=2, seed=0)
    with open(OUT, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        for sweep, inst in instances():
            cost = CostModel(inst)
            scope = search(inst, "scope", terms=CostTerms(inst, cost))
            for backend in Backend:
                method = "cpsat" if backend is Backend.CPSAT else f"milp-{backend.value}"
                if (sweep, inst.name, method) in done:
                    continue
                r = solve_exact(inst, backend, "merged", settings, CostTerms(inst, cost))
                row = {"sweep": sweep, "instance": inst.name, "layers": len(inst.network.layers),
                       "chiplets": inst.package.chiplets, "solver": r.method, "status": r.status,
                       "latency_s": r.latency_s, "bound_s": r.bound_s, "gap": r.gap, "solve_time_s": round(r.solve_time_s, 2),
                       "scope_latency_s": scope.latency_s,
                       "scope_gap_to_best": (scope.latency_s - r.latency_s) / scope.latency_s,
                       "time_limit_s": time_limit, "threads": 2, "seed": 0}
                w.writerow(row)
                f.flush()
                print(row, flush=True)


def plot() -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with open(OUT) as f:
        rows = list(csv.DictReader(f))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for col, (sweep, key) in enumerate((("layers", "layers"), ("chiplets", "chiplets"))):
        for solver in sorted({r["solver"] for r in rows}):
            pts = sorted((int(r[key]), float(r["solve_time_s"]), float(r["gap"] or "nan"), r["status"])
                         for r in rows if r["sweep"] == sweep and r["solver"] == solver)
            xs = [p[0] for p in pts]
            axes[0][col].plot(xs, [p[1] for p in pts], "o-", label=solver)
            axes[1][col].plot(xs, [100 * p[2] for p in pts], "o-", label=solver)
        axes[0][col].set_ylabel("solve time (s)")
        axes[0][col].set_yscale("log")
        axes[1][col].set_ylabel("final gap (%)")
        for ax in axes[:, col]:
            ax.set_xlabel(key)
            ax.legend()
        axes[0][col].set_title("ResNet-50 slices, 16 chiplets" if sweep == "layers" else "ResNet-18 12 layers")
    fig.suptitle("Exact solvers: time (limit 120 s) and final gap, 2 threads")
    fig.tight_layout()
    fig.savefig(OUT.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args()
    if not args.plot_only:
        run(args.time_limit)
    plot()
