"""How each method's cost grows with the package: ResNet-152 (the deepest network shipped)
on 4x4 ... 16x16 (instances/paper and instances/large).  Per package: the chain DP's time
and the optimum, the Scope search's and fastdp's time and gap to it.  Each method runs in
this process after the compiled engine is loaded; best of 2 runs.

Writes results/large-scaling.csv and results/large-scaling.png.
Run: python benchmarks/large_scaling.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scope_opt.methods.dp.chain import dp_memory_bytes  # noqa: E402
from scope_opt.problem.instance import load_instance  # noqa: E402
from scope_opt.methods.dispatch import solve  # noqa: E402

RESULTS = ROOT / "results"
PACKAGES = [("paper", 4), ("paper", 6), ("paper", 8), ("large", 10), ("large", 12), ("large", 16)]


def best_of(inst, method: str, runs: int = 2):
    return min((solve(inst, method) for _ in range(runs)), key=lambda r: r.solve_time_s)


def main() -> None:
    solve(load_instance(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml"), "dp")  # load the compiled engine
    rows = []
    for suite, m in PACKAGES:
        inst = load_instance(ROOT / "instances" / suite / f"resnet152-simba-{m}x{m}.toml")
        dp, sc, fast = best_of(inst, "dp"), best_of(inst, "scope"), best_of(inst, "fastdp")
        opt = dp.latency_s
        rows.append({"instance": inst.name, "chiplets": m * m, "layers": len(inst.network.layers),
                     "optimum_s": opt, "dp_time_s": round(dp.solve_time_s, 3),
                     "dp_tables_mb": round(dp_memory_bytes(len(inst.network.layers), m * m) / 2**20, 1),
                     "dp_peak_labels": dp.stats["peak_labels"],
                     "scope_s": sc.latency_s, "scope_time_s": round(sc.solve_time_s, 3), "scope_gap": (sc.latency_s - opt) / sc.latency_s,
                     "fastdp_s": fast.latency_s, "fastdp_time_s": round(fast.solve_time_s, 3),
                     "fastdp_gap": (fast.latency_s - opt) / fast.latency_s})
        print(rows[-1], flush=True)
    with open(RESULTS / "large-scaling.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    n = [r["chiplets"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label in (("dp_time_s", "chain DP (optimum)"), ("fastdp_time_s", "fastdp"), ("scope_time_s", "Scope search")):
        ax[0].plot(n, [r[key] for r in rows], "o-", label=label)
    ax[0].set_xlabel("chiplets (ResNet-152, 4x4 ... 16x16)")
    ax[0].set_ylabel("time (s)")
    ax[0].set_xscale("log")
    ax[0].set_yscale("log")
    ax[0].legend(fontsize=8)
    ax[1].plot(n, [100 * r["scope_gap"] for r in rows], "o-", label="Scope search")
    ax[1].plot(n, [100 * r["fastdp_gap"] for r in rows], "s-", label="fastdp")
    ax[1].set_xlabel("chiplets")
    ax[1].set_xscale("log")
    ax[1].set_ylabel("gap to the proven optimum (%)")
    ax[1].legend(fontsize=8)
    fig.suptitle("Cost and quality against package size")
    fig.tight_layout()
    fig.savefig(RESULTS / "large-scaling.png", dpi=120)


if __name__ == "__main__":
    main()
