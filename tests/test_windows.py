"""Swin: window attention (matmul_t and matmul with a `window`), space to depth (the
unshuffle operator, Swin's patch merging), and their ONNX forms as PyTorch writes them
(built with onnx.helper, no torch): the window partition and its reverse, torch.roll as
Slice + Concat, the zero Pad and the legacy exporter's computed pad amounts."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from test_onnx import same_layers
from test_transformers import TokenGraph, tiny_instance
from scope_opt.cost.reference import CostModel
from scope_opt.errors import InputError
from scope_opt.methods.dispatch import solve
from scope_opt.problem.network_yaml import build_network
from scope_opt.problem.onnx_import import import_onnx

INT64_MAX = 2**63 - 1
C, HW, WIN, HEADS = 8, 4, 2, 2  # 8 features on a 4 x 4 grid, windows of 2 x 2, 2 heads

WINDOWED = """
input: {C: 8, H: 4, W: 4}
layers:
  - {name: q, K: 8}
  - {name: k, K: 8, inputs: [input]}
  - {name: v, K: 8, inputs: [input]}
  - {name: s, op: matmul_t, inputs: [q, k], groups: 2, window: 4}
  - {name: p, op: softmax, groups: 2}
  - {name: c, op: matmul, inputs: [p, v], groups: 2, window: 4}
  - {name: o, K: 8, residual: input}
  - {name: m, op: unshuffle, factor: 2}
