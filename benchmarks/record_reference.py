"""Record T, energy and mapping of every method on a suite, to check a refactoring
changes no result bit for bit (issue: one problem description).

    python benchmarks/record_reference.py paper OUT.json [--methods scope,dp,...]
    python benchmarks/record_reference.py --compare OLD.json NEW.json

The copy used on the code before the change called its `solve` with the old options;
this one reads the method registry."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("scope", "segmented", "sequential", "fastdp", "dp", "dp-segmented", "dp-sequential", "enumerate", "cpsat",
           "milp-highs", "milp-cbc")  # registry names


def _solve(inst, name: str, time_limit: float):
    from scope_opt.methods.settings import SolverSettings
    from scope_opt.methods.dispatch import MethodOptions, solve
    return solve(inst, name, MethodOptions(settings=SolverSettings(time_limit_s=time_limit, threads=1)))


def _load(path: Path):
    from scope_opt.problem.instance import load_instance
    return load_instance(path)


def record(suite: str, methods: list[str], time_limit: float) -> dict:
    out = {}
    for path in sorted((ROOT / "instances" / suite).glob("*.toml")):
        inst = _load(path)
        row = {}
        for m in methods:
            start = time.perf_counter()
            res = _solve(inst, m, time_limit)
            ev = res.evaluation
            row[m] = {"status": res.status, "latency_s": ev.latency_s if ev else None,
                      "energy_j": ev.energy.total_j if ev else None,
                      "mapping": res.mapping.to_dict() if res.mapping else None}
            print(f"{inst.name} {m}: {row[m]['latency_s']!r} ({time.perf_counter() - start:.2f} s)", file=sys.stderr)
        out[inst.name] = row
    return out


def compare(old: dict, new: dict) -> list[str]:
    """Every difference, as lines; exact float equality for T and energy."""
    diffs = []
    for inst, row in old.items():
        for m, rec in row.items():
            got = new.get(inst, {}).get(m)
            if got is None:
                diffs.append(f"{inst} {m}: missing")
                continue
            if m in ("cpsat", "milp-highs", "milp-cbc"):
                keys = ("status", "latency_s")  # solvers may pick another optimal mapping
            else:
                keys = ("status", "latency_s", "energy_j", "mapping")
            for k in keys:
                if rec[k] != got[k]:
                    diffs.append(f"{inst} {m}: {k} {rec[k]!r} -> {got[k]!r}")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("suite", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--methods", default="scope,segmented,sequential,fastdp,dp,dp-segmented,dp-sequential")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"))
    a = ap.parse_args()
    if a.compare:
        diffs = compare(*(json.loads(Path(p).read_text()) for p in a.compare))
        print("\n".join(diffs) if diffs else "identical: every T, energy and mapping equal bit for bit")
        sys.exit(1 if diffs else 0)
    data = record(a.suite, a.methods.split(","), a.time_limit)
    Path(a.out).write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
