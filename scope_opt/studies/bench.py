"""`scope-opt bench SUITE`: every method on every instance of a suite, with a resumable
cache, writing results/<suite>/results.csv, summary.md and plots (docs/benchmarks.md)."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import re
import tempfile
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scope_opt import __version__
from scope_opt.methods.baselines import unfit_layers
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.dp.chain import MEMORY_LIMIT_BYTES, dp_memory_bytes
from scope_opt.errors import InputError
from scope_opt.studies.executor import Executor, run_cells
from scope_opt.methods.settings import SolverSettings
from scope_opt.problem.instance import Instance, load_instance
from scope_opt.formats.outputs import dumps, write_text_atomic
from scope_opt.methods.result import SolveResult
from scope_opt.methods.registry import METHODS, Kind, MethodOptions, ablation_method, special, user_method
from scope_opt.methods.enumerate import DEFAULT_MAX_MAPPINGS
from scope_opt.methods.dispatch import solve
from scope_opt.studies.user_heuristic import heuristic_source, load_heuristic, run_user_heuristic  # noqa: F401
from scope_opt.methods.space import SPACES, StructuralSpace
from scope_opt.studies.bench_energy import objective_methods, objective_of

HEURISTIC_METHODS = tuple(m.name for m in METHODS.values() if m.kind is Kind.HEURISTIC)
DP_METHODS = tuple(m.name for m in METHODS.values() if m.kind is Kind.EXACT and m.family == "dp")  # optimum per space
MODEL_METHODS = tuple(m.name for m in METHODS.values() if m.family == "model")
ENERGY_ENUMERATE_MAX = 20_000  # enumerate@energy|edp up to this many merged mappings (about 10 s)
EXACT_MAX_LAYERS, EXACT_MAX_CHIPLETS = 24, 36  # beyond these the exact models are skipped (tables grow as L^2 N)


@dataclass(frozen=True)
class BenchSettings:
    time_limit_s: float = 60.0
    threads: int = 2
    seed: int = 0
    max_mappings: int = DEFAULT_MAX_MAPPINGS
    heuristic: str | None = None  # "package.module:function"
    ablation: bool = False  # also run the Scope-search ablation variants (search/ablation.py)
    objectives: tuple[str, ...] = ("latency",)  # energy, edp: also the exact methods that minimise them


def suite_files(suite: str, root: Path) -> tuple[str, list[Path]]:
    path = Path(suite)
    folder = path if path.is_dir() else root / "instances" / suite
    if not folder.is_dir():
        raise InputError(suite, "SUITE", f"no suite folder; expected a folder of instance TOML files or a name in {root / 'instances'}")
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise InputError(folder, "SUITE", "the folder holds no .toml instance files")
    return folder.name, files


def methods_for(instance: Instance, settings: BenchSettings) -> list[str]:
    out = list(HEURISTIC_METHODS) + ([user_method(settings.heuristic)] if settings.heuristic else [])
    size = StructuralSpace.build(instance, "merged").size
    if size <= settings.max_mappings:
        out.append("enumerate")
    if dp_memory_bytes(len(instance.network.layers), instance.package.chiplets) <= MEMORY_LIMIT_BYTES:
        out += list(DP_METHODS)
        if settings.ablation:
            from scope_opt.studies.ablation import all_variants
            out += [ablation_method(v) for v in all_variants() if 0 < len(v) < 3]
    if len(instance.network.layers) <= EXACT_MAX_LAYERS and instance.package.chiplets <= EXACT_MAX_CHIPLETS:
        out += list(MODEL_METHODS)
    small = "enumerate" in out  # the energy model lists partition tuples: small instances only
    # the energy enumerator scores every mapping with the evaluator (no factoring) and has no time limit
    skip = (() if small else MODEL_METHODS) + (() if size <= ENERGY_ENUMERATE_MAX else ("enumerate",))
    return out + objective_methods([m for m in out if m not in skip], settings.objectives)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def cache_key(path: Path, instance: Instance, method: str, settings: BenchSettings) -> str:
    """Everything a cached row depends on: the instance and model files (as bytes, so an
    ONNX model hashes too), the method, a user heuristic's own source, the settings and
    the version."""
    kind, payload = special(method) or ("registry", "")
    code = _digest(heuristic_source(payload)) if kind == "user" else ""
    blob = json.dumps({"instance": _digest(path), "model": _digest(Path(instance.network.source)), "method": method,
                       "code": code, "version": __version__,
                       "settings": [settings.time_limit_s, settings.threads, settings.seed, settings.max_mappings]})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_method(instance: Instance, method: str, settings: BenchSettings, terms: CostTerms,
               shared: dict | None = None) -> tuple[SolveResult, np.ndarray | None]:
    """One method on one instance; `shared` keeps per-instance state between methods
    (the ablation's tables)."""
    kind, payload = special(method) or ("registry", method)
    if kind == "user":
        return run_user_heuristic(instance, payload, terms.reference, settings.time_limit_s), None
    if kind == "ablation":
        from scope_opt.studies.ablation import Ablation
        shared = {} if shared is None else shared
        if "ablation" not in shared:
            shared["ablation"] = Ablation(instance, terms)
        return dataclasses.replace(shared["ablation"].run(payload), method=method), None
    if kind == "objective":
        base, objective = payload
        options = MethodOptions(max_mappings=settings.max_mappings, objective=objective, settings=SolverSettings(
            time_limit_s=settings.time_limit_s, threads=settings.threads, seed=settings.seed))
        return dataclasses.replace(solve(instance, base, options, terms), method=method), None
    if method == "enumerate":
        from scope_opt.methods.enumerate import solve_enumerate
        res, en = solve_enumerate(instance, "merged", settings.max_mappings, terms)
        return res, en.latencies
    solver_settings = SolverSettings(time_limit_s=settings.time_limit_s, threads=settings.threads, seed=settings.seed)
    return solve(instance, method, MethodOptions(settings=solver_settings), terms), None


CACHE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def load_suite(files: list[Path], root: Path) -> tuple[list[tuple[Path, Instance]], list[tuple[str, str]]]:
    """Every instance of the suite that loads, and (file, error) for those that do not.
    Names must be unique in a suite and usable as file names (they key the cache)."""
    good, broken, names = [], [], {}
    for path in files:
        rel = str(path.relative_to(root) if path.is_relative_to(root) else path)
        try:
            inst = load_instance(path)
        except InputError as exc:
            broken.append((rel, str(exc)))
            continue
        if not CACHE_NAME.match(inst.name):
            broken.append((rel, f"{path}: name: {inst.name!r} cannot name a cache file; expected letters, digits, "
                                "'.', '_' and '-', starting with a letter or digit"))
            continue
        if inst.name in names:
            raise InputError(path, "name", f"{inst.name!r} is also the name of {names[inst.name]}; expected unique "
                                           "instance names in a suite (rows and cache entries are keyed by name)")
        names[inst.name] = path
        good.append((path, inst))
    return good, broken


def read_cache(entry: Path) -> dict | None:
    """A cached row, or None when the entry is missing or unreadable (then it is recomputed)."""
    try:
        row = json.loads(entry.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return row if isinstance(row, dict) and "method" in row else None


def run_suite(suite: str, root: Path, out_root: Path, settings: BenchSettings,
              progress: Callable[[str], None] | None = None, executor: Executor = Executor(),
              warn: Callable[[str, str], None] | None = None) -> Path:
    """Every method on every instance of the suite; `warn(file, reason)` hears of each
    instance that is skipped (also listed in summary.md)."""
    name, files = suite_files(suite, root)
    out = out_root / name
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    instances, broken = load_suite(files, root)
    entries, todo = [], []
    for path, inst in instances:
        for method in methods_for(inst, settings):
            key = cache_key(path, inst, method, settings)
            entry = cache / f"{inst.name}__{method.replace(':', '_').replace('/', '_')}__{key}.json"
            if entry.resolve().parent != cache.resolve():
                raise InputError(path, "name", f"{inst.name!r} would write outside {cache}")
            entries.append(entry)
            if read_cache(entry) is None:
                rel = str(path.relative_to(root) if path.is_relative_to(root) else path)
                todo.append((entry.name, (str(path), rel, method, settings)))
    failures: dict[str, str] = {}

    def done(key: str, result: tuple[dict, np.ndarray | None]) -> None:
        row, lat = result
        entry = cache / key
        if lat is not None:
            with tempfile.NamedTemporaryFile(dir=cache, suffix=".npy", delete=False) as f:
                np.save(f, lat)
            os.replace(f.name, entry.with_suffix(".npy"))
        # written last and atomically: an interrupted run loses only unfinished cells, never half of one
        write_text_atomic(entry, dumps(row))

    def failed(key: str, message: str) -> None:
        failures[key] = message

    run_cells(bench_cell, todo, executor, done, failed, progress)
    rows = []
    for entry in entries:
        row = read_cache(entry)
        if row is None:
            continue
        row["latencies_file"] = str(entry.with_suffix(".npy")) if entry.with_suffix(".npy").exists() else ""
        rows.append(row)
    broken = list(broken) + [(k.split("__")[0] + " / " + k.split("__")[1], m) for k, m in failures.items()]
    for file, why in broken:
        (warn or (lambda *_: None))(file, why)
    latency = [r for r in rows if objective_of(r["method"]) == "latency"]  # ranks, gaps and plots are of T
    add_ranks_and_gaps(latency)
    write_csv(rows, out / "results.csv")
    from scope_opt.studies.bench_plots import plots
    from scope_opt.studies.bench_report import summary, write_ablation_csv
    plots(latency, out)
    write_ablation_csv(latency, out / "ablation.csv")
    write_text_atomic(out / "summary.md", summary(name, rows, settings, broken))
    return out


_SHARED: dict[str, dict] = {}  # per process: an instance's state shared by its methods (the ablation's tables)


def bench_cell(payload: tuple[str, str, str, BenchSettings]) -> tuple[dict, np.ndarray | None]:
    """One (instance, method) of the bench, on whichever worker runs it."""
    path_text, rel, method, settings = payload
    path = Path(path_text)
    inst = load_instance(path)
    shared = _SHARED.setdefault(path_text, {})
    if len(_SHARED) > 2:  # keep only the current instances' tables
        for k in list(_SHARED)[:-2]:
            del _SHARED[k]
    terms = shared.setdefault("terms", CostTerms(inst))
    res, lat = run_method(inst, method, settings, terms, shared)
    unfit = unfit_layers(inst, terms.reference)
    row = {"instance": inst.name,
           "note": "; ".join(f"layer {l} ({inst.network.layers[l].name}) needs {b} B of activations per "
                             f"chiplet on any chiplet count, leaving no room for a weight tile "
                             f"(SRAM {int(inst.package.sram_bytes)} B)" for l, b in unfit), "file": rel,
           "network": inst.network.name, "layers": len(inst.network.layers),
           "chiplets": inst.package.chiplets, "mesh": f"{inst.package.mesh[0]}x{inst.package.mesh[1]}",
           "batch": inst.batch, "macs": inst.network.macs,
           "peak_throughput": inst.package.peak_macs_per_s / inst.network.macs, **res.to_dict()}
    return json.loads(dumps(row)), lat


def add_ranks_and_gaps(rows: list[dict]) -> None:
    """Rank in the enumerated distribution where there is one; the proven optimum of each
    space (merged, segmented, sequential); each row's gap to the optimum of its own space,
    and to the merged optimum (or, failing that, to the best proven merged bound)."""
    by_inst: dict[str, list[dict]] = {}
    for r in rows:
        by_inst.setdefault(r["instance"], []).append(r)
    for group in by_inst.values():
        lat = next((np.load(r["latencies_file"]) for r in group if r.get("latencies_file")), None)
        space_opt: dict[str, dict] = {}
        for r in group:
            if r["status"] == "optimal" and r["latency_s"] is not None:
                best = space_opt.get(r["space"])
                if best is None or r["latency_s"] < best["latency_s"]:
                    space_opt[r["space"]] = r
        merged = space_opt.get("merged")
        best_opt = merged["latency_s"] if merged else None
        bounds = [r["bound_s"] for r in group if r.get("bound_s") is not None and r["space"] == "merged"]
        best_bound = max(bounds) if bounds else None
        for r in group:
            t = r["latency_s"]
            r["rank"] = (int(np.searchsorted(lat, t * (1 - 1e-9))) / lat.size if lat is not None and t is not None and lat.size else None)
            r["optimum_s"] = best_opt
            r["proved_by"] = ";".join(x["method"] for x in group if x["status"] == "optimal" and x["space"] == "merged")
            ref = best_opt if best_opt is not None else best_bound
            r["gap_to_optimum"] = (t - ref) / t if (t is not None and ref is not None) else None
            r["gap_reference"] = "optimum" if best_opt is not None else ("bound" if best_bound is not None else None)
            own = space_opt.get(r["space"])
            r["space_optimum_s"] = own["latency_s"] if own else None
            r["gap_to_space_optimum"] = (t - own["latency_s"]) / t if (own and t is not None) else None
            for sp in SPACES:
                o = space_opt.get(sp)
                r[f"opt_{sp}_s"] = o["latency_s"] if o else None
                r[f"opt_{sp}_energy_j"] = o["energy_j"] if o else None


CSV_FIELDS = ["instance", "network", "layers", "chiplets", "mesh", "batch", "method", "space", "objective",
              "objective_value", "status", "latency_s",
              "throughput", "energy_j", "bound_s", "gap", "solve_time_s", "mappings_scored", "rank", "optimum_s", "proved_by",
              "gap_to_optimum", "gap_reference", "space_optimum_s", "gap_to_space_optimum", "opt_merged_s",
              "opt_segmented_s", "opt_sequential_s", "opt_merged_energy_j", "opt_segmented_energy_j",
              "opt_sequential_energy_j", "peak_throughput", "macs", "note", "file", "settings"]


def write_csv(rows: list[dict], path: Path) -> None:
    import io
    f = io.StringIO()
    w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (json.dumps(r[k]) if isinstance(r.get(k), dict) else r.get(k)) for k in CSV_FIELDS})
    write_text_atomic(path, f.getvalue())
