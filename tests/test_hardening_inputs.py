"""Issue classes 1-4 and 6: unreadable files, bad numbers, unknown keys, user text printed
literally, and bad options.  Each bad input ends in one line naming the file and the
field, exit code 2, no traceback."""

import os

import pytest

from conftest import ROOT
from test_bad_input import assert_one_line_error, instance, run

SMALL = ROOT / "instances" / "small" / "tiny-chain4-2x1.toml"


# -- class 1: files that cannot be read or decoded ------------------------------------
@pytest.mark.parametrize("content,words", [
    (b"batch = 2\x00\x01\x02", ["binary"]),
    ("batch = 2 # caf\u00e9".encode("latin-1"), ["not UTF-8"]),
])
def test_binary_or_non_utf8_toml(tmp_path, content, words):
    p = tmp_path / "i.toml"
    p.write_bytes(content)
    assert_one_line_error(run("show", p), "i.toml", *words)


def test_binary_yaml_and_json(tmp_path):
    p = instance(tmp_path)
    (tmp_path / "net.yaml").write_bytes(b"\xff\xfe\x00garbage")
    assert_one_line_error(run("show", p), "net.yaml", "binary")
    m = tmp_path / "m.json"
    m.write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    assert_one_line_error(run("evaluate", SMALL, m), "m.json", "binary")


def test_directory_and_device_paths(tmp_path):
    assert_one_line_error(run("show", tmp_path), str(tmp_path.name), "is a directory")
    assert_one_line_error(run("show", "/dev/null"), "/dev/null", "not a regular file")
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    assert_one_line_error(run("show", fifo), "pipe.toml", "not a regular file")


@pytest.mark.parametrize("kind,text", [("toml", "a = " + "[" * 50000), ("yaml", "a: " + "[" * 50000),
                                       ("json", "[" * 50000)])
def test_deeply_nested_documents(tmp_path, kind, text):
    if kind == "toml":
        p = tmp_path / "i.toml"
        p.write_text(text)
        res = run("show", p)
    elif kind == "yaml":
        p = instance(tmp_path)
        (tmp_path / "net.yaml").write_text(text)
        res = run("show", p)
    else:
        p = tmp_path / "m.json"
        p.write_text(text)
        res = run("evaluate", SMALL, p)
    assert_one_line_error(res, "nested too deeply")


# -- class 2: numbers -----------------------------------------------------------------
@pytest.mark.parametrize("hardware,field", [
    ("mesh = [2, 2]\nsram_kib = nan", "hardware.sram_kib"),
    ("mesh = [2, 2]\nfreq_ghz = nan", "hardware.freq_ghz"),
    ("mesh = [2, 2]\nnop_gbps = inf", "hardware.nop_gbps"),
    ("mesh = [2, 2]\ndram_gbps = -inf", "hardware.dram_gbps"),
    ("mesh = [2, 2]\nsram_kib = 1e300", "hardware.sram_kib"),
    ("mesh = [2, 2]\n[hardware.energy]\nmac_pj = nan", "hardware.energy.mac_pj"),
    ("mesh = [2, 2]\n[hardware.energy]\ndram_pj_per_byte = -1.0", "hardware.energy.dram_pj_per_byte"),
    ("mesh = [2, 2]\nbytes_per_element = 1.5", "hardware.bytes_per_element"),
    ("mesh = [2, 2]\nfreq_ghz = true", "hardware.freq_ghz"),
    ("mesh = [2, 2]\nsram_kib = [752]", "hardware.sram_kib"),
])
def test_non_finite_or_out_of_range_hardware(tmp_path, hardware, field):
    assert_one_line_error(run("show", instance(tmp_path, hardware=hardware)), "inst.toml", field)


def test_batch_and_name_types(tmp_path):
    p = instance(tmp_path)
    p.write_text(p.read_text().replace("batch = 2", "batch = 1000000000000"))
    assert_one_line_error(run("show", p), "inst.toml", "batch", "1e+09")
    p.write_text(p.read_text().replace("batch = 1000000000000", 'batch = 2\nname = ["t"]'))
    assert_one_line_error(run("show", p), "inst.toml", "name", "non-empty string")


