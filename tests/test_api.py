"""The supported Python API: the worked example of docs/api.md runs as written, and the
entry points check their input like the command line."""

import os
import re

import pytest

from conftest import ROOT
import scope_opt as so


def test_the_api_example_in_the_docs_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "instances").symlink_to(ROOT / "instances")
    (tmp_path / "models").symlink_to(ROOT / "models")
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.S)
    assert len(blocks) >= 4
    scope: dict = {}
    for code in blocks:
        exec(compile(code, "docs/api.md", "exec"), scope)
    assert (tmp_path / "optimum.png").stat().st_size > 0 and (tmp_path / "optimum-trace.json").stat().st_size > 0
    assert "above it" in capsys.readouterr().out


def test_entry_points_are_exported_and_check_input():
    assert {"load_instance", "network", "instance", "solve", "evaluate", "draw"} <= set(dir(so))
    with pytest.raises(so.InputError, match="layers"):
        so.network({"input": {"C": 1, "H": 1, "W": 1}, "layers": []})
    net = so.network({"input": {"C": 3, "H": 8, "W": 8}, "layers": [{"name": "c", "K": 4, "R": 3}]})
    with pytest.raises(so.InputError, match="mesh"):
        so.instance(net, mesh=(0, 2))
    with pytest.raises(so.InputError, match="--method"):
        so.solve(so.instance(net, mesh=(1, 1)), "nope")
    res = so.solve(so.instance(net, mesh=(2, 1)), "dp")
    assert res.to_dict()["status"] == "optimal" and res.evaluation.to_dict()["feasible"]
    assert os.path.basename(so.__file__) == "__init__.py"
