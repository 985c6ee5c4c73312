"""A mapping's schedule as a Chrome trace (the trace-event JSON format that Perfetto and
chrome://tracing open): one track per cluster with its pipeline stage per sample, and
one track per segment for its weight load.  Times are microseconds from the start."""

from __future__ import annotations

from typing import Any

from scope_opt.cost.evaluate import Evaluation
from scope_opt.problem.instance import Instance

PID = 1


def _track(tid: int, name: str) -> dict[str, Any]:
    return {"ph": "M", "pid": PID, "tid": tid, "name": "thread_name", "args": {"name": name}}


def trace_events(instance: Instance, ev: Evaluation) -> dict[str, Any]:
    """Segment s starts when s - 1 ends; it loads its weights (W_s / b_dram), then stage k
    works on sample b during period k + b for its own stage time T_c (a one-layer segment
    streaming weights in t passes has one stage of the tiled period)."""
    events: list[dict[str, Any]] = [{"ph": "M", "pid": PID, "name": "process_name",
                                     "args": {"name": f"{instance.name}: T = {ev.latency_s:.6g} s"}}]
    t0, tid = 0.0, 0
    for s in ev.segments:
        events.append(_track(tid, f"segment {s.index}: weight load"))
        events.append({"ph": "X", "pid": PID, "tid": tid, "name": f"load weights of layers {s.first}:{s.last}",
                       "ts": t0 * 1e6, "dur": s.weight_load_s * 1e6, "args": {"bytes": s.weight_bytes}})
        tid += 1
        start = t0 + s.weight_load_s
        for k, c in enumerate(c for c in ev.clusters if c.segment == s.index):
            events.append(_track(tid, f"segment {s.index} cluster {k}: layers {c.first}:{c.last} on {c.chiplets} chiplets"))
            busy = s.period_s if s.passes > 1 else c.stage_s
            for b in range(instance.batch):
                events.append({"ph": "X", "pid": PID, "tid": tid, "name": f"sample {b}",
                               "ts": (start + (k + b) * s.period_s) * 1e6, "dur": busy * 1e6,
                               "args": {"stage_s": c.stage_s, "period_s": s.period_s}})
            tid += 1
        t0 += s.time_s
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"instance": instance.name, "latency_s": ev.latency_s, "batch": instance.batch}}
