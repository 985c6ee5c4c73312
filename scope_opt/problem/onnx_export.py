"""A small ONNX writer for scope-opt networks (the round-trip tests, and a way to hand a
bundled network to a tool that reads ONNX).  Weights are declared as graph inputs with
their shapes and no data: the graph carries the structure, not the values."""

from __future__ import annotations

from pathlib import Path

from scope_opt.problem.network import NETWORK_INPUT, Network
from scope_opt.problem.network_yaml import _out_len


def _pads(layer) -> list[int]:
    """ONNX pads [top, left, bottom, right]: a square kernel pads `pad` everywhere; a
    non-square one was padded by the per-axis default, columns (S-1)//2."""
    pw = layer.pad if layer.R == layer.S else (layer.S - 1) // 2
    return [layer.pad, pw, layer.pad, pw]


def _rank4(net: Network, inputs) -> bool:
    """True when the tensor an fc reads is [N, C, H, W] (the network input or a conv/pool output)."""
    return any(t == NETWORK_INPUT or net.layers[net.index[t]].op != "fc" for t in inputs)


def export_onnx(net: Network, path: str | Path | None = None):
    """The network as an ONNX ModelProto (written to `path` when given): Conv (+ Add for a
    residual) + Relu per conv layer, Flatten + Gemm per fc layer, MaxPool or
    GlobalAveragePool per pool layer, Mul per eltwise layer, Concat where a layer reads
    several tensors."""
    import onnx
    from onnx import TensorProto, helper

    nodes, inputs = [], []
    inp = net.external[NETWORK_INPUT]
    inputs.append(helper.make_tensor_value_info(NETWORK_INPUT, TensorProto.FLOAT, [1, inp.C, inp.H, inp.W]))
    for layer in net.layers:
        src = list(layer.inputs)
        if layer.op == "eltwise":  # its inputs broadcast, as ONNX's Mul does
            nodes.append(helper.make_node("Mul", src, [layer.name], name=layer.name))
            continue
        if len(src) > 1:
            nodes.append(helper.make_node("Concat", src, [f"{layer.name}__cat"], name=f"{layer.name}__concat", axis=1))
            src = [f"{layer.name}__cat"]
        if layer.op == "conv":
            w = f"{layer.name}.weight"
            inputs.append(helper.make_tensor_value_info(w, TensorProto.FLOAT, [layer.K, layer.c_per_group, layer.R, layer.S]))
            out = f"{layer.name}__conv"
            nodes.append(helper.make_node("Conv", [src[0], w], [out], name=layer.name, kernel_shape=[layer.R, layer.S],
                                          strides=[layer.stride] * 2, pads=_pads(layer), group=layer.groups))
            if layer.residual:
                nodes.append(helper.make_node("Add", [out, layer.residual], [f"{layer.name}__sum"], name=f"{layer.name}__add"))
                out = f"{layer.name}__sum"
            nodes.append(helper.make_node("Relu", [out], [layer.name], name=f"{layer.name}__relu"))
        elif layer.op == "fc":
            if _rank4(net, layer.inputs):  # Gemm takes a matrix: flatten any [N, C, H, W] input, 1x1 included
                nodes.append(helper.make_node("Flatten", src, [f"{layer.name}__flat"], name=f"{layer.name}__flatten", axis=1))
                src = [f"{layer.name}__flat"]
            w = f"{layer.name}.weight"
            inputs.append(helper.make_tensor_value_info(w, TensorProto.FLOAT, [layer.K, layer.C]))
            nodes.append(helper.make_node("Gemm", [src[0], w], [layer.name], name=layer.name, transB=1))
        else:
            shp = net.shape(layer.inputs[0])  # rows and columns: every concatenated input has them
            if layer.pad == 0 and (layer.R, layer.S) == (shp.H, shp.W) and layer.H == layer.W == 1:
                nodes.append(helper.make_node("GlobalAveragePool", src, [layer.name], name=layer.name))
            else:
                floor_h = _out_len(shp.H, layer.R, layer.stride, layer.pad)  # more rows than this: ceil_mode
                nodes.append(helper.make_node("MaxPool", src, [layer.name], name=layer.name, kernel_shape=[layer.R, layer.S],
                                              strides=[layer.stride] * 2, pads=_pads(layer),
                                              ceil_mode=int(layer.H > floor_h)))
    last = net.layers[-1]
    output = helper.make_tensor_value_info(last.name, TensorProto.FLOAT, [1, last.K, last.H, last.W] if last.op != "fc" else [1, last.K])
    graph = helper.make_graph(nodes, net.name, inputs, [output])
    model = helper.make_model(graph, producer_name="scope-opt", opset_imports=[helper.make_opsetid("", 17)])
    if path is not None:
        onnx.save(model, str(path))
    return model
