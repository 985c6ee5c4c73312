"""The forms modern exports take, built with onnx.helper (no torch): the dynamo exporter's
ReduceMean global pool, ceil_mode pools, pools of a concatenation, squeeze-excitation's
x * s and SiLU's x * sigmoid(x), and pools over one element that fold away."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from test_onnx import G, same_layers
from scope_opt.cost.layer_tables import build_layer_tables
from scope_opt.cost.reference import CostModel
from scope_opt.errors import InputError
from scope_opt.problem.instance import Energy, Instance, Package
from scope_opt.problem.network_yaml import _out_len, build_network
from scope_opt.problem.onnx_export import export_onnx
from scope_opt.problem.onnx_import import import_onnx, load_onnx_network


def fc(g: G, name, src, k, c):
    g.inputs.append(helper.make_tensor_value_info(f"{name}.w", TensorProto.FLOAT, [k, c]))
    return g.node("Gemm", [src, f"{name}.w"], name, transB=1)


GAP_HEAD = """
layers:
  - {name: c1, op: conv, K: 16, R: 3}
  - {name: gap, op: pool, R: 8, S: 8, stride: 1, pad: 0}
  - {name: fc, op: fc, K: 10}
"""


@pytest.mark.parametrize("keepdims", [0, 1])
def test_dynamo_reduce_mean_over_rows_and_columns_is_the_global_pool(tmp_path, keepdims):
    """opset 18: the axes are a constant input, as torch.onnx.export(dynamo=True) writes them."""
    g = G(8, 8, 8)
    x = g.conv("c1", "x", 16, 8, 3)
    g.inits.append(helper.make_tensor("axes", TensorProto.INT64, [2], [-1, -2]))
    m = g.node("ReduceMean", [x, "axes"], "gap", keepdims=keepdims)
    if keepdims:
        m = g.node("Reshape", [m, "shape"], "flat")
        g.inits.append(helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1]))
    out = fc(g, "fc", m, 10, 16)
    same_layers(g.save(tmp_path / "m.onnx", out, opset=18), "input: {C: 8, H: 8, W: 8}" + GAP_HEAD)


def test_reduce_mean_over_channels_is_refused_with_its_axes(tmp_path):
    g = G(8, 8, 8)
    x = g.conv("c1", "x", 16, 8, 3)
    out = g.node("ReduceMean", [x], "rm", axes=[1])
    with pytest.raises(InputError, match=r"node 'rm' \(ReduceMean\): reduces axes \[1\]; expected a reduction over rows"):
        import_onnx(g.save(tmp_path / "m.onnx", out))


def test_ceil_mode_follows_pytorch_rounding():
    assert _out_len(112, 3, 2, 0) == 55 and _out_len(112, 3, 2, 0, True) == 56  # GoogLeNet's first pool
    assert _out_len(5, 2, 2, 1, True) == 3  # the last window would start in the right pad: dropped
    assert _out_len(6, 2, 2, 1, True) == 4


def test_ceil_mode_pool_imports_and_round_trips(tmp_path):
    g = G(8, 8, 8)
    x = g.conv("c1", "x", 16, 8, 3)
    out = g.node("MaxPool", [x], "mp", kernel_shape=[3, 3], strides=[2, 2], pads=[0] * 4, ceil_mode=1)
    net = same_layers(g.save(tmp_path / "m.onnx", out), """
input: {C: 8, H: 8, W: 8}
layers:
  - {name: c1, op: conv, K: 16, R: 3}
  - {name: mp, op: pool, R: 3, stride: 2, pad: 0, ceil_mode: true}
