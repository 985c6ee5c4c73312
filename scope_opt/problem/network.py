"""Networks: layers in execution order, loaded from YAML and checked for shape consistency.

Every tensor is some layer's output or an external tensor (the network input, or a
producer cut away by slicing); layers name their producers, so the cost model can find
who made what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from scope_opt.problem.operators import OPERATORS, Compute, Operand, OperatorSpec, Role

OPS = tuple(OPERATORS)
NETWORK_INPUT = "input"

if TYPE_CHECKING:
    import networkx as nx


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
    """One layer: its loop dimensions and its operands (scope_opt.problem.operators).
    H, W are output rows and columns, C the input channels it reads."""

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
    operands: tuple[Operand, ...] = ()

    @property
    def spec(self) -> OperatorSpec:
        return OPERATORS[self.op]

    @property
    def reads(self) -> tuple[Operand, ...]:
        """The activation operands, in order: inputs, then the residual."""
        return tuple(o for o in self.operands if o.role is not Role.WEIGHTS)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(o.tensor for o in self.operands if o.role is Role.INPUT)

    @property
    def residual(self) -> str | None:
        return next((o.tensor for o in self.operands if o.role is Role.RESIDUAL), None)

    @property
    def flatten(self) -> bool:
        """An fc reading a spatial tensor as a vector: its C is channels * rows * columns."""
        return self.spec.flattened is not None and any(
            (o.channels, o.rows) == self.spec.flattened for o in self.operands if o.role is Role.INPUT)

    @property
    def has_weights(self) -> bool:
        return any(o.role is Role.WEIGHTS for o in self.operands)

    @property
    def out(self) -> Tensor:
        return Tensor(self.K, self.H, self.W)

    @property
    def c_per_group(self) -> int:
        return self.C // self.groups if self.spec.compute is Compute.MAC else 1

    @property
    def macs(self) -> int:
        """MACs per sample; a vector operator (pool) compares or adds, so it counts 0."""
        if self.spec.compute is not Compute.MAC:
            return 0
        return self.K * self.c_per_group * self.H * self.W * self.R * self.S

    @property
    def weights(self) -> int:
        """Weight elements (0 without a weights operand)."""
        return self.K * self.c_per_group * self.R * self.S if self.has_weights else 0


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
        return tuple(o.tensor for o in self.layers[i].reads)

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
        """The dataflow graph: tensors' producers to consumers, edges tagged input/residual
        (networkx is imported here: a tenth of a second that no solve needs)."""
        import networkx as nx
        g = nx.DiGraph(name=self.name)
        for t in self.external:
            g.add_node(t, kind="external")
        for layer in self.layers:
            g.add_node(layer.name, kind="layer", op=layer.op)
            for o in layer.reads:
                g.add_edge(o.tensor, layer.name, kind="input" if o.role is Role.INPUT else "residual")
        return g

    def slice(self, first: int, last: int) -> Network:
        """Layers [first, last); producers cut away become external tensors read from DRAM."""
        kept = self.layers[first:last]
        names = {layer.name for layer in kept}
        external: dict[str, Tensor] = {}
        for layer in kept:
            for o in layer.reads:
                if o.tensor not in names:
                    external[o.tensor] = self.shape(o.tensor)
        return Network(f"{self.name}[{first}:{last}]", kept, external, self.source)
