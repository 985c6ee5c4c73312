"""Exact solvers stay inside `--time-limit` and stop at Ctrl-C: the whole solve (tables,
warm start, model build, solver) is bounded, HiGHS and CBC are stopped when they overrun
their own limit, and an interrupt leaves no solver process or temporary file behind."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from conftest import ROOT, interrupt_when
from scope_opt.methods.exact.milp_stopping import GRACE_S, STOP_WAIT_S

DEFAULT = ROOT / "instances" / "default.toml"  # ResNet-50 on 4x4: no exact solver proves it in seconds
LIMIT_S = 3.0


def _cbc_processes(tmpdir: Path) -> list[int]:
    """CBC processes started by this test: they inherit its TMPDIR (another test run's
    CBC on the same machine has its own)."""
    found = []
    for p in psutil.process_iter(["name"]):
        if "cbc" not in (p.info["name"] or "").lower():
            continue
        try:
            if p.environ().get("TMPDIR") == str(tmpdir):
                found.append(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_time_limit_bounds_the_whole_milp_solve(solver, tmp_path):
    out = tmp_path / "r.json"
    res = subprocess.run([sys.executable, "-m", "scope_opt.cli", "solve", DEFAULT, "--method", "milp", "--solver", solver,
                          "--time-limit", str(LIMIT_S), "--json", out], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    r = json.loads(out.read_text())
    assert r["status"] == "feasible" and r["latency_s"] > 0  # the best mapping, labelled, never 'optimal'
    # the solver is told to stop GRACE_S past the limit and gets STOP_WAIT_S; 2 s of file I/O on top
    assert r["solve_time_s"] <= LIMIT_S + GRACE_S + STOP_WAIT_S + 2.0, r["stats"]


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_ctrl_c_stops_the_milp_solver_at_once_and_leaves_nothing(solver, tmp_path):
    after: list[float] = []
    code, err = interrupt_when(["solve", DEFAULT, "--method", "milp", "--solver", solver, "--time-limit", "600"],
                               f"solving ({solver}", env={"TMPDIR": str(tmp_path)}, after=after)
    assert code == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert after[0] < 5.0, after  # not the solver's time limit: the interrupt is taken at once
    assert _cbc_processes(tmp_path) == []  # no CBC of this run left running
    assert os.listdir(tmp_path) == []  # no model, solution or log file left behind
