"""A researcher's own heuristic in the bench: `package.module:function`, instance -> Mapping,
imported, run, validated and re-scored by the evaluator."""

from __future__ import annotations

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


def _child(spec: str, instance: Instance, cwd: str, answer) -> None:
    """In a fresh interpreter: call the heuristic and send back its mapping's dict form."""
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        mapping = load_heuristic(spec)(instance)
        answer.put(("ok", mapping.to_dict() if isinstance(mapping, Mapping) else mapping))
    except SystemExit as exc:
        answer.put(("error", f"called exit ({exc.code!r}); expected it to return a mapping"))
    except BaseException as exc:  # anything it raises is its own failure, reported as such
        answer.put(("error", f"raised {type(exc).__name__}: {str(exc)[:300]}"))


def call_isolated(spec: str, instance: Instance, time_limit_s: float):
    """The heuristic's answer from a separate process with a time limit: it can neither
    change the instance we score on, nor end the bench (sys.exit, os._exit), nor run on."""
    import multiprocessing
    import queue
    ctx = multiprocessing.get_context("spawn")
    answer = ctx.Queue()
    proc = ctx.Process(target=_child, args=(spec, instance, str(Path.cwd()), answer), daemon=True)
    proc.start()
    deadline = time.monotonic() + time_limit_s
    try:
        while True:
            try:
                kind, payload = answer.get(timeout=0.2)
                break
            except queue.Empty:
                if proc.exitcode is not None:
                    raise InputError(spec, "(heuristic)", f"ended (exit code {proc.exitcode}) without returning a "
                                                          "mapping; expected it to return one") from None
                if time.monotonic() > deadline:
                    raise InputError(spec, "(heuristic)", f"returned nothing within {time_limit_s:g} s (--time-limit); "
                                                          "expected a faster heuristic or a larger limit") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    if kind == "error":
        raise InputError(spec, "(heuristic)", payload)
    return payload


def run_user_heuristic(instance: Instance, spec: str, cost: CostModel, time_limit_s: float = 60.0) -> SolveResult:
    """Run a researcher's heuristic isolated (call_isolated), validate its mapping strictly,
    and score it on our own instance."""
    load_heuristic(spec)  # a bad spec is refused here, before a process starts
    start = time.perf_counter()
    mapping = call_isolated(spec, instance, time_limit_s)
    elapsed = time.perf_counter() - start
    if isinstance(mapping, dict):
        mapping = mapping_from_dict(mapping, spec)
    if not isinstance(mapping, Mapping):
        raise InputError(spec, "return value", f"expected a scope_opt.mapping.Mapping (or its dict form), got {type(mapping).__name__}")
    validate(mapping, instance, spec)
    return SolveResult(user_method(spec), "merged", "heuristic", mapping, evaluate(instance, mapping, cost), None, elapsed, None,
                       {"heuristic": spec})