@pytest.mark.parametrize("layer,field", [
    ("{name: a, K: 4000000000000000000, R: 3}", "layers[0] (a).K"),
    ("{name: a, K: .nan, R: 3}", "layers[0] (a).K"),
    ("{name: a, K: 4, R: 3, stride: 1.0e+99}", "layers[0] (a).stride"),
    ("{name: a, K: 4, R: 3, residual: [a]}", "layers[0] (a).residual"),
    ("{name: [a], K: 4}", "layers[0].name"),
])
def test_huge_or_mistyped_layer_fields(tmp_path, layer, field):
    net = "input: {C: 3, H: 8, W: 8}\nlayers:\n  - " + layer + "\n"
    assert_one_line_error(run("show", instance(tmp_path, net=net)), "net.yaml", field)


def test_a_layer_too_large_for_exact_integers(tmp_path):
    net = "input: {C: 1048576, H: 1048576, W: 1048576}\nlayers:\n  - {name: a, K: 1048576, R: 1}\n"
    assert_one_line_error(run("show", instance(tmp_path, net=net)), "net.yaml", "2^53")


# -- class 3: unknown keys --------------------------------------------------------------
@pytest.mark.parametrize("hardware,extra,field,suggestion", [
    ("mesh = [2, 2]\nsram_KiB = 8", "", "hardware.sram_KiB", "sram_kib"),
    ("mesh = [2, 2]\nfreq_gz = 2.0", "", "hardware.freq_gz", "freq_ghz"),
    ("mesh = [2, 2]\n[hardware.energy]\nmac_pJ = 1.0", "", "hardware.energy.mac_pJ", "mac_pj"),
    ("mesh = [2, 2]", "[space]\npartition = [\"K\", \"H\"]", "space.partition", "partitions"),
])
def test_misspelt_keys_are_refused_with_a_suggestion(tmp_path, hardware, extra, field, suggestion):
    assert_one_line_error(run("show", instance(tmp_path, hardware=hardware, extra=extra)), "inst.toml", field,
                          f"did you mean '{suggestion}'")


def test_misspelt_workload_key(tmp_path):
    p = instance(tmp_path)
    p.write_text(p.read_text().replace('[workload]\n', '[workload]\nlayer = [0, 1]\n'))
    assert_one_line_error(run("show", p), "inst.toml", "workload.layer", "did you mean 'layers'")


# -- class 4: user text printed as markup --------------------------------------------------
@pytest.mark.parametrize("name", ["odd[/]name", "[bold]loud[/bold]", "a[red]b"])
def test_names_with_markup_print_literally(tmp_path, name):
    folder = tmp_path / "dir[bold]x[/]"  # "[/]" as a path: a folder "dir[bold]x[" holding "]"
    folder.mkdir(parents=True)
    p = instance(folder)
    text = p.read_text().replace("batch = 2", f'batch = 2\nname = "{name}"')
    p.write_text(text)
    res = run("show", p)
    assert res.returncode == 0 and name in res.stdout, res.stderr
    # an error about a file in that folder names the path exactly
    (folder / "net.yaml").write_text("input: {C: 3, H: 8\n")
    assert_one_line_error(run("show", p), "dir[bold]x[/]/net.yaml", "malformed YAML")


# -- class 6: options --------------------------------------------------------------------
@pytest.mark.parametrize("args,option", [
    (["solve", SMALL, "-m", "cpsat", "--time-limit", "nan"], "--time-limit"),
    (["solve", SMALL, "-m", "cpsat", "--time-limit", "-1"], "--time-limit"),
    (["solve", SMALL, "-m", "cpsat", "--seed", "99999999999"], "--seed"),
    (["solve", SMALL, "-m", "cpsat", "--threads", "0"], "--threads"),
    (["solve", SMALL, "-m", "cpsat", "--gap", "1.5"], "--gap"),
    (["solve", SMALL, "-m", "enumerate", "--max-mappings", "-5"], "--max-mappings"),
    (["rank", SMALL, "-m", "scope", "--samples", "-10"], "--samples"),
    (["rank", SMALL, "-m", "scope", "--samples", "0"], "--samples"),
    (["space", SMALL, "--samples", "-1"], "--samples"),
    (["bench", "small", "--time-limit", "inf"], "--time-limit"),
    (["bench", "small", "--threads", "-2"], "--threads"),
])
def test_bad_options_one_validation_for_every_command(args, option):
    assert_one_line_error(run(*args), "(arguments)", option)
