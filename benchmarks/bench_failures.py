"""Failure analysis at scale: N-1 over every link of the benchmark cluster, and many sampled
cases.

    python benchmarks/bench_failures.py [GPUS] [ANALYSIS] [SAMPLES] [JOBS]

On ``benchmarks/clusters.py`` (default 10,240 GPUs: 142,560 links) this runs ANALYSIS
(``checkpoint`` of 1 TB by default, or ``bisection``, or ``flow`` from the first server's GPUs
to the storage tier) under every single link failure (N-1), then, with SAMPLES > 0, under that
many Monte Carlo cases of two simultaneous link failures; and it measures what applying one
failure costs as a mask (the damaged copy and its derived flow network) against rebuilding the
flow network of the damaged topology from scratch, on the same cases side by side. Prints one
JSON line: wall and CPU seconds (this process), cases, classes after symmetry,
solves, pruned cases, the baseline and the worst figure.

CPU seconds count this process and the children it has reaped. The executor's pool workers
are children of its fork server, not of this process, so with JOBS > 1 their CPU is not in
the figure: take CPU seconds from a run with JOBS = 1 and wall time from both.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.clock import cpu_seconds  # noqa: E402


def _question(analysis: str, topo) -> dict:
    if analysis == "checkpoint":
        return {"size": 1e12}
    if analysis == "flow":
        return {"sources": "c.su0.node0.gpu*", "sinks": "kind:ssd"}
    return {}


def _mask_against_rebuild(topo, cases: int = 20) -> dict:
    """Per case: the damaged copy plus its masked network, against the same copy with its
    network built from scratch (``build_network``), alternately."""
    from topodsl.failures.damage import NetworkCache, damaged
    from topodsl.solvers.flow import build_network, flow_network

    cache = NetworkCache(topo)
    cache.network("hardware", strict=False)
    step = max(1, topo.num_links // cases)
    mask = rebuild = 0.0
    for e in range(0, topo.num_links, step)[:cases]:
        t0 = cpu_seconds(children=True)
        d = damaged(topo, [e], cache=cache)
        flow_network(d, "hardware")
        t1 = cpu_seconds(children=True)
        d = damaged(topo, [e], cache=cache)
        build_network(d, forwarding="hardware")
        t2 = cpu_seconds(children=True)
        mask, rebuild = mask + t1 - t0, rebuild + t2 - t1
    return {
        "mask_ms_per_case": round(1e3 * mask / cases, 2),
        "rebuild_ms_per_case": round(1e3 * rebuild / cases, 2),
    }


def main(
    gpus: int = 10240, analysis: str = "checkpoint", samples: int = 0, jobs: int | None = None
) -> dict:
    from benchmarks.clusters import cluster_source
    from topodsl import loads
    from topodsl.analyses import Context
    from topodsl.failures.engine import failure_analysis

    topo = loads(cluster_source(gpus), file=f"cluster{gpus}.topo")
    out: dict = {"gpus": gpus, "links": topo.num_links, "analysis": analysis, "jobs": jobs}
    out.update(_mask_against_rebuild(topo))
    runs = [("n_1", dict(links="*", k=1))]
    if samples:
        runs.append(("mc_k2", dict(links="*", k=2, samples=samples, seed=1)))
    for label, spec in runs:
        ctx = Context(topo)
        w0, c0 = time.perf_counter(), cpu_seconds(children=True)
        r = failure_analysis(ctx, analysis, _question(analysis, topo), jobs=jobs, **spec)
        w1, c1 = time.perf_counter(), cpu_seconds(children=True)
        out[label] = {
            "wall_s": round(w1 - w0, 1),
            "cpu_s": round(c1 - c0, 1),
            "cases": r.cases,
            "classes": r.distinct,
            "solved": r.solved,
            "pruned": r.pruned,
            "baseline": [r.baseline.lower, r.baseline.upper],
            "worst": list(r.worst_range),
            "worst_case": list(r.worst.names),
        }
    return out


if __name__ == "__main__":
    a = sys.argv[1:]
    print(
        json.dumps(
            main(
                int(a[0]) if a else 10240,
                a[1] if len(a) > 1 else "checkpoint",
                int(a[2]) if len(a) > 2 else 0,
                int(a[3]) if len(a) > 3 else None,
            )
        )
    )
