"""The benchmark cluster at a given size, text to every figure of issue 17, in fresh processes.

    python benchmarks/bench_million.py 1024000            # all three stages
    python benchmarks/bench_million.py 102400 --stages bisection

Per size, the cluster of ``benchmarks/clusters.py`` with its design assertions is written to a
temporary file, then:

* ``bisection``: one process loads the text under the default component cap
  (``topodsl.limits.MAX_NODES``; if the cap refuses it, the refusal's first line and CPU time
  are printed and the load is repeated with the cap lifted), then bisects every GPU. Printed:
  CPU seconds of the load (parse and elaboration) and of the bisection, peak resident memory
  after each, bytes per component (peak after elaboration over the interpreter's own footprint
  with numpy, scipy and the parser loaded, divided by the components: its share of the links
  included), the bounds (B/s per direction) and the method behind each;
* ``reach``: ``topodsl analyze reach FILE --from kind:gpu --within 1us --jsonl``, the whole
  process: CPU seconds, peak resident memory, lines and bytes written (read from a pipe and
  thrown away, so the disk is not measured);
* ``check``: ``topodsl check FILE`` with the cluster's assertions, the whole process: CPU
  seconds, peak resident memory, exit code and the summary line.

CPU seconds are user + system (``getrusage``; ``os.wait4`` for the two commands), so a loaded
machine changes them less than wall time; the load average is printed beside them. Issue
17's goals at 1,024,000 GPUs: text to bisection <= 60 s and <= 12 GiB, reach <= 120 s,
check <= 90 s. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGES = ("bisection", "reach", "check")

CHILD = """
import json, resource, sys
sys.path.insert(0, {repo!r})
import topodsl
from benchmarks.clock import cpu_seconds
from topodsl.errors import LimitExceeded
from topodsl.parser import parser
from topodsl.solvers.bisection import bisection

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

path = sys.argv[1]
parser()
import scipy.sparse.csgraph  # noqa: F401 (loaded before the base footprint is read)
base = peak()
out = {{"default_cap": "accepted"}}
c0 = cpu_seconds()
try:
    t = topodsl.load(path)
except LimitExceeded as e:
    out["default_cap"] = str(e).splitlines()[0]
    out["cap_refusal_cpu_s"] = round(cpu_seconds() - c0, 2)
    c0 = cpu_seconds()
    t = topodsl.load(path, max_nodes=50_000_000)
c1 = cpu_seconds()
after_load = peak()
r = bisection(t, "kind:gpu")
c2 = cpu_seconds()
out.update({{
    "components": t.num_nodes, "links": t.num_links,
    "load_cpu_s": round(c1 - c0, 2), "bisection_cpu_s": round(c2 - c1, 2),
    "text_to_bisection_cpu_s": round(c2 - c0, 2),
    "base_mib": round(base / 2**20),
    "peak_after_load_mib": round(after_load / 2**20),
    "peak_after_bisection_mib": round(peak() / 2**20),
    "bytes_per_component": round((after_load - base) / t.num_nodes),
    "bisection_lower": r.lower_bound, "bisection_upper": r.upper_bound, "exact": r.exact,
    "lower_method": r.lower_method, "upper_method": r.upper_method,
}})
print(json.dumps(out))
"""


def _run(argv: list[str]) -> dict:
    """Run ``argv``; its CPU seconds, peak memory, exit code, and what it wrote to stdout
    (counted and thrown away) and to stderr (kept)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, cwd=REPO)
        lines = nbytes = 0
        tail = b""
        while chunk := proc.stdout.read(1 << 20):
            lines += chunk.count(b"\n")
            nbytes += len(chunk)
            tail = (tail + chunk)[-4096:]
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return {
        "exit_code": proc.returncode,
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "wall_s": round(wall, 1),
        "peak_mib": round(usage.ru_maxrss / 1024),
        "stdout_lines": lines,
        "stdout_bytes": nbytes,
        "tail": tail.decode(errors="replace").strip().splitlines()[-1:],
        "stderr": stderr.strip().splitlines()[-3:],
    }


def measure(gpus: int, stages: tuple[str, ...]) -> dict:
    """Every figure of ``stages`` for the benchmark cluster with ``gpus`` GPUs."""
    sys.path.insert(0, str(REPO))
    from benchmarks.clusters import cluster_source

    out: dict = {"gpus": gpus}
    with tempfile.TemporaryDirectory(prefix="topodsl-million-") as tmp:
        path = Path(tmp) / f"cluster{gpus}.topo"
        path.write_text(cluster_source(gpus, assertions=True))
        topodsl = [sys.executable, "-m", "topodsl"]
        for stage in stages:
            load = os.getloadavg()[0]
            if stage == "bisection":
                done = subprocess.run(
                    [sys.executable, "-c", CHILD.format(repo=str(REPO)), str(path)],
                    check=True, capture_output=True, text=True, cwd=REPO,
                )  # fmt: skip
                result = json.loads(done.stdout.strip().splitlines()[-1])
            elif stage == "reach":
                argv = ["analyze", "reach", str(path), "--from", "kind:gpu", "--within", "1us"]
                result = _run([*topodsl, *argv, "--jsonl"])
            else:
                result = _run([*topodsl, "check", str(path)])
            out[stage] = {"load_average": round(load, 2), **result}
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("gpus", nargs="*", type=int, default=[102400])
    ap.add_argument(
        "--stages", default=",".join(STAGES), help="comma-separated: " + ", ".join(STAGES)
    )
    args = ap.parse_args(argv)
    stages = tuple(s for s in args.stages.split(",") if s)
    unknown = set(stages) - set(STAGES)
    if unknown:
        ap.error(f"unknown stages: {', '.join(sorted(unknown))}")
    for gpus in args.gpus:
        print(json.dumps(measure(gpus, stages), indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
