"""Operators as data.  A layer is its loop dimensions (K, C, H, W, R, S, groups) plus a
list of operands; each operand is the weights or an activation tensor named by its
producer, with a read rule: which part of it a chiplet with output block
(channels [k0, k1), rows [h0, h1)) needs.  The reference cost model and the compiled
engine read the same rule codes, so an operator is a row of `OPERATORS`, not a branch.

The whole tensor (an fc reading a spatial tensor flattened, or a broadcast operand) is
Channels.ALL with Rows.ALL.  A transformer's tensors are tokens: T tokens of D features
are D channels of T rows (W = 1), so an H split partitions tokens.  An operator whose
inputs read differently (attention's two matmuls) gives one rule per input.
docs/cost-model.md gives each rule with a worked example."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Channels(IntEnum):
    """Which channels of an operand a chiplet reads, given its output channels [k0, k1)."""

    ALL = 0  # every channel of the tensor
    GROUP = 1  # the input channels of the groups its output channels belong to
    SAME = 2  # its own output channels (channel-wise: output k reads input k), shifted by the operand's offset


class Rows(IntEnum):
    """Which rows of an operand a chiplet reads, given its output rows [h0, h1)."""

    HALO = 0  # the input rows its output rows read: [h0*stride - pad, (h1-1)*stride - pad + R), clipped
    SAME = 1  # its own output rows
    ALL = 2  # every row of the tensor


class Compute(IntEnum):
    """How a chiplet's compute cycles are counted (docs/cost-model.md, Compute)."""

    MAC = 0  # ceil(K_a / pe_k) * ceil((C/groups) / pe_c) * H_b * W * R * S
    VECTOR = 1  # ceil(K_a * H_b * W / pe_k): one output element per lane per cycle, no MACs
    NONE = 2  # a layout op: no cycles; what it costs is the data it moves


class Role(IntEnum):
    """What an operand is to its layer."""

    INPUT = 0  # an input tensor; several are concatenated by channel into C
    RESIDUAL = 1  # a tensor of the output's shape added to the output
    WEIGHTS = 2  # constants, held in SRAM: a K split divides them, an H split replicates them


@dataclass(frozen=True)
class Operand:
    """One thing a layer reads; `tensor` is the producer's name (None for weights)."""

    role: Role
    tensor: str | None
    channels: Channels
    rows: Rows
    offset: int = 0  # where this input's channels start in the concatenation a channel-wise layer reads


@dataclass(frozen=True)
class OperatorSpec:
    """An operator as data: its compute rule, whether it holds weights, and how it reads
    its inputs (grouped and flattened reads are the rules it switches to)."""

    compute: Compute
    weights: bool
    channels: Channels
    rows: Rows
    grouped_channels: Channels | None = None  # the channel rule when groups > 1
    flattened: tuple[Channels, Rows] | None = None  # the rules for a spatial input read as a vector
    keeps_channels: bool = False  # K = C (a pool)
    broadcast: bool = False  # inputs combined element by element (not concatenated), size-1 dims broadcast
    input_rules: tuple[tuple[Channels, Rows], ...] | None = None  # one read rule per input (a matmul's A and B)


