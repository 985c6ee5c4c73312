"""The CLI end to end: solve, rank, space, evaluate with --json."""

import json
import subprocess
import sys

from conftest import ROOT

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
