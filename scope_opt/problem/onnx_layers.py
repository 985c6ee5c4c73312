"""What the ONNX import builds: its layers before they are checked (`_Layer`), the report
of what it folded or dropped, and the network description (the YAML form) they make."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scope_opt.problem.network import NETWORK_INPUT


@dataclass
class _Layer:
    name: str
    op: str
    K: int
    inputs: list[str]
    R: int = 1
    S: int = 1
    stride: int = 1
    groups: int = 1
    pad: int | None = None
    residual: str | None = None
    ceil_mode: bool = False
    H: int | None = None  # a tokens layer's token count
    first: int = 0  # a channels layer's first channel
    window: int | None = None  # attention's keys per query, when it attends within windows
    factor: int | None = None  # an unshuffle layer's space-to-depth factor


@dataclass
class ImportReport:
    """What the import did: the network description and what it folded or dropped."""

    description: dict[str, Any]
    folded: Counter = field(default_factory=Counter)
    dropped: list[str] = field(default_factory=list)  # "node (OpType)" skipped with --skip-unsupported
    side_inputs: list[str] = field(default_factory=list)  # graph inputs that are not the network's (ids, a mask)


def _describe(name: str, chw: tuple[int, int, int], layers: list[_Layer]) -> dict[str, Any]:
    """The YAML description: inputs written only where a layer does not read the one before."""
    out = []
    prev = NETWORK_INPUT
    for layer in layers:
        d: dict[str, Any] = {"name": layer.name, "op": layer.op}
        if layer.op in ("conv", "fc", "channels"):
            d["K"] = layer.K
        if layer.first:
            d["first"] = layer.first
        if layer.op in ("conv", "pool"):
            d.update(R=layer.R, S=layer.S, stride=layer.stride)
            if layer.pad is not None:
                d["pad"] = layer.pad
            if layer.ceil_mode:
                d["ceil_mode"] = True
        if layer.H is not None:
            d["H"] = layer.H
        for key in ("window", "factor"):
            if getattr(layer, key) is not None:
                d[key] = getattr(layer, key)
        if layer.groups != 1 and layer.op in ("conv", "softmax", "matmul_t", "matmul", "shuffle"):
            d["groups"] = layer.groups
        if layer.inputs != [prev]:
            d["inputs"] = list(layer.inputs)
        if layer.residual:
            d["residual"] = layer.residual
        out.append(d)
        prev = layer.name
    return {"name": name, "input": {"C": chw[0], "H": chw[1], "W": chw[2]}, "layers": out}
