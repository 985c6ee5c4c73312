"""scope-opt: exact and heuristic mapping of NNs onto MCM accelerators."""
__version__ = "0.1.0"
