"""The evaluator against hand-computed cases.

Instance tests/data/two_layer.toml: input 2x4x4; layer a: conv K=4, C=2, 3x3, pad 1 ->
4x4x4; layer b: conv K=4, C=4, 3x3, pad 1 -> 4x4x4.  Package: 2 chiplets, PE 2x2,
1 GHz (1 cycle = 1 ns), NoP 0.1 GB/s (1 byte = 10 ns), DRAM 1 GB/s (1 byte = 1 ns),
1 byte/element, batch B = 2.  Both layers in one cluster on both chiplets.

Compute (cycles = ceil(K_a/2) * ceil(C/2) * H_b * W * 9):
  a, K split (K_a=2, H_b=4): 1*1*4*4*9 = 144;  a, H split (K_a=4, H_b=2): 2*1*2*4*9 = 144
  b, K split: 1*2*4*4*9 = 288;                  b, H split: 2*2*2*4*9 = 288
NoP of a (reads the network input, owns nothing):
  K: whole input 2*4*4 = 32 B -> 320 ns;  H: 3 input rows (halo) * 2 ch * 4 cols = 24 B -> 240 ns
NoP of b (reads a, the previous layer of its cluster; owns what it computed for a):
  KK: needs 64, owns its 2 channels (32)          -> 32 B -> 320 ns
  HK: needs 64, owns its 2 rows (32)              -> 32 B -> 320 ns
  KH: needs 3 rows * 4 ch * 4 = 48, owns 2 ch x 3 rows (24) -> 24 B -> 240 ns
  HH: needs 48, owns 2 of its 3 rows, all ch (32) -> 16 B -> 160 ns
Layer time = max(compute, NoP); T_c = a + b:
  KK: 320 + 320 = 640; KH: 320 + 288 = 608; HK: 240 + 320 = 560; HH: 240 + 288 = 528
Segment: D_s = input 32 + output 64 = 96 B (96 ns); W_s = 72 + 144 = 216 B (216 ns);
T = (B + 1 - 1) * max(T_c, 96) + 216 = 2 * T_c + 216.
"""

import math

import pytest

from scope_opt.cost.reference import CostModel
from scope_opt.cost.evaluate import evaluate, latency
from scope_opt.problem.mapping import Cluster, Mapping, Segment

K, H = (2, 1), (1, 2)


def one_cluster(pa, pb):
    return Mapping((Segment((Cluster(0, 2, 2, (pa, pb)),)),))


@pytest.mark.parametrize("pa,pb,stage_ns,memory", [
    # memory = weight slices of both layers + the larger (input needed + output) of one layer:
    # KK: (36 + 72) + max(32 + 32, 64 + 32) = 204;  KH: (36 + 144) + max(64, 48 + 32) = 260
    # HK: (72 + 72) + max(24 + 32, 96) = 240;        HH: (72 + 144) + max(56, 80) = 296
    (K, K, 640, 204), (K, H, 608, 260), (H, K, 560, 240), (H, H, 528, 296),
])
def test_two_layers_one_cluster(two_layer, pa, pb, stage_ns, memory):
    ev = evaluate(two_layer, one_cluster(pa, pb))
    assert ev.feasible
    assert ev.clusters[0].stage_s == pytest.approx(stage_ns * 1e-9)
    assert ev.clusters[0].memory_bytes == memory
    assert ev.segments[0].dram_bytes == 96 and ev.segments[0].weight_bytes == 216
    assert ev.latency_s == pytest.approx((2 * stage_ns + 216) * 1e-9)
    assert ev.throughput == pytest.approx(2 / ev.latency_s)
    assert latency(two_layer, one_cluster(pa, pb)) == pytest.approx(ev.latency_s)


