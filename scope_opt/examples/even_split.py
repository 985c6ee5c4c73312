"""A deliberately simple heuristic, as a worked example of `--heuristic`: cut the network
into the fewest weight-balanced segments that fit, make every segment a single cluster
on all chiplets, and give each layer its fastest fitting partition."""

from __future__ import annotations


import numpy as np

from scope_opt.cost.reference import CostModel
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Segment


def one_cluster_per_segment(instance: Instance) -> Mapping:
    cost = CostModel(instance)
    n = instance.package.chiplets
    weights = np.cumsum([0] + [layer.weights for layer in instance.network.layers], dtype=float)
    L = len(instance.network.layers)
    for segments in range(1, L + 1):
        bounds = sorted({0, L, *(int(np.searchsorted(weights, weights[-1] * k / segments)) for k in range(1, segments))})
        clusters = []
        for a, b in zip(bounds, bounds[1:]):
            t, parts = cost.partition_dp(a, b, n)
            if not cost.fits(a, parts):
                lean = tuple((n, 1) for _ in range(a, b))  # all K splits: the least weight per chiplet
                parts = lean if cost.fits(a, lean) else None
            if parts is None:
                break
            clusters.append(Cluster(a, b, n, parts))
        else:
            return Mapping(tuple(Segment((c,)) for c in clusters))
    return Mapping(tuple(Segment((Cluster(l, l + 1, n, ((n, 1),)),)) for l in range(L)))
