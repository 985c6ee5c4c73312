"""Issue classes 5 and 7-9: output paths checked before the work, honest solver output,
a safe bench cache, and long work that says so (or is refused up front)."""

import json
import math
import shutil
import time

import pytest

from conftest import ROOT, interrupt_when
from test_bad_input import assert_one_line_error, instance, run
from scope_opt.studies import bench
from scope_opt.studies.bench import BenchSettings, run_suite
from scope_opt.errors import InputError
from scope_opt.methods.settings import Backend, SolverSettings
from scope_opt.methods.exact.facade import solve_exact
from scope_opt.problem.instance import load_instance
from scope_opt.formats.outputs import dumps

SMALL = ROOT / "instances" / "small" / "tiny-chain4-2x1.toml"
M4 = ROOT / "instances" / "small" / "tiny-chain4-2x1.toml"


def strict_json(text):
    """json.loads that refuses NaN and Infinity, as a strict JSON reader does."""
    return json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


# -- class 5: output paths -------------------------------------------------------------
@pytest.mark.parametrize("option", ["--json", "--out"])
def test_output_to_a_directory_is_refused_before_the_work(tmp_path, option):
    start = time.perf_counter()
    assert_one_line_error(run("solve", SMALL, "-m", "scope", option, tmp_path), option, "is a directory")
    assert time.perf_counter() - start < 30


def test_output_in_a_missing_folder_or_with_a_wrong_suffix(tmp_path):
    assert_one_line_error(run("solve", SMALL, "-m", "scope", "--json", tmp_path / "no" / "r.json"), "--json", "does not exist")
    assert_one_line_error(run("solve", SMALL, "-m", "cpsat", "--export", tmp_path / "x.lp"), "--export", ".pb")
    assert_one_line_error(run("solve", SMALL, "-m", "milp", "--export", tmp_path / "x.pb.txt"), "--export", ".lp or .mps")
    assert_one_line_error(run("solve", SMALL, "-m", "scope", "--export", tmp_path / "x.lp"), "--export", "cpsat and milp")
    assert_one_line_error(run("evaluate", SMALL, tmp_path / "m.json", "--json", tmp_path), "--json", "is a directory")


def test_draw_writes_exactly_the_path_it_names(tmp_path):
    run_ok = run("solve", SMALL, "-m", "scope", "--out", tmp_path / "m.json")
    assert run_ok.returncode == 0
    assert_one_line_error(run("draw", SMALL, tmp_path / "m.json", "--out", tmp_path / "pic"), "--out", ".png")
    assert not (tmp_path / "pic.png").exists()
    res = run("draw", SMALL, tmp_path / "m.json", "--out", tmp_path / "pic.png")
    assert res.returncode == 0 and (tmp_path / "pic.png").stat().st_size > 1000


def test_bench_out_that_is_a_file(tmp_path):
    f = tmp_path / "results"
    f.write_text("not a folder")
    assert_one_line_error(run("bench", "small", "--out", f), "--out", "is a file")


def test_json_is_always_valid_json():
    text = dumps({"bound_s": -math.inf, "gap": math.nan, "nested": [math.inf, 1.0]})
    assert strict_json(text) == {"bound_s": None, "gap": None, "nested": [None, 1.0]}


# -- class 7: honest solver output --------------------------------------------------------
def test_huge_batch_is_solved_or_explained(tmp_path):
    """batch = 1e9 (the largest allowed): CP-SAT coarsens its time unit instead of rejecting
    its own model; a MILP either solves it or says why, never a silent 'infeasible'."""
    p = tmp_path / "big.toml"
    p.write_text(SMALL.read_text().replace("batch = 4", "batch = 1000000000"))
    inst = load_instance(p)
    r = solve_exact(inst, Backend.CPSAT, "merged", SolverSettings(time_limit_s=20, threads=1))
    assert r.status == "optimal" and r.stats["unit_s"] > 1e-12
    for backend in (Backend.CBC, Backend.HIGHS):
        m = solve_exact(inst, backend, "merged", SolverSettings(time_limit_s=20, threads=1))
        assert m.status in ("optimal", "feasible", "unknown")
        assert m.mapping is not None and m.evaluation.feasible
        if m.status != "optimal":
            assert "reason" in m.stats or m.stats.get("mapping_from") == "warm start"
        strict_json(dumps(m.to_dict()))


def test_solver_stopped_early_writes_null_not_infinity(tmp_path):
    out = tmp_path / "r.json"
    res = run("solve", ROOT / "instances" / "scaling" / "resnet18-0-12-4x4.toml", "-m", "milp", "--solver", "highs",
              "--time-limit", "0.001", "--json", out)
    assert res.returncode == 0, res.stderr
    data = strict_json(out.read_text())
    assert data["status"] in ("feasible", "unknown", "optimal")
    assert data["bound_s"] is None or math.isfinite(data["bound_s"])


