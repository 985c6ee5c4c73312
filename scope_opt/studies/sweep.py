"""`scope-opt sweep SPEC.toml`: a design-space sweep over networks and hardware fields.

The spec names networks, methods and a grid of hardware values (docs/sweeps.md). Every
(network, grid point, method) is a cell: it carries its network and its instance with
it, so any worker can run it, on this machine or another. Cells run through
scope_opt.executor (in-process, a local Dask cluster, or a running one); each finished
cell is cached atomically, so an interrupted sweep resumes with the missing cells only.
Writes results/<name>/results.csv, the generated instances and plots."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scope_opt import __version__
from scope_opt.errors import InputError
from scope_opt.methods.registry import METHODS as REGISTRY
from scope_opt.studies.executor import Executor, run_cells
from scope_opt.formats.inputs import known_keys, number, parse, read_text
from scope_opt.formats.outputs import dumps, instance_toml, safe_name, write_text_atomic

SWEPT = ("mesh", "pe_array", "freq_ghz", "sram_kib", "nop_gbps", "dram_gbps", "bytes_per_element", "batch")
METHODS = tuple(m.name for m in REGISTRY.values() if m.family != "enumerate")  # registry names (docs/sweeps.md)
SPEC_KEYS = ("name", "networks", "methods", "batch", "hardware", "grid", "space", "settings", "input_shape")
SETTINGS_KEYS = ("time_limit", "threads", "seed")
MAX_CELLS = 100_000


@dataclass(frozen=True)
class Cell:
    """One run: an instance (as parsed TOML), its network description, a method."""

    key: str
    name: str
    network: str
    point: tuple[tuple[str, Any], ...]  # the swept values of this cell
    method: str
    instance: dict
    network_raw: dict
    network_src: str
    settings: tuple[float, int, int]  # time limit, threads, seed


@dataclass(frozen=True)
class Sweep:
    name: str
    src: str
    cells: tuple[Cell, ...]
    fields: tuple[str, ...]  # swept fields, in spec order
    reference: dict  # each swept field's reference value, for the one-field plots
    networks: tuple[str, ...]
    methods: tuple[str, ...]


def _label(value: Any) -> str:
    """A grid value as it appears in a cell's name: exact (repr for floats), never rounded."""
    return "x".join(map(str, value)) if isinstance(value, list) else repr(value) if isinstance(value, float) else str(value)


def _axes(raw: dict, src: str) -> tuple[dict, dict, list]:
    """(hardware, the swept axes in spec order, the batch values) of a spec."""
    hardware = raw.get("hardware", {})
    grid = raw.get("grid", {})
    if not isinstance(hardware, dict) or not isinstance(grid, dict):
        raise InputError(src, "hardware/grid", "expected tables")
    known_keys(grid, SWEPT, src, "grid.")
    batch = raw.get("batch", [1])
    batch = batch if isinstance(batch, list) else [batch]
    if not batch:
        raise InputError(src, "batch", "expected a batch size or a non-empty list of them, e.g. [1, 64]")
    axes = {"batch": batch} if len(batch) > 1 and "batch" not in grid else {}
    for field, values in grid.items():
        if not isinstance(values, list) or not values:
            raise InputError(src, f"grid.{field}", "expected a non-empty list of values")
        labels = [_label(v) for v in values]
        same = [(a, b) for i, a in enumerate(values) for b in values[i + 1:] if a == b]
        if same or len(set(labels)) != len(labels):  # a repeated value (64 and 64.0), or two that share a name
            dup = _label(same[0][0]) if same else next(l for l in labels if labels.count(l) > 1)
            raise InputError(src, f"grid.{field}", f"two values are both {dup!r}; expected distinct values")
        axes[field] = values
    if "batch" in grid:
        axes["batch"] = grid["batch"]
    return hardware, axes, batch


def _settings(raw: dict, src: str) -> tuple[float, int, int]:
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise InputError(src, "settings", "expected a table")
    known_keys(settings, SETTINGS_KEYS, src, "settings.")
    return (float(number(settings.get("time_limit", 60.0), src, "settings.time_limit", 0, 1e6, low_open=True)),
            number(settings.get("threads", 1), src, "settings.threads", 1, 256, integer=True),
            number(settings.get("seed", 0), src, "settings.seed", 0, 2**31 - 1, integer=True))


def _network(net_name: str, path: Path, src: str, input_shape=None):
    """A swept network: its path, its description (dict) and the checked Network;
    `input_shape` [C, H, W] is for ONNX models whose input is symbolic."""
    from scope_opt.problem.instance import resolve_model
    from scope_opt.problem.network_yaml import build_network
    model_path = resolve_model(net_name, path.parent, src)
    if model_path.suffix == ".onnx":
        from scope_opt.problem.onnx_import import import_onnx
        net_raw = import_onnx(model_path, tuple(input_shape) if input_shape else None).description
    else:
        net_raw = parse(model_path, read_text(model_path, "a network YAML file"), "yaml")
    return model_path, net_raw, build_network(net_raw, str(model_path), model_path.stem)


