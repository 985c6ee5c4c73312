"""How the chain DP's cost grows: dp and fastdp time and peak memory against layers
(ResNet-18 ... ResNet-152 on 8x8), chiplets (ResNet-152 on 4x4 ... 16x16), SRAM
(ResNet-50 on 8x8, 256 KiB ... 4 MiB) and the small-SRAM MobileNetV2 cases on 4x4, at
batch 64 (and 1 / 16 where named).  Every cell is a fresh process, as a user runs it:
`wall_s` is the whole command (start-up, compiled-engine load, solve), `solve_s` the
solve alone, `peak_mb` the process's peak resident memory.  Each axis gets the fitted
growth exponent of dp's solve time (least squares on log time against log x).

Writes results/dp-scaling.csv and results/dp-scaling.png.
Run: python benchmarks/dp_scaling.py   (about 5 minutes on 2 cores; --plot redraws from the CSV)

`--grid` instead runs dp alone on every paper-suite network x mesh (4x4, 8x8, 12x12,
16x16) x SRAM (256 KiB, 1 MiB, 4 MiB) x batch (1, 64), each cell a fresh process cut at
GRID_TIMEOUT_S, and writes results/dp-grid.csv with the slowest cell (about 20 minutes).
"""

from __future__ import annotations

import csv
import io
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
TIMEOUT_S = 600  # a cell that takes longer is recorded as timed out, never waited on
GRID_TIMEOUT_S = 120  # likewise in the grid
METHODS = ("dp", "fastdp")
PAPER_MODELS = ("resnet50", "resnet152", "vgg16", "alexnet", "mobilenetv2", "vit_b_16", "bert_base_128")

INSTANCE = """name = "{name}"
batch = {batch}
[workload]
model = "{root}/models/{model}.yaml"
[hardware]
mesh = [{m}, {m}]
pe_array = [32, 32]
freq_ghz = 2.0
sram_kib = {sram}
nop_gbps = 100
dram_gbps = 64
bytes_per_element = 1
[space]
partitions = ["K", "H"]
"""


def cells() -> list[dict]:
    """(axis, x, model, mesh side, SRAM KiB, batch) of every measured instance."""
    out = [dict(axis="layers", model=f"resnet{d}", m=8, sram=752, batch=64) for d in (18, 34, 50, 101, 152)]
    out += [dict(axis="chiplets", model="resnet152", m=m, sram=752, batch=64) for m in (4, 6, 8, 10, 12, 16)]
    out += [dict(axis="sram", model="resnet50", m=8, sram=s, batch=b) for b in (1, 64)
            for s in (256, 512, 752, 1024, 2048, 4096)]
    out += [dict(axis="small-sram", model="mobilenetv2", m=4, sram=s, batch=b) for s in (256, 512) for b in (16, 64)]
    return out


def grid_cells() -> list[dict]:
    return [dict(axis="grid", model=model, m=m, sram=s, batch=b) for model in PAPER_MODELS for m in (4, 8, 12, 16)
            for s in (256, 1024, 4096) for b in (1, 64)]


