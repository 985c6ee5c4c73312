"""The cost model as table-friendly pieces (docs/cost-model.md).

Every latency term belongs to one layer (given its partition and, inside a cluster, the
partition of the layer before it), one cluster (its layer range, chiplet count and
partitions) or one segment (its layer range).  The evaluator, the searches and the exact
models all call these functions, so they score the same thing.  Results are cached per
instance; arrays are per chiplet, chiplet index i = a * p_h + b for channel block a and
row block b.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from scope_opt.cost import formulas
from scope_opt.problem.instance import Instance
from scope_opt.problem.network import Layer, Tensor
from scope_opt.problem.operators import Channels, Compute, Rows
from scope_opt.problem.mapping import Partition


def split(n: int, parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Split range(n) into `parts` contiguous ranges as evenly as possible, the first ones one larger."""
    j = np.arange(parts)
    q, r = divmod(n, parts)
    start = j * q + np.minimum(j, r)
    return start, start + q + (j < r)


def read_channels(rule: Channels, layer: Layer, tensor: Tensor, k0: np.ndarray, k1: np.ndarray, offset: int = 0):
    """Channel range [c0, c1) of an operand that output channels [k0, k1) read; a
    channel-wise read of an operand whose channels start at `offset` in the layer's
    concatenated input is the overlap, in the operand's own channels (empty: c0 = c1)."""
    if rule is Channels.ALL:
        return np.zeros_like(k0), np.full_like(k0, tensor.C)
    if rule is Channels.SAME:
        return np.clip(k0 - offset, 0, tensor.C), np.clip(k1 - offset, 0, tensor.C)
    kg, cg = layer.K // layer.groups, layer.C // layer.groups  # Channels.GROUP
    return (k0 // kg) * cg, ((k1 - 1) // kg + 1) * cg


def read_rows(rule: Rows, layer: Layer, tensor: Tensor, h0: np.ndarray, h1: np.ndarray):
    """Row range [r0, r1) of an operand that output rows [h0, h1) read."""
    if rule is Rows.ALL:
        return np.zeros_like(h0), np.full_like(h0, tensor.H)
    if rule is Rows.SAME:
        return h0, h1
    return (np.maximum(0, h0 * layer.stride - layer.pad),  # Rows.HALO
            np.minimum(tensor.H, (h1 - 1) * layer.stride - layer.pad + layer.R))


@dataclass(frozen=True)
class Blocks:
    """Per chiplet: output channel range [k0, k1) and output row range [h0, h1)."""

    k0: np.ndarray
    k1: np.ndarray
    h0: np.ndarray
    h1: np.ndarray


@dataclass(frozen=True)
class Region:
    """Per chiplet: the part [c0, c1) x [r0, r1) x all columns of `tensor` that a layer reads."""

    tensor: str
    c0: np.ndarray
    c1: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    cols: int

    def elements(self) -> np.ndarray:
        return np.maximum(self.c1 - self.c0, 0) * np.maximum(self.r1 - self.r0, 0) * self.cols


class CostModel:
    """Cost tables of one instance.  Stateless but for caches."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.net = instance.network
        self.pkg = instance.package
        self.e = instance.package.bytes_per_element
        self.blocks = lru_cache(maxsize=None)(self._blocks)
        self.compute_s = lru_cache(maxsize=None)(self._compute_s)
        self.regions = lru_cache(maxsize=None)(self._regions)
        self.received = lru_cache(maxsize=None)(self._received)
        self.layer_time = lru_cache(maxsize=None)(self._layer_time)
        self.weight_bytes = lru_cache(maxsize=None)(self._weight_bytes)
        self.act_bytes = lru_cache(maxsize=None)(self._act_bytes)
        self.segment_traffic = lru_cache(maxsize=None)(self._segment_traffic)
        self.segment_traffic_split = lru_cache(maxsize=None)(self._segment_traffic_split)
        self.passes = lru_cache(maxsize=None)(self._passes)
        self.single_segment_time = lru_cache(maxsize=None)(self._single_segment_time)

    # -- one layer -------------------------------------------------------------------
    def _blocks(self, l: int, part: Partition) -> Blocks:
        layer = self.net.layers[l]
        pk, ph = part
        kk0, kk1 = split(layer.K, pk)
        hh0, hh1 = split(layer.H, ph)
        return Blocks(np.repeat(kk0, ph), np.repeat(kk1, ph), np.tile(hh0, pk), np.tile(hh1, pk))

    def _compute_s(self, l: int, part: Partition) -> float:
        """Slowest chiplet's compute time for one sample."""
        layer = self.net.layers[l]
        b = self.blocks(l, part)
        kb, hb = b.k1 - b.k0, b.h1 - b.h0
        if layer.spec.compute is Compute.NONE:
            return 0.0
        if layer.spec.compute is Compute.VECTOR:
            cycles = -(-(kb * hb * layer.W) // self.pkg.pe_k)
        else:
            cycles = (-(-kb // self.pkg.pe_k)) * math.ceil(layer.c_per_group / self.pkg.pe_c) * hb * layer.W * layer.R * layer.S
        return float(cycles.max()) / self.pkg.freq_hz

    def _regions(self, l: int, part: Partition) -> tuple[Region, ...]:
        """What each chiplet must read of each activation operand, by its read rule
        (scope_opt.problem.operators); an idle chiplet reads nothing."""
        layer = self.net.layers[l]
        b = self.blocks(l, part)
        busy = (b.k1 > b.k0) & (b.h1 > b.h0)
        out = []
        for o in layer.reads:
            shp = self.net.shape(o.tensor)
            c0, c1 = read_channels(o.channels, layer, shp, b.k0, b.k1, o.offset)
            r0, r1 = read_rows(o.rows, layer, shp, b.h0, b.h1)
            c0, c1, r0, r1 = (np.where(busy, v, 0) for v in (c0, c1, r0, r1))
            out.append(Region(o.tensor, c0, c1, r0, r1, shp.W))
        return tuple(out)

    def needed_bytes(self, l: int, part: Partition) -> np.ndarray:
        return sum(r.elements() for r in self.regions(l, part)) * self.e

    def owns_from_previous(self, l: int) -> bool:
        """True when layer l reads the output of layer l - 1 (which it may own, same cluster)."""
        return l > 0 and self.net.layers[l - 1].name in self.net.reads(l)

    def received_by_tensor(self, l: int, part: Partition, prev: Partition | None) -> list[tuple[str, np.ndarray]]:
        """Bytes each chiplet receives over the NoP per tensor read: needed minus owned.
        `prev` is the partition of layer l - 1 when it runs in the same cluster, else None;
        a chiplet owns the block it computed for l - 1 (same chiplet index)."""
        prev_name = self.net.layers[l - 1].name if (prev is not None and l > 0) else None
        pb = self.blocks(l - 1, prev) if prev_name else None
        out = []
        for r in self.regions(l, part):
            need = r.elements()
            if r.tensor == prev_name:
                oc = np.maximum(np.minimum(r.c1, pb.k1) - np.maximum(r.c0, pb.k0), 0)
                orr = np.maximum(np.minimum(r.r1, pb.h1) - np.maximum(r.r0, pb.h0), 0)
                need = need - oc * orr * r.cols
            out.append((r.tensor, need * self.e))
        return out

    def _received(self, l: int, part: Partition, prev: Partition | None) -> np.ndarray:
        return sum(b for _, b in self.received_by_tensor(l, part, prev))

    def nop_s(self, l: int, part: Partition, prev: Partition | None) -> float:
        """Slowest chiplet's NoP ingress time for one sample."""
        if prev is not None and not self.owns_from_previous(l):
            prev = None
        return float(self.received(l, part, prev).max()) / self.pkg.nop_bps

    def _layer_time(self, l: int, part: Partition, prev: Partition | None) -> float:
        """max(compute, NoP transfer): the two overlap within a layer."""
        return max(self.compute_s(l, part), self.nop_s(l, part, prev))

    def _weight_bytes(self, l: int, part: Partition) -> np.ndarray:
        """Weights each chiplet holds: a K split divides them, an H split replicates them;
        an idle chiplet (empty channel or row range) holds none."""
        layer = self.net.layers[l]
        b = self.blocks(l, part)
        if not layer.has_weights:
            return np.zeros_like(b.k0)
        busy = (b.k1 > b.k0) & (b.h1 > b.h0)
        return np.where(busy, (b.k1 - b.k0) * layer.c_per_group * layer.R * layer.S * self.e, 0)

    def _act_bytes(self, l: int, part: Partition) -> np.ndarray:
        """Input needed plus output computed, per chiplet."""
        layer = self.net.layers[l]
        b = self.blocks(l, part)
        return self.needed_bytes(l, part) + (b.k1 - b.k0) * (b.h1 - b.h0) * layer.W * self.e

    # -- one cluster -----------------------------------------------------------------
    def cluster_time(self, first: int, parts: tuple[Partition, ...]) -> float:
        """Stage time T_c for one sample: the sum over its layers."""
        return sum(self.layer_time(first + j, p, parts[j - 1] if j else None) for j, p in enumerate(parts))

    def partition_dp(self, first: int, last: int, n: int) -> tuple[float, tuple[Partition, ...]]:
        """Fastest partition tuple of cluster [first, last) on n chiplets, memory ignored:
        a DP along the layers, since a layer's time depends only on its own partition and
        the previous layer's."""
        options = self.instance.allowed_partitions[n]
        best = {p: (self.layer_time(first, p, None), (p,)) for p in options}
        for l in range(first + 1, last):
            best = {p: min(((t + self.layer_time(l, p, q), path + (p,)) for q, (t, path) in best.items()),
                           key=lambda v: v[0]) for p in options}
        return min(best.values(), key=lambda v: v[0])

    def cluster_memory(self, first: int, parts: tuple[Partition, ...]) -> np.ndarray:
        """Bytes per chiplet: all weight slices of the cluster plus the largest activation need."""
        weights = sum(self.weight_bytes(first + j, p) for j, p in enumerate(parts))
        acts = np.max([self.act_bytes(first + j, p) for j, p in enumerate(parts)], axis=0)
        return weights + acts

    def fits(self, first: int, parts: tuple[Partition, ...]) -> bool:
        return formulas.fits(self.cluster_memory(first, parts).max(), self.pkg.sram_bytes)

    # -- one segment -----------------------------------------------------------------
    def _segment_traffic_split(self, first: int, last: int) -> tuple[int, int, int]:
        """(D_in, D_out, W_s) in bytes: DRAM reads of tensors made outside the segment, and
        writes of tensors a later segment reads (and the network output), each once per
        sample; the segment's weight bytes."""
        net = self.net
        inside = range(first, last)
        def made_inside(t: str) -> bool:
            p = net.producer(t)
            return p is not None and first <= p < last

        read = {t for l in inside for t in net.reads(l) if not made_inside(t)}
        written = {net.layers[l].name for l in inside
                   if l == len(net.layers) - 1 or any(c >= last for c in net.consumers.get(net.layers[l].name, ()))}
        d_in = sum(net.shape(t).elements for t in read) * self.e
        d_out = sum(net.shape(t).elements for t in written) * self.e
        w = sum(net.layers[l].weights for l in inside) * self.e
        return d_in, d_out, w

    def _segment_traffic(self, first: int, last: int) -> tuple[int, int]:
        """(D_s, W_s) in bytes; D_s = D_in + D_out (a tensor is read or written, never both)."""
        d_in, d_out, w = self.segment_traffic_split(first, last)
        return d_in + d_out, w

    def segment_time(self, first: int, last: int, stage_max_s: float, clusters: int) -> float:
        """T_s of a resident segment (formulas.resident_period, formulas.segment_time)."""
        d, w = self.segment_traffic(first, last)
        period = formulas.resident_period(stage_max_s, d / self.pkg.dram_bps)
        return float(formulas.segment_time(self.instance.batch, clusters, period, w / self.pkg.dram_bps))

    # -- a one-layer segment, with weight tiling -------------------------------------------
    def _passes(self, l: int, part: Partition) -> int | None:
        """Weight-tiling passes t of layer l alone in its segment: chiplet i holds at most
        M - a_i bytes of weights at a time, so it needs ceil(w_i / (M - a_i)) passes;
        t = the largest (1 when the weights fit).  None when some chiplet's activations
        alone leave no room for its weights (a_i >= M with w_i > 0, or a_i > M)."""
        cap = math.floor(self.pkg.sram_bytes)  # byte counts are integers: w + a <= M iff w + a <= floor(M)
        t = formulas.passes(self.weight_bytes(l, part).tolist(), self.act_bytes(l, part).tolist(), cap)
        return t or None

    def _single_segment_time(self, l: int, part: Partition) -> float:
        """T_s of the one-layer segment [l, l+1) with partition `part` and t weight passes:
        formulas.tiled_period and formulas.segment_time with P_s = 1; inf when it cannot be
        tiled.  With t = 1 this is segment_time's value, bit for bit."""
        t = self.passes(l, part)
        if t is None:
            return math.inf
        d_in, d_out, w = self.segment_traffic_split(l, l + 1)
        bw = self.pkg.dram_bps
        period = formulas.tiled_period(self.compute_s(l, part), self.nop_s(l, part, None), t, d_in, d_out, bw)
        return float(formulas.segment_time(self.instance.batch, 1, period, w / bw))
