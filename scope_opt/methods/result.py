"""What every method returns: a mapping re-scored by the reference evaluator, plus the
method's own account (status, bound, gap, effort, settings)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scope_opt.cost.evaluate import Evaluation
from scope_opt.cost.objectives import OBJECTIVES, value
from scope_opt.problem.mapping import Mapping

STATUSES = ("optimal", "feasible", "infeasible", "unknown", "heuristic")


@dataclass(frozen=True)
class SolveResult:
    method: str
    space: str
    status: str  # one of STATUSES
    mapping: Mapping | None
    evaluation: Evaluation | None  # the evaluator's verdict on `mapping`
    bound_s: float | None = None  # proven lower bound on the objective (T in s by default), None where none is proven
    solve_time_s: float = 0.0
    mappings_scored: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    objective: str = "latency"  # what the method minimised (scope_opt.cost.objectives)

    @property
    def latency_s(self) -> float:
        return self.evaluation.latency_s if self.evaluation else math.inf

    @property
    def value(self) -> float:
        """The objective's value of the mapping (inf without one)."""
        return value(self.objective, self.evaluation)

    @property
    def gap(self) -> float | None:
        """(value - bound) / value, None without a bound or a mapping."""
        if self.bound_s is None or not math.isfinite(self.value):
            return None
        return max(0.0, (self.value - self.bound_s) / self.value)

    def to_dict(self) -> dict[str, Any]:
        ev = self.evaluation
        finite = ev is not None and math.isfinite(ev.latency_s)
        return {
            "method": self.method,
            "space": self.space,
            "status": self.status,
            "latency_s": ev.latency_s if finite else None,
            "throughput": ev.throughput if finite else None,
            "energy_j": ev.energy.total_j if ev else None,
            "feasible": bool(ev and ev.feasible),
            "objective": self.objective,
            "objective_value": self.value if math.isfinite(self.value) else None,
            "objective_unit": OBJECTIVES[self.objective].unit,
            "bound": self.bound_s,
            "bound_s": self.bound_s if self.objective == "latency" else None,
            "gap": self.gap,
            "solve_time_s": self.solve_time_s,
            "mappings_scored": self.mappings_scored,
            "settings": self.settings,
            "stats": self.stats,
            "mapping": self.mapping.to_dict() if self.mapping else None,
        }