"""


def test_the_worked_examples_of_window_attention_and_unshuffle():
    """docs/cost-model.md: 16 positions in windows of 4, 2 heads; chiplet 1 of a (2, 2)
    split holds the scores' channels [0, 4) (head 0's 4 keys) and rows [2, 4).  Each
    query multiplies 4 keys, not 16; K and V are read at every position (a chiplet's rows
    hold other windows' keys too, which the rule over-reads).  The unshuffle's chiplet 1
    of a (1, 2) split (its rows [1, 2)) reads input rows [2, 4) of every channel."""
    cost = CostModel(tiny_instance(WINDOWED))
    net = cost.net
    s, c, m = (net.layers[net.index[n]] for n in ("s", "c", "m"))
    assert (s.K, s.H, s.W, c.C) == (2 * 4, 4, 4, 2 * 4)
    assert s.macs == c.macs == 16 * 4 * 8  # positions x keys per query x features
    regions = lambda l, p: [(int(r.c0[1]), int(r.c1[1]), int(r.r0[1]), int(r.r1[1])) for r in cost.regions(l, p)]  # noqa: E731
    assert regions(3, (2, 2)) == [(0, 4, 2, 4), (0, 4, 0, 4)]  # Q's head-0 features of its rows; K's of all rows
    assert regions(5, (2, 2)) == [(0, 4, 2, 4), (0, 4, 0, 4)]  # P's head 0 of its rows; V's channels, all rows
    assert (m.K, m.H, m.W, m.macs) == (32, 2, 2, 0)
    assert regions(7, (1, 2)) == [(0, 8, 2, 4)]
    assert cost.compute_s(7, (1, 2)) == 0.0


def test_exact_methods_agree_on_window_attention_and_unshuffle():
    inst = tiny_instance(WINDOWED, mesh=(2, 1))
    results = {m: solve(inst, m) for m in ("dp", "enumerate", "cpsat", "milp-highs", "scope")}
    best = results["enumerate"].latency_s
    for m in ("dp", "cpsat", "milp-highs"):
        assert results[m].status == "optimal" and results[m].latency_s == pytest.approx(best, rel=1e-9), m
    assert results["dp"].evaluation.latency_s == results["dp"].latency_s and results["scope"].latency_s >= best


@pytest.mark.parametrize("change,message", [
    ({"name": "s", "window": 3}, r"\(s\)\.window: windows of 3 tokens must tile the 16 positions of 'k'"),
    ({"name": "q", "window": 4}, r"\(q\)\.window: only a matmul_t or matmul layer takes window"),
    ({"name": "c", "window": 8}, r"'p' has 8 channels; expected heads x tokens of 'v' = 2 x 8 = 16"),
    ({"name": "m", "factor": 3}, r"\(m\)\.factor: factor 3 does not divide the 4x4 input"),
    ({"name": "m", "R": 2}, r"\(m\)\.R: an unshuffle layer's window is its factor"),
    ({"name": "o", "factor": 2}, r"\(o\)\.factor: only a unshuffle layer takes factor"),
])
def test_window_and_factor_errors_name_the_field(change, message):
    import yaml
    raw = yaml.safe_load(WINDOWED)
    layer = next(rl for rl in raw["layers"] if rl["name"] == change["name"])
    layer.update(change)
    with pytest.raises(InputError, match=message):
        build_network(raw, "w.yaml", "w")


class SwinGraph(TokenGraph):
    """Swin's blocks as torch.onnx.export writes them (dynamo; with `legacy`, the pad
    amounts computed from constants, as the legacy exporter leaves them)."""

    def __init__(self, legacy=False):
        super().__init__(HW * HW, C, HEADS)
        self.legacy = legacy
        self.inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2 * HW, 2 * HW])]

    def pad(self, name, x):
        pads = self.const([0] * 8)
        if self.legacy:  # F.pad's pairs reordered by shape arithmetic
            pairs = self.op("Transpose", [self.op("Reshape", [pads, self.const([-1, 2])], f"{name}_pairs")], f"{name}_t",
                            perm=[1, 0])
            pads = self.op("Reshape", [pairs, self.const([-1])], f"{name}_amounts")
        return self.op("Pad", [x, pads], name, mode="constant")

    def slice(self, name, x, start, end, axis, step=1):
        return self.op("Slice", [x, self.const([start]), self.const([end]), self.const([axis]), self.const([step])], name)

    def roll(self, name, x, k):
        for axis in (1, 2):
            a, b = self.slice(f"{name}{axis}a", x, k, INT64_MAX, axis), self.slice(f"{name}{axis}b", x, 0, k, axis)
            x = self.op("Concat", [a, b], f"{name}{axis}", axis=axis)
        return x

    def windows(self, name, x):
        n = HW // WIN
        x = self.op("Reshape", [x, self.const([1, n, WIN, n, WIN, C])], f"{name}_grid")
        x = self.op("Transpose", [x], f"{name}_perm", perm=[0, 1, 3, 2, 4, 5])
        return self.op("Reshape", [x, self.const([n * n, WIN * WIN, C])], f"{name}_windows")

    def unwindow(self, name, x):
        n = HW // WIN
        x = self.op("Reshape", [x, self.const([1, n, n, WIN, WIN, C])], f"{name}_grid")
        x = self.op("Transpose", [x], f"{name}_perm", perm=[0, 1, 3, 2, 4, 5])
        x = self.op("Reshape", [x, self.const([1, HW, HW, C])], f"{name}_back")
        return self.slice(f"{name}_crop", x, 0, HW, 1) if self.legacy else x  # x[:, :H, :W] after the pad

    def window_attention(self, p, x, shift):
        nw, t, d = (HW // WIN) ** 2, WIN * WIN, C // HEADS
        qkv = self.op("Reshape", [self.linear(f"{p}_qkv", x, 3 * C, C), self.const([nw, t, 3, HEADS, d])], f"{p}_split")
        qkv = self.op("Transpose", [qkv], f"{p}_parts", perm=[2, 0, 3, 1, 4])
        q, k, v = (self.op("Gather", [qkv, self.const(j)], f"{p}_select{j}", axis=0) for j in range(3))
        q = self.op("Mul", [q, self.const(0.5, True)], f"{p}_scale")
        s = self.op("MatMul", [q, self.op("Transpose", [k], f"{p}_kt", perm=[0, 1, 3, 2])], f"{p}_scores")
        s = self.op("Add", [s, self.const(np.zeros((1, HEADS, t, t)), True)], f"{p}_bias")
        if shift:  # the shifted windows' mask, added per window
            s = self.op("Reshape", [s, self.const([1, nw, HEADS, t, t])], f"{p}_by_window")
            s = self.op("Add", [s, self.const(np.zeros((1, nw, 1, t, t)), True)], f"{p}_mask")
            s = self.op("Reshape", [s, self.const([-1, HEADS, t, t])], f"{p}_heads")
        c = self.op("MatMul", [self.op("Softmax", [s], f"{p}_softmax", axis=-1), v], f"{p}_context")
        c = self.op("Reshape", [self.op("Transpose", [c], f"{p}_cperm", perm=[0, 2, 1, 3]), self.const([nw, t, C])], f"{p}_cview")
        return self.linear(f"{p}_proj", c, C, C)

    def block(self, p, x, shift):
        y = self.pad(f"{p}_pad", self.layernorm(f"{p}_norm", x))
        y = self.roll(f"{p}_roll", y, shift) if shift else y
        y = self.unwindow(f"{p}_rev", self.window_attention(p, self.windows(p, y), shift))
        y = self.roll(f"{p}_unroll", y, HW - shift) if shift else y
        return self.op("Add", [x, y], f"{p}_res")

    def merge(self, x):
        x = self.pad("m_pad", x)
        y0, y1 = (self.slice(f"m_y{j}", x, j, INT64_MAX, 1, 2) for j in (0, 1))
        parts = [self.slice(f"m_{a}{b}", (y0, y1)[a], b, INT64_MAX, 2, 2) for b in (0, 1) for a in (0, 1)]
        return self.op("Concat", parts, "merge", axis=-1)

    def network(self):
        x = self.op("Conv", ["x", self.const(np.zeros((C, 3, 2, 2)), True)], "patch", kernel_shape=[2, 2], strides=[2, 2])
        x = self.layernorm("ln0", self.op("Transpose", [x], "nhwc", perm=[0, 2, 3, 1]))
        x = self.block("b1", self.block("b0", x, 0), 1)
        x = self.merge(x)
        x = self.op("LayerNormalization", [x, self.const(np.ones(4 * C), True)], "merge_ln", axis=-1)
        x = self.op("MatMul", [x, self.const(np.zeros((4 * C, 2 * C)), True)], "reduce")
        x = self.op("GlobalAveragePool", [self.op("Transpose", [x], "nchw", perm=[0, 3, 1, 2])], "gap")
        return self.op("Gemm", [self.op("Flatten", [x], "flat"), self.const(np.zeros((10, 2 * C)), True)], "head", transB=1)


SWIN = """
input: {C: 3, H: 8, W: 8}
layers:
  - {name: patch, K: 8, R: 2, stride: 2, pad: 0}
  - {name: ln0, op: layernorm}
