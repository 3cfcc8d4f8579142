"""The cost of exact max-flow figures at 100k GPUs, with round and with encoded capacities.

    python benchmarks/bench_exact_flow.py [GPUS ...]

The benchmark cluster of benchmarks/clusters.py has capacities that are whole multiples of a
power of ten (63 GB/s PCIe, 50 GB/s NICs): one integer max flow is exact. Real figures rarely
are: here every PCIe link is rescaled to its 128b/130b-encoded rate (32 GB/s x 16 lanes x
128/130, 8 GB/s x 4 lanes x 128/130) and every NIC is 100 Gb/s x 4 = 400 Gb/s, so no unit
divides them all and the flow core refines the first, rounded max flow in further phases
(docs/solvers.md, "Exact figures"). Measured, each in a fresh process: the max flow from the
GPUs of the first half of the scalable units to those of the second half, and the storage
ingest (uniform rate of every GPU from every SSD), CPU seconds (user + sys of the process),
with the figure and whether it is exact.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SIZES = (102400,)


def source(gpus: int, encoded: bool) -> str:
    from benchmarks.clusters import cluster_source

    text = cluster_source(gpus)
    if encoded:
        text = text.replace("bandwidth = 63 GB/s", "bandwidth = 32 GB/s * 128 / 130")
        text = text.replace("bandwidth = 7.5 GB/s", "bandwidth = 8 GB/s * 128 / 130")
    return text


def measure(gpus: int, encoded: bool) -> dict:
    import topodsl
    from topodsl.solvers.dataflow import uniform_flow
    from topodsl.solvers.flow import max_flow

    topo = topodsl.loads(source(gpus, encoded))
    half = len(topo.select("c.su[*]")) // 2
    a = topo.select(f"kind:gpu & c.su[0..{half - 1}].**")
    b = topo.select(f"kind:gpu & c.su[{half}..{2 * half - 1}].**")
    gpu = topo.rows_of_kind("gpu")
    c0 = time.process_time()
    r = max_flow(topo, a, b)
    c1 = time.process_time()
    u = uniform_flow(topo, "kind:ssd", "kind:gpu", even="sinks")
    c2 = time.process_time()
    return {
        "gpus": int(len(gpu)),
        "encoded": encoded,
        "flow_cpu_s": round(c1 - c0, 3),
        "flow_TBps": r.value / 1e12,
        "flow_exact": bool(r.exact),
        # (Older flow cores have no lower/upper: their bracket is value .. cut capacity.)
        "flow_gap": getattr(r, "upper", r.cut_capacity) - getattr(r, "lower", r.value),
        "ingest_cpu_s": round(c2 - c1, 3),
        "ingest_MBps_per_gpu": u.rate / 1e6,
        "ingest_exact": bool(u.exact),
    }


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--one":
        print(json.dumps(measure(int(argv[1]), argv[2] == "encoded")))
        return
    sizes = [int(x) for x in argv] or list(SIZES)
    print(f"{'GPUs':>7} {'capacities':>10} | {'flow cpu s':>10} {'TB/s':>14} {'exact':>5} | "
          f"{'ingest cpu s':>12} {'MB/s per GPU':>16} {'exact':>5}")  # fmt: skip
    for n in sizes:
        for kind in ("round", "encoded"):
            proc = subprocess.run(
                [sys.executable, __file__, "--one", str(n), kind], capture_output=True, text=True
            )
            if proc.returncode:
                print(f"{n:>7} {kind:>10} | failed: {proc.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(proc.stdout)
            print(
                f"{r['gpus']:>7} {kind:>10} | {r['flow_cpu_s']:>10} {r['flow_TBps']:>14.10g} "
                f"{str(r['flow_exact']):>5} (gap {r['flow_gap']:.3g} B/s) | "
                f"{r['ingest_cpu_s']:>12} "
                f"{r['ingest_MBps_per_gpu']:>16.10g} {str(r['ingest_exact']):>5}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
