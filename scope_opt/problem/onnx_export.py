"""A small ONNX writer for scope-opt networks (the round-trip tests, and a way to hand a
bundled network to a tool that reads ONNX).  Weights are declared as graph inputs with
their shapes and no data: the graph carries the structure, not the values.

Tensors are [N, C, H, W], or [N, T, D] for tokens (a tokens layer's output, a network
input of one column, and what token layers make of them); attention's scores are
[N, heads, T_q, T_k], as PyTorch writes them."""

from __future__ import annotations

from pathlib import Path

from scope_opt.problem.network import NETWORK_INPUT, Layer, Network
from scope_opt.problem.network_yaml import _out_len

TOKEN_OPS = ("tokens", "matmul")  # their output is tokens whatever they read
SCORE_OPS = ("matmul_t", "softmax")


def _pads(layer) -> list[int]:
    """ONNX pads [top, left, bottom, right]: a square kernel pads `pad` everywhere; a
    non-square one was padded by the per-axis default, columns (S-1)//2."""
    pw = layer.pad if layer.R == layer.S else (layer.S - 1) // 2
    return [layer.pad, pw, layer.pad, pw]


def _forms(net: Network) -> dict[str, str]:
    """Each tensor's ONNX form: 'nchw', 'tokens' ([N, T, D]), 'scores' or 'vector' (an fc's)."""
    inp = net.external[NETWORK_INPUT]
    form = {NETWORK_INPUT: "tokens" if inp.W == 1 and inp.H > 1 else "nchw"}
    for layer in net.layers:
        if layer.op in SCORE_OPS:
            form[layer.name] = "scores"
        elif layer.op in TOKEN_OPS:
            form[layer.name] = "tokens"
        elif layer.op == "fc":
            form[layer.name] = "vector"
        else:
            form[layer.name] = "tokens" if form[layer.inputs[0]] == "tokens" else "nchw"
    return form


