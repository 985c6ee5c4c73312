"""The classic mappings, built directly: layer-sequential and a segmented pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scope_opt.cost.reference import CostModel
from scope_opt.errors import InputError
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Cluster, Mapping, Partition, Segment


def best_partition(cost: CostModel, l: int, n: int, tiled: bool = False) -> Partition:
    """The fastest allowed partition of layer l alone on n chiplets that fits in SRAM.
    When none fits and the layer is alone in its segment (`tiled`), the one whose weight
    tiling gives the least segment time; otherwise the smallest-memory one, so that the
    evaluator reports why."""
    options = cost.instance.allowed_partitions[n]
    fitting = [p for p in options if cost.fits(l, (p,))]
    if fitting:
        return min(fitting, key=lambda p: cost.layer_time(l, p, None))
    if tiled:
        streamed = [p for p in options if cost.passes(l, p) is not None]
        if streamed:
            return min(streamed, key=lambda p: cost.single_segment_time(l, p))
    return min(options, key=lambda p: float(cost.cluster_memory(l, (p,)).max()))


def unfit_layers(instance: Instance, cost: CostModel | None = None) -> list[tuple[int, int]]:
    """Layers that cannot be mapped at all: on every chiplet count and partition, alone in
    their segment, some chiplet's activations leave no room for a weight tile.  Returns
    (layer, the least largest-activation bytes of one chiplet over those choices)."""
    cost = cost or CostModel(instance)
    out = []
    for l in range(len(instance.network.layers)):
        choices = [p for n in range(1, instance.package.chiplets + 1) for p in instance.allowed_partitions[n]]
        if all(cost.passes(l, p) is None for p in choices):
            out.append((l, min(int(cost.act_bytes(l, p).max()) for p in choices)))
    return out


@dataclass(frozen=True)
class TiledLayer:
    """A layer whose weights fit on no chiplet count: its fastest one-layer segment."""

    layer: int
    chiplets: int
    partition: Partition
    passes: int
    segment_time_s: float


def tiled_layers(instance: Instance, cost: CostModel | None = None) -> list[TiledLayer]:
    """Layers that fit resident on no chiplet count and partition, so that any mapping
    streams their weights in tiles; each with the chiplet count and partition of its
    fastest one-layer segment and the passes t it makes there."""
    cost = cost or CostModel(instance)
    out = []
    for l in range(len(instance.network.layers)):
        choices = [(n, p) for n in range(1, instance.package.chiplets + 1) for p in instance.allowed_partitions[n]]
        if any(cost.fits(l, (p,)) for _, p in choices):
            continue
        streamed = [(cost.single_segment_time(l, p), n, p) for n, p in choices if cost.passes(l, p) is not None]
        if streamed:
            t, n, p = min(streamed, key=lambda v: v[0])
            out.append(TiledLayer(l, n, p, cost.passes(l, p), t))
    return out


def _named(instance: Instance, partition: str, n: int) -> Partition:
    if partition == "K":
        return (n, 1)
    if partition == "H":
        return (1, n)
    raise InputError("(arguments)", "partition", f"expected K, H or best, got {partition!r}")


def layer_sequential(instance: Instance, partition: str = "best", cost: CostModel | None = None) -> Mapping:
    """Every layer its own segment and cluster on all chiplets; `partition` is K, H, or
    best (the fastest fitting one per layer)."""
    cost = cost or CostModel(instance)
    n = instance.package.chiplets
    segs = []
    for l in range(len(instance.network.layers)):
        p = best_partition(cost, l, n, tiled=True) if partition == "best" else _named(instance, partition, n)
        segs.append(Segment((Cluster(l, l + 1, n, (p,)),)))
    return Mapping(tuple(segs))


def segmented_pipeline(instance: Instance, cuts: Sequence[int], chiplets: Sequence[int],
                       cost: CostModel | None = None) -> Mapping:
    """One layer per cluster; segments start at `cuts` (0 is implied), layer l gets
    chiplets[l] chiplets and its fastest fitting partition."""
    cost = cost or CostModel(instance)
    n_layers = len(instance.network.layers)
    if len(chiplets) != n_layers:
        raise InputError("(arguments)", "chiplets", f"expected one count per layer ({n_layers}), got {len(chiplets)}")
    starts = sorted({0, *cuts})
    if starts[-1] >= n_layers or starts[0] < 0:
        raise InputError("(arguments)", "cuts", f"expected segment starts in [0, {n_layers})")
    bounds = [*starts, n_layers]
    segs = []
    for a, b in zip(bounds, bounds[1:]):
        segs.append(Segment(tuple(Cluster(l, l + 1, chiplets[l], (best_partition(cost, l, chiplets[l]),))
                                  for l in range(a, b))))
    return Mapping(tuple(segs))
