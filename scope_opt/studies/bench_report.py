"""The bench's Markdown summary and ablation table, computed from the result rows
(the plots are bench_plots.py)."""

from __future__ import annotations

import math
from pathlib import Path


from scope_opt.formats.outputs import write_text_atomic
from scope_opt.methods.registry import METHODS, Kind, ablation_method, special

HEURISTICS = tuple(m.name for m in METHODS.values() if m.kind is Kind.HEURISTIC)
BASELINES = tuple(m.name for m in METHODS.values() if m.family == "search" and m.space)  # segmented, sequential
STEPS = ("segmentation", "clustering", "partition")  # search/ablation.py's steps


def _best(group: list[dict], methods) -> dict | None:
    cands = [r for r in group if r["method"] in methods and r["latency_s"] is not None]
    return min(cands, key=lambda r: r["latency_s"]) if cands else None


def _own_gap(r: dict) -> float | None:
    g = r.get("gap_to_space_optimum")
    return g if g is not None else r["gap_to_optimum"]


def ablation_latencies(rows: list[dict]) -> dict[str, dict[frozenset, float]]:
    """Per instance: T of every variant (none exact: scope; all exact: the merged optimum)."""
    out: dict[str, dict[frozenset, float]] = {}
    for r in rows:
        if (special(r["method"]) or ("",))[0] == "ablation" and r["latency_s"] is not None:
            out.setdefault(r["instance"], {})[special(r["method"])[1]] = r["latency_s"]
    for inst, lat in out.items():
        group = [r for r in rows if r["instance"] == inst]
        sc = next((r for r in group if r["method"] == "scope"), None)
        if sc and sc["latency_s"] is not None and group[0].get("opt_merged_s") is not None:
            lat[frozenset()] = sc["latency_s"]
            lat[frozenset(STEPS)] = group[0]["opt_merged_s"]
    return {i: lat for i, lat in out.items() if len(lat) == 2 ** len(STEPS)}


def write_ablation_csv(rows: list[dict], path: Path) -> None:
    """One row per (instance, variant): T, gap to the merged optimum, time, and the
    instance's Shapley shares."""
    import csv
    from scope_opt.studies.ablation import all_variants, shapley, variant_name
    lat = ablation_latencies(rows)
    if not lat:
        return
    import io
    times = {(r["instance"], r["method"]): r["solve_time_s"] for r in rows}
    f = io.StringIO()
    w = csv.writer(f)
    w.writerow(["instance", "variant", "exact_steps", "latency_s", "gap_to_optimum", "time_s",
                *[f"share_{s}" for s in STEPS]])
    for inst, l in lat.items():
        opt, sh = l[frozenset(STEPS)], shapley(l)
        for v in all_variants():
            method = ("scope" if not v else "dp" if len(v) == len(STEPS) else ablation_method(v))
            w.writerow([inst, variant_name(v), "+".join(s for s in STEPS if s in v), l[v], (l[v] - opt) / l[v],
                        times.get((inst, method)), *[sh[s] / l[frozenset()] for s in STEPS]])
    write_text_atomic(path, f.getvalue())


