"""Design-space sweeps: the same results in-process and on a local Dask cluster, a worker
killed mid-sweep costs only a retry, and an interrupted sweep resumes with the missing
cells only."""

import csv
import os
import threading
import time

import pytest

from conftest import ROOT
from scope_opt.studies import sweep as sweep_mod
from scope_opt.errors import InputError
from scope_opt.studies.executor import Executor, run_cells
from scope_opt.studies.sweep import load_sweep, run_sweep

SPEC = """name = "mini"
networks = ["{root}/models/tiny_chain6.yaml", "{root}/models/tiny_residual.yaml"]
methods = ["scope", "segmented", "sequential", "dp"]
batch = 4
[hardware]
pe_array = [8, 8]
sram_kib = 64
mesh = [2, 2]
[grid]
mesh = [[1, 1], [2, 1], [2, 2]]
sram_kib = [16, 64]
[settings]
threads = 1
"""


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "mini.toml"
    p.write_text(SPEC.format(root=ROOT))
    return p


def table(folder):
    with open(folder / "results.csv") as f:
        rows = list(csv.DictReader(f))
    drop = ("solve_time_s",)  # the only field that depends on where and when a cell ran
    return sorted(tuple((k, v) for k, v in r.items() if k not in drop) for r in rows)


def test_spec_cells_and_bad_specs(spec, tmp_path):
    sw = load_sweep(spec)
    assert len(sw.cells) == 2 * 3 * 2 * 4 and sw.fields == ("mesh", "sram_kib")
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.format(root=ROOT).replace("sram_kib = [16, 64]", "sram_KiB = [16]"))
    with pytest.raises(InputError, match="did you mean 'sram_kib'"):
        load_sweep(bad)
    bad.write_text(SPEC.format(root=ROOT).replace("sram_kib = [16, 64]", "sram_kib = [16, nan]"))
    with pytest.raises(InputError, match="sram_kib"):
        load_sweep(bad)


def test_same_results_in_process_and_on_a_local_cluster_and_resume(spec, tmp_path, monkeypatch):
    a = run_sweep(spec, tmp_path / "a")
    rows = table(a)
    assert len(rows) == 48 and all(dict(r)["status"] in ("heuristic", "optimal") for r in rows)
    assert (a / "mesh.png").stat().st_size > 1000 and (a / "sram_kib.png").stat().st_size > 1000
    assert len(list((a / "instances").glob("*.toml"))) == 12
    b = run_sweep(spec, tmp_path / "b", Executor(workers=2))
    assert table(b) == rows
    # resume: drop some cached cells; only those run again
    cache = sorted((a / "cache").glob("*.json"))
    for p in cache[:5]:
        p.unlink()
    ran = []
    real = sweep_mod.run_cell
    monkeypatch.setattr(sweep_mod, "run_cell", lambda cell, **kw: (ran.append(cell.key), real(cell, **kw))[1])
    again = run_sweep(spec, tmp_path / "a")
    assert sorted(ran) == sorted(p.stem for p in cache[:5]) and table(again) == rows


def test_a_worker_killed_mid_sweep_still_completes_the_sweep(spec, tmp_path):
    """The real sweep on a 2-worker LocalCluster; one worker process is killed while cells
    run: the sweep completes and its table equals the in-process one."""
    from distributed import Client, LocalCluster
    reference = table(run_sweep(spec, tmp_path / "ref"))
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40)
    killed = []
    try:
        client = Client(cluster)

        def kill_one():
            victim = list(client.scheduler_info()["workers"])[0]
            killed.append(victim)
            try:
                client.run(lambda: os._exit(1), workers=[victim])
            except Exception:  # its worker is gone, as intended
                pass

        def progress(what):
            seen.append(what)
            if len(seen) == 3:  # mid-sweep: three cells done, the rest queued or running
                threading.Thread(target=kill_one, daemon=True).start()

        seen = []
        out = run_sweep(spec, tmp_path / "killed", Executor(scheduler=cluster.scheduler_address), progress=progress)
        client.close()
    finally:
        cluster.close()
    assert killed and table(out) == reference


