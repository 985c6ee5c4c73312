"""The problem as the user states it: operators (as data), networks, packages, instances,
mappings, placement and the named design spaces.  Nothing here computes a cost.
May import: scope_opt.errors, scope_opt.formats."""
