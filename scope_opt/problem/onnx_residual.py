"""Folding an ONNX residual Add into the layer that ends its block: which operand is the
main path, which the shortcut, and where a shortcut conv (a downsample) goes."""

from __future__ import annotations

from collections import Counter

from scope_opt.errors import InputError
from scope_opt.problem.onnx_layers import _Layer


def _chain(name: str, by_name: dict[str, _Layer]) -> list[str]:
    """The producers of `name` back to the network input, along each layer's first input."""
    out = [name]
    while out[-1] in by_name:
        out.append(by_name[out[-1]].inputs[0])
    return out


def _fold_residual(path, node, where: str, operands: list[str], tensors: list[str], uses: Counter,
                   layers: list[_Layer], by_name: dict[str, _Layer], ref: dict) -> None:
    """Add(main, shortcut): the layer ending the main path takes the shortcut as its
    residual.  Raises InputError, with nothing changed, when the add is no residual.  The main path is the longer one back to where the two paths fork; a
    shortcut conv (a downsample) is placed just before the main path's last layer, as
    the bundled models place it."""
    a, b = operands
    if a == b:
        raise InputError(path, where, "adds a tensor to itself; expected a residual add of two branches")
    ca, cb = _chain(a, by_name), _chain(b, by_name)
    fork = next((x for x in ca if x in cb), None)
    if fork is None:
        raise InputError(path, where, "the two operands share no producer; expected a residual block")
    main, short = (a, b) if ca.index(fork) >= cb.index(fork) else (b, a)
    if main not in by_name:
        raise InputError(path, where, "the main branch of the add is the network input; expected a layer")
    end = by_name[main]
    if end.residual is not None:
        raise InputError(path, where, f"layer {main!r} already ends a residual block; two adds in a row are not supported")
    main_tensor = tensors[operands.index(main)]
    if uses[main_tensor] > 1:
        raise InputError(path, where, f"{main_tensor!r} is read by other nodes too; its residual cannot be folded into it")
    if short in by_name:  # keep the shortcut before the layer that reads it (checked before anything moves)
        i_short, i_end = layers.index(by_name[short]), layers.index(end)
        if i_short > i_end:
            if any(x in layers[i_short].inputs for x in _produced_between(layers, i_end, i_short)):
                raise InputError(path, where, "the shortcut branch depends on the main branch; expected a residual block")
            layers.insert(i_end, layers.pop(i_short))
    end.residual = short
    ref[node.output[0]] = main


def _produced_between(layers: list[_Layer], lo: int, hi: int) -> set[str]:
    return {layer.name for layer in layers[lo:hi]}
