"""Per-layer cost pieces in bulk, for every chiplet count n and every allowed partition:
the layer time given the previous layer's partition in the same cluster (or none), and
the per-chiplet weight and activation bytes.  Integer counts are exact; times are
formed by the same float operations as `CostModel` (int max, then one division), so
they equal the reference bit for bit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from scope_opt.cost.reference import CostModel
from scope_opt.problem.instance import Instance
from scope_opt.problem.operators import Channels, Compute, Rows

CH_ALL, CH_SAME = int(Channels.ALL), int(Channels.SAME)  # rule codes as plain ints for the kernels
ROWS_ALL, ROWS_SAME = int(Rows.ALL), int(Rows.SAME)
COMPUTE_VECTOR, COMPUTE_NONE = int(Compute.VECTOR), int(Compute.NONE)


class LayerArrays(NamedTuple):
    """The network as flat integer arrays a compiled kernel can read (a named tuple,
    which numba passes as one argument); operand read rules as their codes
    (scope_opt.problem.operators)."""

    K: np.ndarray
    cpg: np.ndarray  # input channels per group (1 for a vector operator)
    H: np.ndarray
    W: np.ndarray
    R: np.ndarray
    S: np.ndarray
    stride: np.ndarray
    pad: np.ndarray
    kg: np.ndarray  # output channels per group
    cg: np.ndarray  # input channels per group
    compute: np.ndarray  # Compute code
    weighted: np.ndarray  # 1 when the layer has a weights operand
    wsize: np.ndarray  # weight elements of the layer
    nreads: np.ndarray
    read_channels: np.ndarray  # [L, r]: Channels code of the r-th activation operand
    read_rows: np.ndarray  # [L, r]: Rows code
    read_C: np.ndarray
    read_H: np.ndarray
    read_W: np.ndarray
    read_prev: np.ndarray  # [L, r]: 1 when the tensor is layer l - 1's output
    read_off: np.ndarray  # [L, r]: the operand's channel offset in a channel-wise read of a concatenation


def layer_arrays(instance: Instance) -> LayerArrays:
    net = instance.network
    L = len(net.layers)
    R = max(len(net.layers[l].reads) for l in range(L))
    i64 = lambda: np.zeros(L, dtype=np.int64)  # noqa: E731
    cols = {k: i64() for k in ("K", "cpg", "H", "W", "R", "S", "stride", "pad", "kg", "cg", "compute", "weighted",
                               "wsize", "nreads")}
    reads = {k: np.zeros((L, R), dtype=np.int64) for k in ("read_channels", "read_rows", "read_C", "read_H", "read_W",
                                                            "read_prev", "read_off")}
    for l, layer in enumerate(net.layers):
        for k in ("K", "H", "W", "R", "S", "stride", "pad"):
            cols[k][l] = getattr(layer, k)
        cols["cpg"][l] = layer.c_per_group
        cols["kg"][l] = layer.K // layer.groups
        cols["cg"][l] = layer.C // layer.groups
        cols["compute"][l] = layer.spec.compute
        cols["weighted"][l] = layer.has_weights
        cols["wsize"][l] = layer.weights
        cols["nreads"][l] = len(layer.reads)
        prev = net.layers[l - 1].name if l > 0 else None
        for r, o in enumerate(layer.reads):
            shp = net.shape(o.tensor)
            reads["read_channels"][l, r], reads["read_rows"][l, r] = o.channels, o.rows
            reads["read_C"][l, r], reads["read_H"][l, r], reads["read_W"][l, r] = shp.C, shp.H, shp.W
            reads["read_prev"][l, r] = o.tensor == prev
            reads["read_off"][l, r] = o.offset
    return LayerArrays(**cols, **reads)


@njit(cache=True, inline="always")
def _split(n, parts, j):
    """Start and end of range j when range(n) is split into `parts` as evenly as possible."""
    q = n // parts
    r = n % parts
    start = j * q + min(j, r)
    return start, start + q + (1 if j < r else 0)


@njit(cache=True)
def _blocks(K, H, parts, n):
    """[4, q, n]: per partition j and chiplet i = a * p_h + b, its output channel range
    [k0, k1) and row range [h0, h1)."""
    q = parts.shape[0]
    out = np.empty((4, q, n), np.int64)
    for j in range(q):
        pk, ph = parts[j, 0], parts[j, 1]
        for i in range(n):
            out[0, j, i], out[1, j, i] = _split(K, pk, i // ph)
            out[2, j, i], out[3, j, i] = _split(H, ph, i % ph)
    return out


@njit(cache=True, inline="always")
def _region(la, l, r, k0, k1, h0, h1):
    """(c0, c1, r0, r1, cols) of what a chiplet with output block [k0,k1) x [h0,h1) reads
    of the layer's r-th activation operand, by its rule codes (CostModel._regions)."""
    cols = la.read_W[l, r]
    if not (k1 > k0 and h1 > h0):  # idle chiplet
        return 0, 0, 0, 0, cols
    ch = la.read_channels[l, r]
    if ch == CH_ALL:
        c0, c1 = 0, la.read_C[l, r]
    elif ch == CH_SAME:
        off, size = la.read_off[l, r], la.read_C[l, r]
        c0, c1 = min(max(k0 - off, 0), size), min(max(k1 - off, 0), size)
    else:  # CH_GROUP
        c0 = (k0 // la.kg[l]) * la.cg[l]
        c1 = ((k1 - 1) // la.kg[l] + 1) * la.cg[l]
    rw = la.read_rows[l, r]
    if rw == ROWS_ALL:
        r0, r1 = 0, la.read_H[l, r]
    elif rw == ROWS_SAME:
        r0, r1 = h0, h1
    else:  # ROWS_HALO
        r0 = max(0, h0 * la.stride[l] - la.pad[l])
        r1 = min(la.read_H[l, r], (h1 - 1) * la.stride[l] - la.pad[l] + la.R[l])
    return c0, c1, r0, r1, cols


@njit(cache=True, nogil=True)
def _tables_for_n(la, parts, n, pe_k, pe_c, e, freq_hz, nop_bps):
    """lt[l, i, j]: layer time of l with partition j after partition i of l - 1 in the same
    cluster (i = q: first layer of its cluster, nothing owned); w, act: [l, j, chiplet]
    bytes (CostModel.layer_time, weight_bytes, act_bytes); comp_s, nop_s: [l, j] compute
    and NoP time with nothing owned (compute_s, nop_s(prev=None))."""
    L = la.K.shape[0]
    q = parts.shape[0]
    lt = np.empty((L, q + 1, q), np.float64)
    comp_s = np.empty((L, q), np.float64)
    nop_s = np.empty((L, q), np.float64)
    w = np.zeros((L, q, n), np.int64)
    act = np.zeros((L, q, n), np.int64)
    prev = _blocks(1, 1, parts, n)
    warm = np.zeros(q, np.int64)
    owned = np.zeros(q, np.int64)
    for l in range(L):
        cur = _blocks(la.K[l], la.H[l], parts, n)
        owns = False
        if l > 0:
            for r in range(la.nreads[l]):
                if la.read_prev[l, r]:
                    owns = True
        for j in range(q):
            cycles = 0
            cold = 0
            warm[:] = 0
            for i in range(n):
                k0, k1, h0, h1 = cur[0, j, i], cur[1, j, i], cur[2, j, i], cur[3, j, i]
                kb, hb = k1 - k0, h1 - h0
                if la.compute[l] == COMPUTE_NONE:
                    c = 0
                elif la.compute[l] == COMPUTE_VECTOR:
                    c = -(-(kb * hb * la.W[l]) // pe_k)
                else:
                    c = (-(-kb // pe_k)) * (-(-la.cpg[l] // pe_c)) * hb * la.W[l] * la.R[l] * la.S[l]
                if la.weighted[l] and kb > 0 and hb > 0:  # an idle chiplet holds none of the layer's weights
                    w[l, j, i] = kb * la.cpg[l] * la.R[l] * la.S[l] * e
                cycles = max(cycles, c)
                need = 0
                owned[:] = 0
                for r in range(la.nreads[l]):
                    c0, c1, r0, r1, cols = _region(la, l, r, k0, k1, h0, h1)
                    need += max(c1 - c0, 0) * max(r1 - r0, 0) * cols
                    if owns and la.read_prev[l, r]:
                        for pi in range(q):
                            oc = max(min(c1, prev[1, pi, i]) - max(c0, prev[0, pi, i]), 0)
                            orr = max(min(r1, prev[3, pi, i]) - max(r0, prev[2, pi, i]), 0)
                            owned[pi] += oc * orr * cols
                act[l, j, i] = need * e + kb * hb * la.W[l] * e
                cold = max(cold, need * e)
                for pi in range(q):
                    warm[pi] = max(warm[pi], (need - owned[pi]) * e)
            comp = float(cycles) / freq_hz
            comp_s[l, j] = comp
            nop_s[l, j] = float(cold) / nop_bps
            lt[l, q, j] = max(comp, nop_s[l, j])
            for pi in range(q):
                lt[l, pi, j] = max(comp, float(warm[pi]) / nop_bps) if owns else lt[l, q, j]
        prev = cur
    return lt, w, act, comp_s, nop_s


@dataclass(frozen=True)
class LayerTables:
    """Per chiplet count n (index n, 1..N): the allowed partitions, lt[n] (L, q+1, q),
    w[n] and act[n] (L, q, n) in bytes.  Flat copies with offsets feed the kernels."""

    parts: list[np.ndarray]
    lt: list[np.ndarray]
    w: list[np.ndarray]
    act: list[np.ndarray]
    comp: list[np.ndarray]
    nop: list[np.ndarray]
    sram_bytes: float

    @property
    def chiplets(self) -> int:
        return len(self.parts) - 1


def build_layer_tables(instance: Instance) -> LayerTables:
    """The tables of every chiplet count, computed on numba's threads (the kernel holds no
    GIL; each count is independent, and the results keep the order of n)."""
    pkg = instance.package
    la = layer_arrays(instance)
    out: dict[str, list] = {k: [None] for k in ("lt", "w", "act", "comp", "nop")}
    parts = [np.zeros((0, 2), np.int64)]
    for n in range(1, pkg.chiplets + 1):
        parts.append(np.array(instance.allowed_partitions[n], dtype=np.int64).reshape(-1, 2))

    def one(n: int) -> tuple:
        return _tables_for_n(la, parts[n], n, pkg.pe_k, pkg.pe_c, pkg.bytes_per_element, pkg.freq_hz, pkg.nop_bps)
    pool = ThreadPoolExecutor(max_workers=numba.get_num_threads())
    try:
        for got in pool.map(one, range(1, pkg.chiplets + 1)):
            for k, v in zip(out, got):
                out[k].append(v)
    finally:  # on Ctrl-C, drop the counts not started (a `with` would compute them all first)
        pool.shutdown(wait=True, cancel_futures=True)
    return LayerTables(parts, **out, sram_bytes=float(pkg.sram_bytes))


def reference_layer_tables(cost: CostModel, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same tables from the plain Python cost model (the oracle for the tests)."""
    L = len(cost.net.layers)
    opts = cost.instance.allowed_partitions[n]
    q = len(opts)
    lt = np.empty((L, q + 1, q))
    w = np.empty((L, q, n), np.int64)
    act = np.empty((L, q, n), np.int64)
    for l in range(L):
        for j, p in enumerate(opts):
            w[l, j] = cost.weight_bytes(l, p)
            act[l, j] = cost.act_bytes(l, p)
            lt[l, q, j] = cost.layer_time(l, p, None)
            for i, pr in enumerate(opts):
                lt[l, i, j] = cost.layer_time(l, p, pr)
    return lt, w, act


class FlatTables(NamedTuple):
    """LayerTables as flat arrays with offsets per chiplet count n (for the kernels)."""

    lt: np.ndarray
    lt_off: np.ndarray
    w: np.ndarray
    act: np.ndarray
    wa_off: np.ndarray
    q: np.ndarray
    layers: int
    cap: float
    least_w: np.ndarray  # [n, l]: least total weight bytes over layer l's partitions on n chiplets
    least_a: np.ndarray  # [n, l]: least total activation bytes, likewise
    lean: np.ndarray  # [n, l]: the partition with the least (largest weight slice + largest activation)


def flatten(tables: LayerTables) -> FlatTables:
    N = tables.chiplets
    L = tables.lt[1].shape[0]
    lt_off = np.zeros(N + 2, np.int64)
    wa_off = np.zeros(N + 2, np.int64)
    q = np.zeros(N + 1, np.int64)
    for n in range(1, N + 1):
        q[n] = tables.parts[n].shape[0]
        lt_off[n + 1] = lt_off[n] + tables.lt[n].size
        wa_off[n + 1] = wa_off[n] + tables.w[n].size
    lt = np.concatenate([tables.lt[n].ravel() for n in range(1, N + 1)])
    w = np.concatenate([tables.w[n].ravel() for n in range(1, N + 1)])
    act = np.concatenate([tables.act[n].ravel() for n in range(1, N + 1)])
    least_w = np.zeros((N + 1, L), np.int64)
    least_a = np.zeros((N + 1, L), np.int64)
    lean = np.zeros((N + 1, L), np.int64)
    for n in range(1, N + 1):
        least_w[n] = tables.w[n].sum(axis=2).min(axis=1)
        least_a[n] = tables.act[n].sum(axis=2).min(axis=1)
        # ClusterCosts' key: float(max weight slice) + float(max activation), first minimum
        lean[n] = np.argmin(tables.w[n].max(axis=2).astype(float) + tables.act[n].max(axis=2).astype(float), axis=1)
    return FlatTables(lt, lt_off, w, act, wa_off, q, L, tables.sram_bytes, least_w, least_a, lean)
