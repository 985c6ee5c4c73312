"""Pools in an ONNX graph: MaxPool/AveragePool, the global pools, and the Reduce form of a
global pool that PyTorch's default (dynamo) exporter writes; a pool over one element
folds away as the identity it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scope_opt.errors import InputError
from scope_opt.problem.onnx_graph import _constant
from scope_opt.problem.onnx_layers import _describe, _Layer

if TYPE_CHECKING:
    from scope_opt.problem.onnx_import import _Importer

POOL_OPS = ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax")


def pool(imp: _Importer, node, data, a) -> None:
    """A pool layer, or nothing when the pool passes its input through."""
    if node.op_type.startswith("Reduce"):
        return _global(imp, node, data, _reduced_axes(imp, node, a))
    if node.op_type.startswith("Global"):
        return _global(imp, node, data, [2, 3])
    k = a.get("kernel_shape", [1, 1])
    strides = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    if len(k) != 2:
        raise InputError(imp.path, imp.where(node), f"kernel_shape {list(k)}: expected a 2-d pool (rows, columns)")
    if list(k) == [1, 1] and set(strides) == {1} and set(pads) <= {0}:
        return _identity(imp, node, data)
    if len(set(strides)) != 1:
        raise InputError(imp.path, imp.where(node), f"strides {list(strides)} differ per axis; expected equal strides")
    if len(set(pads)) != 1:
        raise InputError(imp.path, imp.where(node), f"pads {list(pads)} differ per side; expected one pad for all sides")
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        raise InputError(imp.path, imp.where(node), f"dilations {list(a['dilations'])} are not supported; expected 1")
    imp.add_layer(node, _Layer("", "pool", 0, imp.sources(data[0]), k[0], k[1], strides[0], 1, pads[0],
                               ceil_mode=bool(a.get("ceil_mode", 0))))


def _reduced_axes(imp: _Importer, node, a) -> list[int]:
    """The axes a ReduceMean/ReduceMax reduces: an attribute up to opset 17, a constant
    input from opset 18; negative axes count from the end of the [N, C, H, W] tensor."""
    axes = a.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = _constant(imp.g, node.input[1])
    if axes is None:
        raise InputError(imp.path, imp.where(node), "reduces every axis (no axes given); expected a reduction over "
                                                    "rows and columns (axes [2, 3] of [N, C, H, W]: a global pool)")
    return sorted(int(x) % 4 for x in axes)


def _global(imp: _Importer, node, data, axes: list[int]) -> None:
    """A global pool over rows and columns: one layer with R x S the whole input."""
    from scope_opt.problem.network_yaml import build_network
    if axes != [2, 3]:
        raise InputError(imp.path, imp.where(node), f"reduces axes {axes}; expected a reduction over rows and columns "
                                                    "(axes [2, 3] of [N, C, H, W]: a global pool)")
    src = imp.sources(data[0])
    known = imp.shapes.get(data[0])
    if known and len(known) == 4 and all(isinstance(d, int) and d > 0 for d in known[2:]):
        hh, ww = known[2], known[3]
    else:  # no inferred shape: build the network so far and read it
        shp = build_network(_describe("partial", imp.chw, imp.layers), str(imp.path), "partial").shape(src[0])
        hh, ww = shp.H, shp.W
    if (hh, ww) == (1, 1):
        return _identity(imp, node, data)
    imp.add_layer(node, _Layer("", "pool", 0, src, hh, ww, 1, 1, 0))


def _identity(imp: _Importer, node, data) -> None:
    """A pool over one element (a 1x1 kernel with stride 1, or a global pool of a 1x1
    tensor, as torchvision's AdaptiveAvgPool exports on an input already its size)
    passes its input through: it folds away instead of becoming a costed layer."""
    imp.ref[node.output[0]] = imp.ref[data[0]]
    imp.report.folded[f"{node.op_type} (identity)"] += 1
