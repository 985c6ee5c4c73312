"""Upper bounds on the merged optimum T* for the chain DP, each the T of a real mapping
found by the DP's own segment step on part of the tables.  The tighter the bound, the
more stages the cluster tables and the segment step may skip (docs/exact-models.md,
"Useless stages" and "A coarse mapping first")."""

from __future__ import annotations

import math

import numpy as np

from scope_opt.cost.terms import CostTerms
from scope_opt.methods.dp.pipelines import best_segments, shortest_path, start_order, with_budgets
from scope_opt.methods.dp.segment_step import merged_segments

INF = math.inf
COARSE_UNITS = 8  # the coarse mapping's chiplet units: its segment step is cheap at this size


def best_path_s(tabm, terms: CostTerms, max_p: int, single: np.ndarray, limits: np.ndarray) -> float:
    """T of the best mapping whose segments are one layer (free from `single`) or pipelines
    of the clusters in tabm (at most max_p stages), by the same segment step as the DP."""
    L = terms.layers
    idx = np.arange(L)
    f = np.full((L, L + 1), INF)
    f[idx, idx + 1] = single
    best_segments(tabm, terms.dram_s, terms.weights_s, terms.instance.batch, max_p, f, np.zeros(f.shape, np.int64),
                  start_order(L), limits, np.zeros(L + 1))
    f[idx, idx + 1] = single
    return float(shortest_path(f)[0][L])


def segmented_bound(tabm, terms: CostTerms, max_p: int, single: np.ndarray) -> float:
    """T of the best segmented mapping (one layer per cluster), found by the same segment
    step on the one-layer clusters of tabm, itself pruned by the best sequential-like
    mapping (one layer per segment, free from `single`).  The merged optimum is at most
    this, so the merged segment step may skip stages that cannot beat it."""
    L = terms.layers
    idx = np.arange(L)
    f = np.full((L, L + 1), INF)
    f[idx, idx + 1] = single
    one_per_segment = float(shortest_path(f)[0][L])  # summed as the DP sums, so never below its own paths
    one_layer = np.full_like(tabm, INF)
    one_layer[idx, idx + 1, :] = tabm[idx, idx + 1, :]
    return best_path_s(one_layer, terms, max_p, single, np.full(L, one_per_segment))


def one_cluster_bound(tab: np.ndarray, terms: CostTerms, single: np.ndarray) -> float:
    """T of the best mapping whose segments are one layer (any chiplets) or one cluster on
    all N chiplets (tab's column N): a merged mapping, so the merged optimum is at most
    this.  At batch 1 with large SRAM it is often the optimum itself (ResNet-152 on 8x8 at
    4 MiB: 1.249 ms against the segmented 1.856 ms)."""
    N = terms.chiplets
    only_n = np.full_like(tab, INF)
    only_n[:, :, N] = tab[:, :, N]
    return best_path_s(with_budgets(only_n)[0], terms, 1, single, np.full(terms.layers, INF))


def coarse_step(chiplets: int) -> int:
    """g: the coarse mapping gives its clusters multiples of g chiplets, N // g units in
    all (0: no coarse mapping, the package is small enough to solve outright)."""
    g = chiplets // COARSE_UNITS
    return g if g >= 2 else 0


def coarse_counts(chiplets: int) -> list[int]:
    """The chiplet counts whose cluster tables the coarse mapping reads."""
    g = coarse_step(chiplets)
    return [g * u for u in range(1, chiplets // g + 1)] if g else []


def coarse_bound(tab: np.ndarray, terms: CostTerms, max_p: int, single: np.ndarray, t_ub: float,
                 least_s: np.ndarray | None) -> float:
    """T of the best mapping whose clusters take multiples of g chiplets (coarse_step), from
    the rows of those counts in tab (the others may not be filled yet): the merged
    segment step, pruned by `t_ub` as the DP's is (least_s: each layer's least compute
    time), on N // g budgets of g chiplets each, a few percent of the full step's work.
    A merged mapping, so T* is at most this: on ResNet-152 8x8 it is 1.1% above T* where
    the segmented bound is 15% above, on ViT-B/16 16x16 at 4 MiB 7% against 48%."""
    L = terms.layers
    g = coarse_step(terms.chiplets)
    units = terms.chiplets // g
    tabm = with_budgets(np.ascontiguousarray(tab[:, :, ::g][:, :, :units + 1]))[0]
    f = np.full((L, L + 1), INF)
    merged_segments(tabm, terms, min(max_p, units), f, np.zeros(f.shape, np.int64), lambda done, total: None, t_ub,
                    single, least_s)
    return float(shortest_path(f)[0][L])
