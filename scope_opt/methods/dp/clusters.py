"""Exact cluster tables: tab[x, y, n] = the least stage time T_c over the partition tuples
of cluster [x, y) on n chiplets that fit in SRAM (inf when none fits).

For a fixed first layer x and chiplet count n, the quick label pass gives upper bounds and
the exact pass, pruned by them, the least times (labels.py).  Memory only grows with y,
so a pass stops at the first y where no label fits (docs/exact-models.md, "Cluster tables")."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numba import njit, prange

from scope_opt.cost.layer_tables import LayerTables
from scope_opt.methods.deadline import OutOfTime
from scope_opt.methods.dp.budget import unbounded, work_budget
from scope_opt.methods.dp.labels import BEAM, exact_pass, quick_pass
from scope_opt.methods.dp.rest_bounds import no_bounds, pass_bounds

INF = math.inf


@njit(cache=True)
def _covers(w, act, k, i):
    """Chiplet k holds at least chiplet i's weights and activation in every layer and partition."""
    L, q, _ = w.shape
    for l in range(L):
        for j in range(q):
            if w[l, j, k] < w[l, j, i] or act[l, j, k] < act[l, j, i]:
                return False
    return True


@njit(cache=True)
def binding_chiplets(w, act):
    """The chiplets whose SRAM can bind, in index order: one that another covers (ties:
    the lower index stays) fits whenever that one fits, so the exact pass drops it from
    its labels (docs/exact-models.md, "Binding chiplets").  Uneven splits put the larger
    share on the first chiplets and halos are clipped at the edges, so 1 to 3 remain on the paper networks."""
    n = w.shape[2]
    kept = np.empty(n, np.int64)
    nk = 0
    for i in range(n):
        covered = False
        for t in range(nk):
            if _covers(w, act, kept[t], i):
                covered = True
                break
        if covered:
            continue
        m = 0
        for t in range(nk):  # those i covers differ from it somewhere (an equal one covered i)
            if not _covers(w, act, i, kept[t]):
                kept[m] = kept[t]
                m += 1
        kept[m] = i
        nk = m + 1
    return np.sort(kept[:nk])


