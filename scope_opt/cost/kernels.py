"""The cost rules of `scope_opt.cost.formulas`, compiled with numba for the engine: the
same text, so the compiled and the reference forms cannot drift apart."""

from __future__ import annotations

from numba import njit

from scope_opt.cost import formulas

resident_period = njit(cache=True, inline="always")(formulas.resident_period)
tiled_period = njit(cache=True, inline="always")(formulas.tiled_period)
segment_time = njit(cache=True, inline="always")(formulas.segment_time)
fits = njit(cache=True, inline="always")(formulas.fits)
passes = njit(cache=True)(formulas.passes)
