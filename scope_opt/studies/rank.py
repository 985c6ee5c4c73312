"""Rank of a mapping: the share of distinct valid mappings with strictly lower T.
Exact by enumeration where the space can be listed; otherwise estimated from uniform
samples of the structural space (rejecting those that do not fit), with a 95% interval."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scope_opt.cost.reference import CostModel
from scope_opt.cost.evaluate import latency
from scope_opt.problem.instance import Instance
from scope_opt.methods.enumerate import DEFAULT_MAX_MAPPINGS, RANK_RTOL, enumerate_space
from scope_opt.methods.space import StructuralSpace, wilson


@dataclass(frozen=True)
class RankResult:
    rank: float | None  # None when no sampled mapping was valid
    method: str  # "exact" or "sampled"
    space: str
    space_size: int | None  # valid mappings (exact) or structural mappings (sampled)
    structural_size: int
    interval: tuple[float, float] | None = None
    samples: int = 0
    valid_samples: int = 0
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "method": self.method, "space": self.space, "space_size": self.space_size,
                "structural_size": self.structural_size,
                "interval": list(self.interval) if self.interval else None, "samples": self.samples,
                "valid_samples": self.valid_samples, "seed": self.seed}


def sample_latencies(instance: Instance, space: str, samples: int, seed: int, cost: CostModel | None = None,
                     progress: Callable[[int], None] | None = None) -> tuple[StructuralSpace, list[float]]:
    """T of `samples` uniform structural mappings (inf where one does not fit)."""
    cost = cost or CostModel(instance)
    st = StructuralSpace.build(instance, space)
    rng = random.Random(seed)
    out = []
    for i in range(samples):
        out.append(latency(instance, st.sample(rng), cost))
        if progress:
            progress(i + 1)
    return st, out


def rank_of(instance: Instance, latency_s: float, space: str = "merged", max_mappings: int = DEFAULT_MAX_MAPPINGS,
            samples: int = 20_000, seed: int = 0, cost: CostModel | None = None,
            progress: Callable[[int], None] | None = None) -> RankResult:
    cost = cost or CostModel(instance)
    st = StructuralSpace.build(instance, space)
    if st.size <= max_mappings:
        en = enumerate_space(instance, space, max_mappings, cost)
        return RankResult(en.rank(latency_s), "exact", space, en.count, en.structural)
    _, values = sample_latencies(instance, space, samples, seed, cost, progress)
    valid = [t for t in values if math.isfinite(t)]
    lower = sum(1 for t in valid if t < latency_s * (1 - RANK_RTOL))
    rank = lower / len(valid) if valid else None
    return RankResult(rank, "sampled", space, None, st.size, wilson(lower, len(valid)) if valid else None, samples, len(valid), seed)
