"""Energy per sample, piece by piece: what one layer adds in SRAM bytes and NoP byte-hops
given where its cluster and its producers sit, and a segment's DRAM bytes.  The
evaluator sums these pieces for a whole mapping; the exact energy methods
(`methods/pareto/`) sum the same pieces cluster by cluster (docs/cost-model.md, Energy)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from scope_opt.cost.reference import CostModel
from scope_opt.problem.instance import Package
from scope_opt.problem.mapping import Partition
from scope_opt.problem.placement import dram_hops, mean_hops

Place = tuple[int, ...]  # the physical chiplets of a cluster, in walk order
PJ = 1e-12


@lru_cache(maxsize=65536)
def hop_vector(place: Place, src: Place, mesh: tuple[int, int]) -> np.ndarray:
    """Hops a received byte travels to each chiplet of `place` from a producer cluster on
    `src` in the same segment: the mean distance, and at least one hop."""
    return np.array([max(1.0, mean_hops(d, src, mesh)) for d in place])


@lru_cache(maxsize=4096)
def dram_hop_vector(place: Place, mesh: tuple[int, int]) -> np.ndarray:
    """Hops from the DRAM controllers (west edge) to each chiplet of `place`."""
    return np.array([float(dram_hops(d, mesh)) for d in place])


def layer_pieces(cost: CostModel, l: int, p: Partition, prev: Partition | None,
                 reps: int = 1) -> tuple[float, list[tuple[int | None, np.ndarray]]]:
    """(SRAM bytes, [(producer, bytes received per chiplet)]) per sample of layer l with
    partition p, before any hop is counted: the placement-free part of its energy.
    `prev` is layer l-1's partition when it runs in the same cluster (it owns that block);
    `reps` is the weight-tiling passes of a one-layer segment (its input t times)."""
    owned_prev = prev if cost.owns_from_previous(l) else None
    rec = cost.received(l, p, owned_prev)
    sram = float((cost.weight_bytes(l, p) + reps * (cost.needed_bytes(l, p) + rec)
                  + cost.act_bytes(l, p) - cost.needed_bytes(l, p)).sum())
    reads = [(cost.net.producer(t), by) for t, by in cost.received_by_tensor(l, p, owned_prev)]
    return sram, reads


def layer_bytes(cost: CostModel, l: int, p: Partition, prev: Partition | None, reps: int, place: Place,
                src_place: Callable[[int], Place | None]) -> tuple[float, float]:
    """(SRAM bytes, NoP byte-hops) per sample of layer l with partition p on `place`;
    `src_place(q)` is the placement of producer q when it runs in the same segment, else
    None (DRAM)."""
    mesh = cost.pkg.mesh
    sram, reads = layer_pieces(cost, l, p, prev, reps)
    nop = 0.0
    for q, by in reads:
        src = src_place(q) if q is not None else None
        hops = hop_vector(place, src, mesh) if src is not None else dram_hop_vector(place, mesh)
        nop += reps * float((by * hops).sum())
    return sram, nop


def segment_dram_bytes(cost: CostModel, first: int, last: int, reps: int) -> float:
    """DRAM bytes per sample of segment [first, last): W_s / B + t * D_in + D_out."""
    d_in, d_out, w = cost.segment_traffic_split(first, last)
    return w / cost.instance.batch + reps * d_in + d_out


def joules(pkg: Package, sram: float, nop: float, dram: float) -> float:
    """SRAM bytes, NoP byte-hops and DRAM bytes in joules (MACs excluded: they are the
    same for every mapping)."""
    en = pkg.energy
    return sram * en.sram_pj_per_byte * PJ + nop * en.nop_pj_per_byte_hop * PJ + dram * en.dram_pj_per_byte * PJ


def mac_joules(cost: CostModel) -> float:
    return cost.net.macs * cost.pkg.energy.mac_pj * PJ
