"""The benchmark cluster at a given size, text to bisection, in one fresh process per size.

    python benchmarks/bench_million.py 102400 1024000

Per size: what the default component cap (``topodsl.limits.MAX_NODES``) says, then with the
cap lifted for this run only: CPU seconds to parse and elaborate, to bisect every GPU, the peak
resident memory after each, and the bytes per component (peak over the interpreter's own
footprint with numpy and the parser loaded, divided by the components). Figures for the
issue-17 goal of one million GPUs (about 9M components); a measurement, not a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from benchmarks.clusters import cluster_source
import topodsl
from topodsl.errors import TopoError
from topodsl.parser import parser
from topodsl.solvers.bisection import bisection

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

gpus = int(sys.argv[1])
src = cluster_source(gpus)
parser()
import scipy.sparse.csgraph  # noqa: F401 (loaded before the base footprint is read)
base = rss()
c0 = time.process_time()
try:
    topodsl.loads(src)
    cap = "accepted"
except TopoError as e:
    cap = str(e).splitlines()[0]
c1 = time.process_time()
t = topodsl.loads(src, max_nodes=50_000_000)
c2 = time.process_time()
after_elaborate = rss()
r = bisection(t, "kind:gpu")
c3 = time.process_time()
print(json.dumps({{
    "gpus": gpus, "components": t.num_nodes, "links": t.num_links, "default_cap": cap,
    "cap_check_cpu_s": round(c1 - c0, 2), "elaborate_cpu_s": round(c2 - c1, 2),
    "bisection_cpu_s": round(c3 - c2, 2), "text_to_bisection_cpu_s": round(c3 - c1, 2),
    "peak_after_elaborate_mib": round(after_elaborate / 2**20),
    "peak_mib": round(rss() / 2**20),
    "bytes_per_component": round((after_elaborate - base) / t.num_nodes),
    "bisection_lower": r.lower_bound, "bisection_upper": r.upper_bound,
}}))
"""


def main(argv: list[str]) -> int:
    for gpus in map(int, argv or ["102400"]):
        out = subprocess.run(
            [sys.executable, "-c", CHILD.format(repo=str(REPO)), str(gpus)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        print(json.dumps(json.loads(out.strip().splitlines()[-1]), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
