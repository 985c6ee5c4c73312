"""Scope's search as we read it and the segmented / layer-sequential baselines built on its
steps; `step_kernels` is the compiled segment step, `reference_step` its Python oracle."""
