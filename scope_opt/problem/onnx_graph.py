"""Reading an ONNX file: the model with ONNX's shape inference, the declared and inferred
tensor shapes, node attributes, constants, the data input and its shape, and layer names
made safe (shapes only, no runtime)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from scope_opt.errors import InputError
from scope_opt.problem.network import NETWORK_INPUT


def _attrs(node) -> dict[str, Any]:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _load(path: Path):
    import onnx
    if not path.is_file():
        raise InputError(path, "(file)", "file not found; expected an ONNX model file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError; any failure means the same to the user
        raise InputError(path, "(file)", f"not a readable ONNX model ({type(exc).__name__}: {exc}); "
                                         "expected a .onnx file as written by torch.onnx.export or onnx.save") from None
    if not model.graph.node:
        raise InputError(path, "graph", "the ONNX graph has no nodes; expected a model with Conv/Gemm layers")
    try:
        model = onnx.shape_inference.infer_shapes(model)
        for _ in range(MAX_FOLD_PASSES):  # each pass makes more shapes static, and so more Shape nodes foldable
            if not _fold_shape_arithmetic(model):
                break
            model = onnx.shape_inference.infer_shapes(model)
    except Exception:
        pass  # shapes of weights and the input still come from the graph's declarations
    return model


MAX_FOLD_PASSES = 64  # Swin's legacy export: a pad amount per block, each known one pass after the last

SHAPE_OPS = {"Shape", "Gather", "Slice", "Concat", "Unsqueeze", "Squeeze", "Cast", "Add", "Sub", "Mul", "Div", "Mod",
             "Equal", "Where", "ConstantOfShape", "Reshape", "Constant", "Range", "Neg", "Abs", "Transpose"}
SHAPE_TARGETS = {"Reshape": (1,), "Expand": (1,), "ConstantOfShape": (0,), "Tile": (1,),
                 "Slice": (1, 2, 3, 4), "Pad": (1,)}  # node -> its inputs that are shapes or indices


def _fold_shape_arithmetic(model) -> bool:
    """The legacy exporter computes some Reshape and Expand targets from Shape nodes
    (torchvision's MultiheadAttention), which ONNX's shape inference leaves unknown.
    Evaluate that integer arithmetic from the static shapes, and give such a node its
    target as a constant (a copy of the graph: nothing is written back).  True when a
    target was filled in."""
    import numpy as np
    from onnx import numpy_helper
    g = model.graph
    static = {k: v for k, v in _shapes(model).items() if all(isinstance(d, int) and d > 0 for d in v)}
    known = {i.name: numpy_helper.to_array(i) for i in g.initializer if i.data_type in (6, 7)}
    inits = {i.name for i in g.initializer}
    changed = False
    for node in g.node:
        for k in SHAPE_TARGETS.get(node.op_type, ()):
            src = node.input[k] if k < len(node.input) else ""
            if src in known and src not in inits:
                name = f"{src}__folded"
                if name not in inits:
                    g.initializer.append(numpy_helper.from_array(known[src].astype(np.int64), name))
                    inits.add(name)
                node.input[k] = name
                changed = True
        if node.op_type not in SHAPE_OPS:
            continue
        value = _evaluate(node, known, static)
        if value is not None:
            known[node.output[0]] = value
    return changed


def _evaluate(node, known: dict, static: dict):
    """One node of integer shape arithmetic, or None when an input is not known."""
    import numpy as np
    from onnx import numpy_helper
    a = _attrs(node)
    if node.op_type == "Constant":
        t = a.get("value")
        return numpy_helper.to_array(t) if t is not None and t.data_type in (6, 7) else None
    if node.op_type == "Shape":
        return np.array(static[node.input[0]], dtype=np.int64) if node.input[0] in static else None
    ins = [known.get(i) for i in node.input if i]
    if not ins or len(ins) < len([i for i in node.input if i]) or any(v is None for v in ins):
        return None
    x = ins[0]
    op = node.op_type
    if op in ("Add", "Sub", "Mul", "Div", "Mod", "Equal"):
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.floor_divide, "Mod": np.mod,
             "Equal": np.equal}[op]
        return f(x, ins[1])
    if op == "Where":
        return np.where(x, ins[1], ins[2])
    if op in ("Cast", "Neg", "Abs"):
        return {"Cast": x, "Neg": -x, "Abs": np.abs(x)}[op].astype(np.int64)
    if op == "Gather":
        return np.take(x, ins[1], axis=a.get("axis", 0))
    if op == "Concat":
        return np.concatenate([np.atleast_1d(v) for v in ins], axis=a.get("axis", 0))
    if op == "Unsqueeze":
        axes = a.get("axes", ins[1].tolist() if len(ins) > 1 else [0])
        return np.expand_dims(x, tuple(axes))
    if op == "Squeeze":
        axes = a.get("axes", ins[1].tolist() if len(ins) > 1 else None)
        return np.squeeze(x, tuple(axes) if axes is not None else None)
    if op == "Slice":
        starts, ends = ins[1].tolist(), ins[2].tolist()
        axes = ins[3].tolist() if len(ins) > 3 else list(range(len(starts)))
        steps = ins[4].tolist() if len(ins) > 4 else [1] * len(starts)
        index = [slice(None)] * x.ndim
        for ax, st, en, sp in zip(axes, starts, ends, steps):
            index[ax] = slice(st, en, sp)
        return x[tuple(index)]
    if op == "ConstantOfShape":
        t = a.get("value")
        fill = numpy_helper.to_array(t).ravel()[0] if t is not None else 0
        dims = x.astype(np.int64).tolist()
        return np.full(dims, fill) if int(np.prod(dims)) <= 1 << 16 else None  # shapes, not data
    if op == "Reshape":
        return x.reshape(ins[1].tolist())
    if op == "Transpose":  # Swin's pad amounts: F.pad's pairs reordered
        return np.transpose(x, a.get("perm"))
    if op == "Range":
        return np.arange(x, ins[1], ins[2])
    return None


def _constant(g, name: str):
    """The value of a constant tensor (an initializer or a Constant node's output) as a
    list, or None: the axes of a Reduce node, which opset 18 gives as an input."""
    from onnx import numpy_helper
    for init in g.initializer:
        if init.name == name:
            return numpy_helper.to_array(init).tolist()
    for n in g.node:
        if n.op_type == "Constant" and n.output and n.output[0] == name:
            for a in n.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t).tolist()
                if a.name in ("value_ints", "value_int"):
                    return list(a.ints) if a.name == "value_ints" else [a.i]
    return None


def _shapes(model) -> dict[str, list[int | None]]:
    out: dict[str, list[int | None]] = {}
    g = model.graph
    for vi in [*g.input, *g.value_info, *g.output]:
        t = vi.type.tensor_type
        if t.HasField("shape"):
            out[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    for init in g.initializer:
        out[init.name] = list(init.dims)
    return out


def _safe_name(raw: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", raw).strip("_.") or "layer"
    name, k = base, 1
    while name in taken or name == NETWORK_INPUT:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def _embedding_lookups(g, names: set[str]) -> list:
    """Gather(table, ids) with a constant 2-d table and ids a graph input: BERT's word and
    token-type embeddings, a table read of one row per token (no MACs)."""
    tables = {i.name for i in g.initializer if len(i.dims) == 2}
    return [n for n in g.node if n.op_type == "Gather" and len(n.input) == 2 and n.input[0] in tables
            and n.input[1] in names and not any(a.name == "axis" and a.i != 0 for a in n.attribute)]


def _data_input(path: Path, g) -> tuple[list[str], list[str]]:
    """The tensors that are the network's input, and the side inputs: the one data input
    of the graph (not a constant, not a weight); or, for a model fed token ids, the
    outputs of its embedding lookups, every graph input then being a side input (the
    ids, an attention mask, token types: their arithmetic is constant to the model)."""
    constants = {i.name for i in g.initializer} | {o for n in g.node if n.op_type == "Constant" for o in n.output}
    weight_inputs = {n.input[1] for n in g.node if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1}
    data_inputs = [i for i in g.input if i.name not in constants and i.name not in weight_inputs]
    lookups = _embedding_lookups(g, {i.name for i in data_inputs})
    if lookups:
        return [n.output[0] for n in lookups], [i.name for i in data_inputs]
    if len(data_inputs) != 1:
        raise InputError(path, "graph.input", f"expected one data input (or token ids that embedding Gathers read), "
                                              f"found {len(data_inputs)} "
                                              f"({', '.join(i.name for i in data_inputs) or 'none'})")
    return [data_inputs[0].name], []


def _input_chw(path: Path, x: str, shapes: dict, input_shape) -> tuple[str, tuple[int, int, int]]:
    """The data input's (C, H, W)."""
    dims = shapes.get(x, [])
    declared = tuple(dims[1:]) if len(dims) == 4 and all(isinstance(d, int) and d > 0 for d in dims[1:]) else None
    if input_shape is not None:
        if declared is not None and tuple(input_shape) != declared:
            raise InputError(path, f"graph.input {x}", f"is declared {list(dims)}; --input-shape "
                                                        f"{','.join(map(str, input_shape))} would change the network; "
                                                        "expected no --input-shape (or the declared C,H,W)")
        return x, tuple(input_shape)
    if len(dims) == 4 and all(isinstance(d, int) and d > 0 for d in dims[1:]):
        return x, tuple(dims[1:])
    if len(dims) == 2 and isinstance(dims[1], int) and dims[1] > 0:
        return x, (dims[1], 1, 1)
    if len(dims) == 3 and all(isinstance(d, int) and d > 0 for d in dims[1:]):  # [N, T, D]: T tokens of D features
        return x, (dims[2], dims[1], 1)
    raise InputError(path, f"graph.input {x}", f"shape {dims} is not [N, C, H, W] with known C, H, W, nor tokens "
                                                "[N, T, D] with known T, D; give it with --input-shape C,H,W (or "
                                                "workload.input_shape)")
