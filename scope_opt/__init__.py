"""scope-opt: exact and heuristic mapping of NNs onto MCM accelerators.

The supported Python API (docs/api.md)::

    import scope_opt as so
    inst = so.load_instance("instances/default.toml")
    best = so.solve(inst, "dp")          # the proven optimum
    scope = so.solve(inst, "scope")      # the Scope search
    print(scope.latency_s / best.latency_s - 1)

Names load on first use, so `import scope_opt` stays cheap."""

__version__ = "0.3.0"

_API = ("load_instance", "load_network", "network", "instance", "solve", "evaluate", "draw", "pareto")
_TYPES = {"Instance": "scope_opt.problem.instance", "Network": "scope_opt.problem.network",
          "Mapping": "scope_opt.problem.mapping", "SolveResult": "scope_opt.methods.result",
          "Evaluation": "scope_opt.cost.evaluate", "CostTerms": "scope_opt.cost.terms",
          "InputError": "scope_opt.errors", "METHODS": "scope_opt.methods.registry"}
__all__ = [*_API, *_TYPES, "__version__"]


def __getattr__(name: str):
    import importlib
    if name in _API:
        return getattr(importlib.import_module("scope_opt.api"), name)
    if name in _TYPES:
        return getattr(importlib.import_module(_TYPES[name]), name)
    raise AttributeError(f"module 'scope_opt' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
