"""Reading an ONNX file: the model with ONNX's shape inference, the declared and inferred
tensor shapes, node attributes, and layer names made safe (shapes only, no runtime)."""

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
