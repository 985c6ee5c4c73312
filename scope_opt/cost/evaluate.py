"""The reference evaluator: the single source of truth for a mapping's latency, energy
and feasibility.  Every search and solver result is re-scored here."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scope_opt.cost import formulas
from scope_opt.cost.energy import layer_bytes
from scope_opt.cost.reference import CostModel
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Mapping, validate
from scope_opt.problem.placement import serpentine


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
    weight_load_s: float = 0.0  # W_s / b_dram: loading the segment's weights before it starts


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


def _placements(mapping: Mapping, walk: tuple[int, ...]) -> dict[int, tuple[int, tuple[int, ...]]]:
    """layer -> (segment, the physical chiplets of its cluster)."""
    where: dict[int, tuple[int, tuple[int, ...]]] = {}
    for si, seg in enumerate(mapping.segments):
        offset = 0
        for c in seg.clusters:
            for l in range(c.first, c.last):
                where[l] = (si, walk[offset:offset + c.chiplets])
            offset += c.chiplets
    return where


@dataclass
class _Tally:
    """SRAM and NoP (byte x hop) traffic per sample, summed over the mapping."""

    sram: float = 0.0
    nop: float = 0.0


def _layer(cost: CostModel, l: int, p, prev, reps: int, si: int, place, where, tally: _Tally) -> LayerReport:
    """One layer's report; adds its SRAM and NoP traffic (`reps` times its input: weight
    tiling passes) to the tally."""
    def src_place(q: int):
        return where[q][1] if where[q][0] == si else None

    sram, nop = layer_bytes(cost, l, p, prev, reps, tuple(place), src_place)
    tally.sram += sram
    tally.nop += nop
    owned_prev = prev if cost.owns_from_previous(l) else None
    rec = cost.received(l, p, owned_prev)
    return LayerReport(l, cost.net.layers[l].name, p, cost.compute_s(l, p), cost.nop_s(l, p, prev),
                       cost.layer_time(l, p, prev), int(rec.max()))


def _cluster(cost: CostModel, c, si: int, place, single: bool, passes, where, tally: _Tally) -> tuple[ClusterReport, str | None]:
    """One cluster's report, and why it does not fit (None when it does)."""
    reps = passes or 1  # the input is read, received and stored once per pass
    layers = tuple(_layer(cost, c.first + j, p, c.partitions[j - 1] if j else None, reps, si, place, where, tally)
                   for j, p in enumerate(c.partitions))
    mem = cost.cluster_memory(c.first, c.partitions)
    fits = formulas.fits(mem.max(), cost.pkg.sram_bytes) or (single and passes is not None)
    reason = None
    if not fits:
        worst = int(np.argmax(mem))
        reason = (f"cluster of layers [{c.first}, {c.last}) needs {int(mem[worst])} bytes on chiplet {worst} "
                  f"but each chiplet has {int(cost.pkg.sram_bytes)} bytes of SRAM"
                  + ("; its activations alone leave no room for a weight tile" if single else ""))
    stage = sum(x.time_s for x in layers)
    return ClusterReport(si, c.first, c.last, c.chiplets, tuple(place), stage, sum(x.compute_s for x in layers),
                         sum(x.nop_s for x in layers), int(mem.max()), fits, layers, reps), reason


def _segment(cost: CostModel, si: int, seg, walk, where, tally: _Tally) -> tuple[SegmentReport, list, str | None]:
    """One segment's report with its clusters' reports, and the first reason it does not fit."""
    bw = cost.pkg.dram_bps
    single = formulas.may_tile(seg.first, seg.last)
    passes = cost.passes(seg.first, seg.clusters[0].partitions[0]) if single else 1
    reps = passes or 1
    clusters, reason, offset = [], None, 0
    for c in seg.clusters:
        report, why = _cluster(cost, c, si, walk[offset:offset + c.chiplets], single, passes, where, tally)
        offset += c.chiplets
        clusters.append(report)
        reason = reason or why
    stage_max = max(c.stage_s for c in clusters)
    d_in, d_out, w = cost.segment_traffic_split(seg.first, seg.last)
    d = reps * d_in + d_out
    if single:
        t = cost.single_segment_time(seg.first, seg.clusters[0].partitions[0])
        period = formulas.tiled_period(clusters[0].compute_s, clusters[0].nop_s, reps, d_in, d_out, bw)
    else:
        t = cost.segment_time(seg.first, seg.last, stage_max, len(seg.clusters))
        period = formulas.resident_period(stage_max, d / bw)
    report = SegmentReport(si, seg.first, seg.last, len(seg.clusters), stage_max, d, w, d / bw, float(period), t,
                           reps, w / bw)
    return report, clusters, reason


def evaluate(instance: Instance, mapping: Mapping, cost: CostModel | None = None, src: str = "(mapping)") -> Evaluation:
    """Score `mapping` exactly as docs/cost-model.md says."""
    validate(mapping, instance, src)
    cost = cost or CostModel(instance)
    pkg, net = instance.package, instance.network
    walk = serpentine(*pkg.mesh)
    where = _placements(mapping, walk)
    tally = _Tally()
    seg_reports, cl_reports, reason = [], [], None
    for si, seg in enumerate(mapping.segments):
        report, clusters, why = _segment(cost, si, seg, walk, where, tally)
        seg_reports.append(report)
        cl_reports += clusters
        reason = reason or why
    total = sum(s.time_s for s in seg_reports)
    en = pkg.energy
    dram_bytes = sum(s.weight_bytes for s in seg_reports) / instance.batch + sum(s.dram_bytes for s in seg_reports)
    energy = EnergyReport(net.macs * en.mac_pj * 1e-12, tally.sram * en.sram_pj_per_byte * 1e-12,
                          tally.nop * en.nop_pj_per_byte_hop * 1e-12, dram_bytes * en.dram_pj_per_byte * 1e-12)
    feasible = reason is None
    latency_s = total if feasible else math.inf
    return Evaluation(feasible, reason, latency_s, instance.batch / latency_s if feasible else 0.0, energy,
                      tuple(seg_reports), tuple(cl_reports), instance.batch)


def latency(instance: Instance, mapping: Mapping, cost: CostModel | None = None) -> float:
    """Batch latency T of a mapping (inf when it does not fit), without the energy bookkeeping."""
    validate(mapping, instance)
    cost = cost or CostModel(instance)
    total = 0.0
    for seg in mapping.segments:
        if formulas.may_tile(seg.first, seg.last):
            total += cost.single_segment_time(seg.first, seg.clusters[0].partitions[0])
            continue
        stage_max = 0.0
        for c in seg.clusters:
            if not cost.fits(c.first, c.partitions):
                return math.inf
            stage_max = max(stage_max, cost.cluster_time(c.first, c.partitions))
        total += cost.segment_time(seg.first, seg.last, stage_max, len(seg.clusters))
    return total
