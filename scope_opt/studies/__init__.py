"""What researchers run on top of the methods: the bench, design-space sweeps (in-process
or on Dask), ranks, and the ablation of the Scope search.
May import: scope_opt.problem, scope_opt.cost, scope_opt.methods, scope_opt.formats."""