def binding_view(w: np.ndarray, act: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """w and act restricted to the binding chiplets (contiguous, for the kernels)."""
    keep = binding_chiplets(w, act)
    return np.ascontiguousarray(w[:, :, keep]), np.ascontiguousarray(act[:, :, keep])


def least_work(tables: LayerTables) -> np.ndarray:
    """Two lower bounds per layer l, over chiplet counts n and partitions: row 0, e[l], the
    least chiplet-time (n x its compute time); row 1, the least compute time.  A cluster on
    n chiplets that holds l spends at least e[l] of n x its stage time, and at least row
    1's time of its stage time, on l (a layer's time is at least its compute time)."""
    per_n = [tables.comp[n].min(axis=1) for n in range(1, tables.chiplets + 1)]
    return np.stack([np.min([n * c for n, c in enumerate(per_n, 1)], axis=0), np.min(per_n, axis=0)])


@njit(cache=True)
def useless_limits(t_ub, batch, n, N, pre, x, out):
    """out[l]: a label of cluster [x, l + 1) on n of the N chiplets with batch * time t >
    out[l] lies on no mapping with T <= T_ub, where t_ub = T_ub minus every weight's DRAM
    load: T >= W / b_dram + batch * t + the least time of every other layer, and
    T >= W / b_dram + batch / N * (n * t + the least chiplet-time of every other layer)
    (docs/exact-models.md, "Useless stages"); pre holds the prefix sums of least_work's
    two rows."""
    L = pre.shape[1] - 1
    for l in range(x, L):
        others_s = pre[1, L] - pre[1, l + 1] + pre[1, x]
        others_work = pre[0, L] - pre[0, l + 1] + pre[0, x]
        out[l] = min(t_ub - others_s, (N * t_ub - batch * others_work) / n)


@njit(cache=True)
def _exact_row(lt, w, act, wb, actb, cap, x, last, row, target, bounds, quick, batch, limit, budget, work):
    """The exact pass, pruned by the quick pass's upper bounds, both on the binding
    chiplets wb, actb; returns the path to `target` (from whichever pass attains
    row[target]) and the largest label count.  With `quick` (fastdp), only the quick pass,
    on every chiplet (w, act) as fastdp was measured: times of real fitting tuples, not
    proven least."""
    ub = np.full(row.shape[0], INF)
    if quick:
        bpath, bpeak = quick_pass(lt, w, act, cap, x, last, ub, target, 1, np.full(lt.shape[0], INF), BEAM)
        row[:] = ub
        return bpath, bpeak
    bpath, bpeak = quick_pass(lt, wb, actb, cap, x, last, ub, target, batch, limit, BEAM)
    epath, peak = exact_pass(lt, wb, actb, cap, x, last, row, target, bounds, ub, batch, limit, budget, work)
    if peak < 0:  # out of budget: the row is incomplete
        return epath, peak
    use_beam = target > x and (epath.shape[0] != target - x or ub[target] < row[target])
    for y in range(x + 1, last + 1):
        if ub[y] < row[y]:
            row[y] = ub[y]
    return (bpath if use_beam else epath), peak


PROBE_LABELS = 16  # the exact pass alone gets the work of about this many labels per step first


@njit(cache=True)
def _pass_order(i, L):
    """The i-th first layer to run: early and late ones paired."""
    return i // 2 if i % 2 == 0 else L - 1 - i // 2


@njit(cache=True, parallel=True)
def _tab_for_n(lt, w, act, wb, actb, cap, max_len, out, quick, batch, t_ub, budget, pre, N, probe_labels):
    """out[x, y] for every first layer x, clusters of at most max_len layers; the passes
    are independent, so they run in parallel.  Each exact row is first tried by the exact
    pass alone, unpruned by upper bounds, on a small budget (`probe_labels` labels' worth:
    a pass of few labels then needs no quick pass nor priced bounds); a pass that runs past it is
    redone with both (docs/exact-models.md, "Two passes").  Returns the largest label
    count, -1 when a pass ran past its `budget`."""
    L, q = lt.shape[0], lt.shape[2]
    peaks = np.full(L, -1, np.int64)
    work = np.zeros(L + 1, np.int64)  # label-pass steps, one entry per pass (first layer x): no shared counter
    limits = np.empty((L, L))
    for x in range(L):
        useless_limits(t_ub, batch, w.shape[2], N, pre, x, limits[x])
    if not quick:
        for i in prange(L):
            x = _pass_order(i, L)
            last = min(L, x + max_len)
            probe = np.array([min(budget[0], probe_labels * q * (last - x + 1) ** 2), budget[1]])
            _, p = exact_pass(lt, wb, actb, cap, x, last, out[x], -1, no_bounds(), np.full(L + 1, INF), batch, limits[x],
                              probe, work)
            peaks[x] = p
    redo = np.nonzero(peaks < 0)[0]
    if redo.shape[0] == 0:
        return peaks.max()
    bounds = no_bounds() if quick else pass_bounds(lt, wb, cap)  # fastdp runs the quick pass alone
    for i in prange(redo.shape[0]):
        x = redo[_pass_order(i, redo.shape[0])]
        out[x, :] = INF
        _, p = _exact_row(lt, w, act, wb, actb, cap, x, min(L, x + max_len), out[x], -1, bounds, quick, batch, limits[x],
                          budget, work)
        peaks[x] = p
    return -1 if peaks.min() < 0 else peaks.max()


def _same_passes(a: tuple, b: tuple) -> bool:
    """Two chiplet counts pose the same label passes: equal layer times and equal weights
    and activations on their binding chiplets (docs/exact-models.md, "Equal chiplet counts")."""
    return all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def cluster_table(tables: LayerTables, max_len: int, chiplets: range | None = None,
                  quick: bool = False, tick: Callable[[int, int], None] | None = None,
                  batch: int = 1, t_ub: float = INF, deadline: float = INF,
                  layer_work: np.ndarray | None = None, probe_labels: int = PROBE_LABELS,
                  into: np.ndarray | None = None, known: dict | None = None) -> tuple[np.ndarray, int]:
    """tab[x, y, n] for every cluster of at most `max_len` layers and every chiplet count
    in `chiplets` (default all); inf elsewhere.  Also the largest label count seen.
    With `quick` (fastdp), the upper-bound pass only: real fitting tuples, not always
    the least time.  `tick(done, total)` is called after each chiplet count (progress,
    and the time limit: it may raise to stop).  With `t_ub` (the T of a known mapping less
    all weights' DRAM time) and `layer_work` (least_work), entries are exact where a cluster may
    lie on a mapping no slower than that one (useless_limits), no smaller elsewhere.
    With a `deadline`, each pass gets the work the time left allows (`budget.py`); a pass
    that runs past it raises OutOfTime, so one pathological pass cannot outlive the limit.
    A count whose passes equal those of the count below (`_same_passes`) takes its rows.
    `probe_labels` sizes the exact pass's first try alone (0: always both passes).  With
    `into`, its counts' columns are written there (and it is returned); `known` maps the
    counts done before, in earlier calls with a `t_ub` no tighter, to their pass inputs,
    so that a count equal to the one below is copied across calls too (it is updated)."""
    L = tables.lt[1].shape[0]
    N = tables.chiplets
    tab = np.full((L, L + 1, N + 1), INF) if into is None else into
    peak = 0
    row = np.empty((L, L + 1))
    counts = chiplets if chiplets is not None else range(1, N + 1)
    pre = (np.concatenate((np.zeros((2, 1)), np.cumsum(layer_work, axis=1)), axis=1) if layer_work is not None
           else np.zeros((2, L + 1)))
    known = {} if known is None else known  # count -> its pass inputs, for the counts done so far
    for done, n in enumerate(counts, 1):
        wb, actb = binding_view(tables.w[n], tables.act[n])
        inputs = (tables.lt[n], wb, actb)
        if not quick and n - 1 in known and _same_passes(known[n - 1], inputs):
            tab[:, :, n] = tab[:, :, n - 1]  # an equal problem: its rows, exact wherever n's must be
        else:
            row.fill(INF)
            got = _tab_for_n(tables.lt[n], tables.w[n], tables.act[n], wb, actb, tables.sram_bytes, max_len,
                             row, quick, batch, t_ub, work_budget(deadline), pre, N, probe_labels)
            if got < 0:
                raise OutOfTime("cluster tables (chiplet counts)")
            peak = max(peak, got)
            tab[:, :, n] = row
        known[n] = inputs
        if tick is not None:
            tick(done, len(counts))
    return tab, peak


def cluster_partitions(tables: LayerTables, x: int, y: int, n: int,
                       quick: bool = False) -> tuple[float, tuple[tuple[int, int], ...] | None]:
    """A fastest fitting partition tuple of cluster [x, y) on n chiplets, and its time
    (with `quick`, the tuple the quick pass found for the same table entry)."""
    L = tables.lt[n].shape[0]
    row = np.full(L + 1, INF)
    wb, actb = binding_view(tables.w[n], tables.act[n])
    path, _ = _exact_row(tables.lt[n], tables.w[n], tables.act[n], wb, actb, tables.sram_bytes, x, y, row, y,
                         pass_bounds(tables.lt[n], wb, tables.sram_bytes), quick, 1, np.full(L, INF), unbounded(),
                         np.zeros(L + 1, np.int64))
    if not math.isfinite(row[y]) or path.size != y - x:
        return INF, None
    parts = tables.parts[n]
    return float(row[y]), tuple((int(parts[j, 0]), int(parts[j, 1])) for j in path)
