"""Reading and writing files: one reader and number checker for every input file, atomic
writes, JSON without NaN.  May import: scope_opt.errors only."""
