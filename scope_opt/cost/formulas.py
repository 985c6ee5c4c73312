"""Each cost rule written once, in plain Python (the reference).  `scope_opt.cost.kernels`
compiles these same functions with numba for the engine, so a rule has one text; a
property test checks the compiled and plain forms agree exactly (docs/cost-model.md).

They use only arithmetic, `max` and `np.maximum`, so they take scalars, and the period
rules take numpy arrays too (the enumerator scores whole arrays of mappings)."""

from __future__ import annotations

import numpy as np


def resident_period(stage_max_s, dram_s):
    """A resident segment's pipeline period: max(max_c T_c, D_s / b_dram)."""
    return np.maximum(stage_max_s, dram_s)


def tiled_period(compute_s, nop_s, passes, d_in, d_out, dram_bps):
    """A one-layer segment streaming its weights in t passes: every sample's input is read
    from DRAM and received over the NoP t times, its output written once:
    max(t_comp, t * t_nop, (t * D_in + D_out) / b_dram)."""
    return max(compute_s, passes * nop_s, (passes * d_in + d_out) / dram_bps)


def segment_time(batch, clusters, period, weights_s):
    """T_s = (B + P_s - 1) * period + W_s / b_dram (a tiled segment has P_s = 1)."""
    return (batch + clusters - 1) * period + weights_s


def fits(need_bytes, sram_bytes):
    """The fit rule: a chiplet's weights plus its largest activation need fit in SRAM."""
    return float(need_bytes) <= sram_bytes


def passes(w, a, cap):
    """Weight-tiling passes of one layer alone in its segment: chiplet i holds at most
    cap - a_i bytes of weights at a time (cap = floor(SRAM); byte counts are integers),
    so it makes ceil(w_i / (cap - a_i)) passes; t = the largest, 1 when the weights fit.
    0 when some chiplet's activations leave no room for its weights."""
    t = 1
    for i in range(len(w)):
        room = cap - a[i]
        if room < 0 or (room == 0 and w[i] > 0):
            return 0
        if w[i] > 0:
            t = max(t, -(-w[i] // room))
    return t


def may_tile(first, last):
    """Weight tiling applies to a segment [first, last) that holds exactly one layer (so one
    cluster); every other segment keeps its weights resident."""
    return last - first == 1
