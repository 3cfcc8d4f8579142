"""Memory reach for every GPU and a storage -> all-GPUs flow on 1k, 10k and 100k GPUs.

    python benchmarks/bench_reach_flow.py [GPUS ...] [--within 2us]

The clusters come from benchmarks/clusters.py (the same designs every benchmark measures):
DGX-H100-like servers with NVSwitch, HBM stacks, CPUs with DRAM, PCIe switches and NICs on a
leaf-spine fabric, with SSD storage nodes on the spines. Each size runs in a fresh process, so
peak memory (ru_maxrss) belongs to that size alone; it is reported after elaboration and again
after each analysis (the peak so far, so an analysis that needs less than elaboration adds
nothing).

Measured:

* ``reach``: :func:`topodsl.memory_reach` from every GPU within the latency budget (default
  2 us: HBM, peers' HBM and host DRAM; the network leaves it), every row and tier bandwidth;
* ``flow``: :func:`topodsl.data_flow` from every SSD to every GPU (one max flow, its cut and
  link flows);
* ``ingest``: :func:`topodsl.uniform_flow`, the rate every GPU gets at once from the SSDs.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SIZES = (1024, 10240, 102400)


def _rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(gpus: int, within: float) -> dict:
    """Elaborate one cluster, then time reach, flow and ingest on it, in this process."""
    from benchmarks.clusters import cluster_source
    from topodsl.elaborate import elaborate
    from topodsl.parser import parse, parser
    from topodsl.solvers.dataflow import data_flow, uniform_flow
    from topodsl.solvers.reach import memory_reach

    parser()
    text = cluster_source(gpus)
    t0 = time.perf_counter()
    topo = elaborate(parse(text, f"cluster{gpus}.topo"), texts={f"cluster{gpus}.topo": text})
    out: dict = {
        "gpus": int(len(topo.rows_of_kind("gpu"))),
        "components": topo.num_nodes,
        "links": topo.num_links,
        "elaborate_s": round(time.perf_counter() - t0, 2),
        "rss_after_elaborate_MiB": _rss_mib(),
    }

    t0 = time.perf_counter()
    r = memory_reach(topo, "kind:gpu", within=within)
    out["reach_s"] = round(time.perf_counter() - t0, 2)
    out["reach_rows"] = len(r)
    out["reach_computed"] = r.computed
    out["rss_after_reach_MiB"] = _rss_mib()
    first = r.rows_of(int(r.sources[0]))
    out["reach_first_gpu"] = {
        "memories": first.stop - first.start,
        "capacity_GB": round(float(r.capacity[first].sum()) / 1e9, 3),
    }
    del r

    t0 = time.perf_counter()
    f = data_flow(topo, "kind:ssd", "kind:gpu")
    out["flow_s"] = round(time.perf_counter() - t0, 2)
    out["flow_GBps"] = round(f.throughput / 1e9, 3)
    out["flow_cut"] = len(f.bottleneck)
    out["rss_after_flow_MiB"] = _rss_mib()
    del f

    t0 = time.perf_counter()
    u = uniform_flow(topo, "kind:ssd", "kind:gpu", even="sinks")
    out["ingest_s"] = round(time.perf_counter() - t0, 2)
    out["ingest_MBps_per_gpu"] = round(u.rate / 1e6, 3)
    out["rss_after_ingest_MiB"] = _rss_mib()
    return out


def main(argv: list[str]) -> None:
    from topodsl.units import TIME, parse_quantity

    within = 2e-6
    if "--within" in argv:
        i = argv.index("--within")
        within = parse_quantity(argv[i + 1], TIME)
        argv = argv[:i] + argv[i + 2 :]
    if argv and argv[0] == "--one":
        print(json.dumps(measure(int(argv[1]), within)))
        return
    sizes = [int(a) for a in argv] or list(SIZES)
    head = (
        f"{'GPUs':>7} {'comps':>8} {'links':>8} {'elab s':>7} {'MiB':>6} | {'reach s':>7} "
        f"{'rows':>8} {'MiB':>6} | {'flow s':>6} {'GB/s':>8} {'MiB':>6} | {'ingest s':>8} "
        f"{'MB/s/GPU':>9} {'MiB':>6}"
    )
    print(f"reach within {within * 1e6:g} us of every GPU; flow and ingest from every SSD")
    print(head)
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--within", f"{within}s"],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(proc.stdout)
        print(
            f"{r['gpus']:>7} {r['components']:>8} {r['links']:>8} {r['elaborate_s']:>7} "
            f"{r['rss_after_elaborate_MiB']:>6} | {r['reach_s']:>7} {r['reach_rows']:>8} "
            f"{r['rss_after_reach_MiB']:>6} | {r['flow_s']:>6} {r['flow_GBps']:>8} "
            f"{r['rss_after_flow_MiB']:>6} | {r['ingest_s']:>8} {r['ingest_MBps_per_gpu']:>9} "
            f"{r['rss_after_ingest_MiB']:>6}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
