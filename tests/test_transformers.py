"""Transformers: the bundled ViT-B/16, BERT-base, GPT-2 and ConvNeXt-T against published
counts; the token operators' read rules (docs/cost-model.md's worked examples); attention
as PyTorch writes it into ONNX (built with onnx.helper, no torch) imported layer for
layer; shape errors that name the field; exact methods agree on an attention slice."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import ROOT
from test_onnx import same_layers
from scope_opt.cost.reference import CostModel
from scope_opt.errors import InputError
from scope_opt.methods.dispatch import solve
from scope_opt.problem.instance import Energy, Instance, Package
from scope_opt.problem.network_yaml import build_network, load_network
from scope_opt.problem.onnx_import import import_onnx

D, L_BLOCKS, FFN = 768, 12, 3072


def uncounted(net) -> int:
    """Parameters that are not weights here: biases of every conv and fc, LayerNorm's scale and shift."""
    return sum(layer.K for layer in net.layers if layer.op in ("conv", "fc")) + \
        sum(2 * layer.K for layer in net.layers if layer.op == "layernorm")


def test_vit_b_16_matches_torchvision_ops_and_parameters():
    """torchvision's vit_b_16: weights.meta['_ops'] = 17.564 GFLOPS (MACs, attention's
    matmuls included) and num_params = 86,567,656 = weights + biases + LayerNorms + the
    position embedding (197 x 768) + the class token (768)."""
    net = load_network(ROOT / "models" / "vit_b_16.yaml")
    assert net.macs == pytest.approx(17.564e9, rel=0.02) and round(net.macs / 1e9, 3) == 17.564
    assert net.weights + uncounted(net) + 197 * D + D == 86_567_656


def test_convnext_tiny_matches_torchvision_ops_and_parameters():
    """torchvision's convnext_tiny: _ops = 4.456, num_params = 28,589,128 = weights +
    biases + LayerNorms + one layer-scale value per channel of each block (it folds)."""
    net = load_network(ROOT / "models" / "convnext_tiny.yaml")
    assert round(net.macs / 1e9, 3) == 4.456
    layer_scale = sum(layer.K for layer in net.layers if layer.name.endswith("_fc2"))
    assert net.weights + uncounted(net) + layer_scale == 28_589_128


@pytest.mark.parametrize("model,tokens,published,embeddings", [
    # bert-base-uncased: 109,482,240 parameters; word (30522), position (512), type (2) embeddings and the pooler
    ("bert_base_128", 128, 109_482_240, (30522 + 512 + 2) * D + D * D + D),
    ("bert_base_512", 512, 109_482_240, (30522 + 512 + 2) * D + D * D + D),
    # gpt2: 124,439,808 parameters; token (50257) and position (1024) embeddings, the LM head tied to the first
    ("gpt2_prefill_1024", 1024, 124_439_808, (50257 + 1024) * D),
])
def test_encoders_match_published_parameters_and_the_closed_form_macs(model, tokens, published, embeddings):
    """MACs = 12 s l h^2 + 2 s^2 l h (Narayanan et al., SC'21, forward pass without the
    logits): the projections, the MLP and attention's two matmuls."""
    net = load_network(ROOT / "models" / f"{model}.yaml")
    assert net.weights + uncounted(net) + embeddings == published
    assert net.macs == 12 * tokens * L_BLOCKS * D * D + 2 * tokens * tokens * L_BLOCKS * D
    assert sum(layer.op == "matmul_t" for layer in net.layers) == L_BLOCKS


ATTENTION = """
input: {C: 8, H: 6, W: 1}
layers:
  - {name: q, K: 8}
  - {name: k, K: 8, inputs: [input]}
  - {name: v, K: 8, inputs: [input]}
  - {name: s, op: matmul_t, inputs: [q, k], groups: 2}
  - {name: p, op: softmax, groups: 2}
  - {name: c, op: matmul, inputs: [p, v], groups: 2}
  - {name: o, K: 8, residual: input}
  - {name: ln, op: layernorm}
  - {name: cls, op: tokens, H: 1}
"""


