"""Exact models: CP-SAT and MILP (CBC, HiGHS) over the same cost tables."""