""" + "".join(f"""  - {{name: {b}_norm, op: layernorm}}
  - {{name: {b}_qkv_q, K: 8}}
  - {{name: {b}_qkv_k, K: 8, inputs: [{b}_norm]}}
  - {{name: {b}_qkv_v, K: 8, inputs: [{b}_norm]}}
  - {{name: {b}_scores, op: matmul_t, inputs: [{b}_qkv_q, {b}_qkv_k], groups: 2, window: 4}}
  - {{name: {b}_softmax, op: softmax, groups: 2}}
  - {{name: {b}_context, op: matmul, inputs: [{b}_softmax, {b}_qkv_v], groups: 2, window: 4}}
  - {{name: {b}_proj, K: 8, residual: {x}}}
""" for b, x in (("b0", "ln0"), ("b1", "b0_proj"))) + """  - {name: merge, op: unshuffle, factor: 2}
  - {name: merge_ln, op: layernorm}
  - {name: reduce, K: 16}
  - {name: gap, op: pool, R: 2, pad: 0}
  - {name: head, op: fc, K: 10}
"""


@pytest.mark.parametrize("legacy", [False, True])
def test_swin_blocks_and_patch_merging_import_layer_for_layer(tmp_path, legacy):
    """Window partition, fused QKV, relative position bias and shift mask (constants that
    fold), window reverse, torch.roll both ways, the zero Pad, the four strided slices of
    patch merging: the network of SWIN, with the MACs of windows of 4 tokens."""
    g = SwinGraph(legacy)
    net = same_layers(g.save(tmp_path / "swin.onnx", g.network()), SWIN)
    rep = import_onnx(tmp_path / "swin.onnx")
    assert rep.folded["Roll (cyclic shift)"] == 4 and rep.folded["Pad (by zero)"] == 3
    assert rep.folded["Slice (whole axis)"] == (2 if legacy else 0)
    assert net.layers[net.index["b0_scores"]].macs == HW * HW * WIN * WIN * C


def test_swin_layouts_that_are_no_shift_or_merge_are_refused(tmp_path):
    g = SwinGraph()
    x = g.op("Transpose", [g.op("Conv", ["x", g.const(np.zeros((C, 3, 2, 2)), True)], "patch", kernel_shape=[2, 2],
                                strides=[2, 2])], "nhwc", perm=[0, 2, 3, 1])
    half = g.slice("top", x, 0, 2, 1)
    out = g.op("LayerNormalization", [half, g.const(np.ones(C), True)], "ln", axis=-1)
    with pytest.raises(InputError, match=r"node 'ln' \(LayerNormalization\): reads part of the rows or columns of a "
                                         r"tensor; scope-opt follows only a cyclic shift"):
        import_onnx(g.save(tmp_path / "crop.onnx", out))
    g = SwinGraph()
    out = g.op("Pad", ["x", g.const([0, 0, 1, 1, 0, 0, 1, 1])], "pad", mode="constant")
    out = g.op("Conv", [out, g.const(np.zeros((C, 3, 2, 2)), True)], "patch", kernel_shape=[2, 2])
    with pytest.raises(InputError, match=r"node 'pad' \(Pad\): pads by \[0, 0, 1, 1, 0, 0, 1, 1\]; expected a pad of zero"):
        import_onnx(g.save(tmp_path / "pad.onnx", out))


def test_unshuffle_round_trips_as_space_to_depth_and_windows_are_not_written(tmp_path):
    import onnx
    import yaml
    from scope_opt.problem.onnx_export import export_onnx
    from scope_opt.problem.onnx_import import load_onnx_network
    text = """
input: {C: 4, H: 4, W: 4}
layers:
  - {name: a, K: 8, R: 3}
  - {name: m, op: unshuffle, factor: 2}
  - {name: b, K: 8}
"""
    net = build_network(yaml.safe_load(text), "(u)", "u")
    model = export_onnx(net, tmp_path / "u.onnx")
    onnx.checker.check_model(model, full_check=True)
    assert "SpaceToDepth" in {n.op_type for n in model.graph.node}
    assert load_onnx_network(tmp_path / "u.onnx").layers == net.layers
    with pytest.raises(ValueError, match=r"layer s: attention over spatial positions or within windows"):
        export_onnx(build_network(yaml.safe_load(WINDOWED), "(w)", "w"))