def _input_shape(raw: dict, src: str):
    shape = raw.get("input_shape")
    if shape is not None and (not isinstance(shape, list) or len(shape) != 3
                              or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape)):
        raise InputError(src, "input_shape", f"expected [C, H, W], three positive integers, got {str(shape)[:60]}")
    return shape


def _cells(raw: dict, path: Path, src: str, networks: list, methods: list, hardware: dict, axes: dict, batch: list,
           st: tuple) -> list[Cell]:
    """Every (network, grid point, method) cell, each instance checked before any runs."""
    from scope_opt.problem.instance import build_instance
    fields, points = tuple(axes), (list(itertools.product(*axes.values())) if axes else [()])
    cells = []
    names: dict[str, str] = {}
    for net_name in networks:
        model_path, net_raw, network = _network(net_name, path, src, _input_shape(raw, src))
        safe_name(network.name, model_path, "name")  # it names instance and cache files
        if network.name in names:
            raise InputError(src, "networks", f"{net_name!r} and {names[network.name]!r} are both named "
                                              f"{network.name!r}; expected networks with distinct names")
        names[network.name] = net_name
        for point in points:
            values = dict(zip(fields, point))
            hw = {k: v for k, v in hardware.items()}
            hw.update({k: v for k, v in values.items() if k != "batch"})
            inst_name = "-".join([network.name] + [f"{f}{_label(v)}" for f, v in values.items()])
            inst_raw = {"name": inst_name, "batch": values.get("batch", batch[0]),
                        "workload": {"model": network.name}, "hardware": hw}
            if "space" in raw:
                inst_raw["space"] = raw["space"]
            build_instance(inst_raw, f"{src} (cell {inst_name})", path.parent, inst_name, network)
            for method in methods:
                blob = json.dumps([inst_raw, net_raw, method, st, __version__], sort_keys=True, default=str)
                key = f"{inst_name}__{method}__{hashlib.sha256(blob.encode()).hexdigest()[:12]}"
                cells.append(Cell(key, inst_name, network.name, tuple(values.items()), method, inst_raw, net_raw,
                                  str(model_path), st))
    return cells


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep spec; every cell's instance is validated now, before any runs."""
    path = Path(path)
    src = str(path)
    raw = parse(path, read_text(path, "a sweep spec TOML file"), "toml")
    known_keys(raw, SPEC_KEYS, src, "")
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise InputError(src, "name", f"expected letters, digits, '-' and '_' (it names the results folder), got {name!r}")
    networks = raw.get("networks")
    if not isinstance(networks, list) or not networks or not all(isinstance(n, str) and n for n in networks):
        raise InputError(src, "networks", "expected a non-empty list of model names or paths, e.g. [\"resnet50\"]")
    methods = raw.get("methods", ["scope", "segmented", "sequential", "dp"])
    if not isinstance(methods, list) or not methods or any(m not in METHODS for m in methods):
        raise InputError(src, "methods", f"expected a list of methods from {', '.join(METHODS)}, got {methods!r}")
    if len(set(methods)) != len(methods):
        raise InputError(src, "methods", f"lists a method twice ({methods!r}); expected each once")
    hardware, axes, batch = _axes(raw, src)
    st = _settings(raw, src)
    n_points = math.prod(len(v) for v in axes.values())
    if n_points * len(networks) * len(methods) > MAX_CELLS:  # counted before any cell is made
        raise InputError(src, "grid", f"{n_points * len(networks) * len(methods)} cells is more than {MAX_CELLS}")
    reference = {f: hardware.get(f, batch[0] if f == "batch" else axes[f][0]) for f in axes}
    cells = _cells(raw, path, src, networks, methods, hardware, axes, batch, st)
    return Sweep(name, src, tuple(cells), tuple(axes), reference, tuple(dict.fromkeys(c.network for c in cells)),
                 tuple(methods))


