"""The time limit as work, for the label passes: a pass runs inside compiled code, where
the clock cannot be read, so it counts its steps (dominance comparisons, label
extensions, the bound test's loop steps) against a budget set from the time left
(docs/exact-models.md, "Time limit")."""

from __future__ import annotations

import math
import time

import numba
import numpy as np
from numba import njit

NO_BUDGET = 2**62  # label work without limit; a pass past its budget stops and says so (peak -1)
WORK_PER_S = 7e8  # label-pass steps per second on one core: 0.9e9 to 1.5e9 measured


@njit(cache=True)
def unbounded():
    """A work budget (one pass, all passes together) without limit."""
    return np.array([NO_BUDGET, NO_BUDGET], np.int64)


def work_budget(deadline: float) -> np.ndarray:
    """The steps one label pass may take before `deadline` on one thread, and all the
    passes of a chiplet count together on every thread numba runs."""
    if not math.isfinite(deadline):
        return unbounded()
    one = int(min(NO_BUDGET, max(0.0, deadline - time.monotonic()) * WORK_PER_S))
    return np.array([one, min(NO_BUDGET, one * numba.get_num_threads())], np.int64)
