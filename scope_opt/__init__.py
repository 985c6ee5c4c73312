"""scope-opt: exact and heuristic mapping of NNs onto MCM accelerators."""
__version__ = "0.2.0"