def slow_cell(x):
    time.sleep(0.3)
    return x * x


def test_a_worker_killed_mid_sweep_costs_a_retry_not_the_sweep():
    """Kill one worker process while cells run: its cell is rescheduled on the other, and
    every result arrives."""
    from distributed import Client, LocalCluster
    got, errors = {}, {}
    cells = [(str(i), i) for i in range(12)]
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40)
    try:
        address = cluster.scheduler_address
        client = Client(cluster)

        def kill_one_soon():
            time.sleep(1.0)
            victim = list(client.scheduler_info()["workers"])[0]
            try:
                client.run(lambda: os._exit(1), workers=[victim])
            except Exception:  # the call itself fails: its worker is gone, as intended
                pass

        threading.Thread(target=kill_one_soon, daemon=True).start()
        run_cells(slow_cell, cells, Executor(scheduler=address), got.__setitem__, errors.__setitem__)
        client.close()
    finally:
        cluster.close()
    assert errors == {} and got == {str(i): i * i for i in range(12)}


def test_a_failing_cell_is_reported_and_the_rest_run():
    got, errors = {}, {}
    run_cells(lambda x: 1 // x, [("zero", 0), ("one", 1)], Executor(), got.__setitem__, errors.__setitem__)
    assert got == {"one": 1} and "ZeroDivisionError" in errors["zero"]


LONG_CELL = """name = "long"
networks = ["{root}/models/resnet50.yaml"]
methods = ["scope", "dp"]
batch = 64
[hardware]
pe_array = [32, 32]
[grid]
mesh = [[6, 6]]
"""


def test_a_cell_past_the_cell_time_limit_is_marked_not_cached_and_resumed(tmp_path):
    """ResNet-50 on 6x6 takes dp about a second; cut at 0.01 s it is marked, shown with the
    Scope search's mapping, and solved again by the next run; the search's cell (no time
    limit of its own) is cached."""
    spec = tmp_path / "long.toml"
    spec.write_text(LONG_CELL.format(root=ROOT))
    out = run_sweep(spec, tmp_path / "r", cell_time_limit=0.01)
    rows = {r["method"]: r for r in csv.DictReader(open(out / "results.csv"))}
    cut = rows["dp"]
    assert cut["status"] == "feasible" and cut["timed_out"] == "True" and cut["cut_by_cell_limit"] == "True"
    assert float(cut["latency_s"]) > 0 and rows["scope"]["status"] == "heuristic"
    assert "cut by --cell-time-limit" in (out / "summary.md").read_text()
    cached = [p.stem for p in (out / "cache").glob("*.json")]
    assert len(cached) == 1 and "__scope__" in cached[0]
    again = run_sweep(spec, tmp_path / "r")
    rows = {r["method"]: r for r in csv.DictReader(open(again / "results.csv"))}
    assert rows["dp"]["status"] == "optimal" and rows["dp"]["timed_out"] == "False"
    assert float(rows["dp"]["latency_s"]) <= float(cut["latency_s"])
    assert len(list((out / "cache").glob("*.json"))) == 2


def test_ctrl_c_writes_the_finished_cells_tables(spec, tmp_path, monkeypatch):
    real, calls = sweep_mod.run_cell, []

    def interrupted_at_the_fourth(cell, **kw):
        calls.append(cell.key)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(cell, **kw)
    monkeypatch.setattr(sweep_mod, "run_cell", interrupted_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path / "i")
    out = tmp_path / "i" / "mini"
    assert len(table(out)) == 3 and "Interrupted**: 3 of 48 cells finished" in (out / "summary.md").read_text()
    monkeypatch.setattr(sweep_mod, "run_cell", real)
    assert len(table(run_sweep(spec, tmp_path / "i"))) == 48
