"""The CLI end to end: solve, rank, space, evaluate with --json."""

import json
import subprocess
import sys

from conftest import ROOT, interrupt_when

from scope_opt.methods.dp.solver import ENGINE_STEP

INST = ROOT / "instances" / "small" / "tiny-chain6-2x2.toml"


def run(*args):
    res = subprocess.run([sys.executable, "-m", "scope_opt.cli", *map(str, args)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res


def test_solve_json_and_mapping_round_trip(tmp_path):
    out = {}
    for method in ("scope", "segmented", "sequential", "enumerate"):
        run("solve", INST, "--method", method, "--json", tmp_path / f"{method}.json", "--out", tmp_path / f"{method}.map.json")
        out[method] = json.loads((tmp_path / f"{method}.json").read_text())
        for key in ("method", "status", "latency_s", "throughput", "energy_j", "bound_s", "gap", "solve_time_s",
                    "mappings_scored", "mapping"):
            assert key in out[method]
        ev = json.loads(run("evaluate", INST, tmp_path / f"{method}.map.json", "--json", "-").stdout)
        assert ev["latency_s"] == out[method]["latency_s"]
    assert out["scope"]["status"] == "heuristic" and out["scope"]["bound_s"] is None
    assert out["enumerate"]["status"] == "optimal" and out["enumerate"]["gap"] == 0
    assert all(out["enumerate"]["latency_s"] <= out[m]["latency_s"] for m in out)


def test_rank_and_space_json():
    rk = json.loads(run("rank", INST, "--method", "segmented", "--json", "-").stdout)
    assert rk["method"] == "exact" and 0 <= rk["rank"] <= 1 and rk["space_size"] == 877419
    sp = json.loads(run("space", INST, "--json", "-").stdout)
    sizes = {s["space"]: (int(s["structural"]), int(s["valid"])) for s in sp["spaces"]}
    assert sizes["merged"] == (877419, 877419) and sizes["sequential"] == (64, 64)


def test_enumerator_refuses_large_spaces():
    res = subprocess.run([sys.executable, "-m", "scope_opt.cli", "solve", INST, "-m", "enumerate", "--max-mappings", "1000"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "877419" in res.stderr and "--max-mappings" in res.stderr


def test_solve_dp_and_gap_through_the_dp(tmp_path):
    """--method dp proves the optimum (bound = T, gap 0), and `gap` uses it by default."""
    res = {}
    for space in ("merged", "segmented", "sequential"):
        run("solve", INST, "--method", "dp", "--space", space, "--json", tmp_path / f"{space}.json")
        res[space] = json.loads((tmp_path / f"{space}.json").read_text())
        assert res[space]["status"] == "optimal" and res[space]["gap"] == 0
        assert res[space]["bound_s"] == res[space]["latency_s"]
    enum = json.loads(run("solve", INST, "--method", "enumerate", "--json", "-").stdout)
    assert res["merged"]["latency_s"] == enum["latency_s"]
    run("solve", INST, "--method", "segmented", "--out", tmp_path / "seg.map.json")
    g = json.loads(run("gap", INST, tmp_path / "seg.map.json", "--json", "-").stdout)
    assert g["proof"] == "optimal" and g["solver"]["method"] == "dp"
    assert g["optimum_s"] == res["merged"]["latency_s"]
    assert g["gap"] == (g["latency_s"] - g["optimum_s"]) / g["latency_s"]


def test_ctrl_c_exits_130_and_says_so(tmp_path):
    """An interrupt is never reported as a finished solve: exit 130, no JSON written.
    The signal is sent when the DP says it is building its cluster tables."""
    out = tmp_path / "r.json"
    code, err = interrupt_when(["solve", ROOT / "instances" / "large" / "resnet152-simba-16x16.toml", "--method", "dp",
                                "--json", out], "cluster tables")
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err and not out.exists()


def test_ctrl_c_while_compiling_exits_130(tmp_path):
    """With an empty numba cache the DP's kernels are being compiled when it says it loads
    its engine; Ctrl-C then still exits 130 with one line, no traceback, and at once
    (the compile takes a minute or two)."""
    out = tmp_path / "r.json"
    after: list[float] = []
    code, err = interrupt_when(["solve", ROOT / "instances" / "small" / "tiny-chain6-2x2.toml", "--method", "dp",
                                "--json", out], ENGINE_STEP, env={"NUMBA_CACHE_DIR": str(tmp_path / "cache")},
                               after=after)
    assert code == 130, err
    assert "layer tables" not in err  # interrupted while compiling, not after
    assert after[0] < 30.0, after
    assert "interrupted" in err and "Traceback" not in err and "SystemError" not in err and not out.exists()


def test_quick_exit_runs_exit_handlers_and_keeps_the_code(monkeypatch):
    """The CLI skips the interpreter's teardown only when nothing else runs: exit handlers
    run first and the code is kept; with another thread alive, Python exits as usual."""
    import atexit
    import importlib
    import os
    import threading

    cli_app = importlib.import_module("scope_opt.cli.app")  # the module: the package's `app` is the Typer app
    ran, exits = [], []
    atexit.register(ran.append, "handler")
    monkeypatch.setattr(os, "_exit", exits.append)
    cli_app._exit_now(2)
    atexit.unregister(ran.append)
    assert exits == [2] and ran == ["handler"]
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    try:
        cli_app._exit_now(3)
    except SystemExit as stop:
        assert stop.code == 3 and exits == [2]
    else:
        raise AssertionError("expected a normal exit with another thread alive")
    out = subprocess.run([sys.executable, "-m", "scope_opt.cli", "solve", INST, "--method", "dp"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "optimal" in out.stdout and out.stdout.endswith("\n"), out
