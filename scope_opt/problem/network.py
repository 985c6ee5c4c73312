"""Networks: layers in execution order, loaded from YAML and checked for shape consistency.

Every tensor is some layer's output or an external tensor (the network input, or a
producer cut away by slicing); layers name their producers, so the cost model can find
who made what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx

from scope_opt.errors import InputError
from scope_opt.formats.inputs import number, parse, read_text, text_value

OPS = ("conv", "fc", "pool")
NETWORK_INPUT = "input"


@dataclass(frozen=True)
class Tensor:
    C: int
    H: int
    W: int

    @property
    def elements(self) -> int:
        return self.C * self.H * self.W


@dataclass(frozen=True)
class Layer:
    """One layer; H, W are output rows and columns, C the input channels it reads."""

    name: str
    op: str
    K: int
    C: int
    H: int
    W: int
    R: int = 1
    S: int = 1
    stride: int = 1
    groups: int = 1
    pad: int = 0
    inputs: tuple[str, ...] = ()
    residual: str | None = None
    flatten: bool = False  # fc reading a spatial tensor: its C is channels*rows*cols

    @property
    def out(self) -> Tensor:
        return Tensor(self.K, self.H, self.W)

    @property
    def c_per_group(self) -> int:
        return 1 if self.op == "pool" else self.C // self.groups

    @property
    def macs(self) -> int:
        """MACs per sample; a pool does comparisons/adds, not MACs, so it counts 0."""
        if self.op == "pool":
            return 0
        return self.K * self.c_per_group * self.H * self.W * self.R * self.S

    @property
    def weights(self) -> int:
        """Weight elements (a pool has none)."""
        if self.op == "pool":
            return 0
        return self.K * self.c_per_group * self.R * self.S


@dataclass(frozen=True)
class Network:
    name: str
    layers: tuple[Layer, ...]
    external: dict[str, Tensor] = field(hash=False)
    source: str = ""

    @cached_property
    def index(self) -> dict[str, int]:
        return {layer.name: i for i, layer in enumerate(self.layers)}

    def shape(self, tensor: str) -> Tensor:
        if tensor in self.external:
            return self.external[tensor]
        return self.layers[self.index[tensor]].out

    def producer(self, tensor: str) -> int | None:
        """Index of the layer that produces `tensor`, None for an external tensor."""
        return self.index.get(tensor)

    def reads(self, i: int) -> tuple[str, ...]:
        """Every tensor layer i reads: its inputs, then its residual."""
        layer = self.layers[i]
        return layer.inputs + ((layer.residual,) if layer.residual else ())

    @cached_property
    def consumers(self) -> dict[str, tuple[int, ...]]:
        out: dict[str, list[int]] = {}
        for i in range(len(self.layers)):
            for t in dict.fromkeys(self.reads(i)):
                out.setdefault(t, []).append(i)
        return {t: tuple(v) for t, v in out.items()}

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    def graph(self) -> nx.DiGraph:
        """The dataflow graph: tensors' producers to consumers, edges tagged input/residual."""
        g = nx.DiGraph(name=self.name)
        for t in self.external:
            g.add_node(t, kind="external")
        for layer in self.layers:
            g.add_node(layer.name, kind="layer", op=layer.op)
            for t in layer.inputs:
                g.add_edge(t, layer.name, kind="input")
            if layer.residual:
                g.add_edge(layer.residual, layer.name, kind="residual")
        return g

    def slice(self, first: int, last: int) -> Network:
        """Layers [first, last); producers cut away become external tensors read from DRAM."""
        kept = self.layers[first:last]
        names = {layer.name for layer in kept}
        external: dict[str, Tensor] = {}
        for layer in kept:
            for t in layer.inputs + ((layer.residual,) if layer.residual else ()):
                if t not in names:
                    external[t] = self.shape(t)
        return Network(f"{self.name}[{first}:{last}]", kept, external, self.source)


MAX_DIM = 2**20  # channels, rows, columns of one tensor (docs/instances.md)
MAX_KERNEL = 4096  # R, S, stride, pad
MAX_COUNT = 2**53  # MACs, weights, elements of one layer: exact in int64 and in a float


def _int(raw: dict, key: str, where: str, src: str, default: int | None = None, minimum: int = 1,
         maximum: int = MAX_DIM) -> int:
    value = raw.get(key, default)
    if value is None:
        raise InputError(src, f"{where}.{key}", f"required; expected an integer in [{minimum}, {maximum}]")
    return number(value, src, f"{where}.{key}", minimum, maximum, integer=True)


def _out_len(n_in: int, r: int, stride: int, pad: int) -> int:
    return (n_in + 2 * pad - r) // stride + 1