def test_cbc_with_warm_start_and_one_second_is_labelled():
    inst = load_instance(ROOT / "instances" / "scaling" / "resnet18-0-12-6x6.toml")
    r = solve_exact(inst, Backend.CBC, "merged", SolverSettings(time_limit_s=1, threads=2))
    assert r.mapping is not None and r.evaluation.feasible and r.status in ("feasible", "optimal")
    assert r.stats["mapping_from"] in ("solver", "warm start")


def test_ctrl_c_during_cpsat_exits_130_and_is_not_a_finished_solve(tmp_path):
    out = tmp_path / "r.json"
    code, err = interrupt_when(["solve", ROOT / "instances" / "scaling" / "resnet18-0-12-4x4.toml", "-m", "cpsat",
                                "--time-limit", "60", "--json", out], "solving (cpsat")  # CP-SAT then searches ~30 s
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err and not out.exists()


# -- class 8: the bench ------------------------------------------------------------------
@pytest.fixture
def suite(tmp_path):
    folder = tmp_path / "instances" / "mini"
    folder.mkdir(parents=True)
    shutil.copy(SMALL, folder)
    shutil.copytree(ROOT / "models", tmp_path / "models")
    return tmp_path


def test_a_broken_instance_is_reported_and_the_rest_runs(suite):
    (suite / "instances" / "mini" / "broken.toml").write_text("batch = = 1\n")
    out = run_suite("mini", suite, suite / "results", BenchSettings(time_limit_s=5, threads=1))
    summary = (out / "summary.md").read_text()
    assert "could not be read" in summary and "broken.toml" in summary and "malformed TOML" in summary
    assert "tiny-chain4-2x1" in (out / "results.csv").read_text()


def test_truncated_cache_entries_are_recomputed(suite):
    settings = BenchSettings(time_limit_s=5, threads=1)
    out = run_suite("mini", suite, suite / "results", settings)
    entries = sorted((out / "cache").glob("*.json"))
    entries[0].write_text(entries[0].read_text()[:20])  # a crash mid-write, as before atomic writes
    again = run_suite("mini", suite, suite / "results", settings)
    assert (again / "results.csv").read_text() == (out / "results.csv").read_text()
    json.loads(entries[0].read_text())


def test_an_interrupted_result_is_never_cached(suite, monkeypatch):
    real = bench.run_method

    def interrupt_dp(inst, method, *a, **k):
        if method == "dp":
            raise KeyboardInterrupt
        return real(inst, method, *a, **k)

    monkeypatch.setattr(bench, "run_method", interrupt_dp)
    with pytest.raises(KeyboardInterrupt):
        run_suite("mini", suite, suite / "results", BenchSettings(time_limit_s=5, threads=1))
    cached = {p.name.split("__")[1] for p in (suite / "results" / "mini" / "cache").glob("*.json")}
    assert "dp" not in cached and "scope" in cached


@pytest.mark.parametrize("name,words", [("x/y", "cannot name a cache file"), ("../../esc", "cannot name a cache file")])
def test_bad_names_are_refused_and_nothing_escapes_the_cache(suite, name, words):
    p = suite / "instances" / "mini" / "odd.toml"
    p.write_text(SMALL.read_text().replace('name = "tiny-chain4-2x1"', f'name = "{name}"'))
    out = run_suite("mini", suite, suite / "results", BenchSettings(time_limit_s=5, threads=1))
    assert words in (out / "summary.md").read_text()
    assert not list(suite.glob("esc*")) and not list((suite / "results").glob("esc*"))


def test_duplicate_names_in_a_suite_are_refused(suite):
    shutil.copy(SMALL, suite / "instances" / "mini" / "copy.toml")
    with pytest.raises(InputError, match="unique instance names"):
        run_suite("mini", suite, suite / "results", BenchSettings(time_limit_s=5, threads=1))


# -- class 9: long work --------------------------------------------------------------------
def test_absurd_sizes_are_refused_up_front(tmp_path):
    start = time.perf_counter()
    assert_one_line_error(run("solve", instance(tmp_path, hardware="mesh = [1000, 1000]"), "-m", "scope"),
                          "hardware.mesh", "256")
    assert_one_line_error(run("solve", instance(tmp_path, hardware="mesh = [64, 64]"), "-m", "scope"),
                          "hardware.mesh", "4096 chiplets", "1024")
    assert time.perf_counter() - start < 30


def test_rank_json_on_stdout_is_only_json(tmp_path):
    """No valid sample (on ResNet-50 8x8 almost no uniform mapping fits): the explanation
    goes to the human output only; --json - carries JSON alone."""
    p = ROOT / "instances" / "paper" / "resnet50-simba-8x8.toml"
    res = run("rank", p, "-m", "sequential", "--samples", "20", "--json", "-")
    assert res.returncode == 0, res.stderr
    data = strict_json(res.stdout)
    assert data["method"] == "sampled" and data["rank"] is None and data["valid_samples"] == 0
    human = run("rank", p, "-m", "sequential", "--samples", "20")
    assert "no valid mapping among 20" in human.stdout
