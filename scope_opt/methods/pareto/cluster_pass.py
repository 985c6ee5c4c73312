"""What the compiled cluster pass (pass_kernel.py) reads and what it gives back.  Its
inputs are arrays: per chiplet count n, every (layer, partition, previous partition)'s
SRAM bytes and bytes received per read; per walk range (n, u), each read's byte-hops,
summed with numpy exactly as EnergyContext.inner_j sums them (a row sum along the last
axis is the 1-D sum), so the pass adds the same floats.  Its options come back in the
form cluster_options returns, their partitions read from the path arena on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scope_opt.cost.energy import PJ, dram_hop_vector, hop_vector
from scope_opt.methods.deadline import OutOfTime, check_time
from scope_opt.methods.dp.budget import work_budget
from scope_opt.methods.dp.clusters import binding_view
from scope_opt.methods.pareto.pass_kernel import FROM_DRAM, NO_READ, energy_pass

if TYPE_CHECKING:
    from scope_opt.methods.pareto.clusters import CrossKey, EnergyContext, Option


class Parts:
    """A cluster option's partition indices, one per layer: the path from a node of the
    pass's arena, walked when first read (most options never are)."""

    __slots__ = ("arena", "node", "size", "got")

    def __init__(self, arena: tuple[np.ndarray, np.ndarray], node: int, size: int) -> None:
        self.arena, self.node, self.size, self.got = arena, node, size, None

    def indices(self) -> tuple[int, ...]:
        if self.got is None:
            js, parent = self.arena
            out, v = [], self.node
            while v >= 0:
                out.append(int(js[v]))
                v = int(parent[v])
            self.got = tuple(reversed(out))
        return self.got

    def __iter__(self):
        return iter(self.indices())

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i):
        return self.indices()[i]

    def __eq__(self, other) -> bool:
        if not isinstance(other, (Parts, tuple)):
            return NotImplemented
        return self.indices() == tuple(other)

    def __hash__(self) -> int:
        return hash(self.indices())

    def __repr__(self) -> str:
        return repr(self.indices())


def _layer_inputs(cx: EnergyContext, n: int) -> tuple:
    """Per n: layer times, binding w and act, producers of each read (FROM_DRAM, NO_READ),
    SRAM bytes [l, j, jp] and bytes received per chiplet [l, j, jp, r, chiplet], jp = q
    for a cluster's first layer (no previous partition)."""
    key = ("kernel layers", n)
    got = cx.memo.get(key)
    if got is None:
        tabs = cx.terms.layer_tables
        L, q = tabs.lt[n].shape[0], len(tabs.parts[n])
        R = max((len(p) for p in cx.producers), default=0)
        prod = np.full((L, max(R, 1)), NO_READ, np.int64)
        sram, by = np.zeros((L, q, q + 1)), np.zeros((L, q, q + 1, max(R, 1), n))
        for l in range(L):
            for j in range(q):
                for jp in range(q + 1):
                    s, reads = cx.parts_of(l, j, None if jp == q else jp, n)
                    sram[l, j, jp] = s
                    for r, (p, b) in enumerate(reads):
                        prod[l, r] = FROM_DRAM if p is None else p
                        by[l, j, jp, r] = b
        got = cx.memo[key] = (tabs.lt[n], *binding_view(tabs.w[n], tabs.act[n]), prod, sram, by)
    return got


def pass_inputs(cx: EnergyContext, n: int, u: int) -> tuple:
    """The kernel's arrays for walk range (u, n): _layer_inputs', each read's byte-hops
    [l, j, jp, r] (from DRAM for a read of the network input, within the cluster
    otherwise; the kernel uses a term only where it applies: EnergyContext.inner_j) and
    the energy coefficients."""
    key = ("kernel inputs", n, u)
    got = cx.memo.get(key)
    if got is None:
        lt, w, act, prod, sram, by = _layer_inputs(cx, n)
        place, mesh = cx.place(u, n), cx.pkg.mesh
        hops = np.stack([hop_vector(place, place, mesh), dram_hop_vector(place, mesh)])[(prod == FROM_DRAM).astype(int)]
        terms = (by * hops[:, None, None, :, :]).sum(axis=-1)
        en = cx.pkg.energy  # joules() as the kernel multiplies it out
        coef = np.array([en.sram_pj_per_byte, en.nop_pj_per_byte_hop, en.dram_pj_per_byte, PJ], dtype=float)
        got = cx.memo[key] = (lt, w, act, prod, sram, terms, coef)
    return got


def compiled_pass(cx: EnergyContext, y: int, n: int, u: int, last: int) -> dict[int, dict[CrossKey, list[Option]]]:
    """cluster_options' answer from the compiled pass; OutOfTime when it runs past the
    work the time left allows."""
    step = f"energy DP, cluster pass from layer {y} on {n} chiplets"
    check_time(cx.deadline, step)
    lt, w, act, prod, sram, terms, coef = pass_inputs(cx, n, u)
    ok, zs, cks, ts, es, nodes, arena, (_, ck_parent, ck_j, n_ck) = energy_pass(
        lt, w, act, float(cx.pkg.sram_bytes), prod, sram, terms, coef, y, last, cx.mode == "front",
        int(work_budget(cx.deadline)[0]))
    if not ok:
        raise OutOfTime(step)
    cross_layers = cx.cross_layers(y)
    keys: list[CrossKey] = [()]  # by interned id: a key's parent was interned before it
    for parent, j in zip(ck_parent[1:n_ck].tolist(), ck_j[1:n_ck].tolist()):
        head = keys[parent]
        keys.append(head + ((cross_layers[len(head)], j),))
    out: dict[int, dict] = {}
    at = None
    for z, c, t, e, node in zip(zs.tolist(), cks.tolist(), ts.tolist(), es.tolist(), nodes.tolist()):
        if z != at:
            at, by_key = z, out.setdefault(z, {})
        by_key.setdefault(keys[c], []).append((t, e, Parts(arena, node, z - y)))
    return out
