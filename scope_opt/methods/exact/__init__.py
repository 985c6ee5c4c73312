"""The exact models: one formulation over shared tables, backends (CP-SAT, MILP by CBC or
HiGHS) behind an enum; solver imports stay inside their backend modules."""
