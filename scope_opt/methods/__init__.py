"""Every way to find a mapping, behind one registry (`registry`): the Scope search and the
baselines (`scope/`, `baselines`), the chain DP (`dp/`), the exact CP-SAT and MILP models
(`exact/`) and the enumerator.  Each returns a `SolveResult` re-scored by the evaluator.
May import: scope_opt.problem, scope_opt.cost, scope_opt.formats, scope_opt.errors."""
