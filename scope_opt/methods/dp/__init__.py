"""The chain DP: exact cluster tables (label passes), min-bottleneck pipelines per segment
and the shortest path over segment boundaries."""