def tiny_instance(text=ATTENTION, mesh=(2, 2)):
    import yaml
    net = build_network(yaml.safe_load(text), "(t)", "t")
    pkg = Package(mesh=mesh, pe_k=4, pe_c=4, freq_ghz=1.0, sram_kib=64.0, nop_gbps=10.0, dram_gbps=10.0,
                  bytes_per_element=1, energy=Energy())
    return Instance("t", 2, net, pkg, "hybrid")


def test_the_worked_examples_of_the_token_operators():
    """docs/cost-model.md: 2 heads of 6 tokens; chiplet 1 of a (2, 2) split holds output
    channels [0, 6) (head 0) and rows [3, 6)."""
    cost = CostModel(tiny_instance())
    regions = lambda l: [(int(r.c0[1]), int(r.c1[1]), int(r.r0[1]), int(r.r1[1])) for r in cost.regions(l, (2, 2))]  # noqa: E731
    assert regions(3) == [(0, 4, 3, 6), (0, 4, 0, 6)]  # scores: Q's head-0 features of its rows, K's of every token
    assert regions(4) == [(0, 6, 3, 6)]  # softmax: its head's 6 scores of its rows
    assert regions(5) == [(0, 6, 3, 6), (0, 4, 0, 6)]  # context: P's head 0, V's own 4 channels of every token
    assert regions(7) == [(0, 8, 3, 6)]  # layernorm: every feature of its own tokens
    assert [(int(r.c0[0]), int(r.c1[0]), int(r.r0[0]), int(r.r1[0])) for r in cost.regions(8, (2, 1))] == [(0, 4, 0, 6)]
    assert cost.compute_s(8, (2, 1)) == 0.0  # a layout op takes no cycles
    net = cost.net
    assert [net.layers[i].macs for i in (3, 5)] == [2 * 6 * 6 * 4] * 2 and net.layers[4].macs == 0


def test_exact_methods_agree_on_attention_and_the_evaluator_rescores_them():
    inst = tiny_instance(mesh=(2, 1))
    results = {m: solve(inst, m) for m in ("dp", "enumerate", "cpsat", "milp-highs", "scope", "fastdp")}
    best = results["enumerate"].latency_s
    for m in ("dp", "cpsat", "milp-highs"):
        assert results[m].status == "optimal" and results[m].latency_s == pytest.approx(best, rel=1e-9), m
    assert results["dp"].latency_s == best and all(r.latency_s >= best * (1 - 1e-12) for r in results.values())


def test_vit_and_bert_solve_exactly_on_a_package():
    """A two-block slice of each on 2x2: dp's optimum is the evaluator's T and no heuristic beats it."""
    for model, cut in (("vit_b_16", 2 + 2 * 12), ("bert_base_128", 1 + 2 * 11)):
        net = load_network(ROOT / "models" / f"{model}.yaml").slice(0, cut)
        pkg = Package(mesh=(2, 2), pe_k=32, pe_c=32, freq_ghz=2.0, sram_kib=752.0, nop_gbps=100.0, dram_gbps=64.0,
                      bytes_per_element=1, energy=Energy())
        inst = Instance(model, 8, net, pkg, "KH")
        dp = solve(inst, "dp")
        assert dp.status == "optimal" and dp.evaluation.latency_s == dp.latency_s
        assert solve(inst, "scope").latency_s >= dp.latency_s


@pytest.mark.parametrize("layer,message", [
    ({"name": "s", "op": "matmul_t", "inputs": ["input", "w"], "groups": 2}, r"'input' has 8 features and 'w' 4"),
    ({"name": "s", "op": "matmul", "inputs": ["input", "input"], "groups": 2}, r"expected heads x tokens of 'input' = 2 x 6"),
    ({"name": "s", "op": "matmul_t", "inputs": ["input"]}, r"reads two inputs, got 1"),
    ({"name": "t", "op": "tokens"}, r"layers\[1\] \(t\)\.H: required: the token count"),
    ({"name": "n", "op": "layernorm", "R": 3}, r"layers\[1\] \(n\)\.R: a layernorm layer has no kernel"),
    ({"name": "p", "op": "softmax", "K": 5}, r"\.K: a softmax layer keeps its channels: expected K = C = 4, got 5"),
])
def test_token_layer_errors_name_the_field(layer, message):
    raw = {"input": {"C": 8, "H": 6, "W": 1}, "layers": [{"name": "w", "K": 4}, layer]}
    with pytest.raises(InputError, match=message):
        build_network(raw, "t.yaml", "t")


