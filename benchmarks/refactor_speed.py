"""Whole-command time of dp, fastdp and scope on ResNet-152 8x8, for two source trees of
scope-opt (the code before a change and after it), each run in a fresh process on the
same machine, interleaved so that both see the same load.  Writes results/refactor-speed.csv.

    python benchmarks/refactor_speed.py BEFORE_TREE [AFTER_TREE] [--repeats 3]

A tree is a checkout's root (its scope_opt/ is put first on PYTHONPATH).  Each tree runs
every method once untimed first, so that numba's on-disk cache is warm for both."""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instances" / "paper" / "resnet152-simba-8x8.toml"
METHODS = ("dp", "fastdp", "scope")


def run(tree: Path, method: str) -> tuple[float, float]:
    """(wall seconds of the whole command, T it reports) in a fresh process."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "r.json"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "scope_opt.cli", "solve", str(INSTANCE), "--method", method, "--json",
                        str(out)], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        return wall, json.loads(out.read_text())["latency_s"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path, nargs="?", default=ROOT)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "refactor-speed.csv")
    a = ap.parse_args()
    trees = {"before": a.before.resolve(), "after": a.after.resolve()}
    for tree in trees.values():
        for m in METHODS:
            run(tree, m)  # warm numba's cache
    times: dict[tuple[str, str], list[float]] = {}
    latency: dict[tuple[str, str], float] = {}
    for _ in range(a.repeats):
        for m in METHODS:
            for label, tree in trees.items():
                wall, t = run(tree, m)
                times.setdefault((label, m), []).append(wall)
                latency[(label, m)] = t
    rows = []
    for m in METHODS:
        for label in trees:
            w = times[(label, m)]
            rows.append({"method": m, "code": label, "median_wall_s": round(statistics.median(w), 3),
                         "min_wall_s": round(min(w), 3), "max_wall_s": round(max(w), 3), "runs": len(w),
                         "latency_s": latency[(label, m)], "instance": INSTANCE.stem})
            print(f"{m:7s} {label:6s} median {statistics.median(w):.2f} s (min {min(w):.2f}, max {max(w):.2f}); "
                  f"T = {latency[(label, m)]!r}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
