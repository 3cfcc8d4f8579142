"""What going through the analysis registry costs: ``run()`` against calling the solver.

    python benchmarks/bench_registry.py [GPUS]

Failure analysis and sweeps will call :func:`topodsl.analyses.run` thousands of times on one
prepared :class:`~topodsl.analyses.Context`, so its own work (checking the parameters, filling
defaults, building figures) must be small beside the solver's. On the benchmark cluster
(``benchmarks/clusters.py``, default 1,024 GPUs) this measures, in CPU seconds, each side run
alternately:

* ``flow``: the max flow from each of the first servers' GPUs to the next server's, directly
  (:func:`topodsl.data_flow`) and through ``run(ctx, "flow", ...)`` (each a different question,
  so the memo never answers);
* ``count``: a structural figure with no solver, directly (``len(select(...))``) and through
  ``run``: the registry's overhead alone;
* ``memo``: the same question asked again through ``run`` (answered from the context).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.clock import cpu_seconds  # noqa: E402


def main(gpus: int = 1024, servers: int = 16) -> dict:
    from benchmarks.clusters import cluster_source
    from topodsl import data_flow, loads
    from topodsl.analyses import Context, run

    topo = loads(cluster_source(gpus), file=f"cluster{gpus}.topo")
    ctx = Context(topo)
    gpu_ids = [topo.nodes.ids[r] for r in topo.rows_of_kind("gpu")]
    servers = min(servers, len(gpu_ids) // 8 - 1)
    pairs = [(gpu_ids[8 * k], gpu_ids[8 * (k + 1) + 1]) for k in range(servers)]
    data_flow(topo, *pairs[0])  # build the flow network once, for both sides

    direct = via_run = 0.0
    for a, b in pairs:
        t0 = cpu_seconds()
        d = data_flow(topo, a, b)
        t1 = cpu_seconds()
        r = run(ctx, "flow", sources=a, sinks=b)
        t2 = cpu_seconds()
        assert r.value.lower == d.throughput
        direct, via_run = direct + t1 - t0, via_run + t2 - t1

    selections = [f"{g}*" for g in gpu_ids[:200]]
    t0 = cpu_seconds()
    for s in selections:
        len(topo.select(s))
    t1 = cpu_seconds()
    for s in selections:
        run(ctx, "count", components=s)
    t2 = cpu_seconds()
    for s in selections:
        run(ctx, "count", components=s)
    t3 = cpu_seconds()
    n = len(selections)
    return {
        "gpus": len(gpu_ids),
        "flow_calls": len(pairs),
        "flow_direct_s": round(direct, 4),
        "flow_run_s": round(via_run, 4),
        "flow_ratio": round(via_run / direct, 3) if direct else None,
        "count_direct_us": round((t1 - t0) / n * 1e6, 1),
        "count_run_us": round((t2 - t1) / n * 1e6, 1),
        "memo_run_us": round((t3 - t2) / n * 1e6, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(*(int(x) for x in sys.argv[1:2])), indent=1))
