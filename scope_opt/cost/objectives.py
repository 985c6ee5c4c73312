"""Objectives: what a method minimises, each a small reduce over the evaluator's report
(ZigZag's minimum-latency / minimum-energy / minimum-EDP stages are the model).

Every term of an objective belongs to one cluster or one segment (docs/cost-model.md),
so the exact methods can table it; adding an objective is one entry here, its terms in
`formulas.py` / `terms.py`, and the methods that minimise it listing it in the registry."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from scope_opt.cost.evaluate import Evaluation


@dataclass(frozen=True)
class Objective:
    name: str
    unit: str
    of: Callable[[Evaluation], float]  # the objective's value of a feasible scored mapping (see `value`)
    summary: str


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("latency", "s", lambda ev: ev.latency_s, "batch latency T = sum over segments of T_s"),
    Objective("energy", "J", lambda ev: ev.energy.total_j,
              "energy per sample = MACs + SRAM + NoP byte-hops + DRAM, a sum over segments"),
    Objective("edp", "J s", lambda ev: ev.latency_s * ev.energy.total_j,
              "energy-delay product T x E (batch latency times energy per sample)"),
)}


def value(objective: str, ev: Evaluation | None) -> float:
    """The objective's value of a scored mapping; inf when there is none or it does not fit."""
    return OBJECTIVES[objective].of(ev) if ev is not None and ev.feasible else math.inf
