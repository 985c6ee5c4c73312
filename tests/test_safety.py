"""Safety with hostile and careless input: names never pick a path outside their folder,
nothing is overwritten silently, caches and workers are not trusted, ONNX graphs that
would import as another network are refused."""

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import onnx
import pytest
from onnx import TensorProto, helper

from conftest import ROOT, one_line_error
from scope_opt.errors import InputError
from scope_opt.problem.onnx_import import import_onnx
from scope_opt.studies.sweep import load_sweep, run_sweep, valid_row

TINY = ROOT / "instances" / "small" / "tiny-chain4-2x1.toml"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "scope_opt.cli", *map(str, args)], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def spec(tmp_path, body, network_name="tiny"):
    net = (ROOT / "models" / "tiny_chain4.yaml").read_text().replace("name: tiny_chain4", f"name: {json.dumps(network_name)}")
    (tmp_path / "net.yaml").write_text(net)
    path = tmp_path / "s.toml"
    path.write_text(f'name = "s"\nnetworks = ["{tmp_path / "net.yaml"}"]\nmethods = ["scope"]\n' + body
                    + '\n[hardware]\nmesh = [2, 1]\n')
    return path


# -- names are data -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["/abs/path/X", "../../../X", "a/b", "..", "-x"])
def test_a_network_name_never_picks_a_path(tmp_path, name):
    with pytest.raises(InputError, match="cannot name a file"):
        load_sweep(spec(tmp_path, "[grid]\nsram_kib = [256, 512]\n", name))
    assert not any(tmp_path.parent.glob("X*"))


@pytest.mark.parametrize("name", ["/abs/X", "../X", "a/b"])
def test_import_name_never_picks_a_path(tmp_path, name):
    from scope_opt.problem.onnx_export import export_onnx
    from scope_opt.problem.network_yaml import load_network
    export_onnx(load_network(ROOT / "models" / "tiny_chain4.yaml"), tmp_path / "t.onnx")
    one_line_error(cli("import", tmp_path / "t.onnx", "--name", name, cwd=tmp_path), "--name", "cannot name a file")


def test_import_writes_here_and_never_overwrites_without_force(tmp_path):
    from scope_opt.problem.onnx_export import export_onnx
    from scope_opt.problem.network_yaml import load_network
    export_onnx(load_network(ROOT / "models" / "tiny_chain4.yaml"), tmp_path / "t.onnx")
    bundled = (ROOT / "models" / "tiny_chain4.yaml").read_text()
    assert cli("import", tmp_path / "t.onnx", cwd=tmp_path).returncode == 0
    assert (tmp_path / "t.yaml").is_file() and (ROOT / "models" / "tiny_chain4.yaml").read_text() == bundled
    one_line_error(cli("import", tmp_path / "t.onnx", cwd=tmp_path), "t.yaml", "--force")
    assert cli("import", tmp_path / "t.onnx", "--force", cwd=tmp_path).returncode == 0


# -- sweep specs that would misreport --------------------------------------------------------------
@pytest.mark.parametrize("body, words", [
    ("batch = []\n", ("batch", "non-empty")),
    ("[grid]\nsram_kib = [256, 256]\n", ("grid.sram_kib", "distinct")),
    ("[grid]\nsram_kib = [64, 64.0]\n", ("grid.sram_kib",)),
])
def test_sweep_specs_that_would_misreport_are_refused(tmp_path, body, words):
    with pytest.raises(InputError) as exc:
        load_sweep(spec(tmp_path, body))
    assert all(w in str(exc.value) for w in words), exc.value


def test_distinct_grid_values_get_distinct_names(tmp_path):
    sw = load_sweep(spec(tmp_path, "[grid]\nsram_kib = [64, 64.0000001]\n"))
    assert len({c.name for c in sw.cells}) == 2


def test_a_huge_grid_is_counted_before_it_is_expanded(tmp_path):
    values = ", ".join(str(v) for v in range(1, 1001))
    body = f"[grid]\nsram_kib = [{values}]\nnop_gbps = [{values}]\ndram_gbps = [{values}]\nfreq_ghz = [{values}]\n"
    with pytest.raises(InputError, match="cells is more than"):
        load_sweep(spec(tmp_path, body))


