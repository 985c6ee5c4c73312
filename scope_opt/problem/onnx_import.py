"""ONNX import: an ONNX model's graph as a scope-opt network (the YAML form of
docs/instances.md), with ONNX's own shape inference and no runtime.  Weights are never
read, only their shapes, so a model exported without weights (or with its external data
file absent) imports too (docs/onnx.md).

Conv, Gemm/MatMul with a constant weight (fc), Add of two tensors (a residual, folded into
the layer that ends the block), Concat on channels, MaxPool/AveragePool/Global*Pool and
Flatten/Reshape map to layers; attention, LayerNormalization and tokens are followed
through their layouts (onnx_tokens.py); element-wise and normalisation operators fold
away; anything else is refused by name (or dropped with --skip-unsupported)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from scope_opt.errors import InputError
from scope_opt.problem.network import NETWORK_INPUT, Network
from scope_opt.problem.network_yaml import build_network
from scope_opt.problem.onnx_layers import ImportReport, _describe, _Layer
from scope_opt.problem.onnx_graph import _attrs, _data_input, _input_chw, _load, _safe_name, _shapes
from scope_opt.problem.onnx_pool import POOL_OPS, pool
from scope_opt.problem.onnx_residual import _fold_residual
from scope_opt.problem import onnx_labels as lab, onnx_tokens as tok, onnx_windows as win

LAYER_OPS = ("Conv", "Gemm", "MatMul", "Add", "Mul", "Concat", *POOL_OPS, "Flatten", "Reshape", "Softmax", *tok.TOKEN_OPS,
             "Pad", "SpaceToDepth")
FOLDED_OPS = ("Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "PRelu", "Elu", "Selu", "Tanh",
              "Softplus", "BatchNormalization", "InstanceNormalization", "LRN", "Identity", "Dropout",
              "LogSoftmax", "Cast", "Squeeze", "Unsqueeze", "Erf", "Gelu")
CONSTANT_ARITHMETIC = ("Add", "Sub", "Mul", "Div")  # with one constant operand: a bias or a scale, folded
PREDICATE_OPS = ("IsNaN", "IsInf")  # a test of a tensor that only a Where reads: not data
KNOWN_OPS = set(LAYER_OPS) | set(FOLDED_OPS) | set(CONSTANT_ARITHMETIC) | set(PREDICATE_OPS) | {"Where"}
SUPPORTED_TEXT = ("Conv, Gemm/MatMul (constant weight), MatMul of attention (Q K^T, P V per head), Softmax, LayerNormalization, "
                  "Transpose and Reshape of attention's heads and windows, Concat/Slice/Gather of tokens, Slice/Split of "
                  "channels, channel shuffle, Slice+Concat of rows and columns (torch.roll, Swin's patch merging), "
                  "SpaceToDepth, Pad (by zero), Add (residual), Add/Sub/Mul/Div of two tensors (eltwise, broadcast), Concat (channels), "
                  "MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceMean/ReduceMax (over rows and columns), "
                  "Flatten, Reshape; folded: " + ", ".join(FOLDED_OPS) + ", Where filling a constant (after IsNaN/IsInf: "
                  "the exporters' safe softmax)")


def _conv_pad(path: Path, where: str, a: dict, R: int, S: int) -> int | None:
    """The pad of a Conv: one for all sides, or None for the default per-axis rule."""
    pads = a.get("pads")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return 0 if a["auto_pad"] in (b"VALID", "VALID") else None
    if pads is None:
        return 0
    if len(set(pads)) == 1:
        return pads[0]
    if list(pads) != [(R - 1) // 2, (S - 1) // 2] * 2:  # the default per-axis rule needs no pad
        raise InputError(path, where, f"pads {pads}: expected one pad for all sides, or [(R-1)//2, (S-1)//2] on each side")
    return None


class _Importer:
    """One pass over the graph's nodes, in order; each operator has its handler."""

    def __init__(self, path: Path, model, input_shape, skip_unsupported: bool) -> None:
        self.path, self.g, self.skip = path, model.graph, skip_unsupported
        self.shapes = _shapes(model)
        xs, side = _data_input(path, self.g)  # the input, or the embedding lookups of token ids
        if not skip_unsupported:
            self.refuse_unsupported(xs)  # an unsupported node is the real reason, before any shape question
        self.chw = _input_chw(path, xs[0], self.shapes, input_shape)[1]
        self.report = ImportReport({}, side_inputs=side)
        if side:
            self.report.folded["Gather (embedding lookup)"] = len(xs)
        self.ref: dict[str, str | list[str]] = dict.fromkeys(xs, NETWORK_INPUT)  # data tensor -> layer, or a Concat's list
        self.view: dict[str, tuple[str, ...]] = {}  # data tensor -> its axes' labels, when not natural (onnx_tokens)
        self.qkv: dict[str, list[str]] = {}  # a fused Q, K, V projection -> its three parts
        self.pieces: dict[str, tuple[str, dict]] = {}  # a slice of rows or columns -> (its root, axis -> cut)
        self.layers: list[_Layer] = []
        self.by_name: dict[str, _Layer] = {}
        self.taken: set[str] = set()
        self.uses = Counter(i for n in self.g.node for i in n.input)

    def refuse_unsupported(self, xs: list[str]) -> None:
        """The first node on the data path whose operator the model cannot express."""
        data = set(xs)
        for node in self.g.node:
            if not any(i in data for i in node.input) or node.op_type in ("Shape", "Size"):
                continue
            data.update(node.output)
            if node.op_type not in KNOWN_OPS:
                raise InputError(self.path, self.where(node), f"operator {node.op_type} cannot be expressed in the scope-opt "
                                                              f"model; supported: {SUPPORTED_TEXT} (or pass --skip-unsupported "
                                                              "to drop it with a warning)")

    @staticmethod
    def where(node) -> str:
        return f"node {node.name or node.output[0]!r} ({node.op_type})"

    def single(self, node, tensor: str) -> str:
        r = self.ref[tensor]
        if isinstance(r, list):
            raise InputError(self.path, self.where(node), "reads a Concat output directly; only Conv, Gemm and MatMul can "
                                                          "read concatenated tensors here")
        return r

    def new_layer(self, raw: str, layer: _Layer, at: int | None = None) -> str:
        """Name `layer` from `raw` (made safe and unique) and place it, last or at `at`."""
        layer.name = _safe_name(raw, self.taken)
        self.layers.insert(len(self.layers) if at is None else at, layer)
        self.by_name[layer.name] = layer
        return layer.name

    def add_layer(self, node, layer: _Layer) -> None:
        self.ref[node.output[0]] = self.new_layer(node.name or node.output[0], layer)

    def sources(self, tensor: str) -> list[str]:
        src = self.ref[tensor]
        return src if isinstance(src, list) else [src]

    def conv(self, node, data, a) -> None:
        if len(node.input) < 2:
            raise InputError(self.path, self.where(node), "has no weight input; expected Conv(X, W[, B])")
        wshape = self.shapes.get(node.input[1])
        if not wshape or len(wshape) != 4 or any(not isinstance(d, int) for d in wshape):
            raise InputError(self.path, self.where(node), f"weight {node.input[1]!r} has no known 4-d shape; expected [K, C/groups, R, S]")
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            raise InputError(self.path, self.where(node), f"dilations {a['dilations']} are not supported; expected 1")
        strides = a.get("strides", [1, 1])
        if len(set(strides)) != 1:
            raise InputError(self.path, self.where(node), f"strides {strides} differ per axis; expected equal strides")
        K, _, R, S = wshape
        pad = _conv_pad(self.path, self.where(node), a, R, S)
        self.add_layer(node, _Layer("", "conv", K, self.sources(data[0]), R, S, strides[0], a.get("group", 1), pad))

    def fc(self, node, data, a) -> None:
        wshape = self.shapes.get(node.input[1]) if len(node.input) > 1 else None
        if len(node.input) < 2 or node.input[1] in self.ref or not wshape or len(wshape) != 2:
            raise InputError(self.path, self.where(node), "expected a constant 2-d weight as the second operand (an fc layer)")
        K = wshape[0] if (node.op_type == "Gemm" and a.get("transB", 0)) else wshape[1]
        if tok.over_features(self, data[0]):  # a linear layer over tokens [N, T, D] (or pixels): a 1x1 conv
            return tok.linear(self, node, data, K)
        self.add_layer(node, _Layer("", "fc", K, self.sources(data[0])))

    def drop(self, node, data) -> None:
        """--skip-unsupported: the node's output is taken to be its first data input, which
        is only the same network when the node keeps the tensor's shape."""
        out, inp = self.shapes.get(node.output[0]), self.shapes.get(data[0])
        if out is None or inp is None or out != inp:
            raise InputError(self.path, self.where(node), f"cannot be dropped with --skip-unsupported: its output "
                             f"{out if out is not None else '(unknown shape)'} is not its input {inp}, so every layer after "
                             f"it would read a different tensor; {node.op_type} is not supported (docs/onnx.md lists what is)")
        self.ref[node.output[0]] = self.ref[data[0]]
        self.report.dropped.append(f"{self.where(node)}, shape {out} kept")

    def binary(self, node, data) -> None:
        """Add/Sub/Mul/Div of two data tensors: an activation of one tensor (SiLU's
        x * sigmoid(x)) folds; an Add of equal shapes is a residual; anything else (an SE
        block's x * s, a broadcast add) is an eltwise layer."""
        src = [self.single(node, t) for t in data]
        if src[0] == src[1]:
            lab.passes_on(self, node, data[0])
            self.report.folded[f"{node.op_type} (of one tensor)"] += 1
            return
        shapes = [self.shapes.get(t) for t in data]
        layout = [lab.core(lab.labels(self, t), s) for t, s in zip(data, shapes)]
        if layout[0] != layout[1]:  # broadcast: both [N, C, H, W]; equal layouts (channels-last too) are one
            lab.natural(self, node, data)
        lab.set_labels(self, node.output[0], lab.labels(self, data[0]))
        if node.op_type == "Add" and (shapes[0] == shapes[1] or None in shapes):
            try:
                return _fold_residual(self.path, node, self.where(node), src, data, self.uses, self.layers,
                                      self.by_name, self.ref)
            except InputError:  # not a residual block: an add of two tensors, costed as an eltwise layer
                pass
        self.add_layer(node, _Layer("", "eltwise", 0, src))

    def where_fill(self, node, data) -> None:
        """Where(test, constant, x) or Where(test, x, constant), the test not data (IsNaN of
        a softmax in the exporters' safe softmax; a mask): x with some elements replaced,
        element-wise, so it folds like an activation."""
        out, shape = self.shapes.get(node.output[0]), self.shapes.get(data[0])
        if node.input[0] in self.ref or len(data) != 1 or (out is not None and shape is not None and out != shape):
            raise InputError(self.path, self.where(node), "selects between data tensors, or on a condition computed from "
                                                          "data, or broadcasts its input; expected Where(test, constant, x) "
                                                          "that keeps x's shape (a constant fill)")
        lab.passes_on(self, node, data[0])
        self.report.folded["Where (a constant fill)"] += 1

    def concat(self, node, data, a) -> None:
        if any(t in self.pieces for t in data):  # rows or columns joined: a cyclic shift, a space to depth
            return win.concat(self, node, data, a)
        if len(self.shapes.get(data[0]) or ()) == 3 and a.get("axis", 1) in (1, -2):  # tokens [N, T, D]
            return tok.token_concat(self, node, data)
        lab.natural(self, node, data)
        if a.get("axis", 1) != 1:
            raise InputError(self.path, self.where(node), f"concatenates on axis {a.get('axis')}; expected a concatenation "
                                                          "on channels (axis 1 of [N, C, H, W])")
        if len(data) != len(node.input):
            const = next(i for i in node.input if i not in data)
            raise InputError(self.path, self.where(node), f"concatenates the constant {const!r} (a learned token, for "
                                                          "instance) with data; expected only data tensors on channels")
        self.ref[node.output[0]] = [s for t in data for s in self.sources(t)]

    def check_order(self) -> None:
        """Every node reads only tensors made before it (graph inputs, initializers, earlier
        nodes) and makes at least one: a dangling, out-of-order or cyclic graph is refused."""
        known = {i.name for i in self.g.input} | {i.name for i in self.g.initializer} | {""}
        for node in self.g.node:
            if not node.output:
                raise InputError(self.path, f"node {node.name!r} ({node.op_type})", "has no outputs; expected a node that makes a tensor")
            missing = [i for i in node.input if i not in known]
            if missing:
                raise InputError(self.path, self.where(node), f"reads {missing[0]!r}, which no earlier node makes (a dangling, "
                                                              "out-of-order or cyclic graph); expected nodes in topological order")
            known.update(node.output)

    def node(self, node) -> None:
        data = [i for i in node.input if i in self.ref]
        op = node.op_type
        if node.output[0] in self.ref:  # an embedding lookup: already the network's input
            return
        if not data or op in ("Shape", "Size", *PREDICATE_OPS):  # constants, a tensor's metadata, a test of it
            self.report.folded[op] += 1
            return
        handler = {"Conv": self.conv, "Gemm": self.fc, "MatMul": self.fc, "Concat": self.concat}.get(op)
        token_handler = {"Transpose": lab.transpose, "LayerNormalization": tok.layernorm, "Softmax": tok.softmax,
                         "Pad": win.pad, "SpaceToDepth": win.space_to_depth}.get(op)
        if op in ("Conv", *POOL_OPS):
            lab.natural(self, node, data)
        if any(t in self.pieces for t in data) and op not in ("Slice", "Concat"):
            win.refuse_piece(self, node)
        if op == "MatMul" and len(data) == 2:
            tok.matmul(self, node, data)
        elif op == "Slice" and win.is_spatial_slice(self, node):
            win.spatial_slice(self, node, data)
        elif op in ("Slice", "Gather"):
            tok.select(self, node, data)
        elif op == "Split":
            tok.split(self, node, data, _attrs(node))
        elif op in ("Reshape", "Flatten"):
            tok.reshape(self, node, data)
            self.report.folded[op] += 1
        elif token_handler is not None:
            token_handler(self, node, data, _attrs(node))
        elif handler is not None:
            handler(node, data, _attrs(node))
        elif op in POOL_OPS:
            pool(self, node, data, _attrs(node))
        elif op == "Where":
            self.where_fill(node, data)
        elif op in CONSTANT_ARITHMETIC and len(data) == 2:
            self.binary(node, data)
        elif op in FOLDED_OPS or (op in CONSTANT_ARITHMETIC and len(data) == 1):
            lab.passes_on(self, node, data[0])
            self.report.folded[op] += 1
        elif self.skip:
            self.drop(node, data)
        else:
            raise InputError(self.path, self.where(node), f"operator {op} cannot be expressed in the scope-opt model; supported: "
                                                          f"{SUPPORTED_TEXT} (or pass --skip-unsupported to drop it with a warning)")


def import_onnx(path: str | Path, input_shape: tuple[int, int, int] | None = None,
                skip_unsupported: bool = False, name: str | None = None) -> ImportReport:
    """Read an ONNX file into a network description (dict), checked by build_network."""
    path = Path(path)
    imp = _Importer(path, _load(path), input_shape, skip_unsupported)
    imp.check_order()
    for node in imp.g.node:
        imp.node(node)
    if not imp.layers:
        raise InputError(path, "graph", "no Conv, Gemm, MatMul or pool node found; nothing to map")
    imp.report.description = _describe(name or path.stem, imp.chw, imp.layers)
    return imp.report


def load_onnx_network(path: str | Path, input_shape: tuple[int, int, int] | None = None,
                      skip_unsupported: bool = False) -> Network:
    """An ONNX file as a checked Network (the same validation as a YAML network)."""
    rep = import_onnx(path, input_shape, skip_unsupported)
    return build_network(rep.description, str(path), Path(path).stem)
