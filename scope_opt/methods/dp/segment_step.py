"""The chain DP's segment step over every segment start (docs/exact-models.md, step 3
and "Useless stages"): best_segments a chunk of starts at a time, so that the time limit
is checked between chunks, each start pruned by a known T."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from scope_opt.cost.terms import CostTerms
from scope_opt.methods.dp.pipelines import best_segments, prefix_lower_bounds, start_order

INF = math.inf
SEGMENT_CHUNK = 8  # segment starts per call of the parallel kernel, between two checks of the time limit
USELESS_SLACK = 1e-9  # relative: far above the round-off of a path's sum, so no optimal stage is cut


def merged_segments(tabm, terms: CostTerms, max_p: int, f, fp, tick: Callable[[int, int], None], t_ub: float,
                    single: np.ndarray, least_s: np.ndarray | None) -> None:
    """best_segments over every start, a chunk at a time so that the time limit is checked.
    With a known T_ub, starts go in order and each start a is pruned by T_ub less a lower
    bound on the time before it (prefix_lower_bounds) and the DRAM time of every weight
    after it: a segment from a on a path no slower than T_ub has
    T_s <= T_ub - dist(a) - W[a, L) / b_dram, less the least compute time (least_s, per
    layer) of the layers after its stages (docs/exact-models.md, "Useless stages")."""
    L = terms.layers
    pruned = math.isfinite(t_ub)
    tail = np.zeros(L + 1)
    if pruned and least_s is not None:
        tail[:L] = np.cumsum(least_s[::-1])[::-1]
    order = np.arange(L) if pruned else start_order(L)
    before = np.zeros(L + 1)
    idx = np.arange(L)
    f[idx, idx + 1] = single  # final already: read by the prefix bounds
    for i in range(0, L, SEGMENT_CHUNK):
        starts = order[i:i + SEGMENT_CHUNK]
        limits = np.full(len(starts), INF)
        if pruned:
            prefix_lower_bounds(f, terms.weights_s, tail, i, int(starts[-1]), before)
            limits = t_ub - before[starts] - terms.weights_s[starts, L] + USELESS_SLACK * t_ub
        best_segments(tabm, terms.dram_s, terms.weights_s, terms.instance.batch, max_p, f, fp, starts, limits, tail)
        tick(min(i + SEGMENT_CHUNK, L), L)


def stage_limit(terms: CostTerms, t_ub: float) -> float:
    """What the pipelines may take on a mapping no slower than T_ub: T_ub less every weight's
    DRAM load, widened by the slack (useless_limits)."""
    return t_ub - terms.weights_s[0, terms.layers] + USELESS_SLACK * t_ub
