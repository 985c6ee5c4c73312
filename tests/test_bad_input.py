"""Every bad input gets one line naming the file and the field, exit code 2, no traceback."""

import json
import subprocess
import sys

import pytest

from conftest import one_line_error


GOOD_NET = "input: {C: 3, H: 8, W: 8}\nlayers:\n  - {name: a, K: 4, R: 3}\n  - {name: b, K: 4, R: 3}\n"


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "scope_opt.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def instance(tmp_path, net=GOOD_NET, hardware="mesh = [2, 2]", extra="", model="net.yaml"):
    (tmp_path / "net.yaml").write_text(net)
    path = tmp_path / "inst.toml"
    path.write_text(f'batch = 2\n[workload]\nmodel = "{model}"\n[hardware]\n{hardware}\n{extra}')
    return path


assert_one_line_error = one_line_error


def test_missing_instance_file(tmp_path):
    assert_one_line_error(run("show", tmp_path / "nope.toml"), "nope.toml", "file not found")


def test_malformed_toml(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("batch = = 3\n")
    assert_one_line_error(run("show", p), "bad.toml", "malformed TOML")


def test_malformed_yaml(tmp_path):
    p = instance(tmp_path, net="input: {C: 3, H: 8\nlayers: [\n")
    assert_one_line_error(run("show", p), "net.yaml", "malformed YAML")


def test_unknown_model(tmp_path):
    p = instance(tmp_path, model="resnet9000")
    assert_one_line_error(run("show", p), "inst.toml", "workload.model", "resnet9000")


@pytest.mark.parametrize("field,value", [("K", 0), ("K", -3), ("R", 0)])
def test_zero_or_negative_dimension(tmp_path, field, value):
    fields = {"K": 4, "R": 3, field: value}
    net = "input: {C: 3, H: 8, W: 8}\nlayers:\n  - {name: a, " + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}\n"
    res = run("show", instance(tmp_path, net=net))
    assert_one_line_error(res, "net.yaml", f"layers[0] (a).{field}", "an integer in [1,")


def test_shapes_that_do_not_chain(tmp_path):
    net = GOOD_NET.replace("{name: b, K: 4, R: 3}", "{name: b, K: 4, C: 5, R: 3}")
    assert_one_line_error(run("show", instance(tmp_path, net=net)), "net.yaml", "layers[1] (b).C", "expected 4")


def test_wrong_output_rows(tmp_path):
    net = GOOD_NET.replace("{name: b, K: 4, R: 3}", "{name: b, K: 4, R: 3, stride: 2, H: 8}")
    assert_one_line_error(run("show", instance(tmp_path, net=net)), "layers[1] (b).H", "expected 4")


def test_residual_shape_mismatch(tmp_path):
    net = GOOD_NET.replace("{name: b, K: 4, R: 3}", "{name: b, K: 8, R: 3, residual: a}")
    assert_one_line_error(run("show", instance(tmp_path, net=net)), "layers[1] (b).residual", "shapes must be equal")


def test_mesh_of_zero_chiplets(tmp_path):
    assert_one_line_error(run("show", instance(tmp_path, hardware="mesh = [0, 4]")), "inst.toml", "hardware.mesh", "integers in [1, 256]")


def test_unknown_partition_name(tmp_path):
    p = instance(tmp_path, extra='[space]\npartitions = ["K", "W"]\n')
    assert_one_line_error(run("show", p), "inst.toml", "space.partitions", "hybrid")


def test_bad_mapping_json(tmp_path):
    p = instance(tmp_path)
    m = tmp_path / "m.json"
    m.write_text('{"segments": [')
    assert_one_line_error(run("evaluate", p, m), "m.json", "malformed JSON")
    m.write_text(json.dumps({"segments": [{"clusters": [{"layers": [0, 2], "chiplets": 5, "partitions": [[5, 1], [5, 1]]}]}]}))
    assert_one_line_error(run("evaluate", p, m), "m.json", "segments[0].clusters[0].chiplets", "1..4")


def test_network_that_cannot_fit_is_reported_infeasible(tmp_path):
    """A 1x1 package with 512 B of SRAM: layer a streams its weights, layer b cannot be mapped."""
    p = instance(tmp_path, hardware="mesh = [1, 1]\nsram_kib = 0.5")
    res = run("show", p, "--json", "-")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["feasible"] is False
    unfit = {u["name"]: u["bytes"] for u in out["unfit_layers"]}
    # a: weights 4*3*9 = 108, input 3*8*8 = 192, output 4*8*8 = 256 -> 556 bytes > 512, but the
    #    448 B of activations leave 64 B for weight tiles: t = ceil(108 / 64) = 2 passes
    # b: weights 4*4*9 = 144, input 256 + output 256 = 512 B of activations: no room at all
    assert unfit == {"b": 512}
    assert [(t["name"], t["passes"], t["chiplets"]) for t in out["tiled_layers"]] == [("a", 2, 1)]
    human = run("show", p)
    assert "infeasible" in human.stdout and "512 bytes" in human.stdout and "2 passes" in human.stdout
