"""The bench's energy and EDP rows (`bench --objectives latency,energy,edp`): which exact
methods minimise which objective on an instance, and the summary section that sets each
space's energy and EDP optima beside its latency optimum."""

from __future__ import annotations

from scope_opt.cost.objectives import OBJECTIVES
from scope_opt.errors import InputError
from scope_opt.methods.registry import METHODS, Kind, objective_method, special
from scope_opt.methods.space import SPACES
from scope_opt.studies.bench_report import _t


def objective_list(text: str) -> tuple[str, ...]:
    """`--objectives latency,energy`: known names, latency always first (the bench's rows are of T)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in OBJECTIVES]
    if bad:
        raise InputError("(arguments)", "--objectives", f"unknown objective {bad[0]!r}; expected a comma-separated "
                                                        f"list of {', '.join(OBJECTIVES)}")
    return ("latency", *dict.fromkeys(n for n in names if n != "latency"))


def objective_of(method: str) -> str:
    """The objective a bench method name minimises."""
    kind, payload = special(method) or ("registry", "")
    return payload[1] if kind == "objective" else "latency"


def objective_methods(candidates: list[str], objectives: tuple[str, ...]) -> list[str]:
    """The exact methods among `candidates` (the latency methods the bench runs on an
    instance) that also take each objective other than latency."""
    return [objective_method(m, o) for o in objectives if o != "latency" for m in candidates
            if m in METHODS and METHODS[m].kind is Kind.EXACT and o in METHODS[m].objectives]


def _optimum(group: list[dict], objective: str, space: str) -> tuple[dict | None, list[str]]:
    """The proven optimum of `objective` in `space`, and the methods that proved it."""
    rows = [r for r in group if objective_of(r["method"]) == objective and r["space"] == space
            and r["status"] == "optimal" and r["objective_value"] is not None]
    if not rows:
        return None, []
    best = min(rows, key=lambda r: r["objective_value"])
    agree = [r["method"] for r in rows if abs(r["objective_value"] - best["objective_value"]) <= 1e-9 * best["objective_value"]]
    return best, agree


def _ratio(a, b) -> str:
    return f"{a / b:.3f}x" if a is not None and b else "-"


def energy_section(rows: list[dict]) -> list[str]:
    """Per instance and space: the latency, energy and EDP optima, the energy price of the
    latency optimum, the latency price of the energy optimum, and the 'similar energy'
    claim between optima (the segmented space's least energy over the merged one's)."""
    by_inst: dict[str, list[dict]] = {}
    for r in rows:
        by_inst.setdefault(r["instance"], []).append(r)
    have = {i: g for i, g in by_inst.items() if any(objective_of(r["method"]) != "latency" for r in g)}
    if not have:
        return []
    lines = ["", "## Energy and EDP optima", "",
             "Per space: the latency optimum T* and its energy per sample, the energy optimum (proved by the listed "
             "methods, which agree to 1e-9), the EDP optimum, *energy price* = the latency optimum's energy over the "
             "least energy, *latency price* = the energy optimum's T over T*. *seg / merged* = the segmented space's "
             "least energy over the merged space's: the paper's 'similar energy', measured between optima. "
             "A '-' is a cell that was not run or not proven in the time limit.", "",
             "| instance | space | T* (its energy) | energy opt (its T) | proved by | EDP opt T, E | energy price | "
             "latency price | seg / merged |", "|---|---|---|---|---|---|---|---|---|"]
    for inst, group in have.items():
        least = {sp: _optimum(group, "energy", sp)[0] for sp in SPACES}
        for sp in SPACES:
            lat, _ = _optimum(group, "latency", sp)
            en, agree = _optimum(group, "energy", sp)
            edp, _ = _optimum(group, "edp", sp)
            if not (en or edp):
                continue
            seg = _ratio(least["segmented"] and least["segmented"]["energy_j"], least["merged"] and least["merged"]["energy_j"])
            lines.append(
                f"| {inst} | {sp} | {_t(lat and lat['latency_s'], 's')} ({_t(lat and lat['energy_j'], 'J')}) | "
                f"{_t(en and en['energy_j'], 'J')} ({_t(en and en['latency_s'], 's')}) | {';'.join(agree) or '-'} | "
                f"{_t(edp and edp['latency_s'], 's')}, {_t(edp and edp['energy_j'], 'J')} | "
                f"{_ratio(lat and lat['energy_j'], en and en['energy_j'])} | "
                f"{_ratio(en and en['latency_s'], lat and lat['latency_s'])} | {seg if sp == 'merged' else ''} |")
    return lines
