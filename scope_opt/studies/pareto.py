"""The throughput-energy study behind `scope-opt pareto`: the exact front of (batch latency
T, energy per sample) with the heuristics' mappings placed against it, the prices of
each optimum in the other objective, and the table, CSV and plot forms."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from scope_opt.cost.terms import CostTerms
from scope_opt.formats.outputs import save_figure, write_text_atomic
from scope_opt.methods.deadline import OutOfTime, deadline_after
from scope_opt.methods.dispatch import MethodOptions, solve
from scope_opt.methods.pareto.chain import FrontPoint, energy_front
from scope_opt.problem.instance import Instance

HEURISTICS_FOR_SPACE = {"merged": ("scope", "segmented", "sequential", "fastdp"), "segmented": ("segmented",),
                        "sequential": ("sequential",)}


@dataclass(frozen=True)
class FrontStudy:
    instance: str
    space: str
    complete: bool  # False: the time limit ran out before the front was proven
    points: tuple[FrontPoint, ...]  # the exact front, by latency
    heuristics: tuple[dict, ...]  # method, latency_s, energy_j, on_front, energy_excess
    front_time_s: float
    reason: str | None = None

    def summary(self) -> dict:
        """The two optima and what each costs in the other objective."""
        if not self.points:
            return {}
        fast, frugal = self.points[0], self.points[-1]
        return {"latency_optimum": {"latency_s": fast.latency_s, "energy_j": fast.energy_j},
                "energy_optimum": {"latency_s": frugal.latency_s, "energy_j": frugal.energy_j},
                "energy_price_of_latency_optimum": fast.energy_j / frugal.energy_j,
                "latency_price_of_energy_optimum": frugal.latency_s / fast.latency_s,
                "edp_optimum": min(({"latency_s": p.latency_s, "energy_j": p.energy_j, "edp_js": p.latency_s * p.energy_j}
                                    for p in self.points), key=lambda d: d["edp_js"])}

    def to_dict(self) -> dict:
        return {"instance": self.instance, "space": self.space, "complete": self.complete, "reason": self.reason,
                "front_time_s": self.front_time_s,
                "points": [{"latency_s": p.latency_s, "energy_j": p.energy_j, "mapping": p.mapping.to_dict()}
                           for p in self.points],
                "heuristics": list(self.heuristics), **self.summary()}


def _placed(points: tuple[FrontPoint, ...], method: str, latency_s: float, energy_j: float) -> dict:
    """A heuristic's point against the front: on it (no front point beats it in both), and
    its energy over the least energy the front reaches at its latency or less."""
    reach = [p.energy_j for p in points if p.latency_s <= latency_s * (1 + 1e-12)]
    best = min(reach) if reach else math.nan
    on = not any(p.latency_s <= latency_s and p.energy_j <= energy_j and
                 (p.latency_s < latency_s * (1 - 1e-12) or p.energy_j < energy_j * (1 - 1e-9)) for p in points)
    return {"method": method, "latency_s": latency_s, "energy_j": energy_j, "on_front": on,
            "energy_excess": energy_j / best - 1 if reach else None}


def front_study(instance: Instance, space: str = "merged", time_limit_s: float = math.inf,
                say: Callable[[str], None] | None = None) -> FrontStudy:
    terms = CostTerms(instance)
    start = time.perf_counter()
    try:
        points, reason = tuple(energy_front(instance, space, "front", terms, deadline_after(time_limit_s), say)), None
    except OutOfTime as stop:
        points, reason = (), f"the time limit ({time_limit_s:g} s) ran out in the {stop}; the front is not proven"
    elapsed = time.perf_counter() - start
    placed = []
    for method in HEURISTICS_FOR_SPACE[space]:
        if say:
            say(f"heuristic {method}")
        res = solve(instance, method, MethodOptions(space=space), terms)
        if res.evaluation is not None and res.evaluation.feasible:
            placed.append(_placed(points, method, res.latency_s, res.evaluation.energy.total_j))
    return FrontStudy(instance.name, space, reason is None, points, tuple(placed), elapsed, reason)


def write_csv(study: FrontStudy, path) -> None:
    rows = ["kind,method,latency_s,energy_j,on_front"]
    rows += [f"front,dp,{p.latency_s!r},{p.energy_j!r},true" for p in study.points]
    rows += [f"heuristic,{h['method']},{h['latency_s']!r},{h['energy_j']!r},{str(h['on_front']).lower()}"
             for h in study.heuristics]
    write_text_atomic(path, "\n".join(rows) + "\n")


def plot(study: FrontStudy, path) -> None:
    """The front as a staircase of (throughput, energy per sample), the heuristics beside it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    if study.points:
        ax.step([p.latency_s * 1e3 for p in study.points], [p.energy_j * 1e3 for p in study.points], where="post",
                color="black", lw=1, label=f"exact front ({len(study.points)} points)")
        ax.plot([p.latency_s * 1e3 for p in study.points], [p.energy_j * 1e3 for p in study.points], "k.", ms=3)
    for marker, h in zip("osD^vP*X", study.heuristics):
        ax.plot(h["latency_s"] * 1e3, h["energy_j"] * 1e3, marker, ms=8, mfc="none", label=h["method"])
    ax.set_xlabel("batch latency T (ms)")
    ax.set_ylabel("energy per sample (mJ)")
    ax.set_title(f"{study.instance}, {study.space} space" + ("" if study.complete else " (front not proven)"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