""")
    assert net.layers[1].H == 4  # floor would give 3
    export_onnx(net, tmp_path / "back.onnx")
    assert load_onnx_network(tmp_path / "back.onnx").layers == net.layers


def test_ceil_mode_is_for_pools_only():
    with pytest.raises(InputError, match=r"layers\[0\] \(c\)\.ceil_mode: only a pool rounds its output up"):
        build_network({"input": {"C": 4, "H": 8, "W": 8}, "layers": [{"name": "c", "K": 4, "R": 3, "ceil_mode": True}]},
                      "t.yaml", "t")


def test_pool_of_a_concatenation_reads_each_part_at_its_channel_offset(tmp_path):
    """Inception's pool branch: a 3x3 pool of Concat(a: 6 ch, b: 10 ch)."""
    g = G(4, 8, 8)
    a = g.conv("a", "x", 6, 4, 1)
    b = g.conv("b", "x", 10, 4, 1)
    cat = g.node("Concat", [a, b], "cat", axis=1)
    out = g.node("MaxPool", [cat], "mp", kernel_shape=[3, 3], strides=[1, 1], pads=[1] * 4)
    net = same_layers(g.save(tmp_path / "m.onnx", out), """
input: {C: 4, H: 8, W: 8}
layers:
  - {name: a, op: conv, K: 6, R: 1}
  - {name: b, op: conv, K: 10, R: 1, inputs: [input]}
  - {name: mp, op: pool, R: 3, stride: 1, pad: 1, inputs: [a, b]}
""")
    assert [o.offset for o in net.layers[2].reads] == [0, 6]
    # on 2 chiplets split K: chiplet 0 computes channels [0, 8): all 6 of a and [0, 2) of b;
    # chiplet 1 computes [8, 16): [2, 10) of b and nothing of a; every row (8 x 8 columns)
    inst = Instance("t", 1, net, Package(mesh=(2, 1), energy=Energy()), "KH")
    cost = CostModel(inst)
    assert cost.needed_bytes(2, (2, 1)).tolist() == [(6 + 2) * 64, 8 * 64]
    tables = build_layer_tables(inst)
    j = [tuple(p) for p in tables.parts[2]].index((2, 1))
    assert tables.act[2][2, j].tolist() == cost.act_bytes(2, (2, 1)).tolist()


SE = """
input: {C: 8, H: 8, W: 8}
layers:
  - {name: c1, op: conv, K: 16, R: 3}
  - {name: gap, op: pool, R: 8, S: 8, stride: 1, pad: 0}
  - {name: sq, op: conv, K: 4, R: 1}
  - {name: ex, op: conv, K: 16, R: 1}
  - {name: scale, op: eltwise, inputs: [c1, ex]}
  - {name: c2, op: conv, K: 8, R: 1}
"""


def test_squeeze_excitation_is_an_eltwise_layer_and_silu_folds(tmp_path):
    g = G(8, 8, 8)
    x = g.conv("c1", "x", 16, 8, 3, relu=False)
    x = g.node("Mul", [x, g.node("Sigmoid", [x], "sig")], "silu")  # SiLU: x * sigmoid(x), one tensor
    s = g.node("GlobalAveragePool", [x], "gap")
    s = g.conv("sq", s, 4, 16, 1, bn=False)
    s = g.node("Sigmoid", [g.conv("ex", s, 16, 4, 1, bn=False, relu=False)], "gate")
    y = g.node("Mul", [x, s], "scale")
    out = g.conv("c2", y, 8, 16, 1)
    rep = import_onnx(g.save(tmp_path / "m.onnx", out))
    assert rep.folded["Mul (of one tensor)"] == 1
    net = same_layers(tmp_path / "m.onnx", SE)
    scale = net.layers[4]
    assert scale.macs == 0 and scale.weights == 0 and (scale.K, scale.C, scale.H, scale.W) == (16, 16, 8, 8)
    # the scale [16, 1, 1] is read whole on every row: split H over 2 chiplets, each reads
    # its 4 rows of c1 (16 x 4 x 8) and all 16 values of the scale
    inst = Instance("t", 1, net, Package(mesh=(2, 1), energy=Energy()), "KH")
    assert CostModel(inst).needed_bytes(4, (1, 2)).tolist() == [16 * 4 * 8 + 16] * 2
    export_onnx(net, tmp_path / "back.onnx")
    onnx.checker.check_model(onnx.load(str(tmp_path / "back.onnx")), full_check=True)
    assert load_onnx_network(tmp_path / "back.onnx").layers == net.layers


def test_eltwise_inputs_must_broadcast():
    raw = {"input": {"C": 8, "H": 8, "W": 8}, "layers": [
        {"name": "a", "K": 16, "R": 3}, {"name": "b", "K": 4, "R": 3, "inputs": ["input"]},
        {"name": "m", "op": "eltwise", "inputs": ["a", "b"]}]}
    with pytest.raises(InputError, match=r"'b' is 4x8x8, which does not broadcast to 16x8x8"):
        build_network(raw, "t.yaml", "t")
    raw["layers"][2] = {"name": "m", "op": "eltwise", "inputs": ["a"]}
    with pytest.raises(InputError, match="combines two or more inputs"):
        build_network(raw, "t.yaml", "t")


