"""The exact throughput-energy fronts of paper-suite instances (`scope-opt pareto`'s
study), with the heuristics beside them: results/paper/front-<instance>.{json,csv,png}
(the CSV has every front point; the JSON the summary, the heuristics and the mappings
of the latency-, energy- and EDP-optimal points, since every mapping of a 3,000-point
front is 50 MB)
and a line per instance in results/paper/fronts.csv (time, points, the prices of the
two optima).

    python benchmarks/energy_fronts.py instances/paper/resnet50-simba-4x4.toml ... [--time-limit S]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from scope_opt.formats.outputs import write_json, write_text_atomic
from scope_opt.methods.dispatch import MethodOptions, solve
from scope_opt.methods.settings import SolverSettings
from scope_opt.problem.instance import load_instance
from scope_opt.studies.pareto import front_study, plot, write_csv

OUT = Path(__file__).resolve().parent.parent / "results" / "paper"


def compact(full: dict) -> dict:
    """The study's JSON with the mappings of the front's two ends and its EDP optimum only."""
    pts = full["points"]
    if not pts:
        return {**full, "points": []}
    edp = min(pts, key=lambda p: p["latency_s"] * p["energy_j"])
    return {**{k: v for k, v in full.items() if k != "points"}, "front_points": len(pts),
            "optimal_mappings": {"latency": pts[0], "energy": pts[-1], "edp": edp}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("instances", nargs="+", type=Path)
    ap.add_argument("--time-limit", type=float, default=3600.0)
    args = ap.parse_args()
    lines = ["instance,space,complete,front_time_s,points,energy_price_of_latency_optimum,"
             "latency_price_of_energy_optimum,scope_on_front,scope_energy_excess,energy_opt_merged_j,"
             "energy_opt_segmented_j,energy_opt_sequential_j,segmented_over_merged,energy_opt_segmented_time_s,machine"]
    for path in args.instances:
        inst = load_instance(path)
        start = time.perf_counter()
        study = front_study(inst, "merged", args.time_limit, lambda s: print(f"{inst.name}: {s}", flush=True))
        print(f"{inst.name}: {len(study.points)} points in {time.perf_counter() - start:.1f} s", flush=True)
        stem = OUT / f"front-{inst.name}"
        write_json(stem.with_suffix(".json"), compact(study.to_dict()))
        write_csv(study, stem.with_suffix(".csv"))
        plot(study, stem.with_suffix(".png"))
        s, scope = study.summary(), next((h for h in study.heuristics if h["method"] == "scope"), {})
        # "similar energy", between optima: the least energy of each space (energy mode of the DP)
        opt = {sp: solve(inst, "dp", MethodOptions(space=sp, objective="energy", settings=SolverSettings(
            time_limit_s=args.time_limit))) for sp in ("merged", "segmented", "sequential")}
        e = {sp: r.value if r.status == "optimal" else "" for sp, r in opt.items()}
        ratio = e["segmented"] / e["merged"] if e["segmented"] != "" and e["merged"] != "" else ""
        lines.append(",".join(str(v) for v in (
            inst.name, study.space, study.complete, f"{study.front_time_s:.2f}", len(study.points),
            s.get("energy_price_of_latency_optimum", ""), s.get("latency_price_of_energy_optimum", ""),
            scope.get("on_front", ""), scope.get("energy_excess", ""), e["merged"], e["segmented"], e["sequential"],
            ratio, f"{opt['segmented'].solve_time_s:.2f}", platform.machine())))
    write_text_atomic(OUT / "fronts.csv", "\n".join(merged_rows(OUT / "fronts.csv", lines)) + "\n")


def merged_rows(path: Path, lines: list[str]) -> list[str]:
    """The new rows, plus the rows of instances this run did not touch (kept in their
    order, before the new ones): re-running one instance does not drop the others."""
    header, new = lines[0], lines[1:]
    done = {row.split(",", 1)[0] for row in new}
    old = path.read_text().splitlines()[1:] if path.exists() else []
    return [header, *(row for row in old if row.split(",", 1)[0] not in done), *new]


if __name__ == "__main__":
    main()
