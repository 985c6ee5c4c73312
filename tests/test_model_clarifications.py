"""The reference's clarified rules (shared/scope-model.md, restated in docs/cost-model.md):
idle chiplets hold no weights, a received byte costs at least one hop, and padding is per
axis by default."""

import numpy as np
import pytest

from scope_opt.cost.reference import CostModel
from scope_opt.cost.layer_tables import build_layer_tables, reference_layer_tables
from scope_opt.cost.evaluate import evaluate
from scope_opt.problem.instance import Energy, Instance, Package
from scope_opt.problem.mapping import Cluster, Mapping, Segment
from scope_opt.problem.network_yaml import build_network


def instance(layers, mesh=(4, 1), sram_kib=64.0, energy=Energy(0.0, 1.0, 0.0, 0.0), c=2, hw=2):
    net = build_network({"input": {"C": c, "H": hw, "W": hw}, "layers": layers}, "(test)", "t")
    pkg = Package(mesh=mesh, pe_k=2, pe_c=2, freq_ghz=1.0, sram_kib=sram_kib, nop_gbps=1.0, dram_gbps=1.0,
                  bytes_per_element=1, energy=energy)
    return Instance("t", 1, net, pkg, "KH")


def test_idle_chiplets_hold_no_weights():
    """A 1x1 conv K=4, C=2 on a 2x2 output split by rows over 4 chiplets: chiplets 2 and 3
    get no rows, so they hold no weights (before: 8 B each, replicated)."""
    inst = instance([{"name": "a", "K": 4, "R": 1}])
    cost = CostModel(inst)
    assert cost.weight_bytes(0, (1, 4)).tolist() == [8, 8, 0, 0]
    assert cost.act_bytes(0, (1, 4)).tolist() == [4 + 8, 4 + 8, 0, 0]  # 1 input row x 2 ch x 2 cols + 1 output row x 4 ch x 2 cols
    assert np.array_equal(build_layer_tables(inst).w[4], reference_layer_tables(cost, 4)[1])
    # SRAM energy (1 pJ/B): weights 8 + 8, needed 4 + 4, received 4 + 4, outputs 8 + 8
    ev = evaluate(inst, Mapping((Segment((Cluster(0, 1, 4, ((1, 4),)),)),)))
    assert ev.energy.sram_j == pytest.approx((16 + 8 + 8 + 16) * 1e-12)


def test_a_received_byte_costs_at_least_one_hop():
    """Layer c reads a (two layers back) inside a one-chiplet cluster: not owned (only the
    previous layer's block is), so it is received, from the same chiplet: 1 hop, not 0."""
    layers = [{"name": "a", "K": 2, "R": 1}, {"name": "b", "K": 2, "R": 1}, {"name": "c", "K": 2, "R": 1, "residual": "a"}]
    inst = instance(layers, mesh=(1, 1), energy=Energy(0.0, 0.0, 1.0, 0.0))
    ev = evaluate(inst, Mapping((Segment((Cluster(0, 3, 1, ((1, 1),) * 3),)),)))
    # NoP bytes x hops: a reads the input from DRAM (8 B, 1 hop from the west edge);
    # b owns a's output (0 B); c owns b's (0 B) and receives a's 8 B from its own chiplet: 1 hop
    assert ev.energy.nop_j == pytest.approx((8 + 8) * 1e-12)


def test_padding_is_per_axis_by_default():
    """A 1x3 kernel without an explicit pad keeps both sizes: rows pad (1-1)//2 = 0,
    columns (3-1)//2 = 1.  An explicit pad applies to both axes."""
    net = build_network({"input": {"C": 1, "H": 5, "W": 5}, "layers": [
        {"name": "row", "K": 1, "R": 1, "S": 3}, {"name": "both", "K": 1, "R": 1, "S": 3, "pad": 1}]}, "(t)", "t")
    assert (net.layers[0].H, net.layers[0].W) == (5, 5)
    assert (net.layers[1].H, net.layers[1].W) == (7, 5)
