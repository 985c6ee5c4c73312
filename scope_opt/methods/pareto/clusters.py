"""One cluster's options in the exact energy DP.  For a first layer y and n chiplets at walk
offset u, a label pass along the layers (as in the latency DP's cluster tables, with
energy as one more additive field) keeps every partition tuple that fits in SRAM and that
no other dominates.  A layer's energy splits into an *inner* part (SRAM, and the bytes it
receives from its own cluster or the network input) that depends on (u, n) only, and a
*cross* part (bytes from producers before y) that depends on where those producers sit;
the pass keeps the partitions of the layers with a cross part apart, so that its result
is independent of the producers and the segment step adds the cross part
(docs/exact-models.md, "The exact energy DP").  The pass is compiled (pass_kernel.py,
its arrays in cluster_pass.py); the plain Python one (reference_pass.py) is its oracle."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scope_opt.cost.energy import Place, dram_hop_vector, hop_vector, joules, layer_pieces
from scope_opt.cost.terms import CostTerms
from scope_opt.methods.dp.clusters import binding_chiplets
from scope_opt.methods.pareto.cluster_pass import compiled_pass
from scope_opt.methods.pareto.reference_pass import python_pass
from scope_opt.problem.placement import serpentine

MODES = ("front", "energy")
CrossKey = tuple[tuple[int, int], ...]  # (layer, partition index) of the layers with a cross part
Option = tuple[float, float, tuple[int, ...]]  # (T_c, inner energy in J, partition indices: or a Parts, read as one)


@dataclass
class EnergyContext:
    """What every pass of one solve shares: the terms, the reference cost model, the walk,
    the mode, the binding chiplets per n and the memos."""

    terms: CostTerms
    mode: str
    memo: dict = field(default_factory=dict)
    placement_dominance: bool = True  # off: the reference the tests compare against
    deadline: float = math.inf  # checked inside the long inner steps too (a cluster pass can take minutes)
    compiled: bool = True  # off: cluster passes in plain Python (reference_pass.py), the kernel's oracle

    def __post_init__(self) -> None:
        inst = self.terms.instance
        self.instance, self.cost, self.pkg = inst, self.terms.reference, inst.package
        self.walk = serpentine(*self.pkg.mesh)
        net = inst.network
        # the last layer reading each layer's output (-1: none)
        self.last_use = tuple(max(net.consumers.get(layer.name, ()), default=-1) for layer in net.layers)
        self.producers = tuple(tuple(net.producer(t) for t in net.reads(l)) for l in range(len(net.layers)))
        self.keep: dict[int, np.ndarray] = {}

    def place(self, off: int, n: int) -> Place:
        return self.walk[off:off + n]

    def range_hops(self, u: int, n: int, off: int, nq: int) -> np.ndarray:
        """`hop_vector` of walk range [u, u + n) from a cluster on [off, off + nq) that it
        does not overlap, from a table of integer hops between walk positions: an exact
        integer sum and one division, so the very same floats, without a Python loop."""
        key = ("hops", u, n, off, nq)
        got = self.memo.get(key)
        if got is None:
            if "walk_hops" not in self.memo:
                walk = np.array(self.walk)
                col, row = walk % self.pkg.mesh[0], walk // self.pkg.mesh[0]
                self.memo["walk_hops"] = np.abs(col[:, None] - col[None, :]) + np.abs(row[:, None] - row[None, :])
            got = self.memo[key] = np.maximum(1.0, self.memo["walk_hops"][u:u + n, off:off + nq].sum(axis=1) / nq)
        return got

    def shape_offset(self, u: int) -> int:
        """An offset whose placements have the same hop geometry as u's: two rows down the
        walk every chiplet moves two rows down in its own column, so hops between clusters,
        and to the west edge, are unchanged."""
        return u % (2 * self.pkg.mesh[0])

    def live(self, a: int, z: int) -> tuple[int, ...]:
        """Layers of [a, z) whose output a layer at or after z reads."""
        key = ("live", a, z)
        if key not in self.memo:
            self.memo[key] = tuple(q for q in range(a, z) if self.last_use[q] >= z)
        return self.memo[key]

    def binding(self, n: int) -> np.ndarray:
        if n not in self.keep:
            t = self.terms.layer_tables
            self.keep[n] = binding_chiplets(t.w[n], t.act[n])
        return self.keep[n]

    def partition(self, n: int, j: int) -> tuple[int, int]:
        return self.instance.allowed_partitions[n][j]

    def parts_of(self, l: int, j: int, jprev: int | None, n: int) -> tuple[float, list]:
        """(SRAM bytes, [(producer, bytes received per chiplet)]) of layer l: partition j on
        n chiplets, jprev the previous layer's in the same cluster (None: it starts one)."""
        key = ("parts", l, j, jprev, n)
        if key not in self.memo:
            prev = self.partition(n, jprev) if jprev is not None else None
            self.memo[key] = layer_pieces(self.cost, l, self.partition(n, j), prev)
        return self.memo[key]

    def inner_j(self, l: int, j: int, jprev: int | None, n: int, y: int, u: int) -> float:
        key = ("inner", l, j, jprev, n, y, u)
        if key not in self.memo:
            sram, reads = self.parts_of(l, j, jprev, n)
            place, mesh = self.place(u, n), self.pkg.mesh
            nop = 0.0
            for q, by in reads:
                if q is None:
                    nop += float((by * dram_hop_vector(place, mesh)).sum())
                elif q >= y:
                    nop += float((by * hop_vector(place, place, mesh)).sum())
            self.memo[key] = joules(self.pkg, sram, nop, 0.0)
        return self.memo[key]

    def cross_j(self, ckey: CrossKey, n: int, y: int, u: int, where: dict[int, tuple[int, int]]) -> float:
        """The cross parts of a cluster [y, .) at (u, n) whose layers with one have the
        partitions `ckey`: the producers at `where` (offset, chiplets of each live
        producer of the segment) on the chips, the others (made before the segment) in
        DRAM.  Not memoised as a whole (the segment step keeps the answer for the cluster
        ends that share it); its terms are, by `cross_nop`."""
        nop = 0.0
        for l, j in ckey:
            for r, (q, _) in enumerate(self.parts_of(l, j, None, n)[1]):  # a cross tensor is never owned
                if q is not None and q < y:
                    nop += self.cross_nop(l, j, n, u, r, where.get(q))
        return joules(self.pkg, 0.0, nop, 0.0)

    def cross_nop(self, l: int, j: int, n: int, u: int, r: int, src: tuple[int, int] | None) -> float:
        """Byte-hops of read r of layer l (partition j) on walk range (u, n) from DRAM
        (src None) or from the cluster at src = (offset, chiplets).  Both ranges are moved
        up by the same whole number of double rows first (`shape_offset`: the hops are
        unchanged), so that segment starts and placements with the same geometry share
        one entry; the value is the same float either way."""
        low = u if src is None else min(u, src[0])
        shift = low - self.shape_offset(low)
        key = ("cross", l, j, n, u - shift, r, None if src is None else (src[0] - shift, src[1]))
        got = self.memo.get(key)
        if got is None:
            by = self.parts_of(l, j, None, n)[1][r][1]
            if src is None:
                hops = dram_hop_vector(self.place(u - shift, n), self.pkg.mesh)
            else:
                hops = self.range_hops(u - shift, n, src[0] - shift, src[1])
            got = self.memo[key] = float((by * hops).sum())
        return got

    def future_nop_j(self, q: int, y: int, free: int) -> float:
        """At most how many joules per hop the reads of layer q's output by layers from y on
        can cost with `free` chiplets left: for each such layer, its most bytes received
        from q over every chiplet count up to `free` and partition (placement dominance
        weighs a farther placement by it)."""
        key = ("future", q, y, free)
        if key not in self.memo:
            most = sum(self._most_read(q, l)[free] for l in range(max(y, q + 1), len(self.producers))
                       if q in self.producers[l])
            self.memo[key] = joules(self.pkg, 0.0, most, 0.0)
        return self.memo[key]

    def _most_read(self, q: int, l: int) -> np.ndarray:
        """[n]: layer l's most bytes received from q on at most n chiplets, any partition."""
        key = ("most read", q, l)
        if key not in self.memo:
            rows, ends = self._read_rows(l, q)
            per_n = [0.0] + [rows[ends[n - 1]:ends[n]].sum(axis=1).max() for n in range(1, len(ends))]
            self.memo[key] = np.maximum.accumulate(per_n)
        return self.memo[key]

    def next_read_j(self, y: int, q: int, free: int) -> np.ndarray:
        """Joules per hop of layer y's reads of layer q's output (q < y) on each of the
        first `free` chiplets of a cluster starting at y, one row per (chiplets n <= free,
        partition index) in that order, zero past n: a row times the hops from q's
        cluster is that read's NoP energy (placement dominance compares them)."""
        key = ("next", y, q)
        if key not in self.memo:
            rows, ends = self._read_rows(y, q)
            self.memo[key] = (joules(self.pkg, 0.0, 1.0, 0.0) * rows, ends)
        mat, ends = self.memo[key]
        return mat[:ends[free], :free]

    def _read_rows(self, l: int, q: int) -> tuple[np.ndarray, list[int]]:
        """Bytes layer l receives from q per chiplet, a row per (chiplets n, partition
        index), zero past n; rows ends[n - 1]:ends[n] are those of n chiplets."""
        key = ("read rows", l, q)
        if key not in self.memo:
            N, rows, ends = self.pkg.chiplets, [], [0]
            for n in range(1, N + 1):
                for j in range(len(self.instance.allowed_partitions[n])):
                    row = np.zeros(N)
                    for p, by in self.parts_of(l, j, None, n)[1]:
                        if p == q:
                            row[:n] += by
                    rows.append(row)
                ends.append(len(rows))
            self.memo[key] = (np.array(rows), ends)
        return self.memo[key]

    def has_cross(self, l: int, y: int) -> bool:
        return any(q is not None and q < y for q in self.producers[l])

    def cross_layers(self, y: int) -> list[int]:
        """The layers from y on with a cross part in a cluster starting at y."""
        key = ("cross layers", y)
        if key not in self.memo:
            self.memo[key] = [l for l in range(y, len(self.producers)) if self.has_cross(l, y)]
        return self.memo[key]


def cluster_options(cx: EnergyContext, y: int, n: int, u: int, last: int) -> dict[int, dict[CrossKey, list[Option]]]:
    """z -> cross key -> the options of cluster [y, z) at (u, n), for every z <= last where
    some partition tuple fits (u is a shape offset: EnergyContext.shape_offset): in
    energy mode the option of least inner energy per cross key, else its (T_c, energy)
    front.  Memoised; an interrupted pass leaves nothing behind."""
    key = ("pass", y, n, u, last)
    got = cx.memo.get(key)
    if got is None:
        got = cx.memo[key] = (compiled_pass if cx.compiled else python_pass)(cx, y, n, u, last)
    return got
