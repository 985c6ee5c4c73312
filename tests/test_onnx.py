"""ONNX import: graphs built in code with onnx.helper (no downloads) import to the network
a person would write by hand, layer by layer; the bundled networks survive a round trip
through the project's own ONNX writer; bad files and unsupported operators get one line."""

import json
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper

from conftest import ROOT
from scope_opt.errors import InputError
from scope_opt.problem.instance import load_instance
from scope_opt.problem.network_yaml import build_network, load_network
from scope_opt.problem.onnx_export import export_onnx
from scope_opt.problem.onnx_import import import_onnx, load_onnx_network


class G:
    """A tiny graph builder: weights are graph inputs with shapes only (no data)."""

    def __init__(self, c, h, w, symbolic=False):
        dims = ["N", c, h, w] if not symbolic else ["N", "C", "H", "W"]
        self.inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)]
        self.nodes, self.inits = [], []

    def conv(self, name, src, k, c, r, stride=1, pad=None, group=1, bn=True, relu=True):
        w = f"{name}.w"
        self.inputs.append(helper.make_tensor_value_info(w, TensorProto.FLOAT, [k, c // group, r, r]))
        pad = (r - 1) // 2 if pad is None else pad
        self.nodes.append(helper.make_node("Conv", [src, w], [f"{name}.o"], name=name, kernel_shape=[r, r],
                                           strides=[stride, stride], pads=[pad] * 4, group=group))
        out = f"{name}.o"
        if bn:
            params = [f"{name}.{p}" for p in ("g", "b", "m", "v")]
            for p in params:
                self.inits.append(helper.make_tensor(p, TensorProto.FLOAT, [k], [1.0] * k))
            self.nodes.append(helper.make_node("BatchNormalization", [out, *params], [f"{name}.bn"], name=f"{name}_bn"))
            out = f"{name}.bn"
        if relu:
            self.nodes.append(helper.make_node("Relu", [out], [f"{name}.r"], name=f"{name}_relu"))
            out = f"{name}.r"
        return out

    def add(self, name, a, b, relu=True):
        self.nodes.append(helper.make_node("Add", [a, b], [f"{name}.o"], name=name))
        out = f"{name}.o"
        if relu:
            self.nodes.append(helper.make_node("Relu", [out], [f"{name}.r"], name=f"{name}_relu"))
            out = f"{name}.r"
        return out

    def node(self, op, ins, name, **attrs):
        self.nodes.append(helper.make_node(op, ins, [f"{name}.o"], name=name, **attrs))
        return f"{name}.o"

    def save(self, path, out, opset=17):
        graph = helper.make_graph(self.nodes, "g", self.inputs, [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                                  initializer=self.inits)
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
        return path


def same_layers(onnx_path, yaml_text, **kw):
    import yaml
    got = load_onnx_network(onnx_path, **kw)
    want = build_network(yaml.safe_load(yaml_text), "(hand-written)", "want")
    assert got.layers == want.layers
    return got


def test_resnet_basic_block(tmp_path):
    g = G(16, 8, 8)
    x = g.conv("stem", "x", 16, 16, 3)
    a = g.conv("b1a", x, 16, 16, 3)
    b = g.conv("b1b", a, 16, 16, 3, relu=False)
    out = g.add("b1add", b, x)
    same_layers(g.save(tmp_path / "m.onnx", out), """
input: {C: 16, H: 8, W: 8}
layers:
  - {name: stem, K: 16, R: 3}
  - {name: b1a, K: 16, R: 3}
  - {name: b1b, K: 16, R: 3, residual: stem}
""")


def test_bottleneck_with_downsample_placed_before_the_last_conv(tmp_path):
    """As torchvision exports it, the downsample conv comes after the block's last conv;
    it is moved just before it, where the bundled models place it."""
    g = G(64, 8, 8)
    x = g.conv("stem", "x", 64, 64, 1)
    a = g.conv("a", x, 32, 64, 1)
    b = g.conv("b", a, 32, 32, 3, stride=2)
    c = g.conv("c", b, 128, 32, 1, relu=False)
    ds = g.conv("ds", x, 128, 64, 1, stride=2, relu=False)
    out = g.add("add", c, ds)
    same_layers(g.save(tmp_path / "m.onnx", out), """
input: {C: 64, H: 8, W: 8}
layers:
  - {name: stem, K: 64, R: 1}
  - {name: a, K: 32, R: 1}
  - {name: b, K: 32, R: 3, stride: 2}
  - {name: ds, K: 128, R: 1, stride: 2, inputs: [stem]}
  - {name: c, K: 128, R: 1, inputs: [b], residual: ds}
""")


def test_mobilenetv2_block(tmp_path):
    g = G(16, 8, 8)
    x = g.conv("stem", "x", 16, 16, 3)
    e = g.conv("exp", x, 96, 16, 1)
    d = g.conv("dw", e, 96, 96, 3, group=96)
    p = g.conv("proj", d, 16, 96, 1, relu=False)
    out = g.add("res", p, x, relu=False)
    same_layers(g.save(tmp_path / "m.onnx", out), """
input: {C: 16, H: 8, W: 8}
layers:
  - {name: stem, K: 16, R: 3}
  - {name: exp, K: 96, R: 1}
  - {name: dw, K: 96, R: 3, groups: 96}
  - {name: proj, K: 16, R: 1, residual: stem}
""")


def test_vgg_head_with_flatten_and_gemm(tmp_path):
    g = G(8, 4, 4)
    x = g.conv("conv", "x", 8, 8, 3, bn=False)
    p = g.node("MaxPool", [x], "pool", kernel_shape=[2, 2], strides=[2, 2])
    f = g.node("Flatten", [p], "flat", axis=1)
    g.inputs.append(helper.make_tensor_value_info("fc6.w", TensorProto.FLOAT, [64, 32]))
    h = g.node("Gemm", [f, "fc6.w"], "fc6", transB=1)
    h = g.node("Relu", [h], "fc6_relu")
    h = g.node("Dropout", [h], "drop")
    g.inits.append(helper.make_tensor("fc7.w", TensorProto.FLOAT, [64, 10], [0.0] * 640))  # MatMul weight [in, out]
    out = g.node("MatMul", [h, "fc7.w"], "fc7")
    out = g.node("Softmax", [out], "prob", axis=1)
    net = same_layers(g.save(tmp_path / "m.onnx", out), """
input: {C: 8, H: 4, W: 4}
layers:
  - {name: conv, K: 8, R: 3}
  - {name: pool, op: pool, R: 2, stride: 2, pad: 0}
  - {name: fc6, op: fc, K: 64}
  - {name: fc7, op: fc, K: 10}
""")
    assert net.layers[2].flatten and net.layers[2].C == 32


def test_concat_branch(tmp_path):
    g = G(8, 4, 4)
    x = g.conv("stem", "x", 8, 8, 3)
    a = g.conv("left", x, 4, 8, 1)
    b = g.conv("right", x, 12, 8, 3)
    cat = g.node("Concat", [a, b], "cat", axis=1)
    out = g.conv("merge", cat, 8, 16, 1)
    same_layers(g.save(tmp_path / "m.onnx", out), """
input: {C: 8, H: 4, W: 4}
layers:
  - {name: stem, K: 8, R: 3}
  - {name: left, K: 4, R: 1}
  - {name: right, K: 12, R: 3, inputs: [stem]}
  - {name: merge, K: 8, R: 1, inputs: [left, right]}
""")


def test_global_pool_and_reshape_by_shape_arithmetic(tmp_path):
    """PyTorch's x.view(x.size(0), -1) exports Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    g = G(8, 4, 4)
    x = g.conv("conv", "x", 8, 8, 3)
    p = g.node("GlobalAveragePool", [x], "gap")
    s = g.node("Shape", [p], "shape")
    g.inits.append(helper.make_tensor("zero", TensorProto.INT64, [], [0]))
    n0 = g.node("Gather", [s, "zero"], "gather", axis=0)
    g.inits.append(helper.make_tensor("minus1", TensorProto.INT64, [1], [-1]))
    g.inits.append(helper.make_tensor("axes0", TensorProto.INT64, [1], [0]))
    u = g.node("Unsqueeze", [n0, "axes0"], "unsq")
    shp = g.node("Concat", [u, "minus1"], "shape_cat", axis=0)
    r = g.node("Reshape", [p, shp], "reshape")
    g.inputs.append(helper.make_tensor_value_info("fc.w", TensorProto.FLOAT, [5, 8]))
    out = g.node("Gemm", [r, "fc.w"], "fc", transB=1)
    rep = import_onnx(g.save(tmp_path / "m.onnx", out))
    net = build_network(rep.description, "m", "m")
    assert [(l.name, l.op, l.R, l.H) for l in net.layers] == [("conv", "conv", 3, 4), ("gap", "pool", 4, 1), ("fc", "fc", 1, 1)]
    assert rep.folded["Shape"] == 1 and rep.folded["Reshape"] == 1


def test_unsupported_operator_names_node_and_op(tmp_path):
    g = G(8, 4, 4)
    x = g.conv("conv", "x", 8, 8, 3)
    g.inits.append(helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2]))
    up = g.node("Resize", [x, "", "scales"], "upsample")
    out = g.conv("after", up, 8, 8, 3)
    path = g.save(tmp_path / "m.onnx", out)
    with pytest.raises(InputError) as err:
        import_onnx(path)
    assert "'upsample' (Resize)" in str(err.value) and "--skip-unsupported" in str(err.value)
    res = subprocess.run([sys.executable, "-m", "scope_opt.cli", "import", str(path), "--out", str(tmp_path / "m.yaml")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Resize" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    # dropping it would feed the next conv a 4x4 tensor where the model has 8x8: refused
    with pytest.raises(InputError, match=r"'upsample' \(Resize\): cannot be dropped with --skip-unsupported: its "
                                         r"output \[None, 8, 8, 8\] is not its input \[None, 8, 4, 4\]"):
        import_onnx(path, skip_unsupported=True)


def test_skip_unsupported_drops_only_shape_keeping_nodes_and_lists_them(tmp_path):
    g = G(8, 4, 4)
    x = g.conv("conv", "x", 8, 8, 3)
    out = g.conv("after", g.node("Round", [x], "round"), 8, 8, 3)
    path = g.save(tmp_path / "m.onnx", out)
    rep = import_onnx(path, skip_unsupported=True)
    assert rep.dropped == ["node 'round' (Round), shape [None, 8, 4, 4] kept"]
    res = subprocess.run([sys.executable, "-m", "scope_opt.cli", "import", str(path), "--out", str(tmp_path / "m.yaml"),
                          "--skip-unsupported"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "dropped with --skip-unsupported (1 node(s)" in res.stdout and "'round' (Round)" in res.stdout


def test_malformed_and_missing_files(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf \xff\xfe")
    for path in (bad, tmp_path / "missing.onnx"):
        res = subprocess.run([sys.executable, "-m", "scope_opt.cli", "import", str(path)], capture_output=True, text=True)
        assert res.returncode == 2 and str(path.name) in res.stderr and "Traceback" not in res.stderr


def test_symbolic_input_needs_input_shape_and_external_weights_may_be_absent(tmp_path):
    g = G(8, 4, 4, symbolic=True)
    # a weight stored as external data whose file is absent: only its dims are read
    w = onnx.TensorProto(name="conv.w", data_type=TensorProto.FLOAT, dims=[8, 8, 3, 3])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="weights-not-shipped.bin")
    g.inits.append(w)
    g.nodes.append(helper.make_node("Conv", ["x", "conv.w"], ["y"], name="conv", kernel_shape=[3, 3], pads=[1] * 4))
    path = g.save(tmp_path / "m.onnx", "y")
    with pytest.raises(InputError, match="--input-shape"):
        import_onnx(path)
    net = load_onnx_network(path, input_shape=(8, 4, 4))
    assert [(l.K, l.C, l.H, l.W) for l in net.layers] == [(8, 8, 4, 4)]


@pytest.mark.parametrize("model", sorted(p.stem for p in (ROOT / "models").glob("*.yaml")))
def test_bundled_networks_export_valid_onnx_and_round_trip(model, tmp_path):
    """Every bundled model: the written file passes ONNX's full check (a Gemm reads a
    matrix, so a Flatten follows the global pool) and imports back to the same network."""
    net = load_network(ROOT / "models" / f"{model}.yaml")
    path = tmp_path / f"{model}.onnx"
    export_onnx(net, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    back = load_onnx_network(path)
    assert back.layers == net.layers and back.macs == net.macs and back.weights == net.weights


def test_import_command_and_an_instance_naming_an_onnx_model(tmp_path):
    net = load_network(ROOT / "models" / "resnet18.yaml")
    export_onnx(net, tmp_path / "r18.onnx")
    res = subprocess.run([sys.executable, "-m", "scope_opt.cli", "import", str(tmp_path / "r18.onnx"),
                          "--out", str(tmp_path / "r18.yaml")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout and "Relu x" in res.stdout
    assert load_network(tmp_path / "r18.yaml").layers == net.layers
    (tmp_path / "i.toml").write_text('batch = 4\n[workload]\nmodel = "r18.onnx"\n[hardware]\nmesh = [2, 2]\n')
    inst = load_instance(tmp_path / "i.toml")
    assert inst.network.layers == net.layers
    out = subprocess.run([sys.executable, "-m", "scope_opt.cli", "solve", str(tmp_path / "i.toml"), "-m", "dp", "--json", "-"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "optimal"


def test_a_sequence_model_is_refused_by_its_unsupported_node_not_its_input_shape(tmp_path):
    """An LSTM on a [T, N, D] input: the real reason is the LSTM node, named first."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 1, 8])
    inits = [helper.make_tensor("W", TensorProto.FLOAT, [1, 64, 8], [0.0] * 512),
             helper.make_tensor("R", TensorProto.FLOAT, [1, 64, 16], [0.0] * 1024)]
    node = helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm0", hidden_size=16)
    graph = helper.make_graph([node], "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "lstm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    res = subprocess.run([sys.executable, "-m", "scope_opt.cli", "import", str(path), "--out", str(tmp_path / "l.yaml")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "node 'lstm0' (LSTM)" in lines[0] and "operator LSTM" in lines[0]
    assert "--input-shape" not in lines[0]