class TokenGraph:
    """Attention as torch.onnx.export writes a BERT or ViT block (opset 17): Linear as
    MatMul + Add(bias), view + permute as Reshape + Transpose, the scale as Div, GELU
    decomposed with Erf, LayerNormalization as one node."""

    def __init__(self, t, d, heads):
        self.t, self.d, self.h = t, d, heads
        self.inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, t, d])]
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, values, floats=False):
        self.n += 1
        name = f"c{self.n}"
        arr = np.array(values, dtype=np.float32 if floats else np.int64)
        self.inits.append(onnx.numpy_helper.from_array(arr, name))
        return name

    def op(self, op, ins, name, **attrs):
        self.nodes.append(helper.make_node(op, ins, [name], name=name, **attrs))
        return name

    def linear(self, name, x, k, c):
        w = self.const(np.zeros((c, k)), floats=True)
        return self.op("Add", [self.op("MatMul", [x, w], name), self.const(np.zeros(k), floats=True)], f"{name}_bias")

    def heads(self, name, x, perm):
        split = self.op("Reshape", [x, self.const([1, self.t, self.h, self.d // self.h])], f"{name}_view")
        return self.op("Transpose", [split], f"{name}_perm", perm=perm)

    def layernorm(self, name, x):
        return self.op("LayerNormalization", [x, self.const(np.ones(self.d), True), self.const(np.zeros(self.d), True)],
                       name, axis=-1)

    def attention(self, p, x, mask=None, safe_softmax=False):
        """`mask`: a [1, 1, 1, T] tensor added to the scores (a constant when None);
        `safe_softmax`: the exporters' Where(IsNaN(p), 0, p) after the Softmax."""
        q = self.heads(f"{p}q", self.linear(f"{p}_q", x, self.d, self.d), [0, 2, 1, 3])
        k = self.heads(f"{p}k", self.linear(f"{p}_k", x, self.d, self.d), [0, 2, 1, 3])
        kt = self.op("Transpose", [k], f"{p}kt", perm=[0, 1, 3, 2])
        s = self.op("MatMul", [q, kt], f"{p}_scores")
        mask = mask or self.const(np.zeros((1, 1, 1, self.t)), True)
        s = self.op("Add", [self.op("Div", [s, self.const(8.0, True)], f"{p}scale"), mask], f"{p}mask")
        prob = self.op("Softmax", [s], f"{p}_softmax", axis=-1)
        if safe_softmax:
            nan = self.op("IsNaN", [prob], f"{p}isnan")
            prob = self.op("Where", [nan, self.const(0.0, True), prob], f"{p}safe")
        v = self.heads(f"{p}v", self.linear(f"{p}_v", x, self.d, self.d), [0, 2, 1, 3])
        c = self.op("MatMul", [prob, v], f"{p}_context")
        c = self.op("Reshape", [self.op("Transpose", [c], f"{p}cperm", perm=[0, 2, 1, 3]), self.const([1, self.t, self.d])], f"{p}cview")
        return self.op("Add", [self.linear(f"{p}_proj", c, self.d, self.d), x], f"{p}res")

    def gelu(self, p, x):
        e = self.op("Erf", [self.op("Div", [x, self.const(1.41, True)], f"{p}div")], f"{p}erf")
        half = self.op("Mul", [x, self.op("Add", [e, self.const(1.0, True)], f"{p}one")], f"{p}mul")
        return self.op("Mul", [half, self.const(0.5, True)], f"{p}half")

    def save(self, path, out, opset=17):
        graph = helper.make_graph(self.nodes, "g", self.inputs, [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                                  initializer=self.inits)
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
        return path


def attention_block(x: str) -> str:
    """The layers TokenGraph.attention("e0", x) imports to (2 heads of 4 features)."""
    return f"""  - {{name: e0_q, K: 8}}
  - {{name: e0_k, K: 8, inputs: [{x}]}}
  - {{name: e0_scores, op: matmul_t, inputs: [e0_q, e0_k], groups: 2}}
  - {{name: e0_softmax, op: softmax, groups: 2}}
  - {{name: e0_v, K: 8, inputs: [{x}]}}
  - {{name: e0_context, op: matmul, inputs: [e0_softmax, e0_v], groups: 2}}
  - {{name: e0_proj, K: 8, residual: {x}}}
"""


def test_a_bert_block_as_pytorch_exports_it_imports_layer_for_layer(tmp_path):
    g = TokenGraph(6, 8, 2)
    a = g.layernorm("ln1", g.attention("e0", "x"))
    m = g.linear("e0_fc2", g.gelu("g", g.linear("e0_fc1", a, 16, 8)), 8, 16)
    out = g.layernorm("ln2", g.op("Add", [m, a], "res2"))
    same_layers(g.save(tmp_path / "bert.onnx", out), """
input: {C: 8, H: 6, W: 1}
layers:
""" + attention_block("input") + """  - {name: ln1, op: layernorm}
  - {name: e0_fc1, K: 16}
  - {name: e0_fc2, K: 8, residual: ln1}
  - {name: ln2, op: layernorm}
""")


def test_vit_patches_class_token_and_head_import(tmp_path):
    """Patches: Conv, Reshape to [N, C, HW], Transpose; the class token a Concat with a
    constant; the head reads token 0 (Gather)."""
    g = TokenGraph(5, 8, 2)
    g.inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])]
    w = g.const(np.zeros((8, 3, 4, 4)), floats=True)
    p = g.op("Conv", ["x", w], "patch", kernel_shape=[4, 4], strides=[4, 4])
    t = g.op("Transpose", [g.op("Reshape", [p, g.const([1, 8, 4])], "flat")], "perm", perm=[0, 2, 1])
    x = g.op("Concat", [g.const(np.zeros((1, 1, 8)), True), t], "embed", axis=1)
    x = g.op("Add", [x, g.const(np.zeros((1, 5, 8)), True)], "pos")
    x = g.layernorm("ln", g.attention("e0", g.layernorm("ln1", x)))
    cls = g.op("Gather", [x, g.const(0)], "cls", axis=1)
    out = g.op("Gemm", [cls, g.const(np.zeros((10, 8)), True)], "head", transB=1)
    same_layers(g.save(tmp_path / "vit.onnx", out), """
input: {C: 3, H: 8, W: 8}
layers:
  - {name: patch, K: 8, R: 4, stride: 4, pad: 0}
  - {name: embed, op: tokens, H: 5}
  - {name: ln1, op: layernorm}
""" + attention_block("ln1") + """  - {name: ln, op: layernorm}
  - {name: cls, op: tokens, H: 1}
  - {name: head, op: fc, K: 10}
""")


def test_a_matmul_of_two_activations_outside_attention_is_refused(tmp_path):
    g = TokenGraph(4, 4, 1)
    out = g.op("MatMul", ["x", g.op("Relu", ["x"], "r")], "mm")
    with pytest.raises(InputError, match=r"node 'mm' \(MatMul\): multiplies a tensor laid out as \[n, t, c\] by one laid out as \[n, t, c\]; "
                                         r"expected attention's Q K\^T"):
        import_onnx(g.save(tmp_path / "m.onnx", out))


def test_a_convnext_block_as_the_dynamo_exporter_writes_it(tmp_path):
    """Channels-last: Transpose, LayerNormalization, MatMul (Linear), Gelu, MatMul,
    Transpose back, the layer scale and the residual; the head's global pool is a
    ReduceMean and torch's as_strided an identity Gather over the flattened channels."""
    g = TokenGraph(1, 8, 1)
    g.inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 4, 4])]
    x = g.op("Conv", ["x", g.const(np.zeros((8, 1, 3, 3)), True)], "dw", kernel_shape=[3, 3], pads=[1] * 4, group=8)
    y = g.op("Transpose", [x], "nhwc", perm=[0, 2, 3, 1])
    y = g.op("LayerNormalization", [y, g.const(np.ones(8), True)], "ln", axis=-1)
    y = g.op("Gelu", [g.op("MatMul", [y, g.const(np.zeros((8, 32)), True)], "fc1")], "gelu")
    y = g.op("MatMul", [y, g.const(np.zeros((32, 8)), True)], "fc2")
    y = g.op("Mul", [g.const(np.ones((8, 1, 1)), True), g.op("Transpose", [y], "nchw", perm=[0, 3, 1, 2])], "scale")
    y = g.op("Add", [y, x], "res")
    m = g.op("ReduceMean", [y, g.const([2, 3])], "mean", keepdims=1)
    flat = g.op("Reshape", [m, g.const([8])], "flat")
    m = g.op("Gather", [flat, g.const(np.arange(8).reshape(1, 8, 1, 1))], "as_strided", axis=0)
    out = g.op("Gemm", [g.op("Reshape", [m, g.const([1, 8])], "view"), g.const(np.zeros((10, 8)), True)], "head", transB=1)
    # Gelu is an opset-20 operator
    same_layers(g.save(tmp_path / "convnext.onnx", out, opset=20), """
input: {C: 8, H: 4, W: 4}
layers:
  - {name: dw, K: 8, R: 3, groups: 8}
  - {name: ln, op: layernorm}
  - {name: fc1, K: 32}
  - {name: fc2, K: 8, residual: dw}
  - {name: mean, op: pool, R: 4, pad: 0}
  - {name: head, op: fc, K: 10}
""")


