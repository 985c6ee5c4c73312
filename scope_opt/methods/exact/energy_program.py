"""The energy model that the CP-SAT and MILP backends solve (docs/exact-models.md, "The
energy model"): a 0-1 program over *options* (a one-layer segment with its chiplets and
partition; a longer segment; a cluster with its chiplets, walk offset and partition
tuple), written once here without any solver, and translated by each backend.

Energy per sample is a sum of per-option terms (docs/cost-model.md, Energy) except the
NoP bytes a cluster receives from a producer before it: they come from DRAM, or from the
producer's cluster when both sit in the same segment.  Such a term is priced from DRAM in
the option, and a *cross* variable y = (option) AND (producer at offset o', on n'
chiplets) AND (same segment) adds the difference; the three factors are 0-1 sums, so the
AND is exact in linear form.  Offsets are decisions: a segment's first cluster sits at 0,
each next one where the previous ended, so `offset + n <= N` is the chiplet budget."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from scope_opt.cost.energy import dram_hop_vector, hop_vector, joules, layer_bytes, layer_pieces, mac_joules, segment_dram_bytes
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.methods.deadline import check_time
from scope_opt.methods.space import FeasibleParts, chiplet_choices, cluster_ranges_ok, max_segment_length
from scope_opt.problem.mapping import Cluster, Mapping, Partition, Segment
from scope_opt.problem.placement import serpentine

MAX_OPTIONS = 200_000  # cluster options (partition tuples x offsets) the model may hold
Row = tuple[tuple[tuple[int, int], ...], str, int]  # ((variable, coefficient), ...), "<=" | "==", right-hand side


@dataclass(frozen=True)
class Option:
    """What a variable chooses: a one-layer segment ("single"), a longer segment
    ("segment", no chiplets, offset or partitions) or a cluster ("cluster")."""

    kind: str
    first: int
    last: int
    chiplets: int = 0
    offset: int = 0
    partitions: tuple[Partition, ...] = ()


@dataclass(frozen=True)
class EnergyProgram:
    """min constant_j + sum cost_j[v] x[v] over binaries x subject to `rows`.  Variables
    past len(options) are cross variables (no option of their own)."""

    options: tuple[Option, ...]
    cost_j: tuple[float, ...]
    rows: tuple[Row, ...]
    constant_j: float
    max_chosen: int  # at most this many variables are 1 in any solution (the rounding tolerance)
    ands: tuple[tuple[int, tuple[tuple[int, ...], ...]], ...]  # (cross variable y, the 0-1 sums it is the AND of)

    @property
    def variables(self) -> int:
        return len(self.cost_j)

    def mapping(self, chosen: list[int]) -> Mapping:
        """The mapping of a solution, from the indices of the variables set to 1."""
        picked = [self.options[i] for i in chosen if i < len(self.options)]
        segments = []
        for s in sorted((o for o in picked if o.kind != "cluster"), key=lambda o: o.first):
            if s.kind == "single":
                segments.append(Segment((Cluster(s.first, s.last, s.chiplets, s.partitions),)))
                continue
            inner = sorted((o for o in picked if o.kind == "cluster" and s.first <= o.first < s.last), key=lambda o: o.first)
            segments.append(Segment(tuple(Cluster(c.first, c.last, c.chiplets, c.partitions) for c in inner)))
        return Mapping(tuple(segments))

    def assignment(self, mapping: Mapping) -> dict[int, int]:
        """Every variable's value for a mapping (a complete hint; the tests check it
        satisfies every row and costs what the evaluator says)."""
        chosen = set()
        for seg in mapping.segments:
            if seg.last - seg.first == 1:
                c = seg.clusters[0]
                chosen.add(Option("single", c.first, c.last, c.chiplets, 0, c.partitions))
                continue
            chosen.add(Option("segment", seg.first, seg.last))
            offset = 0
            for c in seg.clusters:
                chosen.add(Option("cluster", c.first, c.last, c.chiplets, offset, c.partitions))
                offset += c.chiplets
        values = {i: int(o in chosen) for i, o in enumerate(self.options)}
        for y, factors in self.ands:
            values[y] = int(all(sum(values[v] for v in f) == 1 for f in factors))
        return values


class _Builder:
    def __init__(self) -> None:
        self.options: list[Option] = []
        self.cost: list[float] = []
        self.rows: list[Row] = []
        self.ands: list[tuple[int, tuple[tuple[int, ...], ...]]] = []

    def var(self, option: Option | None, cost_j: float) -> int:
        if option is not None:
            self.options.append(option)
        self.cost.append(cost_j)
        return len(self.cost) - 1

    def row(self, terms: list[tuple[int, int]], sense: str, rhs: int) -> None:
        self.rows.append((tuple(terms), sense, rhs))


def _cluster_energy(terms: CostTerms, x: int, parts: tuple[Partition, ...], place: tuple[int, ...]):
    """(energy in J with every producer before x priced from DRAM, {producer q < x: bytes
    received from q per chiplet}) of cluster [x, .) with `parts` on `place`."""
    cost, pkg = terms.reference, terms.instance.package
    sram = nop = 0.0
    cross: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(len(place)))
    for j, p in enumerate(parts):
        s, reads = layer_pieces(cost, x + j, p, parts[j - 1] if j else None)
        sram += s
        for q, by in reads:
            own = q is not None and q >= x
            nop += float((by * (hop_vector(place, place, pkg.mesh) if own else dram_hop_vector(place, pkg.mesh))).sum())
            if q is not None and q < x:
                cross[q] = cross[q] + by
    return joules(pkg, sram, nop, 0.0), dict(cross)


def _singles(b: _Builder, terms: CostTerms, feasible: FeasibleParts, space: str, walk) -> None:
    cost, pkg = terms.reference, terms.instance.package
    for l in range(terms.layers):
        for n in chiplet_choices(space, terms.chiplets):
            for p in feasible.single(l, n):
                reps = cost.passes(l, p) or 1  # weight tiling: the input once per pass
                sram, nop = layer_bytes(cost, l, p, None, reps, walk[:n], lambda q: None)
                b.var(Option("single", l, l + 1, n, 0, (p,)), joules(pkg, sram, nop, segment_dram_bytes(cost, l, l + 1, reps)))


def _cluster_options(terms: CostTerms, feasible: FeasibleParts, space: str, deadline: float):
    """Every (x, y, n, parts) a cluster of a segment of two or more layers may take."""
    L, N = terms.layers, terms.chiplets
    longest = max_segment_length(space, L)
    out, count = [], 0
    for x in range(L):
        for y in range(x + 1, min(L, x + longest) + 1):
            if longest < 2 or not cluster_ranges_ok(space, x, y):
                continue
            for n in chiplet_choices(space, N):
                check_time(deadline, "energy model: cluster options")
                for parts in feasible.get(x, y, n):
                    out.append((x, y, n, parts))
                    count += N - n + 1
                    if count > MAX_OPTIONS:
                        inst = terms.instance
                        raise InputError(inst.source or inst.name, "--objective",
                                         f"the energy model would hold over {MAX_OPTIONS} cluster options (every fitting "
                                         "partition tuple at every walk offset); use --method dp for energy on "
                                         "this instance, or a smaller one for cpsat and milp")
    return out


def build_energy_program(terms: CostTerms, space: str, deadline: float = math.inf) -> EnergyProgram:
    """The energy model of `space`; raises OutOfTime past `deadline`, InputError when it
    would be too large to hold."""
    inst, cost = terms.instance, terms.reference
    pkg, L, N = inst.package, terms.layers, terms.chiplets
    walk = serpentine(*pkg.mesh)
    feasible = FeasibleParts(cost)
    b = _Builder()
    _singles(b, terms, feasible, space, walk)
    longest = max_segment_length(space, L)
    segs = {(a, z): b.var(Option("segment", a, z), joules(pkg, 0.0, 0.0, segment_dram_bytes(cost, a, z, 1)))
            for a in range(L) for z in range(a + 2, min(L, a + longest) + 1)}
    clusters, crosses = [], []
    for x, y, n, parts in _cluster_options(terms, feasible, space, deadline):
        for o in range(N - n + 1):
            place = walk[o:o + n]
            e, cross = _cluster_energy(terms, x, parts, place)
            clusters.append((b.var(Option("cluster", x, y, n, o, parts), e), x, y, n, o))
            crosses += [(clusters[-1][0], q, by, place, o) for q, by in cross.items()]
    _structure_rows(b, L, N, segs, clusters)
    _cross_rows(b, terms, walk, segs, clusters, crosses, deadline)
    return EnergyProgram(tuple(b.options), tuple(b.cost), tuple(b.rows), mac_joules(cost), 2 * L + L * L, tuple(b.ands))


def _structure_rows(b: _Builder, L: int, chiplets: int, segs: dict, clusters: list) -> None:
    """Each layer in one segment and one cluster (or a one-layer segment), no cluster across
    a segment end, offsets chained along each segment."""
    single_at = defaultdict(list)
    for i, o in enumerate(b.options):
        if o.kind == "single":
            single_at[o.first].append(i)
    cut = defaultdict(list)  # segments ending at j
    for (a, z), v in segs.items():
        cut[z].append(v)
    for l in range(L):
        cut[l + 1] += single_at[l]
    for l in range(L):
        ones = [(v, 1) for v in single_at[l]]
        b.row(ones + [(v, 1) for (a, z), v in segs.items() if a <= l < z], "==", 1)
        b.row(ones + [(v, 1) for v, x, y, n, o in clusters if x <= l < y], "==", 1)
        if l > 0:
            b.row([(v, 1) for v, x, y, n, o in clusters if x < l < y] + [(v, 1) for v in cut[l]], "<=", 1)
    starts, ends = defaultdict(list), defaultdict(list)
    for v, x, y, n, o in clusters:
        starts[(x, o)].append(v)
        ends[(y, o + n)].append(v)
    for x in range(L):
        b.row([(v, 1) for v in starts[(x, 0)]] + [(v, -1) for (a, z), v in segs.items() if a == x], "==", 0)
        for o in range(1, chiplets):
            here, before = [(v, 1) for v in starts[(x, o)]], [(v, 1) for v in ends[(x, o)]]
            if here or before:  # a cluster at offset o starts at x iff one ends at x there, unless a segment ends at x
                b.row(here + [(v, -1) for v, _ in before], "<=", 0)
                b.row(before + [(v, -1) for v, _ in here] + [(v, -1) for v in cut[x]], "<=", 0)


def _cross_rows(b: _Builder, terms: CostTerms, walk, segs: dict, clusters: list, crosses: list, deadline: float) -> None:
    """y = option AND producer q at (o', n') AND same segment, costed at the difference
    between the hops from q's cluster and the hops from DRAM."""
    pkg = terms.instance.package
    holding = defaultdict(list)  # (q, o', n') -> cluster variables holding layer q there
    for v, x, y, n, o in clusters:
        for q in range(x, y):
            holding[(q, o, n)].append(v)
    for i, (v, q, by, place, o) in enumerate(crosses):
        if i % 1024 == 0:
            check_time(deadline, "energy model: cross terms")
        x = b.options[v].first
        same = tuple(s for (a, z), s in segs.items() if a <= q and x < z)  # the segment holding q and x
        if not same:
            continue
        base = dram_hop_vector(place, pkg.mesh)
        for o2 in range(o):
            for n2 in range(1, o - o2 + 1):
                if not holding[(q, o2, n2)]:
                    continue
                delta = joules(pkg, 0.0, float((by * (hop_vector(place, walk[o2:o2 + n2], pkg.mesh) - base)).sum()), 0.0)
                if delta == 0.0:
                    continue
                yv = b.var(None, delta)
                factors = ((v,), tuple(holding[(q, o2, n2)]), same)
                b.ands.append((yv, factors))
                for f in factors:
                    b.row([(yv, 1)] + [(h, -1) for h in f], "<=", 0)
                b.row([(h, 1) for f in factors for h in f] + [(yv, -1)], "<=", len(factors) - 1)
