"""ONNX import of token networks: attention's MatMuls and Softmax, LayerNormalization,
the tokens of a patch embedding, a class token's selection and a fused Q, K, V
projection become layers, read from the axis labels of onnx_labels.py (docs/onnx.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scope_opt.errors import InputError
from scope_opt.problem.onnx_graph import _constant
from scope_opt.problem.onnx_layers import _Layer
from scope_opt.problem.onnx_labels import _reshaped, _text, core, is_natural, labels, passes_on, set_labels

if TYPE_CHECKING:
    from scope_opt.problem.onnx_import import _Importer

TOKEN_OPS = ("Transpose", "LayerNormalization", "Slice", "Gather", "Split")


def _layer(imp: _Importer, node, op: str, inputs: list[str], lab: tuple[str, ...] | None = None, **fields) -> None:
    imp.add_layer(node, _Layer("", op, fields.pop("K", 0), inputs, **fields))
    if lab is not None:
        set_labels(imp, node.output[0], lab)


def reshape(imp: _Importer, node, data: list[str]) -> None:
    """Reshape and Flatten: adjacent axes merge or one splits, by the shapes; groups of
    channels merged back in swapped order are a channel shuffle layer."""
    src = data[0]
    lab = _reshaped(imp, node, labels(imp, src), imp.shapes.get(src), imp.shapes.get(node.output[0]))
    if "shuffle" not in lab:
        imp.ref[node.output[0]] = imp.ref[src]
        set_labels(imp, node.output[0], lab)
        return
    before = labels(imp, src)
    groups = imp.shapes[src][before.index("h")]
    if len(lab) != 4 or not is_natural(tuple("c" if a == "shuffle" else a for a in lab), imp.shapes.get(node.output[0])):
        raise InputError(imp.path, imp.where(node), f"shuffles the channels of a tensor laid out as {_text(before)}; "
                                                    "expected [N, C, H, W] (ShuffleNet's channel_shuffle)")
    _layer(imp, node, "shuffle", imp.sources(src), groups=groups)


def split(imp: _Importer, node, data: list[str], a: dict) -> None:
    """Split on channels (torch's chunk, as the dynamo exporter writes it): one channels
    layer per part."""
    shape, lab = imp.shapes.get(data[0]) or [], labels(imp, data[0])
    axis = a.get("axis", 0) % max(len(shape), 1)
    sizes = a.get("split") or (_constant(imp.g, node.input[1]) if len(node.input) > 1 and node.input[1] else None)
    if sizes is None and shape and isinstance(shape[axis], int):
        n = a.get("num_outputs", len(node.output))
        sizes = [-(-shape[axis] // n)] * (n - 1) + [shape[axis] - -(-shape[axis] // n) * (n - 1)]
    if not lab or lab[axis] != "c" or sizes is None or len(sizes) != len(node.output):
        raise InputError(imp.path, imp.where(node), f"splits axis {axis} of a tensor laid out as {_text(lab)}; expected "
                                                    "a split of channels (axis 1 of [N, C, H, W])")
    src, first = imp.single(node, data[0]), 0
    for out, size in zip(node.output, sizes):
        imp.ref[out] = imp.new_layer(f"{node.name or out}_{first}", _Layer("", "channels", size, [src], first=first))
        first += size


def as_tokens(imp: _Importer, node, tensor: str) -> str:
    """The layer a token op reads; patches not yet made tokens become a tokens layer first."""
    lab, shape = labels(imp, tensor), imp.shapes.get(tensor)
    if "yx" not in core(lab, shape):
        return imp.single(node, tensor)
    count = shape[lab.index("yx")]
    layer = _Layer("", "tokens", 0, [imp.single(node, tensor)], H=count)
    imp.ref[tensor] = imp.new_layer(f"{node.name or node.output[0]}_tokens", layer)
    set_labels(imp, tensor, tuple("t" if a == "yx" else a for a in lab))
    return layer.name


def over_features(imp: _Importer, tensor: str, vector: bool = False) -> bool:
    """True when the last axis is features of tokens or of channels-last pixels (a linear
    layer there is a 1x1 conv); with `vector`, also the features of one vector."""
    c = core(labels(imp, tensor), imp.shapes.get(tensor))
    return len(c) >= (1 if vector else 2) and c[-1] == "c" and set(c[:-1]) <= {"t", "y", "x", "yx", "w", "p"}


def linear(imp: _Importer, node, data: list[str], K: int) -> None:
    src = as_tokens(imp, node, data[0])
    imp.add_layer(node, _Layer("", "conv", K, [src]))
    set_labels(imp, node.output[0], labels(imp, data[0]))


def layernorm(imp: _Importer, node, data: list[str], a: dict) -> None:
    rank = len(imp.shapes.get(data[0]) or ())
    if a.get("axis", -1) not in (-1, rank - 1) or not over_features(imp, data[0], vector=True):
        raise InputError(imp.path, imp.where(node), f"normalises axis {a.get('axis', -1)} of a tensor laid out as "
                                                    f"{_text(labels(imp, data[0]))}; expected a LayerNorm over the last "
                                                    "axis of tokens [N, T, D] or of channels-last [N, H, W, C]")
    src = as_tokens(imp, node, data[0])
    _layer(imp, node, "layernorm", [src], labels(imp, data[0]))


def softmax(imp: _Importer, node, data: list[str], a: dict) -> None:
    """Softmax over attention's scores is a layer; over a classifier's logits it folds."""
    lab, shape = labels(imp, data[0]), imp.shapes.get(data[0])
    c = core(lab, shape)
    if c[-1:] != ("s",):
        passes_on(imp, node, data[0])
        imp.report.folded["Softmax"] += 1
        return
    if a.get("axis", -1) not in (-1, len(lab) - 1):
        raise InputError(imp.path, imp.where(node), f"takes the softmax over axis {a['axis']} of the scores; expected "
                                                    "the last axis (the keys)")
    _layer(imp, node, "softmax", [imp.single(node, data[0])], lab, groups=_heads(lab, shape))


def _heads(lab, shape) -> int:
    return shape[lab.index("h")] if "h" in lab else 1


def matmul(imp: _Importer, node, data: list[str]) -> None:
    """Two activations: attention's Q K^T (heads by transposed heads) or its P V (scores by heads)."""
    (la, lb), (sa, sb) = (labels(imp, t) for t in data), (imp.shapes.get(t) for t in data)
    ca, cb = core(la, sa), core(lb, sb)
    src = [imp.single(node, t) for t in data]
    ha, hb = _heads(la, sa), _heads(lb, sb)
    windowed = ca[:1] == cb[:1] == ("w",)  # a batch of windows: each query attends to its window's tokens
    ca, cb = (c[1:] if windowed else c for c in (ca, cb))
    t = ca[-2] if len(ca) >= 2 and ca[-2] in ("t", "p") else "t"  # tokens, or a window's positions
    window = sb[lb.index(t)] if windowed and t in lb else None
    if ha == hb and ca in (("h", t, "e"), (t, "e")) and cb == ca[:-2] + ("e", t):
        _layer(imp, node, "matmul_t", src, la[:-1] + ("s",), groups=ha, window=window)
    elif ha == hb and ca in (("h", t, "s"), (t, "s")) and cb == ca[:-2] + (t, "e"):
        _layer(imp, node, "matmul", src, la[:-1] + ("e",), groups=ha, window=window)
    else:
        raise InputError(imp.path, imp.where(node), f"multiplies a tensor laid out as {_text(la)} by one laid out as "
                                                    f"{_text(lb)}; expected attention's Q K^T ([N, h, T, d] by "
                                                    "[N, h, d, T]) or P V ([N, h, T, T] by [N, h, T, d]), or a matrix "
                                                    "by a constant weight")


def token_concat(imp: _Importer, node, data: list[str]) -> None:
    """Learned tokens (a class token) joined to the tokens of one tensor: a tokens layer."""
    if len(data) != 1 or len(node.input) < 2:
        raise InputError(imp.path, imp.where(node), "concatenates the tokens of several tensors; expected learned "
                                                    "tokens (a constant) joined to one tensor's tokens")
    shape = imp.shapes.get(data[0]) or []
    extra = [imp.shapes.get(i) for i in node.input if i not in data]
    if len(shape) != 3 or any(not e or len(e) != 3 or not isinstance(e[1], int) for e in extra):
        raise InputError(imp.path, imp.where(node), f"joins tokens of unknown count to {shape}; expected constants "
                                                    "[1, k, D] (a class token) and tokens [N, T, D]")
    _layer(imp, node, "tokens", [imp.single(node, data[0])], H=shape[1] + sum(e[1] for e in extra))


def select(imp: _Importer, node, data: list[str]) -> None:
    """Gather and Slice: the Q, K or V part of a fused projection, the first tokens (a
    class token read), or every element in order (dynamo's as_strided)."""
    lab = labels(imp, data[0])
    if node.op_type == "Gather" and _is_identity_gather(imp, node):
        imp.ref[node.output[0]] = imp.single(node, data[0])
        imp.report.folded["Gather (identity)"] += 1
        return
    axis, first, count = _selection(imp, node, len(lab))
    if axis is not None and lab[axis] == "3" and count == 1:
        imp.ref[node.output[0]] = split_qkv(imp, node, imp.single(node, data[0]))[first]
        set_labels(imp, node.output[0], lab[:axis] + lab[axis + 1:] if node.op_type == "Gather" else lab)
        return
    if axis is not None and lab[axis] == "c" and node.op_type == "Slice" and len(lab) == 4:  # a chunk of channels
        T = imp.shapes[data[0]][axis]
        _layer(imp, node, "channels", [imp.single(node, data[0])], K=min(count, T - first), first=first)
        return
    if axis is None or lab[axis] not in ("t", "yx") or first != 0:
        raise InputError(imp.path, imp.where(node), f"selects from a tensor laid out as {_text(lab)}; expected the first "
                                                    "tokens (from index 0, step 1) or one part of a fused Q, K, V projection")
    T = imp.shapes[data[0]][axis]
    out_lab = lab[:axis] + lab[axis + 1:] if node.op_type == "Gather" else lab
    _layer(imp, node, "tokens", [as_tokens(imp, node, data[0])], tuple("t" if a == "yx" else a for a in out_lab),
           H=min(count, T))


def _selection(imp: _Importer, node, rank: int) -> tuple[int | None, int, int]:
    """(axis, first index, count) of a Gather of one index or a Slice of step 1."""
    g = imp.g
    if node.op_type == "Gather":
        index = _constant(g, node.input[1])
        index = index[0] if isinstance(index, list) and len(index) == 1 else index
        return (_attr(node, "axis", 0) % rank, index, 1) if isinstance(index, int) else (None, 0, 0)
    starts, ends = (_constant(g, node.input[i]) for i in (1, 2))
    axes = _constant(g, node.input[3]) if len(node.input) > 3 and node.input[3] else [0]
    steps = _constant(g, node.input[4]) if len(node.input) > 4 and node.input[4] else [1]
    if not all(isinstance(v, list) and len(v) == 1 for v in (starts, ends, axes, steps)) or steps != [1]:
        return None, 0, 0
    return axes[0] % rank, starts[0], ends[0] - starts[0]


def split_qkv(imp: _Importer, node, name: str) -> list[str]:
    """A fused [3D, D] projection as three projections (the same MACs and weights), in
    its place: what the Gathers of Q, K and V read."""
    if name in imp.qkv:
        return imp.qkv[name]
    layer = imp.by_name.get(name)
    if layer is None or layer.op != "conv" or layer.K % 3:
        raise InputError(imp.path, imp.where(node), f"selects a third of {name!r}, which is no fused projection; "
                                                    "expected a linear layer of 3 x D features")
    at = imp.layers.index(layer)
    parts = []
    for j, tag in enumerate("qkv"):
        parts.append(imp.new_layer(f"{name}_{tag}", _Layer("", "conv", layer.K // 3, list(layer.inputs)), at + j))
    imp.layers.remove(layer)
    del imp.by_name[name]
    imp.qkv[name] = parts
    return parts


def _attr(node, key: str, default: int) -> int:
    return next((a.i for a in node.attribute if a.name == key), default)


def _is_identity_gather(imp: _Importer, node) -> bool:
    """Gather(x, indices) on axis 0 of a 1-d x with indices 0, 1, ..., n - 1 in any shape:
    every element in order, only re-shaped (dynamo writes torch's as_strided so)."""
    shape = imp.shapes.get(node.input[0]) or []
    index = _constant(imp.g, node.input[1])
    if _attr(node, "axis", 0) != 0 or len(shape) != 1 or not isinstance(index, list):
        return False
    return list(_flatten(index)) == list(range(shape[0]))


def _flatten(values):
    for v in values if isinstance(values, list) else [values]:
        if isinstance(v, list):
            yield from _flatten(v)
        else:
            yield v
