"""Rank of the Scope search and the baselines among every valid mapping of each small
instance (exact enumeration of the merged space).  Writes results/small-ranks.csv.
Run: python benchmarks/small_ranks.py"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scope_opt.cost.reference import CostModel  # noqa: E402
from scope_opt.cost.terms import CostTerms  # noqa: E402
from scope_opt.problem.instance import load_instance  # noqa: E402
from scope_opt.methods.enumerate import enumerate_space  # noqa: E402
from scope_opt.methods.scope.search import search  # noqa: E402

SMALL = ["tiny-chain4-2x1", "tiny-chain6-2x2", "tiny-residual-2x2", "tiny-chain4-4x1-hybrid", "resnet18-head-2x2"]


def main() -> None:
    rows = []
    for name in SMALL:
        inst = load_instance(ROOT / "instances" / "small" / f"{name}.toml")
        cost = CostModel(inst)
        en = enumerate_space(inst, "merged", cost=cost)
        row = {"instance": name, "valid_mappings": en.count, "optimum_s": en.best_latency_s,
               "median_s": float(en.latencies[en.count // 2])}
        for method in ("scope", "segmented", "sequential"):
            r = search(inst, method, terms=CostTerms(inst, cost))
            row[f"{method}_s"] = r.latency_s
            row[f"{method}_rank"] = en.rank(r.latency_s)
            row[f"{method}_over_optimum"] = r.latency_s / en.best_latency_s
        rows.append(row)
        print(row, flush=True)
    out = ROOT / "results" / "small-ranks.csv"
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
