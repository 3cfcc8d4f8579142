"""Bisection of large fabrics read from NetworkX JSON, where no fabric record helps.

    python benchmarks/bench_bisection_json.py [CASE ...]

A fabric written by another tool arrives as node-link JSON with no generator record, so the
closed forms do not apply and the hose certificate must route hub by hub; past its budget it
routes through a sample of the hubs (``hose (sampled hubs)``), so the lower bound is weaker but
never silently 0. Each case is built with the generators, written as JSON and read back
(dropping the record), then bisected in a fresh process. Reported: both bounds (per direction),
their ratio, the methods, CPU seconds (user + sys) for reading the JSON and for the bisection,
and peak RSS. Cases: ``fat_tree:64``, ``torus:128x128``, ``torus:24x24x24``, ``torus:40x40x40``.
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

CASES = ("fat_tree:64", "torus:128x128", "torus:24x24x24", "torus:40x40x40")


def source(case: str) -> str:
    """The .topo text of a case: GPUs joined by a generator's fabric at 50 GB/s."""
    kind, size = case.split(":")
    if kind == "fat_tree":
        k = int(size)
        hosts = k**3 // 4
        fabric = f"fabric fat_tree net {{ hosts = g[*], k = {k}, link = l }}"
    elif kind == "torus":
        dims = [int(d) for d in size.split("x")]
        hosts = 1
        for d in dims:
            hosts *= d
        fabric = f"connect torus(g[*], {', '.join(map(str, dims))}) via l"
    else:
        raise SystemExit(f"unknown case {case!r}; cases: {', '.join(CASES)}")
    return f"link l {{ bandwidth = 50 GB/s }}\ncluster c {{\n    gpu g[{hosts}]\n    {fabric}\n}}\n"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(case: str) -> dict:
    """Build, write and read back one case, then bisect it, in this process."""
    import topodsl
    from topodsl import io
    from topodsl.solvers.bisection import bisection

    text = io.dumps_json(topodsl.loads(source(case)))
    c0 = cpu()
    topo = io.loads_json(text)
    c1 = cpu()
    t1 = time.perf_counter()
    r = bisection(topo)
    t2 = time.perf_counter()
    c2 = cpu()
    return {
        "case": case,
        "gpus": r.endpoints,
        "components": topo.num_nodes,
        "links": topo.num_links,
        "read_cpu_s": round(c1 - c0, 2),
        "bisection_cpu_s": round(c2 - c1, 2),
        "bisection_wall_s": round(t2 - t1, 2),
        "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "lower_TBps": r.lower_bound / 1e12,
        "upper_TBps": r.upper_bound / 1e12,
        "lower_method": r.lower_method,
        "upper_method": r.upper_method,
    }


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--one":
        print(json.dumps(measure(argv[1])))
        return
    cases = argv or list(CASES)
    print(
        f"{'case':>16} {'GPUs':>6} {'links':>7} {'read s':>6} {'bisect s':>8} {'MiB':>6} "
        f"{'lower TB/s':>10} {'upper TB/s':>10} {'lower/upper':>11}  methods"
    )
    for case in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--one", case], check=True, capture_output=True, text=True
        ).stdout
        r = json.loads(out)
        ratio = r["lower_TBps"] / r["upper_TBps"] if r["upper_TBps"] else 1.0
        print(
            f"{r['case']:>16} {r['gpus']:>6} {r['links']:>7} {r['read_cpu_s']:>6} "
            f"{r['bisection_cpu_s']:>8} {r['peak_rss_MiB']:>6} {r['lower_TBps']:>10.4g} "
            f"{r['upper_TBps']:>10.4g} {ratio:>11.2f}  {r['lower_method']} / {r['upper_method']}"
        )
    print("bandwidths per direction; CPU seconds are user + sys of the measuring process")


if __name__ == "__main__":
    main(sys.argv[1:])
