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
    except Exception:
        pass  # shapes of weights and the input still come from the graph's declarations
    return model


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


def _data_input(path: Path, g) -> str:
    """The one data input of the graph (not a constant, not a weight)."""
    constants = {i.name for i in g.initializer} | {o for n in g.node if n.op_type == "Constant" for o in n.output}
    weight_inputs = {n.input[1] for n in g.node if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1}
    data_inputs = [i for i in g.input if i.name not in constants and i.name not in weight_inputs]
    if len(data_inputs) != 1:
        raise InputError(path, "graph.input", f"expected one data input, found {len(data_inputs)} "
                                              f"({', '.join(i.name for i in data_inputs) or 'none'})")
    return data_inputs[0].name


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
