"""A researcher's own heuristic in the bench: `package.module:function`, instance -> Mapping,
imported, run, validated and re-scored by the evaluator."""

from __future__ import annotations

import copy
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

from scope_opt.cost.evaluate import evaluate
from scope_opt.cost.reference import CostModel
from scope_opt.errors import InputError
from scope_opt.methods.registry import user_method
from scope_opt.methods.result import SolveResult
from scope_opt.problem.instance import Instance
from scope_opt.problem.mapping import Mapping, mapping_from_dict, validate


def load_heuristic(spec: str) -> Callable[[Instance], Mapping]:
    """`package.module:function`, imported with the working directory on the path."""
    if ":" not in spec:
        raise InputError("(arguments)", "--heuristic", f"expected package.module:function, got {spec!r}")
    module, func = spec.split(":", 1)
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        fn = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise InputError("(arguments)", "--heuristic", f"cannot load {spec!r} ({exc}); expected an importable module and function") from None
    return fn


def heuristic_source(spec: str) -> Path:
    """The file that defines a heuristic's module (its code keys the bench's cache)."""
    load_heuristic(spec)
    module = sys.modules[spec.split(":", 1)[0]]
    return Path(getattr(module, "__file__", "") or "")


def run_user_heuristic(instance: Instance, spec: str, cost: CostModel) -> SolveResult:
    """Run a researcher's heuristic on a copy of the instance (what it changes is never
    scored), refuse an exit or a malformed mapping, and score on the original."""
    fn = load_heuristic(spec)
    start = time.perf_counter()
    try:
        mapping = fn(copy.deepcopy(instance))
    except SystemExit as exc:
        raise InputError(spec, "(heuristic)", f"called exit ({exc.code!r}); expected it to return a mapping") from None
    elapsed = time.perf_counter() - start
    if isinstance(mapping, dict):
        mapping = mapping_from_dict(mapping, spec)
    if not isinstance(mapping, Mapping):
        raise InputError(spec, "return value", f"expected a scope_opt.mapping.Mapping (or its dict form), got {type(mapping).__name__}")
    validate(mapping, instance, spec)
    return SolveResult(user_method(spec), "merged", "heuristic", mapping, evaluate(instance, mapping, cost), None, elapsed, None,
                       {"heuristic": spec})