@pytest.mark.parametrize("libyaml", [True, False])
def test_duplicate_yaml_keys_and_aliases_are_refused(tmp_path, monkeypatch, libyaml):
    """Both readers refuse them: libyaml's C parser and PyYAML's own (where libyaml is missing)."""
    import yaml
    if not libyaml:
        monkeypatch.delattr(yaml, "CSafeLoader")
    from scope_opt.problem.network_yaml import load_network
    for text, word, line in (("name: a\nname: b\n", "duplicate key", 2), ("x: &a [1]\nname: *a\n", "aliases", 2),
                             ("layers:\n  - {name: c, K: 1, K: 2}\n", "duplicate key", 2)):
        path = tmp_path / "n.yaml"
        path.write_text(text + "input: {C: 1, H: 1, W: 1}\n" + ("" if "layers" in text else "layers: [{name: c, K: 1}]\n"))
        with pytest.raises(InputError, match=f"line {line}: .*{word}"):
            load_network(path)
    path.write_text("input: {C: 1, H: 1, W: 1}\nlayers: [{name: c, K: 2}]\n")
    assert [layer.name for layer in load_network(path).layers] == ["c"]


@pytest.mark.parametrize("address", ["", "garbage", "http://[::1", "tcp://", "tcp://host"])
def test_scheduler_addresses_are_checked(address):
    one_line_error(cli("sweep", ROOT / "instances" / "sweeps" / "simba-dse.toml", "--scheduler", address), "--scheduler")


def test_a_peer_that_is_no_scheduler_gives_one_line():
    class Http(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Http)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        res = cli("sweep", ROOT / "instances" / "sweeps" / "simba-dse.toml", "--scheduler",
                  f"tcp://127.0.0.1:{server.server_port}", "--out", "/tmp/scope-opt-never-written")
    finally:
        server.shutdown()
    one_line_error(res, "--scheduler", "cannot reach")


# -- caches and workers are not trusted -------------------------------------------------------
def test_sweep_cache_entries_and_worker_rows_are_validated(tmp_path):
    path = spec(tmp_path, "")
    out = run_sweep(path, tmp_path / "out")
    cell = load_sweep(path).cells[0]
    entry = out / "cache" / f"{cell.key}.json"
    good = json.loads(entry.read_text())
    assert valid_row(good, cell)
    for bad in (0, [], {"cell": "other"}, {**good, "status": "pwned"}, {**good, "latency_s": "1; rm -rf"},
                {**good, "latency_s": -1.0}):
        assert not valid_row(bad, cell)
    entry.write_text("0")
    run_sweep(path, tmp_path / "out")  # recomputed, not crashed on
    assert json.loads(entry.read_text()) == {**good, "solve_time_s": json.loads(entry.read_text())["solve_time_s"]}


def test_bench_keys_a_user_heuristic_by_its_code(tmp_path, monkeypatch):
    from scope_opt.studies.bench import BenchSettings, cache_key
    from scope_opt.problem.instance import load_instance
    mod = tmp_path / "myheur.py"
    mod.write_text("def h(instance):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    inst = load_instance(TINY)
    k1 = cache_key(TINY, inst, "user:myheur:h", BenchSettings())
    mod.write_text("def h(instance):\n    return 1\n")
    sys.modules.pop("myheur", None)
    assert cache_key(TINY, inst, "user:myheur:h", BenchSettings()) != k1


def test_user_heuristics_cannot_exit_lie_about_types_change_the_instance_or_run_on(tmp_path, monkeypatch):
    from scope_opt.problem.instance import load_instance
    from scope_opt.studies.user_heuristic import run_user_heuristic
    from scope_opt.cost.reference import CostModel
    mod = tmp_path / "bad_heur.py"
    mod.write_text(
        "import os, sys, time\nfrom scope_opt.problem.mapping import Cluster, Mapping, Segment\n"
        "def exits(instance):\n    sys.exit(0)\n"
        "def hard_exits(instance):\n    os._exit(0)\n"
        "def sleeps(instance):\n    time.sleep(60)\n"
        "def booleans(instance):\n    return Mapping((Segment((Cluster(0, 4, True, ((True, True),) * 4),)),))\n"
        "def mutates(instance):\n    object.__setattr__(instance, 'batch', 10**6)\n"
        "    return Mapping((Segment((Cluster(0, 4, 2, ((1, 2),) * 4),)),))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    inst = load_instance(TINY)
    cost = CostModel(inst)
    for fn, word in (("exits", "called exit"), ("hard_exits", "without returning"), ("sleeps", "within 2 s"),
                     ("booleans", "integer")):
        with pytest.raises(InputError, match=word):
            run_user_heuristic(inst, f"bad_heur:{fn}", cost, time_limit_s=2)
    res = run_user_heuristic(inst, "bad_heur:mutates", cost, time_limit_s=30)
    assert inst.batch == 4 and res.evaluation.batch == 4


# -- ONNX graphs that would import as another network ------------------------------------------------
def _graph(tmp_path, nodes, inputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], list(inits))
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
W = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], [0.0] * 108)