def test_two_clusters_pipeline(two_layer):
    """a and b as two pipeline stages of one chiplet each.  a: compute 2*1*16*9 = 288,
    NoP 32 B = 320 ns -> 320; b: compute 2*2*16*9 = 576, NoP 64 B (different cluster, owns
    nothing) = 640 ns -> 640.  T = (2 + 2 - 1) * 640 + 216 = 2136 ns."""
    mp = Mapping((Segment((Cluster(0, 1, 1, ((1, 1),)), Cluster(1, 2, 1, ((1, 1),)))),))
    ev = evaluate(two_layer, mp)
    assert [c.stage_s for c in ev.clusters] == pytest.approx([320e-9, 640e-9])
    assert ev.latency_s == pytest.approx(2136e-9)


def test_two_segments(two_layer):
    """Each layer its own segment on both chiplets with K: segment a writes its 64 B output
    for b, b reads it back.  a: T_a = 2 * max(320, (32 + 64) ns) + 72 = 712;
    b: compute 288, NoP 64 B = 640 -> T_b = 2 * max(640, 128) + 144 = 1424."""
    mp = Mapping((Segment((Cluster(0, 1, 2, (K,)),)), Segment((Cluster(1, 2, 2, (K,)),))))
    ev = evaluate(two_layer, mp)
    assert [s.dram_bytes for s in ev.segments] == [96, 128]
    assert [s.time_s for s in ev.segments] == pytest.approx([712e-9, 1424e-9])
    assert ev.latency_s == pytest.approx(2136e-9)


def test_energy_terms(two_layer):
    """MACs = 4*2*16*9 + 4*4*16*9 = 3456 at 1 pJ; DRAM (216 / 2 + 96) B at 2 pJ = 408 pJ;
    SRAM and NoP priced at 0 here."""
    ev = evaluate(two_layer, one_cluster(K, K))
    assert ev.energy.mac_j == pytest.approx(3456e-12)
    assert ev.energy.dram_j == pytest.approx(408e-12)
    assert ev.energy.total_j == pytest.approx(3864e-12)


def test_memory_infeasible_is_reported(two_layer):
    """With 100 B of SRAM the KK cluster (204 B) does not fit: infeasible, with the reason."""
    import dataclasses
    small = dataclasses.replace(two_layer, package=dataclasses.replace(two_layer.package, sram_kib=100 / 1024))
    ev = evaluate(small, one_cluster(K, K))
    assert not ev.feasible and math.isinf(ev.latency_s)
    assert "204 bytes" in ev.reason and "100 bytes" in ev.reason
    assert math.isinf(latency(small, one_cluster(K, K)))


def test_residual_and_depthwise_regions():
    """A residual needs exactly the block equal to the chiplet's output block; a depthwise
    layer's channel block reads only its own input channels."""
    from scope_opt.problem.instance import build_instance
    from pathlib import Path
    raw = {"batch": 1, "workload": {"model": "dw.yaml"}, "hardware": {"mesh": [4, 1]}}
    import tempfile, yaml
    with tempfile.TemporaryDirectory() as d:
        Path(d, "dw.yaml").write_text(yaml.safe_dump({"input": {"C": 8, "H": 8, "W": 8}, "layers": [
            {"name": "x", "K": 8, "R": 1},
            {"name": "dw", "K": 8, "R": 3, "groups": 8},
            {"name": "pw", "K": 8, "R": 1, "residual": "x"}]}))
        inst = build_instance(raw, "mem", Path(d), "dw")
    cost = CostModel(inst)
    # dw with K split in 4: each chiplet computes 2 channels and reads 2 input channels, all 8 rows
    assert list(cost.needed_bytes(1, (4, 1))) == [2 * 8 * 8] * 4
    # pw with H split in 4: reads all 8 channels of 2 rows (1x1 kernel, no halo) + residual block 8 ch x 2 rows
    assert list(cost.needed_bytes(2, (1, 4))) == [8 * 2 * 8 + 8 * 2 * 8] * 4
    # pw after dw in one cluster, both H: owns its dw rows, so only the residual arrives
    assert list(cost.received(2, (1, 4), (1, 4))) == [8 * 2 * 8] * 4
