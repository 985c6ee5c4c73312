"""A time limit as a deadline on time.monotonic(), checked between pieces of work: the
exact models between layers of their build, the chain DP between chiplet counts of its
cluster tables and between chunks of its segment starts."""

from __future__ import annotations

import math
import time


class OutOfTime(Exception):
    """The time limit ran out before the work was done; its message names the step."""


def deadline_after(seconds: float) -> float:
    return time.monotonic() + seconds if math.isfinite(seconds) else math.inf


def check_time(deadline: float, step: str = "") -> None:
    if time.monotonic() > deadline:
        raise OutOfTime(step)