def build_network(raw: Any, src: str, default_name: str) -> Network:
    """Validate a parsed network description and derive what it leaves out (C, H, W, pad)."""
    if not isinstance(raw, dict):
        raise InputError(src, "(top level)", "expected a mapping with 'input' and 'layers'")
    inp = raw.get("input")
    if not isinstance(inp, dict):
        raise InputError(src, "input", "expected a mapping {C: ..., H: ..., W: ...}")
    external = {NETWORK_INPUT: Tensor(*(_int(inp, k, "input", src) for k in ("C", "H", "W")))}
    raw_layers = raw.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise InputError(src, "layers", "expected a non-empty list of layers")
    shapes: dict[str, Tensor] = dict(external)
    layers: list[Layer] = []
    for i, rl in enumerate(raw_layers):
        where = f"layers[{i}]"
        if not isinstance(rl, dict):
            raise InputError(src, where, "expected a mapping with name, op, K, ...")
        name = rl.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(src, f"{where}.name", "expected a non-empty string")
        where = f"layers[{i}] ({name})"
        if name in shapes:
            raise InputError(src, f"{where}.name", f"'{name}' is already used; layer names must be unique and not 'input'")
        op = rl.get("op", "conv")
        if op not in OPS:
            raise InputError(src, f"{where}.op", f"expected one of {', '.join(OPS)}, got {op!r}")
        unknown = set(rl) - {"name", "op", "K", "C", "H", "W", "R", "S", "stride", "groups", "pad", "inputs", "residual"}
        if unknown:
            raise InputError(src, f"{where}.{sorted(unknown)[0]}", "unknown field; expected name, op, K, C, H, W, R, S, stride, groups, pad, inputs, residual")
        inputs = rl.get("inputs", [layers[-1].name if layers else NETWORK_INPUT])
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            raise InputError(src, f"{where}.inputs", "expected a list of earlier layer names (or 'input')")
        for t in inputs:
            if t not in shapes:
                raise InputError(src, f"{where}.inputs", f"'{t}' is not an earlier layer or 'input'")
        ins = [shapes[t] for t in inputs]
        R = _int(rl, "R", where, src, 1, maximum=MAX_KERNEL)
        S = _int(rl, "S", where, src, R, maximum=MAX_KERNEL)
        stride = _int(rl, "stride", where, src, 1, maximum=MAX_KERNEL)
        groups = _int(rl, "groups", where, src, 1)
        flatten = False
        if op == "fc":
            for key in ("R", "S", "H", "W", "stride"):
                if rl.get(key, 1) != 1:
                    raise InputError(src, f"{where}.{key}", "an fc layer has H = W = R = S = stride = 1")
            flatten = any(t.H * t.W > 1 for t in ins)
            c_in = sum(t.elements for t in ins)
            H = W = 1
            pad = 0
        else:
            if len({(t.H, t.W) for t in ins}) > 1:
                raise InputError(src, f"{where}.inputs", "inputs concatenated by channel must have equal rows and columns")
            c_in = sum(t.C for t in ins)
            explicit = "pad" in rl  # an explicit pad applies to rows and columns
            pad = _int(rl, "pad", where, src, (R - 1) // 2, minimum=0, maximum=MAX_KERNEL)
            pad_w = pad if explicit else (S - 1) // 2  # by default rows pad (R-1)//2, columns (S-1)//2
            h_in, w_in = ins[0].H, ins[0].W
            H, W = _out_len(h_in, R, stride, pad), _out_len(w_in, S, stride, pad_w)
            if H < 1 or W < 1:
                raise InputError(src, f"{where}.R", f"kernel {R}x{S} with pad {pad} does not fit the {h_in}x{w_in} input")
            for key, val, n_in, r, p in (("H", H, h_in, R, pad), ("W", W, w_in, S, pad_w)):
                given = rl.get(key, val)
                if given != val:
                    raise InputError(src, f"{where}.{key}", f"expected {val} = floor(({n_in} + 2*{p} - {r}) / {stride}) + 1 from the producer, got {given!r}")
        C = rl.get("C", c_in)
        if C != c_in:
            raise InputError(src, f"{where}.C", f"expected {c_in} (the producers' output{' flattened' if flatten else ''}), got {C!r}")
        if op == "pool":
            K = _int(rl, "K", where, src, C)
            if K != C:
                raise InputError(src, f"{where}.K", f"a pool keeps its channels: expected K = C = {C}, got {K}")
            groups = C
        else:
            K = _int(rl, "K", where, src)
        if C % groups or K % groups:
            raise InputError(src, f"{where}.groups", f"groups = {groups} must divide C = {C} and K = {K}")
        if groups > 1 and len(inputs) > 1:
            raise InputError(src, f"{where}.inputs", "a grouped layer reads exactly one input")
        residual = rl.get("residual")
        if residual is not None:
            text_value(residual, src, f"{where}.residual")
            if residual not in shapes:
                raise InputError(src, f"{where}.residual", f"'{residual}' is not an earlier layer or 'input'")
            if shapes[residual] != Tensor(K, H, W):
                r = shapes[residual]
                raise InputError(src, f"{where}.residual", f"'{residual}' is {r.C}x{r.H}x{r.W} but the output is {K}x{H}x{W}; shapes must be equal")
        if not isinstance(C, int) or isinstance(C, bool):
            raise InputError(src, f"{where}.C", f"expected an integer, got {C!r}")
        layer = Layer(name, op, K, C, H, W, R, S, stride, groups, pad, tuple(inputs), residual, flatten)
        for what, count in (("MACs", layer.macs), ("weights", layer.weights), ("output elements", layer.out.elements)):
            if count >= MAX_COUNT:
                raise InputError(src, where, f"{what} per sample = {count} exceed 2^53; expected a layer that fits exact integer arithmetic")
        layers.append(layer)
        shapes[name] = layer.out
    name = text_value(raw.get("name", default_name), src, "name")
    return Network(name, tuple(layers), external, src)


def load_network(path: str | Path) -> Network:
    path = Path(path)
    raw = parse(path, read_text(path, "a network YAML file"), "yaml")
    return build_network(raw, str(path), path.stem)


MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def model_names() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.yaml"))
