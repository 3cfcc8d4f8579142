"""Routed throughput at scale: an all-to-all among every GPU of the benchmark cluster.

    python benchmarks/bench_traffic.py [GPUS] [JOBS]

Routes the all-to-all of ``benchmarks/clusters.py`` (default 10,240 GPUs: 104.8 million pairs)
with shortest-path ECMP under the hardware forwarding model and bounds its ceiling, and prints
one JSON line: wall and CPU seconds (this process) of building the routing
graph, routing every sink's shortest-path tree, and the ceiling (cut bounds at this size),
beside the figures. ``JOBS`` workers route the sinks (default: every core).

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


def main(gpus: int = 10240, jobs: int | None = None) -> dict:
    from benchmarks.clusters import cluster_source
    from topodsl import loads
    from topodsl.executor import executor_settings
    from topodsl.patterns import make_demand
    from topodsl.solvers.concurrent import concurrent_ceiling
    from topodsl.solvers.routing import routed_traffic, routing_network

    topo = loads(cluster_source(gpus), file=f"cluster{gpus}.topo")
    demand = make_demand(topo, "all-to-all", topo.select("kind:gpu"))
    w0, c0 = time.perf_counter(), cpu_seconds(children=True)
    rn = routing_network(topo, demand.endpoints)
    w1, c1 = time.perf_counter(), cpu_seconds(children=True)
    with executor_settings(jobs):
        routed = routed_traffic(topo, demand)
    w2, c2 = time.perf_counter(), cpu_seconds(children=True)
    ceiling = concurrent_ceiling(topo, demand, achieved=routed.rate, network=routed.network)
    w3, c3 = time.perf_counter(), cpu_seconds(children=True)
    return {
        "gpus": demand.n,
        "pairs": demand.num_pairs,
        "vertices": rn.num_vertices,
        "arcs": len(rn.tail),
        "jobs": jobs,
        "graph_wall_s": round(w1 - w0, 2),
        "graph_cpu_s": round(c1 - c0, 2),
        "route_wall_s": round(w2 - w1, 2),
        "route_cpu_s": round(c2 - c1, 2),
        "ceiling_wall_s": round(w3 - w2, 2),
        "ceiling_cpu_s": round(c3 - c2, 2),
        "rate_per_flow_Bps": routed.rate,
        "throughput_Bps": routed.throughput,
        "ceiling_Bps": [ceiling.lower * demand.total_weight, ceiling.upper * demand.total_weight],
        "ceiling_method": f"{ceiling.method}: {ceiling.sets}",
        "bottleneck": routed.bottleneck[0].source if routed.bottleneck else None,
    }


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    print(json.dumps(main(*args)))
