"""Parse and elaborate clusters of 1k, 10k and 100k GPUs; print time and peak memory.

    python benchmarks/bench_elaborate.py [GPUS ...]

Each size runs in a fresh process so peak memory (ru_maxrss) belongs to that size alone.
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


def measure(gpus: int) -> dict:
    """Time parse and elaborate of one cluster size, in this process."""
    from benchmarks.clusters import cluster_source
    from topodsl.elaborate import elaborate
    from topodsl.parser import parse, parser

    parser()  # building the LALR tables is a one-off per process, not per file
    text = cluster_source(gpus)
    t0 = time.perf_counter()
    module = parse(text, f"cluster{gpus}.topo")
    t1 = time.perf_counter()
    topo = elaborate(module, texts={module.file: text})
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "gpus": int(len(topo.rows_of_kind("gpu"))),
        "components": topo.num_nodes,
        "links": topo.num_links,
        "parse_s": round(t1 - t0, 3),
        "elaborate_s": round(t2 - t1, 3),
        "peak_rss_MiB": round(rss / 2**20, 1),
    }


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--one":
        print(json.dumps(measure(int(argv[1]))))
        return
    sizes = [int(a) for a in argv] or list(SIZES)
    print(
        f"{'GPUs':>8} {'components':>11} {'links':>10} {'parse s':>8} {'elab s':>8} {'peak MiB':>9}"
    )
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], check=True, capture_output=True, text=True
        ).stdout
        r = json.loads(out)
        print(
            f"{r['gpus']:>8} {r['components']:>11} {r['links']:>10} {r['parse_s']:>8} "
            f"{r['elaborate_s']:>8} {r['peak_rss_MiB']:>9}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
