"""Example user heuristics for `scope-opt bench --heuristic` (docs/benchmarks.md)."""
