"""Every cost term of one instance, built once per solve and shared by every method
(the searches, the enumerator, the ablation, the chain DP and the exact models' tables).

Each term belongs to one layer, one cluster or one segment (docs/cost-model.md), so it
is a table: the compiled layer tables per chiplet count and their flat layout, D_in,
D_out and W per segment range, and the one-layer-segment table.  Terms are built on
first use; `reference` is the plain Python cost model the tables are checked against."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from scope_opt.cost.layer_tables import FlatTables, LayerTables, build_layer_tables, flatten
from scope_opt.cost.reference import CostModel
from scope_opt.cost.segment_tables import segment_traffic_split_table, single_segment_table
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Segment


class CostTerms:
    """The terms of one instance; cached, never changed once built."""

    def __init__(self, instance: Instance, reference: CostModel | None = None) -> None:
        self.instance = instance
        self.layers = len(instance.network.layers)
        self.chiplets = instance.package.chiplets
        if reference is not None:
            self.__dict__["reference"] = reference

    @cached_property
    def reference(self) -> CostModel:
        return CostModel(self.instance)

    @cached_property
    def layer_tables(self) -> LayerTables:
        return build_layer_tables(self.instance)

    @cached_property
    def flat(self) -> FlatTables:
        """The layer tables as flat arrays with offsets per chiplet count (for the kernels)."""
        return flatten(self.layer_tables)

    @cached_property
    def traffic(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(D_s, D_in, W_s) in bytes for every segment [a, b)."""
        return segment_traffic_split_table(self.instance)

    @property
    def weight_bytes(self) -> np.ndarray:
        return self.traffic[2]

    @cached_property
    def dram_s(self) -> np.ndarray:
        """D_s / b_dram for every segment [a, b)."""
        return self.traffic[0] / self.instance.package.dram_bps

    @cached_property
    def weights_s(self) -> np.ndarray:
        """W_s / b_dram for every segment [a, b)."""
        return self.traffic[2] / self.instance.package.dram_bps

    @cached_property
    def wsize(self) -> np.ndarray:
        """Weight elements per layer."""
        return np.array([layer.weights for layer in self.instance.network.layers], np.int64)

    @cached_property
    def weight_prefix(self) -> np.ndarray:
        """Prefix sums of the weight elements (the searches cut segments by weight)."""
        return np.concatenate([[0], np.cumsum([l.weights for l in self.instance.network.layers])]).astype(float)

    @cached_property
    def load_prefix(self) -> np.ndarray:
        """Prefix sums of the compute load: MACs plus output elements, so that a layer with
        no MACs (a pool) weighs something (the searches cut clusters by it)."""
        load = [l.macs + l.K * l.H * l.W for l in self.instance.network.layers]
        return np.concatenate([[0], np.cumsum(load)]).astype(float)

    def single(self, chiplets: range | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Least T_s of every one-layer segment over `chiplets` (default all), weight tiling
        included, with its chiplet count and partition index."""
        chiplets = chiplets if chiplets is not None else range(1, self.chiplets + 1)
        key = (chiplets.start, chiplets.stop)
        cache = self.__dict__.setdefault("_single", {})
        if key not in cache:
            cache[key] = single_segment_table(self.instance, self.layer_tables, self.traffic, chiplets)
        return cache[key]

    def single_segment(self, l: int) -> tuple[float, Segment | None]:
        """The fastest one-layer segment of layer l over every chiplet count and partition."""
        t, n, j = (v[l] for v in self.single())
        if not np.isfinite(t):
            return float(t), None
        p = self.layer_tables.parts[int(n)][int(j)]
        return float(t), Segment((Cluster(l, l + 1, int(n), ((int(p[0]), int(p[1])),)),))

    def partition(self, n: int, j: int) -> tuple[int, int]:
        """The j-th allowed partition on n chiplets."""
        p = self.layer_tables.parts[n][j]
        return int(p[0]), int(p[1])
