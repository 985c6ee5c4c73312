"""The bench: every method on a suite, cached and resumable; a user heuristic; pictures."""

import csv
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from scope_opt import bench
from scope_opt.bench import BenchSettings, run_suite
from scope_opt.errors import InputError
from scope_opt.evaluate import evaluate
from scope_opt.instance import load_instance
from scope_opt.mapping import load_mapping

USER = "scope_opt.examples.even_split:one_cluster_per_segment"


@pytest.fixture
def suite(tmp_path):
    folder = tmp_path / "instances" / "mini"
    folder.mkdir(parents=True)
    for name in ("tiny-chain4-2x1", "tiny-residual-2x2"):
        shutil.copy(ROOT / "instances" / "small" / f"{name}.toml", folder)
    shutil.copytree(ROOT / "models", tmp_path / "models")
    return tmp_path


def test_bench_runs_every_method_and_resumes(suite, monkeypatch):
    settings = BenchSettings(time_limit_s=20, threads=1, heuristic=USER)
    out = run_suite("mini", suite, suite / "results", settings)
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    methods = {r["method"] for r in rows}
    assert {"scope", "segmented", "sequential", "enumerate", "cpsat", "milp-highs", "milp-cbc", f"user:{USER}"} <= methods
    for inst in ("tiny-chain4-2x1", "tiny-residual-2x2"):
        group = [r for r in rows if r["instance"] == inst]
        opt = float(next(r["latency_s"] for r in group if r["method"] == "enumerate"))
        for r in group:
            assert float(r["latency_s"]) >= opt * (1 - 1e-9)
            assert 0 <= float(r["rank"]) <= 1 and float(r["optimum_s"]) == pytest.approx(opt)
            if r["status"] == "optimal":
                assert float(r["latency_s"]) == pytest.approx(opt, rel=1e-6)
        assert "enumerate" in group[0]["proved_by"] and "cpsat" in group[0]["proved_by"]
    summary = (out / "summary.md").read_text()
    assert "scope-opt bench mini" in summary and "tiny-residual-2x2" in summary
    for png in ("throughput.png", "energy.png", "ranks.png", "gaps.png"):
        assert (out / png).stat().st_size > 1000
    # a second run finds every result in the cache and computes nothing
    monkeypatch.setattr(bench, "run_method", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    again = run_suite("mini", suite, suite / "results", settings)
    assert (again / "results.csv").read_text() == (out / "results.csv").read_text()


def test_bad_heuristic_and_suite(suite):
    with pytest.raises(InputError, match="package.module:function"):
        bench.load_heuristic("nonsense")
    with pytest.raises(InputError, match="cannot load"):
        bench.load_heuristic("no_such_module:f")
    with pytest.raises(InputError, match="no suite folder"):
        run_suite("nowhere", suite, suite / "results", BenchSettings())


def test_draw_writes_a_png(tmp_path):
    inst_file = ROOT / "instances" / "small" / "tiny-residual-2x2.toml"
    subprocess.run([sys.executable, "-m", "scope_opt.cli", "solve", inst_file, "-m", "scope", "--out", tmp_path / "m.json"],
                   check=True, capture_output=True)
    res = subprocess.run([sys.executable, "-m", "scope_opt.cli", "draw", inst_file, tmp_path / "m.json", "--out",
                          tmp_path / "m.png"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    ev = evaluate(load_instance(inst_file), load_mapping(tmp_path / "m.json"))
    assert ev.feasible
