"""What an exact backend returns to the facade, before the evaluator re-scores it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from scope_opt.problem.mapping import Mapping


@dataclass(frozen=True)
class BackendOutcome:
    status: str  # optimal, feasible, infeasible or unknown, as the solver says
    mapping: Mapping | None
    objective: float | None  # the model's objective, in the objective's unit (s or J)
    bound: float | None  # the solver's proven lower bound on it (None when it has none)
    solve_time_s: float
    solver_status: str  # the solver's own word
    rounding_tolerance: float  # how far the model's objective may sit below the true value
    stats: dict[str, Any] = field(default_factory=dict)

    def but(self, **changes: Any) -> BackendOutcome:
        return replace(self, **changes)
