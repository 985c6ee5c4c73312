"""Where clusters sit on the mesh: consecutive ranges of a serpentine walk.  Placement
changes energy (hop counts) only, never latency."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def serpentine(x: int, y: int) -> tuple[int, ...]:
    """Physical chiplet ids (row * x + column) in walk order: row 0 left to right, row 1
    right to left, and so on, so consecutive chiplets are always neighbours."""
    walk = []
    for row in range(y):
        cols = range(x) if row % 2 == 0 else range(x - 1, -1, -1)
        walk.extend(row * x + col for col in cols)
    return tuple(walk)


def hops(a: int, b: int, mesh: tuple[int, int]) -> int:
    x = mesh[0]
    return abs(a % x - b % x) + abs(a // x - b // x)


def mean_hops(dest: int, sources: tuple[int, ...], mesh: tuple[int, int]) -> float:
    """Mean Manhattan distance from the chiplets holding a tensor to `dest` (itself excluded:
    what it holds itself it does not receive)."""
    others = [s for s in sources if s != dest]
    return sum(hops(s, dest, mesh) for s in others) / len(others) if others else 0.0


def dram_hops(dest: int, mesh: tuple[int, int]) -> int:
    """DRAM controllers sit along the west edge of the mesh: one hop onto column 0, then along the row."""
    return dest % mesh[0] + 1
