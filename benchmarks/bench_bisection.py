"""Bisection bandwidth of the 1k, 10k and 100k-GPU benchmark clusters, end to end.

    python benchmarks/bench_bisection.py [--uplink "200 Gb/s"] [GPUS ...]

The clusters come from :mod:`benchmarks.clusters` (the generator every benchmark shares): rail
leaves, every leaf on every spine, non-blocking. ``--uplink`` swaps the leaf-spine links for a
slower type to make the spine layer oversubscribed (200 Gb/s: 2:1). Each size runs in a fresh
process so peak memory (ru_maxrss) belongs to that size alone; the time is parse + elaborate +
bisection with both bounds. Target: 100k GPUs under 60 s and 4 GiB.
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


def cluster_text(gpus: int, uplink: str | None) -> str:
    """The shared benchmark cluster, with its leaf-spine links of type ``uplink`` if given."""
    from benchmarks.clusters import cluster_source

    text = cluster_source(gpus)
    if uplink is None:
        return text
    old = "spine[*] via eth400"
    if old not in text or "link eth400" not in text:
        raise SystemExit("benchmarks/clusters.py changed: cannot find the leaf-spine links")
    text = text.replace(old, "spine[*] via uplink")
    return text.replace(
        "link eth400", f"link uplink {{ bandwidth = {uplink}, latency = 600 ns }}\nlink eth400", 1
    )


def measure(gpus: int, uplink: str | None = None) -> dict:
    """Parse, elaborate and bisect one cluster size, in this process."""
    from topodsl.elaborate import elaborate
    from topodsl.parser import parse, parser
    from topodsl.solvers.bisection import bisection

    parser()  # building the LALR tables is a one-off per process, not per file
    text = cluster_text(gpus, uplink)
    t0 = time.perf_counter()
    module = parse(text, f"cluster{gpus}.topo")
    topo = elaborate(module, texts={module.file: text})
    t2 = time.perf_counter()
    r = bisection(topo)
    t3 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "gpus": r.endpoints,
        "components": topo.num_nodes,
        "links": topo.num_links,
        "parse_elaborate_s": round(t2 - t0, 2),
        "bisection_s": round(t3 - t2, 2),
        "total_s": round(t3 - t0, 2),
        "peak_rss_MiB": round(rss / 2**20, 1),
        "lower_TBps": r.lower_bound / 1e12,
        "upper_TBps": r.upper_bound / 1e12,
        "gap": r.gap,
        "exact": r.exact,
        "lower_method": r.lower_method,
        "upper_method": r.upper_method,
        "cut_links": len(r.cut),
    }


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--one":
        print(json.dumps(measure(int(argv[1]), argv[2] if len(argv) > 2 else None)))
        return
    uplink = None
    if argv[:1] == ["--uplink"]:
        uplink, argv = argv[1], argv[2:]
    sizes = [int(a) for a in argv] or list(SIZES)
    if uplink:
        print(f"leaf-spine links at {uplink} (400 Gb/s host links)")
    head = (
        f"{'GPUs':>7} {'components':>10} {'links':>9} {'parse+elab s':>12} {'bisect s':>8} "
        f"{'total s':>7} {'peak MiB':>8} {'lower TB/s':>10} {'upper TB/s':>10} {'gap':>5}  methods"
    )
    print(head)
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), *([uplink] if uplink else [])],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out)
        print(
            f"{r['gpus']:>7} {r['components']:>10} {r['links']:>9} {r['parse_elaborate_s']:>12} "
            f"{r['bisection_s']:>8} {r['total_s']:>7} {r['peak_rss_MiB']:>8} "
            f"{r['lower_TBps']:>10.4g} {r['upper_TBps']:>10.4g} {r['gap']:>5.3g}  "
            f"{r['lower_method']} / {r['upper_method']}"
        )
    print("bandwidths per direction; gap = upper / lower (1 = exact)")


if __name__ == "__main__":
    main(sys.argv[1:])
