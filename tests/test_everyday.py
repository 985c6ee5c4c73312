"""Everyday use, as a new user meets it: hostile names, folders that take no file, terminal
tables at 80 columns, the bench's outputs, traces, sweep instances that run alone."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, one_line_error

TINY = ROOT / "instances" / "small" / "tiny-residual-2x2.toml"


def cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "scope_opt.cli", *map(str, args)], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, **(env or {})})


@pytest.fixture
def project(tmp_path):
    """A folder with the bundled models and one instance renamed with markup."""
    shutil.copytree(ROOT / "models", tmp_path / "models")
    text = TINY.read_text().replace('name = "tiny-residual-2x2"', 'name = "[/] net"')
    (tmp_path / "markup.toml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("args", [("solve", "--method", "scope"), ("solve", "--method", "dp"), ("show",),
                                  ("solve", "--method", "milp")])
def test_markup_in_a_name_is_printed_literally(project, args):
    res = cli(args[0], project / "markup.toml", *args[1:])
    assert res.returncode == 0, res.stderr
    assert "[/] net" in res.stdout and "Traceback" not in res.stderr


@pytest.mark.parametrize("args", [
    ("solve", TINY, "--json", "/proc/r.json"), ("show", TINY, "--json", "/proc/r.json"),
    ("solve", TINY, "--out", "/proc/m.json"), ("solve", TINY, "-m", "milp", "--export", "/proc/m.lp"),
    ("draw", TINY, ROOT / "tests" / "data" / "two_layer.toml", "--out", "/proc/m.png"),
    ("draw", TINY, ROOT / "tests" / "data" / "two_layer.toml", "--trace", "/proc/t.json"),
    ("bench", "small", "--out", "/proc/bench")])
def test_a_folder_that_takes_no_new_file_is_refused_before_work(args):
    one_line_error(cli(*args), "/proc", "not writable")


@pytest.mark.parametrize("spec, words", [("nocolon", ("--heuristic", "package.module:function")),
                                         ("no_such_module_xyz:f", ("--heuristic", "cannot load"))])
def test_a_bad_heuristic_is_refused_up_front(tmp_path, spec, words):
    res = cli("bench", "small", "--heuristic", spec, "--out", tmp_path)
    one_line_error(res, *words)
    assert not (tmp_path / "small").exists()


def test_bench_says_on_the_terminal_which_instances_it_skips_and_survives_names_with_a_slash(tmp_path):
    suite = tmp_path / "instances" / "odd"
    suite.mkdir(parents=True)
    shutil.copytree(ROOT / "models", tmp_path / "models")
    (suite / "slash.toml").write_text(TINY.read_text().replace('name = "tiny-residual-2x2"', 'name = "x/y"'))
    (suite / "broken.toml").write_text("batch = [\n")
    res = cli("bench", "odd", "--out", tmp_path / "out", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "skipped" in res.stderr and "broken.toml" in res.stderr and "slash.toml" in res.stderr
    summary = (tmp_path / "out" / "odd" / "summary.md").read_text()
    assert "broken.toml" in summary and "x/y" in summary


def test_cbc_shows_its_log_with_verbose():
    res = cli("solve", TINY, "-m", "milp", "--solver", "cbc", "--verbose", "--json", "-")
    assert res.returncode == 0, res.stderr
    assert "CBC MILP Solver" in res.stderr and "UserWarning" not in res.stderr
    assert json.loads(res.stdout)["method"] == "milp-cbc"


def test_solver_banners_never_reach_stdout():
    res = cli("solve", TINY, "-m", "milp", "--solver", "highs", "--json", "-")
    assert res.returncode == 0 and json.loads(res.stdout)["status"] == "optimal"
    assert "HiGHS" not in res.stdout and "Copyright" not in res.stdout


def test_tables_fit_80_columns_and_wide_shows_everything():
    env = {"COLUMNS": "80"}
    res = cli("solve", ROOT / "instances" / "default.toml", "-m", "scope", env=env)
    assert res.returncode == 0, res.stderr
    lines = [l for l in res.stdout.splitlines() if not l.startswith("mapping:")]
    assert max(len(l) for l in lines) <= 80
    assert "…" not in res.stdout  # no header or value cut
    assert "0:24" in res.stdout and "first:last = half-open" in res.stdout  # one range convention, said once
    flat = " ".join(res.stdout.split())
    assert "of the package's peak MAC rate" in flat and "proven gap (T - T*) / T" in flat
    wide = cli("solve", ROOT / "instances" / "default.toml", "-m", "scope", "--wide", env={"COLUMNS": "200"})
    assert "DRAM time" in wide.stdout and "compute" in wide.stdout
    shown = cli("show", ROOT / "instances" / "default.toml", env=env)
    assert max(len(l) for l in shown.stdout.splitlines()) <= 80


def test_heuristic_solve_reports_its_proven_gap(tmp_path):
    out = tmp_path / "r.json"
    res = cli("solve", TINY, "-m", "segmented", "--json", out)
    assert res.returncode == 0, res.stderr
    payload = json.loads(out.read_text())
    g = payload["proven_gap"]
    assert g["proved_by"] == "dp-segmented"
    assert g["gap_to_optimum"] == (payload["latency_s"] - g["optimum_s"]) / payload["latency_s"]


def test_draw_writes_a_chrome_trace(tmp_path):
    mapping, trace = tmp_path / "m.json", tmp_path / "t.json"
    assert cli("solve", TINY, "-m", "scope", "--out", mapping).returncode == 0
    res = cli("draw", TINY, mapping, "--trace", trace)
    assert res.returncode == 0, res.stderr
    data = json.loads(trace.read_text())
    ev = json.loads(cli("evaluate", TINY, mapping, "--json", "-").stdout)
    spans = [e for e in data["traceEvents"] if e["ph"] == "X"]
    batch = ev["batch"]
    assert len(spans) == len(ev["segments"]) + batch * len(ev["clusters"])  # a load per segment, a stage per sample
    end = max(e["ts"] + e["dur"] for e in spans)
    assert end == pytest.approx(ev["latency_s"] * 1e6, rel=1e-9)
    assert all(e["ts"] >= 0 and e["dur"] >= 0 for e in spans)
    assert not (tmp_path / "mapping.png").exists()  # --trace alone writes no picture


def test_generated_sweep_instances_run_on_their_own(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(f'name = "mini"\nnetworks = ["{ROOT / "models" / "tiny_chain4.yaml"}"]\nmethods = ["scope"]\n'
                    '[hardware]\nmesh = [2, 1]\n[grid]\nsram_kib = [256, 512]\n')
    assert cli("sweep", spec, "--out", tmp_path / "out").returncode == 0
    files = sorted((tmp_path / "out" / "mini" / "instances").glob("*.toml"))
    assert len(files) == 2
    for f in files:
        res = cli("solve", f, "-m", "scope", "--json", "-", cwd="/")
        assert res.returncode == 0 and json.loads(res.stdout)["status"] == "heuristic", res.stderr


def test_committed_sweep_instances_name_their_model_by_a_path_that_exists():
    files = list((ROOT / "results").glob("*/instances/*.toml"))
    assert files
    for f in files:
        model = tomllib.loads(f.read_text())["workload"]["model"]
        assert (f.parent / model).is_file(), (f, model)


def test_outputs_honour_the_umask(tmp_path):
    out = tmp_path / "r.json"
    old = os.umask(0o022)
    try:
        assert cli("solve", TINY, "--json", out).returncode == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


def test_readme_makes_the_venv_first_and_says_how_long_the_tests_take():
    text = (ROOT / "README.md").read_text()
    setup = text[text.index("## Set-up"):text.index("## Commands")]
    assert setup.index("python3 -m venv") < setup.index("pip install -e .")
    assert "minutes" in setup
    assert Path(ROOT / "docs" / "api.md").is_file()


def test_every_method_gets_its_own_colour():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scope_opt.methods.registry import METHODS
    from scope_opt.studies.bench_plots import colours
    c = colours(plt, sorted(METHODS) + ["user:x", "ablation:partition"])
    assert len(set(c.values())) == len(c) == len(METHODS) + 2