def ablation_shares(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per instance: each step's Shapley share of Scope's gap, as a fraction of Scope's T."""
    from scope_opt.studies.ablation import shapley
    return {inst: {k: v / lat[frozenset()] for k, v in shapley(lat).items()}
            for inst, lat in ablation_latencies(rows).items()}


def _f(x, fmt="{:.4g}") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt.format(x)


def _t(x, unit: str = "s") -> str:
    """A time (or an energy, unit "J") with its prefixed unit (13.29 ms), never bare seconds."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    for factor, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")):
        if abs(x) >= factor:
            return f"{x / factor:.4g} {prefix}{unit}"
    return f"{x:.4g} {unit}"


def summary(name: str, rows: list[dict], settings, broken: list[tuple[str, str]] = ()) -> str:
    from scope_opt.studies.bench_energy import energy_section, objective_of
    every, rows = rows, [r for r in rows if objective_of(r["method"]) == "latency"]
    objectives = tuple(settings.objectives)
    lines = [f"# Bench results: suite `{name}`", "",
             f"Command: `scope-opt bench {name} --time-limit {settings.time_limit_s:g} --threads {settings.threads} "
             f"--seed {settings.seed} --max-mappings {settings.max_mappings}"
             + (f" --heuristic {settings.heuristic}" if settings.heuristic else "")
             + (" --ablation" if settings.ablation else "")
             + (f" --objectives {','.join(objectives)}" if objectives != ("latency",) else "") + "`", "",
             "Every T is the reference evaluator's batch latency of the method's mapping. `rank` is the share of all "
             "valid mappings with strictly lower T (exact, where the enumerator listed the space). `gap` is "
             "(T - reference) / T against the best proven optimum, or the best proven bound where none was proven.", ""]
    lines += ["| instance | optimum (proved by) | scope T | scope rank | scope gap | segmented T | sequential T | "
              "scope / best baseline throughput | scope / best baseline energy |",
              "|---|---|---|---|---|---|---|---|---|"]
    by_inst: dict[str, list[dict]] = {}
    for r in rows:
        by_inst.setdefault(r["instance"], []).append(r)
    for inst, group in by_inst.items():
        get = {r["method"]: r for r in group}
        sc = get.get("scope")
        base = _best(group, BASELINES)
        opt = group[0]["optimum_s"]
        lines.append(
            f"| {inst} | {_t(opt)}{' (' + group[0]['proved_by'] + ')' if opt is not None else ''} | {_t(sc and sc['latency_s'])} | "
            f"{_f(sc and sc['rank'], '{:.4%}')} | {_f(sc and sc['gap_to_optimum'], '{:.3%}')}"
            f"{' vs bound' if sc and sc['gap_reference'] == 'bound' else ''} | "
            f"{_t(get.get('segmented', {}).get('latency_s'))} | {_t(get.get('sequential', {}).get('latency_s'))} | "
            f"{_f(sc['throughput'] / base['throughput'] if sc and base else None, '{:.3f}x')} | "
            f"{_f(sc['energy_j'] / base['energy_j'] if sc and base else None, '{:.3f}x')} |")
    notes = {r["instance"]: r["note"] for r in rows if r.get("note")}
    if notes:
        lines += ["", "## Infeasible instances", ""] + [f"- {i}: {n}." for i, n in notes.items()]
    if broken:
        lines += ["", "## Instances that could not be read (skipped; the rest ran)", ""] + [f"- `{f}`: {e}" for f, e in broken]
    lines += proven_optima(by_inst)
    lines += energy_section(every)
    lines += paper_claims(rows)
    lines += ablation_table(rows)
    if any(r["rank"] is None and r["method"] == "scope" for r in rows):
        lines += ["", "**Why some ranks are missing.** The rank (share of valid mappings faster than a method's) is "
                  "exact only where the enumerator lists the whole space. On deep networks the space is astronomically "
                  "large and almost no uniformly drawn mapping fits in SRAM (none of 2,000 on ResNet-50 8x8), so a "
                  "sampled rank would have no valid sample to compare with; we report the proven gap to the optimum "
                  "(chain DP) instead, which answers the same question with a certificate."]
    others = sorted({r["method"] for r in rows if r["method"] not in HEURISTICS and (special(r["method"]) or ("",))[0] != "ablation"})
    if others:
        lines += ["", "## Other methods", "", "| instance | method | space | status | T | bound | solver gap | rank | gap to its space's optimum | time (s) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if r["method"] in others:
                lines.append(f"| {r['instance']} | {r['method']} | {r['space']} | {r['status']} | {_t(r['latency_s'])} | {_t(r['bound_s'])} | "
                             f"{_f(r['gap'], '{:.3%}')} | {_f(r['rank'], '{:.4%}')} | {_f(_own_gap(r), '{:.3%}')} | "
                             f"{_f(r['solve_time_s'], '{:.2f}')} |")
    lines += ["", "Plots: `throughput.png` (with the all-chiplets peak-MAC limit), `energy.png`"
              + (", `ranks.png`" if any(r["method"] == "enumerate" for r in rows) else "")
              + (", `gaps.png`" if any(r["gap_to_optimum"] is not None for r in rows) else "")
              + (", `ablation.png`" if ablation_shares(rows) else "") + ".", ""]
    return "\n".join(lines)


PAPER_THROUGHPUT_CLAIM = 1.73  # Scope over the best baseline on ResNet-152, arXiv 2602.14393


def _ratio(a, b) -> float | None:
    return a / b if a is not None and b else None


def proven_optima(by_inst: dict[str, list[dict]]) -> list[str]:
    """Each space's proven optimum, the space advantage and the heuristic ratio side by side."""
    have = {i: g for i, g in by_inst.items() if g[0].get("opt_merged_s") is not None}
    if not have:
        return []
    lines = ["", "## On proven optima", "",
             "Each space's optimum is proven by the chain DP (`dp`, `dp-segmented`, `dp-sequential`). *Space advantage* "
             "= the segmented (or sequential) optimum's T over the merged optimum's: how much faster the best merged "
             "pipeline is than the best segmented one. *Heuristic ratio* = the paper's measure, Scope's search over the "
             "best baseline search (throughput). Gaps are to the optimum of the method's own space.", "",
             "| instance | merged opt T | segmented opt T | sequential opt T | space advantage seg / merged | "
             "seq / merged | heuristic ratio scope / best baseline | scope gap | segmented gap | sequential gap | "
             "fastdp gap | energy opt merged / seg |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for inst, group in have.items():
        g0, get = group[0], {r["method"]: r for r in group}
        sc, base = get.get("scope"), _best(group, BASELINES)
        lines.append(
            f"| {inst} | {_t(g0['opt_merged_s'])} | {_t(g0['opt_segmented_s'])} | {_t(g0['opt_sequential_s'])} | "
            f"{_f(_ratio(g0['opt_segmented_s'], g0['opt_merged_s']), '{:.3f}x')} | "
            f"{_f(_ratio(g0['opt_sequential_s'], g0['opt_merged_s']), '{:.3f}x')} | "
            f"{_f(_ratio(sc and sc['throughput'], base and base['throughput']), '{:.3f}x')} | "
            + " | ".join(_f(get.get(m, {}).get("gap_to_space_optimum"), "{:.2%}") for m in HEURISTICS) + " | "
            f"{_f(_ratio(g0['opt_merged_energy_j'], g0['opt_segmented_energy_j']), '{:.3f}x')} |")
    return lines


def paper_claims(rows: list[dict]) -> list[str]:
    """The paper's ResNet-152 claim against both ratios: heuristic over heuristic, and optimum
    over optimum."""
    r152 = sorted({r["instance"] for r in rows if r["network"] == "resnet152"},
                  key=lambda i: next(r["chiplets"] for r in rows if r["instance"] == i))
    if not r152:
        return []
    lines = ["", "## The paper's ResNet-152 claims", "",
             "| package | Scope / best baseline (heuristics) | merged opt / segmented opt | Scope's gap to merged opt | "
             "baseline's gap to its opt | energy: Scope / baseline | energy: merged opt / segmented opt |",
             "|---|---|---|---|---|---|---|"]
    heur, space, e_opt = [], [], []
    for inst in r152:
        group = [r for r in rows if r["instance"] == inst]
        get = {r["method"]: r for r in group}
        sc, base = get.get("scope"), _best(group, BASELINES)
        if not sc or not base or sc["throughput"] is None:
            continue
        g0 = group[0]
        h = sc["throughput"] / base["throughput"]
        sp = _ratio(g0.get("opt_segmented_s"), g0.get("opt_merged_s"))
        heur.append(h)
        if sp is not None:
            space.append(sp)
        eo = _ratio(g0.get("opt_merged_energy_j"), g0.get("opt_segmented_energy_j"))
        if eo is not None:
            e_opt.append(eo)
        lines.append(f"| {g0['mesh']} | {h:.3f}x | {_f(sp, '{:.3f}x')} | {_f(sc.get('gap_to_space_optimum'), '{:.1%}')} | "
                     f"{_f(base.get('gap_to_space_optimum'), '{:.1%}')} ({base['method']}) | "
                     f"{sc['energy_j'] / base['energy_j']:.3f}x | "
                     f"{_f(_ratio(g0.get('opt_merged_energy_j'), g0.get('opt_segmented_energy_j')), '{:.3f}x')} |")
    if heur:
        text = [f"The paper claims up to {PAPER_THROUGHPUT_CLAIM}x throughput over the best baseline at similar energy. "
                f"Measured as the paper does, search against search, our largest ratio is {max(heur):.3f}x."]
        if space:
            text.append(f"But that ratio mixes two things. Solved exactly, the merged space beats the segmented space by "
                        f"{min(space):.3f}x to {max(space):.3f}x: that is what Scope's added dimension (several layers "
                        f"per pipeline stage) is worth on this package and cost model. The rest of the heuristic ratio "
                        f"comes from the searches: the segmented baseline search lands far from its own space's optimum, "
                        f"further than Scope's search does from the merged optimum (see the gaps), so dividing one "
                        f"heuristic by the other overstates the merged space's advantage. Part of the paper's 1.73x may "
                        f"likewise come from its baseline's search rather than from its space.")
            grows = all(b >= a for a, b in zip(space, space[1:]))
            text.append(f"The paper also reports larger gains with more chiplets. Between optima the advantage "
                        f"{'grows' if grows else 'does not grow steadily'} with the package here "
                        f"({', '.join(f'{x:.3f}x' for x in space)} from the smallest package to the largest).")
        if e_opt:
            text.append(f"Energy: the merged optimum (optimised for latency, not energy) uses {min(e_opt):.3f}x to "
                        f"{max(e_opt):.3f}x the segmented optimum's energy per sample, so the 'similar energy' claim "
                        f"holds between optima; Scope's multi-layer clusters save DRAM traffic but move more data over "
                        f"more NoP hops.")
        text.append("Other reasons the figures may differ from the paper: the package is our Simba-like reading "
                    "(752 KiB SRAM, 100 GB/s NoP per chiplet, 64 GB/s DRAM) and the cost model the reference one (no NoP "
                    "contention, no DRAM-bank effects); the Scope search is our reading of the paper (docs/search.md).")
        lines += ["", "\n\n".join(text)]
    return lines


def ablation_table(rows: list[dict]) -> list[str]:
    lat = ablation_latencies(rows)
    if not lat:
        return []
    from scope_opt.studies.ablation import all_variants, variant_name, shapley
    variants = all_variants()
    lines = ["", "## Ablation: where Scope's search loses", "",
             "Each column replaces the named steps of Scope's search with their exact counterparts "
             "(`scope_opt/search/ablation.py`, docs/search.md); the cell is the gap to the merged optimum. The last "
             "three columns split Scope's gap among the steps (Shapley shares: each step's saving averaged over the "
             "orders in which the steps are made exact; they add up to Scope's gap; a negative share means that "
             "making that step exact, with the others left heuristic, tends to hurt: the search's other steps were "
             "tuned to its own tables). Allocation is already exact in the search.", "",
             "| instance | " + " | ".join(variant_name(v).replace("scope+exact-", "exact ") for v in variants)
             + " | " + " | ".join(f"share: {s}" for s in STEPS) + " |",
             "|---|" + "---|" * (len(variants) + len(STEPS))]
    totals = {s: 0.0 for s in STEPS}
    for inst, l in lat.items():
        opt = l[frozenset(STEPS)]
        sh = shapley(l)
        for k in totals:
            totals[k] += sh[k]
        lines.append(f"| {inst} | " + " | ".join(f"{(l[v] - opt) / l[v]:.2%}" for v in variants) + " | "
                     + " | ".join(f"{sh[s] / l[frozenset()]:.2%}" for s in STEPS) + " |")
    top = max(totals, key=totals.get)
    whole = sum(totals.values())
    lines += ["", f"Over these instances the **{top}** step explains the most of Scope's gap "
              f"({totals[top] / whole:.0%} of the summed gaps)." if whole > 0 else ""]
    return lines
