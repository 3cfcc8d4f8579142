"""What the workload analyses cost on a large cluster, and what their shortcuts save.

    python benchmarks/bench_workloads.py [GPUS]

On the benchmark cluster (``benchmarks/clusters.py``, default 1,024 GPUs) with a training job
declared on it (tensor parallelism inside each server, data parallelism across them), this
measures in CPU seconds:

* ``bounds``: each member's injection bound in the first data-parallel groups, the way the
  solver computes it (one network per group, :class:`~topodsl.solvers.flow.TerminalCuts`, a
  query per member) against one :func:`~topodsl.solvers.flow.max_flow` per member, run
  alternately on the same groups; the two must prove the same figure;
* ``collective``: each dimension's whole analysis (bounds, cuts, estimates of every
  algorithm) through :func:`~topodsl.analyses.run`, the first time and once the router's paths
  are known (a second dimension, then the placement lints, reuse them).
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

WORKLOAD = """
workload train {
    gpus = c.su[*].node[*].gpu[*]
    model    { parameters = 70e9, layers = 80, hidden = 8192 }
    batch    { global = %d, seq_len = 4096 }
    parallel { tp = 8 }
}
"""


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(gpus: int = 1024, groups: int = 8) -> dict:
    from benchmarks.clusters import cluster_source
    from topodsl import loads
    from topodsl.analyses import Context, run
    from topodsl.solvers.collective import flow_upper
    from topodsl.solvers.flow import TerminalCuts, flow_network, max_flow, prune_for_terminals
    from topodsl.workload import parallel_groups

    topo = loads(cluster_source(gpus) + WORKLOAD % (gpus // 8), file=f"cluster{gpus}.topo")
    w = topo.workloads[0]
    dp = parallel_groups(w, "dp")[:groups]
    flow_network(topo)  # built once, for both sides
    terminal = per_member = 0.0
    for g in dp:
        t0 = _cpu()
        tc = TerminalCuts(topo, g, keep=prune_for_terminals(topo, g))
        a = [tc.cut(np.arange(len(g)) == i).value for i in range(len(g))]
        t1 = _cpu()
        b = [flow_upper(max_flow(topo, [r], np.delete(g, i))) for i, r in enumerate(g)]
        t2 = _cpu()
        assert np.allclose(a, b)  # the same figures: a symmetric network, one direction each
        terminal, per_member = terminal + t1 - t0, per_member + t2 - t1
    ctx = Context(topo)
    out = {"gpus": gpus, "dp_groups_timed": len(dp), "members": int(sum(len(g) for g in dp)),
           "bounds_terminal_cuts_s": round(terminal, 3),
           "bounds_max_flow_s": round(per_member, 3),
           "bounds_ratio": round(per_member / terminal, 2) if terminal else None}  # fmt: skip
    for dim in ("tp", "dp"):
        t0 = _cpu()
        r = run(ctx, "collective", workload="train", parallel=dim)
        out[f"collective_{dim}_s"] = round(_cpu() - t0, 3)
        out[f"collective_{dim}"] = {k: r[k].measure.format() for k in
                                    ("lower_bound_s", "estimate_s")}  # fmt: skip
    t0 = _cpu()
    run(ctx, "placement", workload="train")
    out["placement_s"] = round(_cpu() - t0, 3)
    out["load"] = os.getloadavg()[0]
    return out


if __name__ == "__main__":
    print(json.dumps(main(*(int(x) for x in sys.argv[1:2])), indent=1))
