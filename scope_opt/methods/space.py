"""The design space: which decisions each paradigm allows, exact counts of its mappings
(big integers, by dynamic programming), and uniform sampling from it.

A *structural* mapping is any combination of decisions (segments, clusters, chiplet
counts with sum <= X*Y per segment, one allowed partition per layer); a *valid* one
also fits in SRAM.  Structural counts are exact at any size; valid counts are exact
where the clusters' partition choices can be checked one by one, and estimated from
uniform structural samples (rejection) otherwise.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from scope_opt.cost.reference import CostModel
from scope_opt.errors import InvariantError
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Partition, Segment

SPACES = ("merged", "segmented", "sequential")


def cluster_ranges_ok(space: str, a: int, b: int) -> bool:
    """May layers [a, b) form one cluster in this space?"""
    return space == "merged" or b - a == 1


def chiplet_choices(space: str, n_total: int) -> range:
    return range(n_total, n_total + 1) if space == "sequential" else range(1, n_total + 1)


def max_segment_length(space: str, n_layers: int) -> int:
    return 1 if space == "sequential" else n_layers


class FeasibleParts:
    """Every partition tuple of a cluster (range, chiplets) that fits in SRAM, cached."""

    def __init__(self, cost: CostModel) -> None:
        self.cost = cost
        self.get = lru_cache(maxsize=None)(self._get)

    def _get(self, a: int, b: int, n: int) -> tuple[tuple[Partition, ...], ...]:
        options = self.cost.instance.allowed_partitions[n]
        return tuple(p for p in itertools.product(options, repeat=b - a) if self.cost.fits(a, p))

    def single(self, l: int, n: int) -> tuple[Partition, ...]:
        """Partitions of layer l alone in its segment on n chiplets: resident or tiled."""
        return tuple(p for p in self.cost.instance.allowed_partitions[n] if self.cost.passes(l, p) is not None)

    def ways(self, instance: Instance, space: str) -> int:
        """The exact number of valid mappings (count_mappings with these feasibility sets)."""
        return count_mappings(instance, space, lambda a, b, n: len(self.get(a, b, n)), lambda l, n: len(self.single(l, n)))

    def checks_needed(self, instance: Instance, space: str) -> int:
        """How many partition tuples an exact valid count must check."""
        L, N = len(instance.network.layers), instance.package.chiplets
        total = 0
        for n in chiplet_choices(space, N):
            q = len(instance.allowed_partitions[n])
            for length in range(1, (L if space == "merged" else 1) + 1):
                total += (L - length + 1) * q**length
        return total


def count_mappings(instance: Instance, space: str, cluster_ways: Callable[[int, int, int], int],
                   single_ways: Callable[[int, int], int] | None = None) -> int:
    """Number of mappings, given the number of ways `cluster_ways(a, b, n)` to partition
    a cluster of layers [a, b) on n chiplets, and `single_ways(l, n)` to partition layer l
    alone in its segment (where weight tiling makes more partitions valid; default: as a
    cluster).  DP over segment ends, and inside a segment over (layers covered, chiplets
    used)."""
    L, N = len(instance.network.layers), instance.package.chiplets
    ns = chiplet_choices(space, N)
    seg = {}
    for a in range(L):
        g = [[0] * (N + 1) for _ in range(L + 1)]  # g[j][m]: clusters cover [a, j) with m chiplets
        g[a][0] = 1
        for j in range(a + 1, min(L, a + max_segment_length(space, L)) + 1):
            for i in range(a, j):
                if not cluster_ranges_ok(space, i, j):
                    continue
                for m0 in range(N + 1):
                    if g[i][m0]:
                        for n in ns:
                            if m0 + n <= N:
                                w = cluster_ways(i, j, n)
                                if w:
                                    g[j][m0 + n] += g[i][m0] * w
            seg[(a, j)] = sum(g[j][1:])
        if single_ways is not None:
            seg[(a, a + 1)] = sum(single_ways(a, n) for n in ns)
    total = [1] + [0] * L
    for j in range(1, L + 1):
        total[j] = sum(total[i] * seg.get((i, j), 0) for i in range(j))
    return total[L]


@dataclass(frozen=True)
class StructuralSpace:
    """Length-only counting tables of the structural space (memory ignored), for exact
    counts of deep networks and uniform sampling.  Cluster ways depend only on
    (layers, chiplets): q(n) ** layers with q(n) the allowed partitions on n chiplets."""

    instance: Instance
    space: str
    h: tuple  # h[len][m]: ways to fill a segment of len layers with clusters using exactly m chiplets
    seg: tuple  # seg[len]: ways for a segment of len layers
    full: tuple  # full[j]: ways to map the first j layers

    @staticmethod
    def build(instance: Instance, space: str) -> StructuralSpace:
        L, N = len(instance.network.layers), instance.package.chiplets
        q = [0] + [len(instance.allowed_partitions[n]) for n in range(1, N + 1)]
        h = [np.zeros(N + 1, dtype=object) for _ in range(L + 1)]
        h[0][0] = 1
        seg = [0] * (L + 1)
        max_seg = max_segment_length(space, L)
        for length in range(1, min(L, max_seg) + 1):
            acc = np.zeros(N + 1, dtype=object)
            for k in range(1, length + 1):
                if space != "merged" and k > 1:
                    break
                v = np.zeros(N + 1, dtype=object)
                for n in chiplet_choices(space, N):
                    v[n] = q[n] ** k
                acc += np.convolve(h[length - k], v)[: N + 1]
            h[length] = acc
            seg[length] = int(sum(acc[1:]))
        full = [1] + [0] * L
        for j in range(1, L + 1):
            full[j] = sum(full[j - k] * seg[k] for k in range(1, min(j, max_seg) + 1))
        return StructuralSpace(instance, space, tuple(tuple(int(x) for x in row) for row in h), tuple(seg), tuple(full))

    @property
    def size(self) -> int:
        return self.full[-1]

    def sample(self, rng: random.Random) -> Mapping:
        """One structural mapping, uniformly at random."""
        inst, N = self.instance, self.instance.package.chiplets
        L = len(inst.network.layers)
        lengths = []
        j = L
        while j > 0:
            ks = [k for k in range(1, j + 1) if k < len(self.seg) and self.seg[k]]
            k = _pick(rng, ks, [self.full[j - k] * self.seg[k] for k in ks])
            lengths.append(k)
            j -= k
        lengths.reverse()
        segments, start = [], 0
        for length in lengths:
            m = _pick(rng, list(range(1, N + 1)), [self.h[length][m] for m in range(1, N + 1)])
            clusters = []
            left = length
            while left > 0:
                opts, weights = [], []
                for k in range(1, left + 1):
                    if self.space != "merged" and k > 1:
                        break
                    for n in chiplet_choices(self.space, N):
                        if n <= m and self.h[left - k][m - n]:
                            opts.append((k, n))
                            weights.append(self.h[left - k][m - n] * len(inst.allowed_partitions[n]) ** k)
                k, n = _pick(rng, opts, weights)
                first = start + left - k
                parts = tuple(rng.choice(inst.allowed_partitions[n]) for _ in range(k))
                clusters.append(Cluster(first, first + k, n, parts))
                left -= k
                m -= n
            segments.append(Segment(tuple(reversed(clusters))))
            start += length
        return Mapping(tuple(segments))


def _pick(rng: random.Random, items: list, weights: list[int]):
    """Draw one item with probability proportional to exact integer weights."""
    r = rng.randrange(sum(weights))
    for item, w in zip(items, weights):
        if r < w:
            return item
        r -= w
    raise InvariantError("a weighted draw fell past the total weight")


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def iter_compositions(a: int, b: int, space: str) -> Iterator[list[tuple[int, int]]]:
    """Every way to cut [a, b) into clusters allowed by the space."""
    if a == b:
        yield []
        return
    for j in range(a + 1, b + 1):
        if cluster_ranges_ok(space, a, j):
            for rest in iter_compositions(j, b, space):
                yield [(a, j), *rest]


def iter_allocations(clusters: int, total: int, choices: range) -> Iterator[tuple[int, ...]]:
    """Chiplet counts per cluster, each from `choices`, summing to at most `total`."""
    if clusters == 0:
        yield ()
        return
    for n in choices:
        if n + (clusters - 1) * choices.start <= total:
            for rest in iter_allocations(clusters - 1, total - n, choices):
                yield (n, *rest)
