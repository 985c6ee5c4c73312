"""Mappings: segments -> clusters -> (layer range, chiplet count, one partition per layer).

A mapping is plain frozen data with a JSON form; `validate` checks it against an
instance and names what is wrong.  Memory feasibility is the evaluator's job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scope_opt.errors import InputError
from scope_opt.problem.instance import Instance

Partition = tuple[int, int]  # (p_k, p_h): output channels split p_k ways, output rows p_h ways


@dataclass(frozen=True)
class Cluster:
    first: int  # first layer (index into the instance's layers)
    last: int  # one past the last layer
    chiplets: int
    partitions: tuple[Partition, ...]  # one per layer, in layer order


@dataclass(frozen=True)
class Segment:
    clusters: tuple[Cluster, ...]

    @property
    def first(self) -> int:
        return self.clusters[0].first

    @property
    def last(self) -> int:
        return self.clusters[-1].last

    @property
    def chiplets(self) -> int:
        return sum(c.chiplets for c in self.clusters)


@dataclass(frozen=True)
class Mapping:
    segments: tuple[Segment, ...]

    @property
    def clusters(self) -> tuple[Cluster, ...]:
        return tuple(c for s in self.segments for c in s.clusters)

    def to_dict(self) -> dict[str, Any]:
        return {"segments": [{"clusters": [
            {"layers": [c.first, c.last], "chiplets": c.chiplets, "partitions": [list(p) for p in c.partitions]}
            for c in s.clusters]} for s in self.segments]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def describe(self, instance: Instance | None = None) -> str:
        """One line: segments separated by ' | ', clusters by ' + ', each cluster its
        half-open layer range first:last, @ its chiplets, and its partitions, e.g.
        '0:3@4[K,H,K] + 3:5@2[H,H]'."""
        def tag(p: Partition) -> str:
            return "K" if p[1] == 1 and p[0] > 1 else "H" if p[0] == 1 and p[1] > 1 else "1" if p == (1, 1) else f"{p[0]}x{p[1]}"
        return " | ".join(" + ".join(f"{c.first}:{c.last}@{c.chiplets}[{','.join(tag(p) for p in c.partitions)}]"
                                    for c in s.clusters) for s in self.segments)


def mapping_from_dict(raw: Any, src: str = "(mapping)") -> Mapping:
    if not isinstance(raw, dict) or not isinstance(raw.get("segments"), list) or not raw["segments"]:
        raise InputError(src, "segments", "expected a non-empty list of segments")
    segments = []
    for si, rs in enumerate(raw["segments"]):
        where = f"segments[{si}]"
        if not isinstance(rs, dict) or not isinstance(rs.get("clusters"), list) or not rs["clusters"]:
            raise InputError(src, f"{where}.clusters", "expected a non-empty list of clusters")
        clusters = []
        for ci, rc in enumerate(rs["clusters"]):
            w = f"{where}.clusters[{ci}]"
            if not isinstance(rc, dict):
                raise InputError(src, w, "expected a mapping with layers, chiplets, partitions")
            span = rc.get("layers")
            if not (isinstance(span, list) and len(span) == 2 and all(type(v) is int for v in span)):
                raise InputError(src, f"{w}.layers", f"expected [first, last) as two integers, got {span!r}")
            n = rc.get("chiplets")
            if type(n) is not int:
                raise InputError(src, f"{w}.chiplets", f"expected an integer, got {n!r}")
            parts = rc.get("partitions")
            if not isinstance(parts, list) or not all(
                    isinstance(p, list) and len(p) == 2 and all(type(v) is int for v in p) for p in parts):
                raise InputError(src, f"{w}.partitions", "expected a list of [p_k, p_h] pairs, one per layer")
            clusters.append(Cluster(span[0], span[1], n, tuple((p[0], p[1]) for p in parts)))
        segments.append(Segment(tuple(clusters)))
    return Mapping(tuple(segments))


def load_mapping(path: str | Path) -> Mapping:
    from scope_opt.formats.inputs import parse, read_text
    path = Path(path)
    return mapping_from_dict(parse(path, read_text(path, "a mapping JSON file"), "json"), str(path))


def save_mapping(mapping: Mapping, path: str | Path) -> None:
    Path(path).write_text(mapping.to_json() + "\n")


def _check_types(c: Cluster, src: str, w: str) -> None:
    """Integers, not booleans or floats that look like them (a mapping built in Python)."""
    if not all(type(v) is int for v in (c.first, c.last, c.chiplets)):
        raise InputError(src, w, f"layers and chiplets must be integers, got {(c.first, c.last, c.chiplets)!r}")
    if not isinstance(c.partitions, tuple) or not all(isinstance(p, tuple) and len(p) == 2 and all(type(v) is int for v in p)
                                                    for p in c.partitions):
        raise InputError(src, f"{w}.partitions", f"expected (p_k, p_h) pairs of integers, got {c.partitions!r}"[:200])


def validate(mapping: Mapping, instance: Instance, src: str = "(mapping)") -> None:
    """Raise InputError naming the first thing that makes `mapping` not a mapping of `instance`."""
    n_layers = len(instance.network.layers)
    total = instance.package.chiplets
    expect = 0
    for si, seg in enumerate(mapping.segments):
        for ci, c in enumerate(seg.clusters):
            w = f"segments[{si}].clusters[{ci}]"
            _check_types(c, src, w)
            if c.first != expect:
                what = "overlaps the previous cluster" if c.first < expect else "leaves a gap after the previous cluster"
                raise InputError(src, f"{w}.layers", f"starts at layer {c.first}, which {what}; expected it to start at {expect}")
            if c.last <= c.first:
                raise InputError(src, f"{w}.layers", f"[{c.first}, {c.last}) is empty; expected first < last")
            if c.last > n_layers:
                raise InputError(src, f"{w}.layers", f"ends at {c.last} but the network has {n_layers} layers")
            if not 1 <= c.chiplets <= total:
                raise InputError(src, f"{w}.chiplets", f"{c.chiplets} is out of range; expected 1..{total}")
            if len(c.partitions) != c.last - c.first:
                raise InputError(src, f"{w}.partitions", f"has {len(c.partitions)} entries; expected one per layer ({c.last - c.first})")
            allowed = instance.allowed_partitions[c.chiplets]
            for li, p in enumerate(c.partitions):
                if p[0] * p[1] != c.chiplets or min(p) < 1:
                    raise InputError(src, f"{w}.partitions[{li}]", f"{list(p)} does not factor {c.chiplets} chiplets; expected p_k * p_h = {c.chiplets}")
                if p not in allowed:
                    raise InputError(src, f"{w}.partitions[{li}]", f"{list(p)} is not allowed by space.partitions = {instance.partitions}; expected one of {[list(a) for a in allowed]}")
            expect = c.last
        if seg.chiplets > total:
            raise InputError(src, f"segments[{si}]", f"uses {seg.chiplets} chiplets but the package has {total}")
    if expect != n_layers:
        raise InputError(src, "segments", f"covers layers [0, {expect}) but the network has {n_layers} layers; expected every layer mapped")
