"""The reference evaluator: the single source of truth for a mapping's latency, energy
and feasibility.  Every search and solver result is re-scored here."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scope_opt.cost.reference import CostModel
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Mapping, validate
from scope_opt.problem.placement import dram_hops, mean_hops, serpentine


@dataclass(frozen=True)
class LayerReport:
    index: int
    name: str
    partition: tuple[int, int]
    compute_s: float
    nop_s: float
    time_s: float
    received_bytes: int  # the largest over the layer's chiplets


@dataclass(frozen=True)
class ClusterReport:
    segment: int
    first: int
    last: int
    chiplets: int
    placement: tuple[int, ...]  # physical chiplet ids (y * X + x)
    stage_s: float
    compute_s: float  # sum over layers of the slowest chiplet's compute
    nop_s: float
    memory_bytes: int  # the largest over the cluster's chiplets (weights held whole)
    fits: bool  # mappable: resident, or tiled when the cluster is a one-layer segment
    layers: tuple[LayerReport, ...]
    passes: int = 1  # weight-tiling passes of a one-layer segment (1: weights resident)


@dataclass(frozen=True)
class SegmentReport:
    index: int
    first: int
    last: int
    clusters: int
    stage_max_s: float
    dram_bytes: int  # DRAM bytes per sample: D_s, or t * D_in + D_out when tiled
    weight_bytes: int  # W_s
    dram_s: float  # dram_bytes / b_dram
    period_s: float
    time_s: float
    passes: int = 1  # weight-tiling passes t of a one-layer segment


@dataclass(frozen=True)
class EnergyReport:
    """Joules per sample."""

    mac_j: float
    sram_j: float
    nop_j: float
    dram_j: float

    @property
    def total_j(self) -> float:
        return self.mac_j + self.sram_j + self.nop_j + self.dram_j


@dataclass(frozen=True)
class Evaluation:
    feasible: bool
    reason: str | None
    latency_s: float  # batch latency T; inf when infeasible
    throughput: float  # samples/s; 0 when infeasible
    energy: EnergyReport
    segments: tuple[SegmentReport, ...]
    clusters: tuple[ClusterReport, ...]
    batch: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        finite = math.isfinite(self.latency_s)
        return {
            "feasible": self.feasible,
            "reason": self.reason,
            "latency_s": self.latency_s if finite else None,
            "throughput": self.throughput if finite else None,
            "energy_j": self.energy.total_j,
            "batch": self.batch,
            "energy": {**asdict(self.energy), "total_j": self.energy.total_j},
            "segments": [asdict(s) for s in self.segments],
            "clusters": [asdict(c) for c in self.clusters],
        }


def evaluate(instance: Instance, mapping: Mapping, cost: CostModel | None = None, src: str = "(mapping)") -> Evaluation:
    """Score `mapping` exactly as docs/cost-model.md says."""
    validate(mapping, instance, src)
    cost = cost or CostModel(instance)
    pkg, net = instance.package, instance.network
    walk = serpentine(*pkg.mesh)
    seg_reports, cl_reports = [], []
    reason = None
    total = 0.0
    sram = nop = 0.0
    where: dict[int, tuple[int, tuple[int, ...]]] = {}  # layer -> (segment, physical chiplets)
    for si, seg in enumerate(mapping.segments):
        offset = 0
        for c in seg.clusters:
            for l in range(c.first, c.last):
                where[l] = (si, walk[offset:offset + c.chiplets])
            offset += c.chiplets
    for si, seg in enumerate(mapping.segments):
        offset = 0
        stage_max = 0.0
        single = seg.last - seg.first == 1  # a one-layer segment may tile its weights
        passes = cost.passes(seg.first, seg.clusters[0].partitions[0]) if single else 1
        reps = passes or 1  # the input is read, received and stored once per pass
        for c in seg.clusters:
            layers = []
            place = walk[offset:offset + c.chiplets]
            offset += c.chiplets
            for j, p in enumerate(c.partitions):
                l = c.first + j
                prev = c.partitions[j - 1] if j else None
                rec = cost.received(l, p, prev if cost.owns_from_previous(l) else None)
                layers.append(LayerReport(l, net.layers[l].name, p, cost.compute_s(l, p), cost.nop_s(l, p, prev),
                                          cost.layer_time(l, p, prev), int(rec.max())))
                sram += float((cost.weight_bytes(l, p) + reps * (cost.needed_bytes(l, p) + rec)
                               + cost.act_bytes(l, p) - cost.needed_bytes(l, p)).sum())
                for t, by in cost.received_by_tensor(l, p, prev if cost.owns_from_previous(l) else None):
                    src_l = net.producer(t)
                    if src_l is not None and where[src_l][0] == si:
                        # a received byte crosses at least one link, even from its own chiplet
                        hops = np.array([max(1.0, mean_hops(place[i], where[src_l][1], pkg.mesh)) for i in range(c.chiplets)])
                    else:
                        hops = np.array([dram_hops(place[i], pkg.mesh) for i in range(c.chiplets)])
                    nop += reps * float((by * hops).sum())
            mem = cost.cluster_memory(c.first, c.partitions)
            fits = float(mem.max()) <= pkg.sram_bytes or (single and passes is not None)
            if not fits and reason is None:
                worst = int(np.argmax(mem))
                reason = (f"cluster of layers [{c.first}, {c.last}) needs {int(mem[worst])} bytes on chiplet {worst} "
                          f"but each chiplet has {int(pkg.sram_bytes)} bytes of SRAM"
                          + ("; its activations alone leave no room for a weight tile" if single else ""))
            stage = sum(x.time_s for x in layers)
            stage_max = max(stage_max, stage)
            cl_reports.append(ClusterReport(si, c.first, c.last, c.chiplets, tuple(place), stage,
                                            sum(x.compute_s for x in layers), sum(x.nop_s for x in layers),
                                            int(mem.max()), fits, tuple(layers), reps))
        d_in, d_out, w = cost.segment_traffic_split(seg.first, seg.last)
        d = reps * d_in + d_out
        if single:
            t = cost.single_segment_time(seg.first, seg.clusters[0].partitions[0])
            c0 = cl_reports[-1]
            period = max(c0.compute_s, reps * c0.nop_s, d / pkg.dram_bps)
        else:
            t = cost.segment_time(seg.first, seg.last, stage_max, len(seg.clusters))
            period = max(stage_max, d / pkg.dram_bps)
        total += t
        seg_reports.append(SegmentReport(si, seg.first, seg.last, len(seg.clusters), stage_max, d, w,
                                         d / pkg.dram_bps, period, t, reps))
    en = pkg.energy
    dram_bytes = sum(s.weight_bytes for s in seg_reports) / instance.batch + sum(s.dram_bytes for s in seg_reports)
    energy = EnergyReport(net.macs * en.mac_pj * 1e-12, sram * en.sram_pj_per_byte * 1e-12,
                          nop * en.nop_pj_per_byte_hop * 1e-12, dram_bytes * en.dram_pj_per_byte * 1e-12)
    feasible = reason is None
    latency = total if feasible else math.inf
    return Evaluation(feasible, reason, latency, instance.batch / latency if feasible else 0.0, energy,
                      tuple(seg_reports), tuple(cl_reports), instance.batch)


def latency(instance: Instance, mapping: Mapping, cost: CostModel | None = None) -> float:
    """Batch latency T of a mapping (inf when it does not fit), without the energy bookkeeping."""
    validate(mapping, instance)
    cost = cost or CostModel(instance)
    total = 0.0
    for seg in mapping.segments:
        if seg.last - seg.first == 1:  # one layer: weight tiling allowed
            total += cost.single_segment_time(seg.first, seg.clusters[0].partitions[0])
            continue
        stage_max = 0.0
        for c in seg.clusters:
            if not cost.fits(c.first, c.partitions):
                return math.inf
            stage_max = max(stage_max, cost.cluster_time(c.first, c.partitions))
        total += cost.segment_time(seg.first, seg.last, stage_max, len(seg.clusters))
    return total
