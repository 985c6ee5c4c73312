"""Time of the exact energy optimum (`--method dp --objective energy`): the folded DP
(one pass over the boundaries) beside the per-start DP it folds (its oracle) and, with
`--python-pass`, beside the folded DP on the plain Python cluster pass (the compiled
pass's oracle), each in a fresh process so that every run builds its own tables; both optima re-scored by the
evaluator and compared.  Writes results/energy-optima.csv: the rows of the instances run
replace theirs, the others stay (each row says when it was measured).

    python benchmarks/energy_optima.py instances/energy/resnet18-simba-4x4.toml ... [--time-limit S] [--reference-limit S]
        [--python-pass [--python-pass-limit S]]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import platform
import subprocess
import sys
from pathlib import Path

from scope_opt.formats.outputs import write_text_atomic

OUT = Path(__file__).resolve().parent.parent / "results" / "energy-optima.csv"
FIELDS = ("instance", "layers", "chiplets", "variant", "complete", "time_s", "energy_j", "same_optimum", "time_limit_s",
          "machine", "measured")

RUN = """
import json, sys, time
from scope_opt.methods.deadline import OutOfTime, deadline_after
from scope_opt.methods.pareto.chain import energy_front
from scope_opt.problem.instance import load_instance
inst = load_instance(sys.argv[1])
start = time.perf_counter()
try:
    pts = energy_front(inst, "merged", "energy", deadline=deadline_after(float(sys.argv[3])),
                       folded=sys.argv[2] != "per-start", compiled=sys.argv[2] != "folded-python-pass")
    out = {"complete": True, "energy_j": pts[0].energy_j if pts else None}
except OutOfTime as stop:
    out = {"complete": False, "energy_j": None, "stopped_in": str(stop)}
out["time_s"] = time.perf_counter() - start
out["layers"], out["chiplets"] = len(inst.network.layers), inst.package.chiplets
print(json.dumps(out))
"""


def run(path: Path, variant: str, limit: float) -> dict:
    done = subprocess.run([sys.executable, "-c", RUN, str(path), variant, str(limit)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("instances", nargs="+", type=Path)
    ap.add_argument("--time-limit", type=float, default=1800.0, help="of the folded DP")
    ap.add_argument("--reference-limit", type=float, default=300.0, help="of the per-start DP (past it: not complete)")
    ap.add_argument("--python-pass", action="store_true", help="also the folded DP on the Python cluster pass")
    ap.add_argument("--python-pass-limit", type=float, default=1800.0, help="of the folded DP on the Python pass")
    args = ap.parse_args()
    rows = []
    limits = {"folded": args.time_limit, "per-start": args.reference_limit}
    if args.python_pass:
        limits["folded-python-pass"] = args.python_pass_limit
    for path in args.instances:
        got = {v: run(path, v, limit) for v, limit in limits.items()}
        energies = {r["energy_j"] for r in got.values() if r["complete"]}
        same = len(energies) == 1 if all(r["complete"] for r in got.values()) else ""
        for variant, r in got.items():
            rows.append(dict(zip(FIELDS, (
                path.stem, r["layers"], r["chiplets"], variant, r["complete"], f"{r['time_s']:.2f}",
                "" if r["energy_j"] is None else repr(r["energy_j"]), same, limits[variant], platform.machine(),
                datetime.date.today().isoformat()))))
            print(rows[-1], flush=True)
    write_text_atomic(OUT, merged(rows))


def merged(rows: list[dict]) -> str:
    """The CSV with `rows` in place of the earlier rows of their (instance, variant)."""
    old = list(csv.DictReader(OUT.open())) if OUT.is_file() else []
    new = {(r["instance"], r["variant"]): r for r in rows}
    kept = [r for r in old if (r["instance"], r["variant"]) not in new]
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept + rows)
    return out.getvalue()


if __name__ == "__main__":
    main()