@pytest.mark.parametrize("nodes, inits, words", [
    ([helper.make_node("Conv", ["x"], ["y"], name="c")], [], "no weight input"),
    ([helper.make_node("Gemm", ["x"], ["y"], name="g")], [], "constant 2-d weight"),
    ([helper.make_node("MaxPool", ["x"], ["y"], name="p", kernel_shape=[2])], [], "2-d pool"),
    ([helper.make_node("Relu", ["x"], [], name="r")], [], "no outputs"),
    ([helper.make_node("Relu", ["t"], ["y"], name="late"), helper.make_node("Conv", ["x", "w"], ["t"], name="c")], [W],
     "no earlier node makes"),
    ([helper.make_node("Conv", ["x", "w"], ["a"], name="c"), helper.make_node("Add", ["a", "b"], ["b"], name="loop")], [W],
     "no earlier node makes"),
])
def test_onnx_graphs_that_would_import_wrong_are_refused(tmp_path, nodes, inits, words):
    with pytest.raises(InputError, match=words):
        import_onnx(_graph(tmp_path, nodes, [X], inits))


def test_input_shape_cannot_silently_override_a_declared_input(tmp_path):
    path = _graph(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], name="c")], [X], [W])
    with pytest.raises(InputError, match="would change the network"):
        import_onnx(path, (64, 100, 100))
    assert import_onnx(path, (3, 8, 8)).description["input"] == {"C": 3, "H": 8, "W": 8}


def test_a_bench_suite_naming_an_onnx_model_runs(tmp_path):
    from scope_opt.problem.onnx_export import export_onnx
    from scope_opt.problem.network_yaml import load_network
    suite = tmp_path / "instances" / "ox"
    suite.mkdir(parents=True)
    export_onnx(load_network(ROOT / "models" / "tiny_chain4.yaml"), suite / "t.onnx")
    (suite / "i.toml").write_text('name = "onnx-tiny"\nbatch = 2\n[workload]\nmodel = "t.onnx"\n[hardware]\nmesh = [2, 1]\n')
    from scope_opt.studies.bench import BenchSettings, cache_key
    from scope_opt.problem.instance import load_instance
    assert len(cache_key(suite / "i.toml", load_instance(suite / "i.toml"), "scope", BenchSettings())) == 16


def test_an_os_error_while_writing_is_one_line(tmp_path):
    """OUT/<suite> is a file, not a folder: the bench cannot write there (root included)."""
    shutil.copytree(ROOT / "models", tmp_path / "models")
    (tmp_path / "instances" / "mini").mkdir(parents=True)
    shutil.copy(TINY, tmp_path / "instances" / "mini")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mini").write_text("in the way")
    res = cli("bench", "mini", "--out", tmp_path / "out", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr  # the bar may have started; one error line
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "mini" in errors[0] and "Not a directory" in errors[0]


def test_a_nested_list_as_inputs_is_one_line(tmp_path):
    net = tmp_path / "n.yaml"
    net.write_text("input: {C: 1, H: 4, W: 4}\nlayers: [{name: c, K: 2, inputs: [[input]]}]\n")
    from scope_opt.problem.network_yaml import load_network
    with pytest.raises(InputError, match="inputs"):
        load_network(net)


def test_a_sweep_of_a_symbolic_onnx_model_takes_input_shape(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    path = _graph(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], name="c")], [x], [W])
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(f'name = "sym"\nnetworks = ["{path}"]\nmethods = ["scope"]\ninput_shape = [3, 8, 8]\n'
                         '[hardware]\nmesh = [2, 1]\n')
    sw = load_sweep(spec_path)
    assert sw.cells[0].network_raw["input"] == {"C": 3, "H": 8, "W": 8}
    spec_path.write_text(spec_path.read_text().replace("input_shape = [3, 8, 8]", "input_shape = [3, 8]"))
    with pytest.raises(InputError, match="input_shape"):
        load_sweep(spec_path)
