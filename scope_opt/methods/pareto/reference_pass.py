"""The cluster pass of the energy DP in plain Python: labels (t, inner energy, W, A,
partition indices, cross key) as tuples, grown one layer at a time and pruned by
dominance within a group (last partition, cross key).  Slow, and kept as the oracle of
the compiled pass (pass_kernel.py): tests/test_energy_kernel.py checks that the two
give the same options, floats and partitions included, and `EnergyContext(compiled=False)`
runs the whole DP on it (docs/exact-models.md, "The exact energy DP", 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scope_opt.cost import formulas
from scope_opt.methods.deadline import check_time
from scope_opt.methods.pareto.points import front

if TYPE_CHECKING:
    from scope_opt.methods.pareto.clusters import CrossKey, EnergyContext, Option


def _dominated(v: tuple, k: tuple, use_time: bool) -> bool:
    """Label v = (t, e, W, A, parts, ckey) is dominated by k (same last partition and ckey)."""
    return ((not use_time or k[0] <= v[0]) and k[1] <= v[1] and all(a <= b for a, b in zip(k[2], v[2]))
            and all(a + b <= c + d for a, b, c, d in zip(k[2], k[3], v[2], v[3])))


def _prune(labels: list[tuple], use_time: bool) -> list[tuple]:
    groups: dict[tuple, list[tuple]] = {}
    for v in sorted(labels, key=lambda v: (v[1], v[0])):
        kept = groups.setdefault((v[4][-1], v[5]), [])
        if not any(_dominated(v, k, use_time) for k in kept):
            kept.append(v)
    return [v for kept in groups.values() for v in kept]


def _reduce(cx: EnergyContext, labels: list[tuple]) -> dict[CrossKey, list[Option]]:
    """Per cross key: the non-dominated (T_c, inner energy) options, or the least energy."""
    by_key: dict[CrossKey, list[Option]] = {}
    for v in labels:
        by_key.setdefault(v[5], []).append((v[0], v[1], v[4]))
    if cx.mode == "energy":
        return {k: [min(o, key=lambda x: (x[1], x[0]))] for k, o in by_key.items()}
    return {k: front(o) for k, o in by_key.items()}


def python_pass(cx: EnergyContext, y: int, n: int, u: int, last: int) -> dict[int, dict[CrossKey, list[Option]]]:
    """cluster_options' answer, computed with Python tuples: the reference the compiled
    pass (pass_kernel.py) is checked against; it checks the deadline at every layer."""
    tabs = cx.terms.layer_tables
    lt, keep, q = tabs.lt[n], cx.binding(n), len(tabs.parts[n])
    w, act = tabs.w[n][:, :, keep], tabs.act[n][:, :, keep]
    cap = cx.pkg.sram_bytes
    zero = tuple(0.0 for _ in keep)
    labels = [(0.0, 0.0, zero, zero, (), ())]
    out: dict[int, dict[CrossKey, list[Option]]] = {}
    for l in range(y, last):
        check_time(cx.deadline, f"energy DP, cluster pass from layer {y} on {n} chiplets")
        cross = cx.has_cross(l, y)
        grown = []
        for t, e, W, A, parts, ckey in labels:
            jp = parts[-1] if parts else None
            for j in range(q):
                W2 = tuple(a + b for a, b in zip(W, w[l, j]))
                A2 = tuple(max(a, b) for a, b in zip(A, act[l, j]))
                if not formulas.fits(max(a + b for a, b in zip(W2, A2)), cap):
                    continue
                t2 = t + lt[l, q if jp is None else jp, j]
                grown.append((float(t2), e + cx.inner_j(l, j, jp, n, y, u), W2, A2, parts + (j,),
                              ckey + ((l, j),) if cross else ckey))
        labels = _prune(grown, cx.mode == "front")
        if not labels:
            break
        out[l + 1] = _reduce(cx, labels)
    return out
