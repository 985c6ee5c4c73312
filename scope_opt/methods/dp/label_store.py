"""Growable label storage for the label passes (labels.py): numba has no lists of
arrays, so labels live in parallel arrays that double when full, and path nodes in an
arena of (partition, parent) pairs."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def grow2(a, size):
    b = np.empty((size, a.shape[1]), a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def grow1(a, size):
    b = np.empty(size, a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def new_store(size, n):
    """Empty label storage: time, last partition, W, A, path node, sum of W, sum of W + A."""
    return (np.empty(size), np.empty(size, np.int64), np.empty((size, n), np.int64), np.empty((size, n), np.int64),
            np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.int64))


@njit(cache=True)
def push(st, cnt, t, j, Wrow, Arow, node, sw, swa):
    """Append a label (growing the storage when full); returns the storage."""
    if cnt >= st[0].shape[0]:
        size = 2 * st[0].shape[0]
        st = (grow1(st[0], size), grow1(st[1], size), grow2(st[2], size), grow2(st[3], size),
              grow1(st[4], size), grow1(st[5], size), grow1(st[6], size))
    st[0][cnt], st[1][cnt], st[4][cnt], st[5][cnt], st[6][cnt] = t, j, node, sw, swa
    st[2][cnt] = Wrow
    st[3][cnt] = Arow
    return st


@njit(cache=True)
def add_node(arena, na, part, parent):
    """Record a path node (partition, parent node) when the pass tracks a path."""
    if na >= arena[0].shape[0]:
        arena = (grow1(arena[0], 2 * na), grow1(arena[1], 2 * na))
    arena[0][na] = part
    arena[1][na] = parent
    return arena, na + 1
