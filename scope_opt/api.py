"""The supported Python API (`import scope_opt as so`; docs/api.md).  Everything here
checks its input as the command line does and raises `InputError` naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scope_opt.cost.evaluate import Evaluation
from scope_opt.cost.evaluate import evaluate as _evaluate
from scope_opt.cost.terms import CostTerms
from scope_opt.errors import InputError
from scope_opt.formats.outputs import check_output_path, write_json
from scope_opt.methods.registry import MethodOptions
from scope_opt.methods.result import SolveResult
from scope_opt.methods.settings import SolverSettings
from scope_opt.problem.instance import Instance, build_instance
from scope_opt.problem.instance import load_instance as _load_instance
from scope_opt.problem.mapping import Mapping, mapping_from_dict
from scope_opt.problem.network import Network
from scope_opt.problem.network_yaml import build_network
from scope_opt.problem.network_yaml import load_network as _load_network
from scope_opt.methods.dispatch import solve as _solve


def load_instance(path: str | Path) -> Instance:
    """Read an instance TOML file (docs/instances.md).

    Parameters
    ----------
    path : str or Path
        The instance file; its `workload.model` is found as the command line finds it.

    Returns
    -------
    Instance
        The network (a YAML or ONNX model, or a slice of it), the package, the batch.
    """
    return _load_instance(path)


def load_network(path: str | Path) -> Network:
    """Read a network YAML file (docs/instances.md, "Networks")."""
    return _load_network(path)


def network(description: dict[str, Any], name: str = "network") -> Network:
    """A network from plain Python objects: the YAML form as a dict.

    Parameters
    ----------
    description : dict
        ``{"input": {"C": .., "H": .., "W": ..}, "layers": [{"name": .., "op": .., "K": ..}, ...]}``,
        exactly the YAML network format; ``C``, ``H``, ``W`` and ``pad`` may be left out.
    name : str
        The network's name when the description has none.

    Returns
    -------
    Network
    """
    return build_network(description, "(python)", name)


def instance(net: Network, mesh: tuple[int, int], batch: int = 1, name: str | None = None,
             hardware: dict[str, Any] | None = None, partitions: str = "KH") -> Instance:
    """An instance from plain Python objects, checked like a TOML file.

    Parameters
    ----------
    net : Network
        From :func:`network` or :func:`load_network`.
    mesh : (int, int)
        Chiplets, columns x rows.
    batch : int
        Samples streamed through the pipeline.
    name : str, optional
        Default: the network's name and the mesh.
    hardware : dict, optional
        Any other ``[hardware]`` field (``sram_kib``, ``pe_array``, ``energy``, ...); the
        defaults are the Simba-like chiplet (docs/instances.md).
    partitions : {"KH", "hybrid"}
        Input- and weight-shared splits only, or every factorisation.

    Returns
    -------
    Instance
    """
    if partitions not in ("KH", "hybrid"):
        raise InputError("(python)", "partitions", f'expected "KH" or "hybrid", got {partitions!r}')
    name = name or f"{net.name}-{mesh[0]}x{mesh[1]}"
    raw = {"name": name, "batch": batch, "workload": {"model": net.name},
           "hardware": {**(hardware or {}), "mesh": list(mesh)},
           "space": {"partitions": ["hybrid"] if partitions == "hybrid" else ["K", "H"]}}
    return build_instance(raw, "(python)", Path("."), name, net)


def solve(inst: Instance, method: str = "scope", *, space: str = "merged", solver: str | None = None,
          time_limit: float = 60.0, threads: int = 2, seed: int = 0, terms: CostTerms | None = None,
          objective: str = "latency") -> SolveResult:
    """Find a mapping; the reference evaluator re-scores it.

    Parameters
    ----------
    inst : Instance
    method : str
        A registered method: ``scope``, ``segmented``, ``sequential``, ``fastdp`` (heuristics),
        ``dp`` (the chain DP: the proven optimum), ``enumerate``, ``cpsat``, ``milp`` (with
        `solver`), or a registry name such as ``dp-segmented`` or ``milp-cbc``.
    space : {"merged", "segmented", "sequential"}
        The space a method that takes one searches.
    solver : {"highs", "cbc"}, optional
        The MILP backend.
    time_limit, threads, seed
        The exact models' settings, recorded with the result.
    terms : CostTerms, optional
        The instance's cost terms, to share them between several solves.
    objective : {"latency", "energy", "edp"}
        What to minimise; ``dp`` and ``enumerate`` take all three, the others latency.

    Returns
    -------
    SolveResult
        `status` (optimal, feasible, heuristic, infeasible, unknown), `latency_s`, `value`
        (the objective's), `bound_s` (a bound on the objective), `gap`, the `mapping` and its
        `evaluation`; `to_dict()` gives the JSON form.
    """
    settings = SolverSettings(time_limit_s=time_limit, threads=threads, seed=seed)
    return _solve(inst, method, MethodOptions(space=space, settings=settings, objective=objective), terms, solver=solver)


def pareto(inst: Instance, space: str = "merged", time_limit: float = 600.0):
    """The exact front of (batch latency, energy per sample), with the heuristics placed
    beside it (`scope-opt pareto`).

    Returns
    -------
    FrontStudy
        `points` (sorted by latency, each with `latency_s`, `energy_j`, `mapping`,
        `evaluation`), `heuristics`, `complete`, `summary()`; `to_dict()` gives the JSON form.
    """
    from scope_opt.methods.registry import check_space
    from scope_opt.studies.pareto import front_study
    check_space(space)
    return front_study(inst, space, time_limit)


def evaluate(inst: Instance, mapping: Mapping | dict) -> Evaluation:
    """Score a mapping (a `Mapping` or its JSON dict form) with the reference evaluator.

    Returns
    -------
    Evaluation
        Latency, throughput, energy, and the per-segment and per-cluster breakdown;
        `to_dict()` gives the JSON form.
    """
    if isinstance(mapping, dict):
        mapping = mapping_from_dict(mapping)
    return _evaluate(inst, mapping)


def draw(inst: Instance, mapping: Mapping, png: str | Path | None = None, trace: str | Path | None = None) -> Evaluation:
    """Draw a mapping: a PNG (the mesh per segment and the pipeline timeline) and/or a
    Chrome trace-event JSON for Perfetto.  Returns the mapping's evaluation."""
    from scope_opt.studies.draw import draw_mapping
    from scope_opt.studies.trace import trace_events
    check_output_path(png, "png", (".png",))
    check_output_path(trace, "trace", (".json",))
    ev = _evaluate(inst, mapping)
    if not ev.feasible:
        raise InputError("(python)", "mapping", f"is infeasible ({ev.reason}); only a valid mapping has a schedule")
    if png is not None:
        draw_mapping(inst, ev, Path(png))
    if trace is not None:
        write_json(trace, trace_events(inst, ev))
    return ev
