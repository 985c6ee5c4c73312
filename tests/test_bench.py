"""The bench: every method on a suite, cached and resumable; a user heuristic; pictures."""

import csv
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from scope_opt.studies import bench
from scope_opt.studies.bench import BenchSettings, run_suite
from scope_opt.errors import InputError
from scope_opt.cost.evaluate import evaluate
from scope_opt.problem.instance import load_instance
from scope_opt.problem.mapping import load_mapping

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
            if r["status"] == "optimal" and r["space"] == "merged":
                assert float(r["latency_s"]) == pytest.approx(opt, rel=1e-6)
        assert "enumerate" in group[0]["proved_by"] and "cpsat" in group[0]["proved_by"] and "dp" in group[0]["proved_by"]
        # each space's optimum, and every heuristic's gap to the optimum of its own space
        get = {r["method"]: r for r in group}
        for method, space in (("dp", "merged"), ("dp-segmented", "segmented"), ("dp-sequential", "sequential")):
            assert get[method]["status"] == "optimal" and get[method]["space"] == space
            assert float(group[0][f"opt_{space}_s"]) == float(get[method]["latency_s"])
        for method, ref in (("scope", "dp"), ("segmented", "dp-segmented"), ("sequential", "dp-sequential"), ("fastdp", "dp")):
            t, o = float(get[method]["latency_s"]), float(get[ref]["latency_s"])
            assert float(get[method]["gap_to_space_optimum"]) == pytest.approx((t - o) / t, abs=1e-12) and t >= o
    summary = (out / "summary.md").read_text()
    assert "scope-opt bench mini" in summary and "tiny-residual-2x2" in summary and "## On proven optima" in summary
    row = next(l for l in summary.splitlines() if l.startswith("| tiny-residual-2x2 |"))
    assert " us " in row and "0.00000" not in row  # T with its unit, never bare seconds
    for png in ("throughput.png", "energy.png", "ranks.png", "gaps.png"):
        assert (out / png).stat().st_size > 1000
    # a second run finds every result in the cache and computes nothing
    monkeypatch.setattr(bench, "run_method", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    again = run_suite("mini", suite, suite / "results", settings)
    assert (again / "results.csv").read_text() == (out / "results.csv").read_text()


def test_bench_ablation_explains_the_whole_gap(suite):
    """No step exact is the Scope search, all three is the optimum, and the Shapley shares
    add up to Scope's gap."""
    from scope_opt.studies.bench_report import ablation_latencies, ablation_shares
    settings = BenchSettings(time_limit_s=20, threads=1, ablation=True)
    out = run_suite("mini", suite, suite / "results", settings)
    with open(out / "results.csv") as f:
        rows = [{k: (float(v) if k in ("latency_s", "opt_merged_s") and v else v) for k, v in r.items()} for r in csv.DictReader(f)]
    lat, shares = ablation_latencies(rows), ablation_shares(rows)
    assert set(lat) == {"tiny-chain4-2x1", "tiny-residual-2x2"}
    for inst, l in lat.items():
        scope_t, opt = l[frozenset()], l[frozenset({"segmentation", "clustering", "partition"})]
        assert all(opt <= t * (1 + 1e-12) for t in l.values())
        assert sum(shares[inst].values()) == pytest.approx((scope_t - opt) / scope_t, abs=1e-12)
    assert (out / "ablation.csv").read_text().count("\n") == 1 + 8 * 2
    assert "## Ablation" in (out / "summary.md").read_text()


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


def test_bench_energy_rows_agree_and_leave_the_latency_rows_alone(suite):
    """--objectives latency,energy,edp: every exact method that takes an objective runs on
    it; in each space the energy optima agree, the summary sets them beside T*, and the
    latency rows (ranks, gaps, optima) are those of a latency-only bench."""
    from scope_opt.studies.bench_energy import objective_list
    plain = run_suite("mini", suite, suite / "plain", BenchSettings(time_limit_s=20, threads=1))
    out = run_suite("mini", suite, suite / "results", BenchSettings(time_limit_s=20, threads=1,
                                                                     objectives=objective_list("energy,edp")))
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    with open(plain / "results.csv") as f:
        latency = list(csv.DictReader(f))
    keep = ("instance", "method", "status", "latency_s", "rank", "optimum_s", "proved_by", "gap_to_space_optimum")
    assert [{k: r[k] for k in keep} for r in rows if r["objective"] == "latency"] == [{k: r[k] for k in keep} for r in latency]
    for inst in ("tiny-chain4-2x1", "tiny-residual-2x2"):
        group = {r["method"]: r for r in rows if r["instance"] == inst}
        assert {"dp@energy", "dp-segmented@energy", "dp-sequential@energy", "cpsat@energy", "milp-highs@energy",
                "milp-cbc@energy", "dp@edp"} <= set(group)
        assert "cpsat@edp" not in group and "scope@energy" not in group
        # the energy enumerator runs only on spaces of at most bench.ENERGY_ENUMERATE_MAX mappings
        assert ("enumerate@energy" in group) == (inst == "tiny-chain4-2x1") == ("enumerate@edp" in group)
        ref = "enumerate" if "enumerate@energy" in group else "dp"
        least = float(group[f"{ref}@energy"]["objective_value"])
        for m in ("dp@energy", "cpsat@energy", "milp-highs@energy", "milp-cbc@energy"):
            assert group[m]["status"] == "optimal" and float(group[m]["energy_j"]) == pytest.approx(least, rel=1e-9), m
        assert float(group["dp@energy"]["energy_j"]) <= float(group["dp"]["energy_j"]) * (1 + 1e-12)
        assert float(group["dp@edp"]["objective_value"]) == pytest.approx(float(group[f"{ref}@edp"]["objective_value"]),
                                                                          rel=1e-9)
    summary = (out / "summary.md").read_text()
    assert "## Energy and EDP optima" in summary and "--objectives latency,energy,edp" in summary
    line = next(l for l in summary.splitlines() if l.startswith("| tiny-residual-2x2 | merged |"))
    assert "dp@energy" in line and "cpsat@energy" in line and " uJ" in line
    with pytest.raises(InputError, match="unknown objective 'power'"):
        objective_list("energy,power")