def test_torchvision_multihead_attention_as_the_legacy_exporter_writes_it(tmp_path):
    """nn.MultiheadAttention (ViT's encoder): sequence-first tokens, one fused [3D] in
    projection split by Reshape, Unsqueeze, Transpose, Squeeze and Gather, a reshape
    target computed from Shape nodes (which ONNX's shape inference leaves unknown), and
    the out projection a Gemm over [T, D]. The fused projection becomes three."""
    T, D, h = 5, 8, 2
    g = TokenGraph(T, D, h)
    x = g.layernorm("ln1", "x")
    s = g.op("Transpose", [x], "seq", perm=[1, 0, 2])  # [T, 1, D]
    qkv = g.linear("in_proj", s, 3 * D, D)
    shp = g.op("Shape", [qkv], "shape")
    head = g.op("Slice", [shp, g.const([0]), g.const([2])], "lead")
    target = g.op("Concat", [head, g.const([3, D])], "target", axis=0)  # [T, 1, 3, D], computed
    y = g.op("Reshape", [qkv, target], "split")
    y = g.op("Unsqueeze", [y, g.const([0])], "unsq")
    y = g.op("Transpose", [y], "parts", perm=[3, 1, 2, 0, 4])
    y = g.op("Squeeze", [y, g.const([3])], "sq")  # [3, T, 1, D]
    q, k, v = (g.op("Gather", [y, g.const(j)], f"select{j}", axis=0) for j in range(3))
    def heads(t, name):
        t = g.op("Transpose", [g.op("Reshape", [t, g.const([T, h, D // h])], f"{name}_v")], f"{name}_t", perm=[1, 0, 2])
        return g.op("Reshape", [t, g.const([1, h, T, D // h])], f"{name}_h")
    qh, kh, vh = heads(q, "q"), heads(k, "k"), heads(v, "v")
    kt = g.op("Transpose", [kh], "kT", perm=[0, 1, 3, 2])
    p = g.op("Softmax", [g.op("MatMul", [qh, kt], "scores")], "softmax", axis=-1)
    c = g.op("MatMul", [p, vh], "context")
    c = g.op("Reshape", [g.op("Transpose", [c], "c_t", perm=[2, 0, 1, 3]), g.const([T, D])], "c_v")
    o = g.op("Gemm", [c, g.const(np.zeros((D, D)), True)], "out_proj", transB=1)
    o = g.op("Transpose", [g.op("Reshape", [o, g.const([T, 1, D])], "o_v")], "o_t", perm=[1, 0, 2])
    out = g.op("Add", [o, "x"], "res")
    same_layers(g.save(tmp_path / "mha.onnx", out), """
input: {C: 8, H: 5, W: 1}
layers:
  - {name: ln1, op: layernorm}
  - {name: in_proj_q, K: 8}
  - {name: in_proj_k, K: 8, inputs: [ln1]}
  - {name: in_proj_v, K: 8, inputs: [ln1]}
  - {name: scores, op: matmul_t, inputs: [in_proj_q, in_proj_k], groups: 2}
  - {name: softmax, op: softmax, groups: 2}
  - {name: context, op: matmul, inputs: [softmax, in_proj_v], groups: 2}
  - {name: out_proj, K: 8, residual: input}
""")


SHUFFLE_UNIT = """
input: {C: 8, H: 4, W: 4}
layers:
  - {name: stem, K: 8, R: 3}
  - {name: x1, op: channels, K: 4, inputs: [stem]}
  - {name: x2, op: channels, first: 4, K: 4, inputs: [stem]}
  - {name: b, K: 4}
  - {name: shuffle, op: shuffle, groups: 2, inputs: [x1, b]}
"""


def test_a_shufflenet_unit_as_the_dynamo_exporter_writes_it(tmp_path):
    """chunk as Split on channels, the branch, Concat, and channel_shuffle as Reshape
    into groups, Transpose and Reshape back."""
    g = TokenGraph(1, 8, 1)
    g.inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 4, 4])]
    x = g.op("Conv", ["x", g.const(np.zeros((8, 8, 3, 3)), True)], "stem", kernel_shape=[3, 3], pads=[1] * 4)
    g.nodes.append(helper.make_node("Split", [x, g.const([4, 4])], ["x1", "x2"], name="chunk", axis=1))
    b = g.op("Conv", ["x2", g.const(np.zeros((4, 4, 1, 1)), True)], "b", kernel_shape=[1, 1])
    y = g.op("Concat", ["x1", b], "cat", axis=1)
    y = g.op("Transpose", [g.op("Reshape", [y, g.const([1, 2, 4, 4, 4])], "groups")], "swap", perm=[0, 2, 1, 3, 4])
    out = g.op("Reshape", [y, g.const([1, 8, 4, 4])], "shuffle")
    want = SHUFFLE_UNIT.replace("x1, op", "chunk_0, op").replace("x2, op", "chunk_4, op").replace("[x1, b]", "[chunk_0, b]")
    net = same_layers(g.save(tmp_path / "shuffle.onnx", out), want)
    assert [layer.macs for layer in net.layers] == [8 * 8 * 9 * 16, 0, 0, 4 * 4 * 16, 0]


def test_channels_and_shuffle_read_rules_and_round_trip(tmp_path):
    """docs/cost-model.md's worked example: on 2 chiplets split K, chiplet 1 of x2 (its
    channels [2, 4)) reads channels [6, 8) of stem; chiplet 0 of the shuffle (its
    channels [0, 4)) reads every channel of both inputs for its rows; both take 0 cycles."""
    from scope_opt.problem.onnx_export import export_onnx
    from scope_opt.problem.onnx_import import load_onnx_network
    inst = tiny_instance(SHUFFLE_UNIT, mesh=(2, 1))
    cost = CostModel(inst)
    r = cost.regions(2, (2, 1))[0]
    assert (int(r.c0[1]), int(r.c1[1]), int(r.r0[1]), int(r.r1[1])) == (6, 8, 0, 4)
    assert [(int(x.c0[0]), int(x.c1[0])) for x in cost.regions(4, (2, 1))] == [(0, 4), (0, 4)]
    assert cost.compute_s(2, (2, 1)) == cost.compute_s(4, (2, 1)) == 0.0
    export_onnx(inst.network, tmp_path / "s.onnx")
    onnx.checker.check_model(onnx.load(str(tmp_path / "s.onnx")), full_check=True)
    assert load_onnx_network(tmp_path / "s.onnx").layers == inst.network.layers
