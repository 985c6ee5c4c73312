"""Two-objective fronts: the non-dominated points of (latency, energy), sorted by latency."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

P = TypeVar("P")


def front(points: Iterable[P], key=lambda p: (p[0], p[1])) -> list[P]:
    """The points no other point dominates (no larger in both, smaller in one), one per
    (latency, energy) value, sorted by latency with energy strictly falling."""
    out: list[P] = []
    best_e = float("inf")
    for p in sorted(points, key=key):
        e = key(p)[1]
        if e < best_e:
            out.append(p)
            best_e = e
    return out


def prune_3(labels: list[tuple]) -> list[tuple]:
    """The labels (P, stage max, energy, ...) no other label dominates (no larger in all three
    fields); of equal ones, the first in (s, e, P) order.  One sweep by stage max: a label
    is dominated exactly when a label already seen (stage max no larger) with P' <= P has
    energy no larger, so it keeps the least energy seen per P."""
    if len(labels) < 2:
        return list(labels)
    best = [float("inf")] * (max(v[0] for v in labels) + 1)  # best[P]: least energy seen with exactly P
    kept: list[tuple] = []
    for v in sorted(labels, key=lambda v: (v[1], v[2], v[0])):
        P, e = v[0], v[2]
        if min(best[:P + 1]) <= e:
            continue
        kept.append(v)
        best[P] = e
    return kept
