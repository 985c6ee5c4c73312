"""Heuristic searches and the exhaustive enumerator."""
