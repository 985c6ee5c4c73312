"""The classic mappings, built directly: layer-sequential and a segmented pipeline."""

from __future__ import annotations

from collections.abc import Sequence

from .cost import CostModel
from .errors import InputError
from .instance import Instance
from .mapping import Cluster, Mapping, Partition, Segment


def best_partition(cost: CostModel, l: int, n: int) -> Partition:
    """The fastest allowed partition of layer l alone on n chiplets that fits in SRAM
    (the smallest-memory one when none fits, so the evaluator reports why)."""
    options = cost.instance.allowed_partitions[n]
    fitting = [p for p in options if cost.fits(l, (p,))]
    if fitting:
        return min(fitting, key=lambda p: cost.layer_time(l, p, None))
    return min(options, key=lambda p: float(cost.cluster_memory(l, (p,)).max()))


def unfit_layers(instance: Instance, cost: CostModel | None = None) -> list[tuple[int, int]]:
    """Layers that do not fit even alone on the whole package: (layer, bytes on the fullest chiplet)."""
    cost = cost or CostModel(instance)
    n = instance.package.chiplets
    out = []
    for l in range(len(instance.network.layers)):
        need = min(int(cost.cluster_memory(l, (p,)).max()) for p in instance.allowed_partitions[n])
        if need > instance.package.sram_bytes:
            out.append((l, need))
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
        p = best_partition(cost, l, n) if partition == "best" else _named(instance, partition, n)
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
