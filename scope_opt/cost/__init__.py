"""The cost model.  `formulas` holds each rule once (segment times, the fit rule, weight
tiling); `reference` and `evaluate` are the plain Python oracle; `layer_tables`,
`segment_tables` and `terms` are the same terms compiled and in bulk, built once per
instance and shared by every method.  May import: scope_opt.problem, scope_opt.errors."""