def one(instance: str, method: str) -> None:
    """Child process: solve, print the result's figures as JSON."""
    sys.path.insert(0, str(ROOT))
    from scope_opt.methods.dispatch import MethodOptions, solve
    from scope_opt.methods.settings import SolverSettings
    from scope_opt.problem.instance import load_instance
    inst = load_instance(instance)
    r = solve(inst, method, MethodOptions(settings=SolverSettings(time_limit_s=math.inf)))
    print(json.dumps({"layers": len(inst.network.layers), "chiplets": inst.package.chiplets, "status": r.status,
                      "latency_s": r.latency_s, "solve_s": r.solve_time_s, "peak_labels": r.stats.get("peak_labels"),
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(cell: dict, folder: Path, method: str, timeout_s: float = TIMEOUT_S) -> dict:
    name = f"{cell['model']}-{cell['m']}x{cell['m']}-{cell['sram']}k-b{cell['batch']}"
    path = folder / f"{name}.toml"
    path.write_text(INSTANCE.format(name=name, root=ROOT, **cell))
    start = time.perf_counter()
    try:
        res = subprocess.run([sys.executable, __file__, "--one", str(path), method], capture_output=True, text=True,
                             timeout=timeout_s)
        got = json.loads(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 else {"status": "error"}
    except subprocess.TimeoutExpired:
        got = {"status": f"timed out after {timeout_s:g} s"}
    return {"axis": cell["axis"], "instance": name, "model": cell["model"], "mesh": f"{cell['m']}x{cell['m']}",
            "sram_kib": cell["sram"], "batch": cell["batch"], "method": method,
            "wall_s": round(time.perf_counter() - start, 3), **got}


def _number(v: str):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def growth_exponent(xs: list[float], ts: list[float]) -> float:
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def plot(rows: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter
    from scope_opt.formats.outputs import save_figure
    axes = [("layers", "layers", "ResNet-18 ... 152, 8x8"), ("chiplets", "chiplets", "ResNet-152, 4x4 ... 16x16"),
            ("sram", "sram_kib", "ResNet-50 8x8, SRAM (KiB)")]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    for a, (axis, key, label) in zip(ax, axes):
        for method in METHODS:
            for batch in sorted({r["batch"] for r in rows if r["axis"] == axis}):
                pts = [r for r in rows if r["axis"] == axis and r["method"] == method and r["batch"] == batch
                       and "solve_s" in r]
                k = f", exponent {pts[0]['growth_exponent']:.2g}" if pts and "growth_exponent" in pts[0] else ""
                a.plot([r[key] for r in pts], [r["solve_s"] for r in pts], "o-", label=f"{method}, batch {batch}{k}")
        xs = sorted({r[key] for r in rows if r["axis"] == axis and "solve_s" in r})
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xticks(xs, [f"{x:g}" for x in xs])
        a.xaxis.set_minor_formatter(NullFormatter())
        a.set_xlabel(label)
        a.set_ylabel("solve time (s)")
        a.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, RESULTS / "dp-scaling.png")


def _write_csv(rows: list[dict], path: Path) -> None:
    from scope_opt.formats.outputs import write_text_atomic
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def _slowest(rows: list[dict]) -> str:
    dp = [r for r in rows if r["method"] == "dp" and "solve_s" in r]
    slow = max(dp, key=lambda r: r["wall_s"])
    return (f"slowest dp cell: {slow['instance']} {slow['wall_s']} s wall, {slow['solve_s']:.2f} s solve, "
            f"{slow['peak_mb']:.0f} MB peak")


def grid() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, __file__, "--one", str(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml"),
                        "dp"], capture_output=True, check=True)
        for cell in grid_cells():
            rows.append(measure(cell, Path(d), "dp", GRID_TIMEOUT_S))
            print(json.dumps(rows[-1]), flush=True)
    _write_csv(rows, RESULTS / "dp-grid.csv")
    over = [r for r in rows if r["wall_s"] > 10 or "solve_s" not in r]
    print(f"{len(rows)} cells, {len(over)} over 10 s wall or unfinished; {_slowest(rows)}", flush=True)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, __file__, "--one", str(ROOT / "instances" / "small" / "tiny-chain4-2x1.toml"),
                        "dp"], capture_output=True, check=True)  # compile the engine once, outside the figures
        for cell in cells():
            for method in METHODS:
                rows.append(measure(cell, Path(d), method))
                print(json.dumps(rows[-1]), flush=True)
    for axis, key in (("layers", "layers"), ("chiplets", "chiplets"), ("sram", "sram_kib")):
        for method in METHODS:
            for batch in sorted({r["batch"] for r in rows if r["axis"] == axis}):
                pts = [r for r in rows if r["axis"] == axis and r["method"] == method and r["batch"] == batch
                       and "solve_s" in r]
                if len(pts) >= 2:
                    k = growth_exponent([r[key] for r in pts], [r["solve_s"] for r in pts])
                    for r in pts:
                        r["growth_exponent"] = round(k, 2)
    _write_csv(rows, RESULTS / "dp-scaling.csv")
    plot(rows)
    print(_slowest(rows), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        one(sys.argv[2], sys.argv[3])
    elif sys.argv[1:] == ["--grid"]:
        sys.path.insert(0, str(ROOT))
        grid()
    elif sys.argv[1:] == ["--plot"]:  # redraw from the CSV
        sys.path.insert(0, str(ROOT))
        plot([{k: _number(v) for k, v in r.items()} for r in csv.DictReader(open(RESULTS / "dp-scaling.csv"))])
    else:
        sys.path.insert(0, str(ROOT))
        main()
