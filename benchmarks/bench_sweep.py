"""What a sweep costs: one core against the local pool and a 2-worker Dask cluster, and shape
reuse against elaborating every point.

    python benchmarks/bench_sweep.py [cluster256|reuse|all] [--gpus N]

``cluster256`` is the sweep of issue 16: 64 points of ``topologies/cluster_256.topo``
(``SERVERS`` 8..32 x ``SPINES`` 4, 8 x ``STORES`` 1..32), bisection, a 2 TB checkpoint and the
file's four assertions, run in this process (``--jobs 1``), on the local pool of every core,
and through a ``distributed.LocalCluster`` of two single-threaded worker processes on
127.0.0.1. It reports wall seconds, this process's CPU seconds, the CPU seconds the points took
in the workers (their threads' time, start-up excluded) and, for Dask, every worker process's
CPU (start-up and imports included); and checks that the three tables are the same bytes.

``reuse`` sweeps the NIC speed of the benchmark cluster (``benchmarks/clusters.py``, default
16,384 GPUs; its 400 Gb/s links and NICs made one constant ``NIC``) over 16 values, counting
the GPUs (so making the topology is what costs), without shape reuse, with it, and without it
again, in this process, each run from cold caches.

The machine is shared: the load average is printed before and after each run, and every
figure is measured side by side in one run.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

CLUSTER_256 = [
    "SERVERS=8,16,24,32",
    "SPINES=4,8",
    "STORES=1,2,4,8,12,16,24,32",
]
ANALYSES = ["bisection", "checkpoint:size=2TB"]


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _run(plan, executor) -> dict:
    from topodsl.sweep import run_sweep

    load = _load()
    wall, cpu = time.perf_counter(), _cpu()
    with executor:
        table, stats = run_sweep(plan, executor)
    return {
        "executor": executor.description,
        "wall_s": round(time.perf_counter() - wall, 3),
        "client_cpu_s": round(_cpu() - cpu, 3),
        "points_cpu_s": round(stats.cpu, 3),
        "elaborations": stats.elaborated + 2 * stats.probed,
        "updated": stats.updated,
        "errors": stats.errors,
        "load_before": load,
        "load_after": _load(),
        "table": table.to_csv(),
    }


def cluster256(rounds: int = 3) -> dict:
    """The 64-point sweep in one process, on the pool, through Dask: ``rounds`` rounds, the
    three alternating, so that the machine's load falls on all three alike."""
    from distributed import LocalCluster

    from topodsl.executor import DaskExecutor, PoolExecutor, SerialExecutor, usable_cores
    from topodsl.sweep import plan_sweep

    os.chdir(REPO)
    plan = plan_sweep("topologies/cluster_256.topo", CLUSTER_256, ANALYSES)
    assert len(plan.points) == 64
    out: dict = {"points": 64, "cores": usable_cores(), "runs": []}
    tables = set()
    for _ in range(rounds):
        one = _run(plan, SerialExecutor())
        # A fresh pool each round: its start (fork server, imports, workers) is in its time.
        pool = _run(plan, PoolExecutor(preload=("topodsl.sweep.warm",)))
        children = _cpu(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1")  # fmt: skip
        up = time.perf_counter() - start
        try:
            dask = _run(plan, DaskExecutor(cluster.scheduler_address))
        finally:
            cluster.close()
        dask["cluster_start_s"] = round(up, 3)
        # The worker processes are this process's children, reaped by close(): all their CPU.
        dask["workers_cpu_s"] = round(_cpu(resource.RUSAGE_CHILDREN) - children, 3)
        for r in (one, pool, dask):
            tables.add(r.pop("table"))
        out["runs"].append({"one_core": one, "pool": pool, "dask": dask})
    out["identical_tables"] = len(tables) == 1
    best = {k: min(r[k]["wall_s"] for r in out["runs"]) for k in ("one_core", "pool", "dask")}
    out["best_wall_s"] = best
    out["pool_speedup_wall"] = round(best["one_core"] / best["pool"], 2)
    out["dask_vs_pool_wall"] = round(best["pool"] / best["dask"], 2)
    return out


def reuse(gpus: int = 16384, values: int = 16) -> dict:
    """NIC swept over ``values`` speeds, with and without shape reuse (one process)."""
    from benchmarks.clusters import cluster_source
    from topodsl.executor import SerialExecutor
    from topodsl.sweep import plan_sweep, shapes

    text = cluster_source(gpus)
    text = text.replace("link eth400    { bandwidth = 400 Gb/s", "const NIC = 400 Gb/s\n"
                        "link eth400    { bandwidth = NIC")  # fmt: skip
    text = text.replace("nic nic[8] { bandwidth = 400 Gb/s }", "nic nic[8] { bandwidth = NIC }")
    text = text.replace("nic nic[2] { bandwidth = 400 Gb/s }", "nic nic[2] { bandwidth = NIC }")
    assert "bandwidth = NIC" in text
    tmp = Path(tempfile.mkdtemp(prefix="topodsl-bench-"))
    path = tmp / f"cluster{gpus}.topo"
    path.write_text(text)
    speeds = ",".join(f"{100 * (k + 1)}Gb/s" for k in range(values))
    out: dict = {"gpus": gpus, "points": values}
    tables = {}
    for name, flag in (("no_reuse", False), ("reuse", True), ("no_reuse_again", False)):
        shapes._READERS.clear()  # every run starts cold: no parsed file, no shape
        plan = plan_sweep(str(path), [f"NIC={speeds}"], ["count:select=kind:gpu"],
                          assertions=False, reuse=flag)  # fmt: skip
        if flag:
            assert plan.dependence.value == {"NIC"}, plan.dependence
        out[name] = _run(plan, SerialExecutor())
        tables[name] = out[name].pop("table")
    out["identical_tables"] = len(set(tables.values())) == 1
    no_reuse = (out["no_reuse"]["points_cpu_s"] + out["no_reuse_again"]["points_cpu_s"]) / 2
    out["points_cpu_ratio_no_reuse_over_reuse"] = round(no_reuse / out["reuse"]["points_cpu_s"], 2)
    return out


def main(argv: list[str]) -> dict:
    what = argv[0] if argv and not argv[0].startswith("-") else "all"
    gpus = int(argv[argv.index("--gpus") + 1]) if "--gpus" in argv else 16384
    out = {}
    if what in ("reuse", "all"):
        out["reuse"] = reuse(gpus)
    if what in ("cluster256", "all"):
        out["cluster256"] = cluster256()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
