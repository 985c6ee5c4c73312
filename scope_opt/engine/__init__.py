"""The table engine: the cost model's per-layer pieces in bulk and the passes built on
them (cluster tables, the Scope search's cluster step, the chain DP), compiled with
numba.  The plain Python functions of `scope_opt.cost` stay the reference; property
tests check that every table here equals them exactly."""