def run_cell(cell: Cell, cell_time_limit: float = math.inf) -> dict:
    """One cell, on whichever worker runs it: build the instance, solve, re-score.  Its
    solver's time limit is the spec's, cut to `cell_time_limit`; a cell stopped by that
    cut is marked `cut_by_cell_limit` and is not cached (a later run solves it again)."""
    from scope_opt.methods.settings import SolverSettings
    from scope_opt.problem.instance import build_instance
    from scope_opt.problem.network_yaml import build_network
    from scope_opt.methods.dispatch import MethodOptions, solve
    from scope_opt.methods.registry import Kind, resolve
    network = build_network(cell.network_raw, cell.network_src, cell.network)
    inst = build_instance(cell.instance, cell.name, Path("."), cell.name, network)
    tl, threads, seed = cell.settings
    time_limit = min(tl, cell_time_limit)
    res = solve(inst, cell.method, MethodOptions(settings=SolverSettings(time_limit_s=time_limit, threads=threads,
                                                                         seed=seed)))
    timed_out = bool(res.stats.get("timed_out")) or (resolve(cell.method).kind is Kind.EXACT
                                                     and res.status in ("feasible", "unknown"))
    from scope_opt.studies.sweep_report import limiting_resource
    ev = res.evaluation
    row = {"cell": cell.key, "network": cell.network, "instance": cell.name, **dict(cell.point), "method": cell.method,
           "chiplets": inst.package.chiplets, "status": res.status, "latency_s": None, "throughput": None,
           "throughput_per_chiplet": None, "energy_j": None, "limit": None, "solve_time_s": res.solve_time_s,
           "peak_throughput": inst.package.peak_macs_per_s / network.macs, "error": None,
           "timed_out": timed_out, "cut_by_cell_limit": timed_out and time_limit < tl}
    if ev is not None and ev.feasible:
        limit, shares = limiting_resource(ev)
        row.update(latency_s=ev.latency_s, throughput=ev.throughput, energy_j=ev.energy.total_j,
                   throughput_per_chiplet=ev.throughput / inst.package.chiplets, limit=limit,
                   **{f"share_{k}": v for k, v in shares.items()})
    if "mesh" in row:
        row["mesh"] = "x".join(map(str, row["mesh"]))
    return row


def valid_row(row, cell: Cell) -> bool:
    """A result row of `cell`: a dict naming the cell and its method, a known status, and
    numbers where numbers belong (a cache entry or a worker's answer is never trusted)."""
    from scope_opt.methods.result import STATUSES
    if not isinstance(row, dict) or row.get("cell") != cell.key or row.get("method") != cell.method:
        return False
    if row.get("status") not in STATUSES:
        return False
    for k in ("latency_s", "throughput", "energy_j", "solve_time_s"):
        v = row.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0):
            return False
    return True


def write_cell_instance(sw: Sweep, cell: Cell, folder: Path) -> Path:
    """The cell's instance as a TOML file that runs on its own: its model named by a path
    relative to the file.  Rewritten whenever the spec makes it differ."""
    p = folder / f"{cell.name}.toml"
    model = os.path.relpath(Path(cell.network_src).resolve(), folder.resolve())
    text = f"# generated by scope-opt sweep {sw.src}\n" + instance_toml({**cell.instance, "workload": {"model": model}})
    if not p.exists() or p.read_text() != text:
        write_text_atomic(p, text)
    return p


def run_sweep(spec: str | Path, out_root: Path, executor: Executor = Executor(),
              progress: Callable[[str], None] | None = None, cell_time_limit: float = math.inf) -> Path:
    """Every cell not cached yet, then results.csv, the plots and summary.md; after Ctrl-C,
    results.csv and summary.md for the cells that finished (marked as interrupted)."""
    sw = load_sweep(spec)
    out = out_root / sw.name
    (out / "cache").mkdir(parents=True, exist_ok=True)
    (out / "instances").mkdir(exist_ok=True)
    for cell in sw.cells:
        write_cell_instance(sw, cell, out / "instances")
    rows: dict[str, dict] = {}
    todo = []
    for cell in sw.cells:
        entry = out / "cache" / f"{cell.key}.json"
        try:
            row = json.loads(entry.read_text())
        except (OSError, ValueError):
            row = None
        if valid_row(row, cell):
            rows[cell.key] = row
        else:  # missing, truncated or not a row of this cell: computed again
            todo.append((cell.key, cell))
    by_key = {c.key: c for c in sw.cells}

    def done(key: str, row: dict) -> None:
        if not valid_row(row, by_key[key]):  # a worker's answer is checked before it is cached
            failed(key, f"the worker returned something that is not this cell's row ({type(row).__name__}); not cached")
            return
        if not row.get("cut_by_cell_limit"):  # cut short by --cell-time-limit: shown, solved again next run
            write_text_atomic(out / "cache" / f"{key}.json", dumps(row))
        rows[key] = row

    def failed(key: str, message: str) -> None:  # reported, not cached: a later run tries again
        cell = next(c for c in sw.cells if c.key == key)
        rows[key] = {"cell": key, "network": cell.network, "instance": cell.name, **dict(cell.point),
                     "method": cell.method, "status": "failed", "error": message}
        if "mesh" in rows[key]:
            rows[key]["mesh"] = "x".join(map(str, rows[key]["mesh"]))

    if progress:
        for key in rows:
            progress(f"cached {key}")
    from scope_opt.studies.sweep_report import write_outputs
    try:
        run_cells(functools.partial(run_cell, cell_time_limit=cell_time_limit), todo, executor, done, failed, progress)
    except KeyboardInterrupt:
        write_outputs(sw, [rows[c.key] for c in sw.cells if c.key in rows], out, executor, interrupted=True)
        raise
    write_outputs(sw, [rows[c.key] for c in sw.cells if c.key in rows], out, executor)
    return out