OPERATORS: dict[str, OperatorSpec] = {
    "conv": OperatorSpec(Compute.MAC, True, Channels.ALL, Rows.HALO, grouped_channels=Channels.GROUP),
    "fc": OperatorSpec(Compute.MAC, True, Channels.ALL, Rows.HALO, flattened=(Channels.ALL, Rows.ALL)),
    "pool": OperatorSpec(Compute.VECTOR, False, Channels.SAME, Rows.HALO, keeps_channels=True),
    # x * s, x + y: an SE block's scale, a non-residual add; one output element per input element
    "eltwise": OperatorSpec(Compute.VECTOR, False, Channels.SAME, Rows.SAME, keeps_channels=True, broadcast=True),
    # LayerNorm over a token's (or a pixel's) features: a chiplet needs every channel of its own rows
    "layernorm": OperatorSpec(Compute.VECTOR, False, Channels.ALL, Rows.SAME, keeps_channels=True),
    # softmax over each head's row of scores: the channels of its own heads (groups = heads), its own rows
    "softmax": OperatorSpec(Compute.VECTOR, False, Channels.GROUP, Rows.SAME, keeps_channels=True),
    # scores = Q K^T per head: output channels are (head, key token); Q's rows are its own, K's all
    # (with a `window`, each query's keys are the `window` tokens of its own window: Swin's)
    "matmul_t": OperatorSpec(Compute.MAC, False, Channels.GROUP, Rows.SAME,
                             input_rules=((Channels.GROUP, Rows.SAME), (Channels.GROUP, Rows.ALL))),
    # context = P V per head: P's own rows and its heads' channels; V's own channels, every token
    "matmul": OperatorSpec(Compute.MAC, False, Channels.GROUP, Rows.SAME,
                           input_rules=((Channels.GROUP, Rows.SAME), (Channels.SAME, Rows.ALL))),
    # positions as tokens (a patch embedding's H x W flattened, a class token prepended, or
    # the first tokens kept): each chiplet reads its channels of every position
    "tokens": OperatorSpec(Compute.NONE, False, Channels.SAME, Rows.ALL, keeps_channels=True),
    # channels [first, first + K) of its input (a chunk): each chiplet reads its channels, shifted
    "channels": OperatorSpec(Compute.NONE, False, Channels.SAME, Rows.SAME),
    # a channel shuffle of `groups` groups: output channel k is input channel (k % g) * (C / g) + k // g;
    # a block of output channels reads channels from every group, so the rule is all channels of its rows
    "shuffle": OperatorSpec(Compute.NONE, False, Channels.ALL, Rows.SAME, keeps_channels=True),
    # space to depth by `factor` f (Swin's patch merging, PyTorch's pixel_unshuffle): output
    # (C f^2, H / f, W / f), each output pixel the f x f input pixels under it; its rows read as
    # a conv's with R = S = stride = f, and all channels (each output channel is one input channel)
    "unshuffle": OperatorSpec(Compute.NONE, False, Channels.ALL, Rows.HALO),
}
RESIDUAL_READ = (Channels.SAME, Rows.SAME)  # a residual add reads the block equal to its own output block
WEIGHTS_READ = (Channels.SAME, Rows.ALL)  # the slice of its own output channels, for every row


def operands(op: str, inputs: tuple[str, ...], residual: str | None, groups: int, flatten: bool,
             shapes: tuple[tuple[int, int, int], ...] = (), first: int = 0) -> tuple[Operand, ...]:
    """The operands of a layer of operator `op`: its inputs, then its residual, then its
    weights.  `shapes` are the inputs' (C, H, W).  A channel-wise layer reading several
    inputs (a pool of a concatenation) reads input j's channel c as its own channel
    offset_j + c; an element-wise layer reads all of a size-1 dimension (broadcast); a
    channels layer's channel k is its input's channel first + k (offset -first)."""
    spec = OPERATORS[op]
    if op == "channels":
        return (Operand(Role.INPUT, inputs[0], Channels.SAME, Rows.SAME, -first),)
    if spec.input_rules is not None:
        return tuple(Operand(Role.INPUT, t, c, r) for t, (c, r) in zip(inputs, spec.input_rules)) + \
            _residual_and_weights(spec, residual)
    if spec.broadcast:
        return _broadcast_operands(inputs, shapes) + _residual_and_weights(spec, residual)
    sizes = [c for c, _, _ in shapes]
    if flatten and spec.flattened is not None:
        channels, rows = spec.flattened
    else:
        channels = spec.grouped_channels if groups > 1 and spec.grouped_channels is not None else spec.channels
        rows = spec.rows
    offsets = [sum(sizes[:j]) if channels is Channels.SAME and sizes else 0 for j in range(len(inputs))]
    out = tuple(Operand(Role.INPUT, t, channels, rows, off) for t, off in zip(inputs, offsets))
    return out + _residual_and_weights(spec, residual)


def _broadcast_operands(inputs: tuple[str, ...], shapes) -> tuple[Operand, ...]:
    """Element-wise inputs: a chiplet reads its own block of each, and the whole of a
    dimension of size 1 that broadcasts (an SE scale [C, 1, 1] is read for every row)."""
    K, H = max(c for c, _, _ in shapes), max(h for _, h, _ in shapes)
    return tuple(Operand(Role.INPUT, t, Channels.ALL if c < K else Channels.SAME, Rows.ALL if h < H else Rows.SAME)
                 for t, (c, h, _) in zip(inputs, shapes))


def _residual_and_weights(spec: OperatorSpec, residual: str | None) -> tuple[Operand, ...]:
    out = [Operand(Role.RESIDUAL, residual, *RESIDUAL_READ)] if residual is not None else []
    if spec.weights:
        out.append(Operand(Role.WEIGHTS, None, *WEIGHTS_READ))
    return tuple(out)