class _Writer:
    def __init__(self, net: Network) -> None:
        from onnx import TensorProto, helper
        self.net, self.h, self.T = net, helper, TensorProto
        self.nodes, self.inputs, self.inits = [], [], []
        self.form = _forms(net)

    def node(self, op: str, src: list[str], out: str, label: str | None = None, **attrs) -> str:
        """One node; `label` names the node that becomes the layer (the importer takes its name)."""
        self.nodes.append(self.h.make_node(op, src, [out], name=label or out, **attrs))
        return out

    def weight(self, name: str, dims: list[int]) -> str:
        self.inputs.append(self.h.make_tensor_value_info(name, self.T.FLOAT, dims))
        return name

    def const(self, name: str, values: list, dims: list[int] | None = None, floats: bool = False) -> str:
        kind = self.T.FLOAT if floats else self.T.INT64
        self.inits.append(self.h.make_tensor(name, kind, dims if dims is not None else [len(values)], values))
        return name

    def heads(self, src: str, layer: Layer, perm: list[int], tag: str) -> str:
        """A token tensor [N, T, D] as [N, heads, T, D/heads] (or, with perm (0, 2, 3, 1), its transpose)."""
        t = self.net.shape(src)
        split = self.node("Reshape", [src, self.const(f"{layer.name}__{tag}shape", [1, t.H, layer.groups, t.C // layer.groups])],
                          f"{layer.name}__{tag}split")
        return self.node("Transpose", [split], f"{layer.name}__{tag}heads", perm=perm)

    def attention(self, layer: Layer, src: list[str]) -> None:
        per_head = (layer.K if layer.op == "matmul_t" else layer.C) // layer.groups  # keys each query sees
        if layer.W > 1 or layer.op != "softmax" and per_head != self.net.shape(src[1]).H:
            raise ValueError(f"layer {layer.name}: attention over spatial positions or within windows (Swin's) has no "
                             "ONNX form in this writer; export such a model from PyTorch (docs/onnx.md)")
        if layer.op == "matmul_t":
            q = self.heads(src[0], layer, [0, 2, 1, 3], "q")
            self.node("MatMul", [q, self.heads(src[1], layer, [0, 2, 3, 1], "k")], layer.name)
        elif layer.op == "softmax":
            self.node("Softmax", src, layer.name, axis=-1)
        else:
            ctx = self.node("MatMul", [src[0], self.heads(src[1], layer, [0, 2, 1, 3], "v")], f"{layer.name}__heads",
                            label=layer.name)
            ctx = self.node("Transpose", [ctx], f"{layer.name}__split", perm=[0, 2, 1, 3])
            self.node("Reshape", [ctx, self.const(f"{layer.name}__shape", [1, layer.H, layer.K])], layer.name)

    def tokens(self, layer: Layer, src: str) -> None:
        """Positions as tokens: [N, C, H, W] flattened and transposed to [N, HW, C]; then
        learned tokens prepended (a Concat with a constant), or the first ones kept (Slice)."""
        t = self.net.shape(src)
        have = t.H * t.W
        if self.form[src] == "nchw":
            flat = self.node("Reshape", [src, self.const(f"{layer.name}__shape", [1, t.C, have])], f"{layer.name}__flat")
            src = self.node("Transpose", [flat], f"{layer.name}__tokens", perm=[0, 2, 1])
        if layer.H > have:
            extra = layer.H - have
            learned = self.const(f"{layer.name}.token", [0.0] * (extra * t.C), [1, extra, t.C], floats=True)
            self.node("Concat", [learned, src], layer.name, axis=1)
        elif layer.H < have:
            ends = [self.const(f"{layer.name}__{k}", [v]) for k, v in (("starts", 0), ("ends", layer.H), ("axes", 1))]
            self.node("Slice", [src, *ends], layer.name)
        else:
            self.node("Identity", [src], layer.name)

    def layernorm(self, layer: Layer, src: str) -> None:
        scale = self.const(f"{layer.name}.scale", [1.0] * layer.K, floats=True)
        if self.form[src] == "tokens":
            self.node("LayerNormalization", [src, scale], layer.name, axis=-1)
            return
        nhwc = self.node("Transpose", [src], f"{layer.name}__nhwc", perm=[0, 2, 3, 1])  # as ConvNeXt's LayerNorm2d
        normed = self.node("LayerNormalization", [nhwc, scale], f"{layer.name}__normed", label=layer.name, axis=-1)
        self.node("Transpose", [normed], layer.name, perm=[0, 3, 1, 2])

    def conv(self, layer: Layer, src: str) -> None:
        if self.form[src] == "tokens":  # a linear layer over tokens
            if (layer.R, layer.S, layer.stride, layer.groups) != (1, 1, 1, 1):
                raise ValueError(f"layer {layer.name}: a conv over tokens must be 1x1, stride 1, one group to export")
            out = self.node("MatMul", [src, self.weight(f"{layer.name}.weight", [layer.C, layer.K])], f"{layer.name}__conv",
                            label=layer.name)
        else:
            w = self.weight(f"{layer.name}.weight", [layer.K, layer.c_per_group, layer.R, layer.S])
            out = self.node("Conv", [src, w], f"{layer.name}__conv", label=layer.name, kernel_shape=[layer.R, layer.S],
                            strides=[layer.stride] * 2, pads=_pads(layer), group=layer.groups)
        if layer.residual:
            out = self.node("Add", [out, layer.residual], f"{layer.name}__sum")
        self.node("Relu", [out], layer.name, label=f"{layer.name}__relu")

    def fc(self, layer: Layer, src: str) -> None:
        if any(self.form[t] != "vector" for t in layer.inputs):  # Gemm takes a matrix: flatten, 1x1 included
            src = self.node("Flatten", [src], f"{layer.name}__flat", axis=1)
        self.node("Gemm", [src, self.weight(f"{layer.name}.weight", [layer.K, layer.C])], layer.name, transB=1)

    def pool(self, layer: Layer, src: str) -> None:
        shp = self.net.shape(layer.inputs[0])  # rows and columns: every concatenated input has them
        if layer.pad == 0 and (layer.R, layer.S) == (shp.H, shp.W) and layer.H == layer.W == 1:
            self.node("GlobalAveragePool", [src], layer.name)
            return
        floor_h = _out_len(shp.H, layer.R, layer.stride, layer.pad)  # more rows than this: ceil_mode
        self.node("MaxPool", [src], layer.name, kernel_shape=[layer.R, layer.S], strides=[layer.stride] * 2,
                  pads=_pads(layer), ceil_mode=int(layer.H > floor_h))

    def channels(self, layer: Layer, src: str) -> None:
        """A chunk: Slice of channels [first, first + K) on axis 1."""
        first = -layer.operands[0].offset
        ends = [self.const(f"{layer.name}__{k}", [v]) for k, v in (("starts", first), ("ends", first + layer.K), ("axes", 1))]
        self.node("Slice", [src, *ends], layer.name)

    def shuffle(self, layer: Layer, src: str) -> None:
        """ShuffleNet's channel_shuffle: Reshape into groups, Transpose, Reshape back."""
        g, c, h, w = layer.groups, layer.K, layer.H, layer.W
        x = self.node("Reshape", [src, self.const(f"{layer.name}__gshape", [1, g, c // g, h, w])], f"{layer.name}__groups")
        x = self.node("Transpose", [x], f"{layer.name}__swap", perm=[0, 2, 1, 3, 4])
        self.node("Reshape", [x, self.const(f"{layer.name}__shape", [1, c, h, w])], layer.name)

    def unshuffle(self, layer: Layer, src: str) -> None:
        """Space to depth: ONNX's SpaceToDepth (its channel order differs from Swin's
        concatenation, which the cost model does not see: each chiplet reads all channels)."""
        self.node("SpaceToDepth", [src], layer.name, blocksize=layer.R)

    def layer(self, layer: Layer) -> None:
        src = list(layer.inputs)
        if layer.op == "eltwise":  # its inputs broadcast, as ONNX's Mul does
            self.node("Mul", src, layer.name)
        elif layer.op in ("matmul_t", "softmax", "matmul"):
            self.attention(layer, src)
        else:
            if len(src) > 1:
                self.form[f"{layer.name}__cat"] = self.form[src[0]]
                src = [self.node("Concat", src, f"{layer.name}__cat", axis=1)]
            {"tokens": self.tokens, "layernorm": self.layernorm, "conv": self.conv, "fc": self.fc,
             "pool": self.pool, "channels": self.channels, "shuffle": self.shuffle,
             "unshuffle": self.unshuffle}[layer.op](layer, src[0])

    def value_info(self, tensor: str):
        t = self.net.shape(tensor)
        heads = self.net.layers[self.net.index[tensor]].groups if self.form[tensor] == "scores" else 1
        dims = {"nchw": [1, t.C, t.H, t.W], "tokens": [1, t.H, t.C], "vector": [1, t.C],
                "scores": [1, heads, t.H, t.C // heads]}[self.form[tensor]]
        return self.h.make_tensor_value_info(tensor, self.T.FLOAT, dims)


def export_onnx(net: Network, path: str | Path | None = None):
    """The network as an ONNX ModelProto (written to `path` when given): Conv (+ Add for a
    residual) + Relu per conv layer (MatMul over tokens), Flatten + Gemm per fc layer,
    MaxPool or GlobalAveragePool per pool layer, Mul per eltwise layer, LayerNormalization,
    attention as MatMul, Softmax, Reshape and Transpose, tokens as Reshape, Transpose and
    Concat or Slice, Concat where a layer reads several tensors."""
    import onnx

    w = _Writer(net)
    for layer in net.layers:
        w.layer(layer)
    graph = w.h.make_graph(w.nodes, net.name, [w.value_info(NETWORK_INPUT), *w.inputs], [w.value_info(net.layers[-1].name)],
                           initializer=w.inits)
    model = w.h.make_model(graph, producer_name="scope-opt", opset_imports=[w.h.make_opsetid("", 17)])
    if path is not None:
        onnx.save(model, str(path))
    return model
