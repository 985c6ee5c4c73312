"""Exact energy: the energy-optimal mapping, the EDP-optimal one and the exact Pareto front
of (batch latency T, energy per sample), by a chain DP that carries where clusters sit."""
