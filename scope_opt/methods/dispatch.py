"""One entry point for every method, so the CLI, the benchmarks and the tests call them
alike: the method comes from the registry, the cost terms are built once and shared."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from scope_opt.cost.objectives import OBJECTIVES
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.methods.registry import CLI_METHODS, METHODS, MethodOptions, check_space, resolve
from scope_opt.methods.result import SolveResult
from scope_opt.problem.instance import Instance

__all__ = ["solve", "MethodOptions", "METHODS", "CLI_METHODS"]


def solve(instance: Instance, method: str, options: MethodOptions = MethodOptions(),
          terms: CostTerms | None = None, progress: Callable[[str], None] | None = None,
          solver: str | None = None) -> SolveResult:
    """Run `method` (a registry name, or a command-line name with `solver` for the MILP)
    on `instance`; its mapping is re-scored by the reference evaluator."""
    m = resolve(method, solver)
    check_space(options.space)
    if options.objective not in OBJECTIVES:
        raise InputError("(arguments)", "--objective", f"unknown objective {options.objective!r}; "
                                                       f"expected one of {', '.join(OBJECTIVES)}")
    if options.objective not in m.objectives:
        able = ", ".join(dict.fromkeys(x.cli for x in METHODS.values() if options.objective in x.objectives))
        raise InputError("(arguments)", "--objective", f"{m.name} minimises {', '.join(m.objectives)}, "
                                                       f"not {options.objective!r}; methods that do: {able}")
    space = m.space_of(options)
    if space != options.space:
        options = dataclasses.replace(options, space=space)
    res = m.run(instance, options, terms or CostTerms(instance), progress)
    return dataclasses.replace(res, method=m.name) if res.method != m.name else res