def test_pools_over_one_element_fold_away(tmp_path):
    """torchvision's AdaptiveAvgPool2d((7, 7)) on a 7x7 input exports as a 1x1 AveragePool:
    it must not become a costed layer (it changed the Scope search's AlexNet result)."""
    g = G(8, 7, 7)
    x = g.conv("c1", "x", 16, 8, 3)
    x = g.node("AveragePool", [x], "adaptive", kernel_shape=[1, 1], strides=[1, 1])
    x = g.node("Flatten", [x], "flat", axis=1)
    x = fc(g, "fc1", x, 32, 16 * 49)
    x = g.node("Reshape", [x, "shape4"], "r4")
    g.inits.append(helper.make_tensor("shape4", TensorProto.INT64, [4], [1, 32, 1, 1]))
    x = g.node("GlobalAveragePool", [x], "gap1x1")
    rep = import_onnx(g.save(tmp_path / "m.onnx", x))
    assert rep.folded["AveragePool (identity)"] == 1 and rep.folded["GlobalAveragePool (identity)"] == 1
    assert [l["name"] for l in rep.description["layers"]] == ["c1", "fc1"]
    assert np.isclose(load_onnx_network(tmp_path / "m.onnx").macs, 16 * 8 * 9 * 49 + 32 * 16 * 49)


def test_concat_refusals_name_the_real_cause(tmp_path):
    """ViT's class token is a constant concatenated with data on axis 1; it used to be
    told 'expected ... axis 1, got axis 1'."""
    g = G(8, 4, 4)
    x = g.conv("c1", "x", 8, 8, 3)
    g.inits.append(helper.make_tensor("cls_token", TensorProto.FLOAT, [1, 8, 4, 4], [0.0] * 128))
    out = g.node("Concat", ["cls_token", x], "cat", axis=1)
    with pytest.raises(InputError, match=r"concatenates the constant 'cls_token' \(a learned token"):
        import_onnx(g.save(tmp_path / "m.onnx", g.conv("c2", out, 8, 16, 1)))
    g = G(8, 4, 4)
    x = g.conv("c1", "x", 8, 8, 3)
    out = g.node("Concat", [x, x], "cat", axis=2)
    with pytest.raises(InputError, match=r"concatenates on axis 2; expected a concatenation on channels"):
        import_onnx(g.save(tmp_path / "m.onnx", g.conv("c2", out, 8, 8, 1)))


def test_a_token_input_is_tokens_and_a_linear_layer_over_them_is_a_1x1_conv(tmp_path):
    """[N, T, D] = [1, 128, 64]: every dim is known, so no --input-shape; an MLP with GELU
    (Erf form, as the legacy exporter writes it) maps to 1x1 convs with H = T tokens."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128, 64])
    inits = [helper.make_tensor("w1", TensorProto.FLOAT, [64, 256], [0.0] * 64 * 256),
             helper.make_tensor("w2", TensorProto.FLOAT, [256, 64], [0.0] * 64 * 256),
             helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
             helper.make_node("Erf", ["h"], ["e"], name="erf"),
             helper.make_node("Mul", ["h", "e"], ["g"], name="gelu"),
             helper.make_node("Mul", ["g", "half"], ["g2"], name="gelu_half"),
             helper.make_node("MatMul", ["g2", "w2"], ["y"], name="fc2")]
    graph = helper.make_graph(nodes, "mlp", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    net = same_layers(path, """
input: {C: 64, H: 128, W: 1}
layers:
  - {name: fc1, op: conv, K: 256, R: 1}
  - {name: fc2, op: conv, K: 64, R: 1}
""")
    assert net.macs == 2 * 128 * 64 * 256


def test_an_add_that_is_no_residual_block_is_an_eltwise_layer(tmp_path):
    """Two adds in a row onto one layer: the first folds as its residual, the second
    (which used to be refused) is an eltwise layer of the same tensors."""
    g = G(8, 4, 4)
    x = g.conv("stem", "x", 8, 8, 3)
    a = g.conv("a", x, 8, 8, 3, relu=False)
    s1 = g.add("add1", a, x, relu=False)
    out = g.add("add2", s1, x)
    same_layers(g.save(tmp_path / "m.onnx", out), """
input: {C: 8, H: 4, W: 4}
layers:
  - {name: stem, op: conv, K: 8, R: 3}
  - {name: a, op: conv, K: 8, R: 3, residual: stem}
  - {name: add2, op: eltwise, inputs: [a, stem]}
""")
