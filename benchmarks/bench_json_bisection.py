"""Bisection of NetworkX JSON input against its floor (issue 17, "JSON input").

    python benchmarks/bench_json_bisection.py                    # every size
    python benchmarks/bench_json_bisection.py ft64 torus40x40x40 # some of them
    python benchmarks/bench_json_bisection.py --in-process-only  # skip the whole-process runs

For each size, CPU seconds (user + sys) of

* **topodsl**: ``bisection`` of the topology read from the JSON (both bounds), in process after
  ``loads_json``, and the whole process ``topodsl analyze bisection FILE.json``;
* **the floor**: the same JSON read by ``loads_json`` plus *one* max flow
  (``scipy.sparse.csgraph.maximum_flow``) on the same link arrays, between the two halves of
  one natural split (the first half of the GPUs in file order against the rest: half of the
  pods of a fat tree, half of a torus along its first axis). For these fabrics that one flow is
  already the bisection, which topodsl must *prove*; the floor proves nothing.

Both sides run in fresh child processes one after the other, so they see much the same load;
the ratio is topodsl / floor. Also reported: peak RSS of each child, the bounds and the
methods that gave them, and the growth exponent of topodsl's CPU time against the number of
links between consecutive sizes of each family (the issue's goal: <= 1.2).

Fabrics: a k-ary fat tree of 100 Gb/s links (``bench_speed.fat_tree_json``), and tori of
switches, each with one GPU on an 800 Gb/s link, 100 Gb/s torus links.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench_speed import _env, fat_tree_json  # noqa: E402

SIZES = {
    "ft16": ("fat tree", 16),
    "ft32": ("fat tree", 32),
    "ft48": ("fat tree", 48),
    "ft64": ("fat tree", 64),
    "torus32x32": ("torus", (32, 32)),
    "torus64x64": ("torus", (64, 64)),
    "torus128x128": ("torus", (128, 128)),
    "torus12x12x12": ("torus", (12, 12, 12)),
    "torus24x24x24": ("torus", (24, 24, 24)),
    "torus40x40x40": ("torus", (40, 40, 40)),
}

TORUS_LINK = 12_500_000_000  # 100 Gb/s per direction, in B/s
HOST_LINK = 100_000_000_000  # 800 Gb/s


def torus_json(dims: tuple[int, ...]) -> str:
    """A torus of switches ``r<coords>``, each with one GPU ``h<coords>`` on an 800 Gb/s link,
    neighbours joined by 100 Gb/s links, as NetworkX node-link JSON."""
    nodes: list[dict] = []
    links: list[dict] = []
    coords = list(itertools.product(*[range(d) for d in dims]))

    def name(c) -> str:
        return "_".join(map(str, c))

    for c in coords:
        nodes.append({"id": f"h{name(c)}", "kind": "gpu"})
        nodes.append({"id": f"r{name(c)}", "kind": "switch"})
        links.append({"source": f"h{name(c)}", "target": f"r{name(c)}", "bandwidth": HOST_LINK})
    for c in coords:
        for i, d in enumerate(dims):
            if d > 2 or c[i] == 0:
                n = list(c)
                n[i] = (n[i] + 1) % d
                links.append(
                    {"source": f"r{name(c)}", "target": f"r{name(n)}", "bandwidth": TORUS_LINK}
                )
    doc = {"directed": False, "multigraph": False, "graph": {}, "nodes": nodes, "links": links}
    return json.dumps(doc)


def write_case(name: str, folder: Path) -> Path:
    path = folder / f"{name}.json"
    if not path.exists():
        family, size = SIZES[name]
        path.write_text(fat_tree_json(size) if family == "fat tree" else torus_json(size))
    return path


# -- the children ---------------------------------------------------------------------------------


def _cpu_now() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child_floor(path: str) -> dict:
    """Read with loads_json, then one max flow between the halves of the natural split."""
    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse.csgraph import maximum_flow

    from topodsl.io import loads_json
    from topodsl.topology import KINDS

    c0 = _cpu_now()
    t = loads_json(Path(path).read_text(), path)
    c1 = _cpu_now()
    gpus = np.flatnonzero(t.nodes.kind == KINDS.index("gpu"))
    half = len(gpus) // 2
    nv = len(t.nodes)
    src, dst = t.links.src.astype(np.int64), t.links.dst.astype(np.int64)
    bw = t.links.bandwidth
    unit = float(bw.min())  # integer capacities in units of the slowest link
    cap = np.rint(bw / unit).astype(np.int32)
    s, k = nv, nv + 1
    big = np.int32(2**30)
    rows = np.concatenate([src, dst, np.full(half, s), gpus[half:]])
    cols = np.concatenate([dst, src, gpus[:half], np.full(len(gpus) - half, k)])
    caps = np.concatenate([cap, cap, np.full(len(gpus), big, dtype=np.int32)])
    g = sp.csr_array((caps, (rows, cols)), shape=(nv + 2, nv + 2))
    g.sum_duplicates()
    value = maximum_flow(g, s, k).flow_value * unit
    c2 = _cpu_now()
    return {"read": c1 - c0, "flow": c2 - c1, "total": c2 - c0, "value": value}


def child_topodsl(path: str) -> dict:
    """Read with loads_json, then topodsl's bisection (both bounds)."""
    from topodsl.io import loads_json
    from topodsl.solvers.bisection import bisection

    c0 = _cpu_now()
    t = loads_json(Path(path).read_text(), path)
    c1 = _cpu_now()
    r = bisection(t)
    c2 = _cpu_now()
    return {
        "read": c1 - c0,
        "solve": c2 - c1,
        "total": c2 - c0,
        "lower": r.lower_bound,
        "upper": r.upper_bound,
        "lower_method": r.lower_method,
        "upper_method": r.upper_method,
        "exact": r.exact,
    }


def _run(argv: list[str]) -> tuple[float, float, str]:
    """CPU seconds, peak RSS (MiB) and stdout of one child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed:\n{out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of the children is the largest child so far: run each in its own wrapper.
    return cpu, after.ru_maxrss / 1024, out.stdout


def _measure(role: str, path: Path) -> dict:
    """One child running ``role`` on ``path``; its report, CPU-s and peak RSS."""
    code = (
        f"import json, resource, sys; sys.path.insert(0, {str(HERE)!r});"
        f"from bench_json_bisection import child_{role} as f; r = f({str(path)!r});"
        "r['maxrss'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024;"
        "print(json.dumps(r))"
    )
    cpu, _, out = _run([sys.executable, "-c", code])
    report = json.loads(out.strip().splitlines()[-1])
    report["process"] = cpu
    return report


def _whole_process(path: Path) -> tuple[float, float]:
    code = (
        "import resource, subprocess, sys;"
        f"subprocess.run([sys.executable, '-m', 'topodsl', 'analyze', 'bisection', {str(path)!r}],"
        " stdout=subprocess.DEVNULL, check=False);"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(r.ru_utime + r.ru_stime, r.ru_maxrss / 1024)"
    )
    _, _, out = _run([sys.executable, "-c", code])
    cpu, rss = out.split()
    return float(cpu), float(rss)


def _fmt(x: float) -> str:
    return format_bw(x)


def format_bw(x: float) -> str:
    return f"{x / 1e12:.4g} TB/s" if x >= 1e12 else f"{x / 1e9:.4g} GB/s"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("sizes", nargs="*", help=f"some of {', '.join(SIZES)} (default: all)")
    p.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "topodsl-bench-json"))
    p.add_argument("--in-process-only", action="store_true", help="skip whole-process runs")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    unknown = [s for s in args.sizes if s not in SIZES]
    if unknown:
        p.error(f"unknown size {unknown[0]!r} (choose from {', '.join(SIZES)})")
    args.sizes = args.sizes or list(SIZES)
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}  load {os.getloadavg()[0]:.2f}", flush=True)
    head = (
        f"{'case':<15} {'links':>8} {'floor s':>8} {'topo s':>8} {'ratio':>6} "
        f"{'whole s':>8} {'rss MiB':>8}  lower / upper (method)"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for name in args.sizes:
        path = write_case(name, folder)
        floor = _measure("floor", path)
        topo = _measure("topodsl", path)
        whole, whole_rss = (math.nan, math.nan) if args.in_process_only else _whole_process(path)
        links = _count_links(path)
        row = {
            "case": name,
            "links": links,
            "floor": floor,
            "topodsl": topo,
            "whole_process": whole,
            "whole_rss": whole_rss,
            "load": os.getloadavg()[0],
        }
        rows.append(row)
        ratio = topo["total"] / floor["total"]
        bounds = (
            f"{_fmt(topo['lower'])} ({topo['lower_method']}) / "
            f"{_fmt(topo['upper'])} ({topo['upper_method']})" + (" exact" if topo["exact"] else "")
        )
        print(
            f"{name:<15} {links:>8} {floor['total']:>8.2f} {topo['total']:>8.2f} {ratio:>6.2f} "
            f"{whole:>8.2f} {max(topo['maxrss'], whole_rss):>8.0f}  {bounds}",
            flush=True,
        )
        if abs(floor["value"] - topo["upper"]) > 1e-6 * topo["upper"]:
            print(f"  note: the floor's one flow is {_fmt(floor['value'])}")
    print()
    print("in process: floor = read + one max flow; topodsl = read + bisection (CPU-s);")
    print("whole process: the floor's child against `topodsl analyze bisection FILE`")
    for r in rows:
        f, t = r["floor"], r["topodsl"]
        print(
            f"  {r['case']:<15} floor {f['read']:.2f} + {f['flow']:.2f}   "
            f"topodsl {t['read']:.2f} + {t['solve']:.2f}   "
            f"whole {r['whole_process']:.2f} / {f['process']:.2f} = "
            f"{r['whole_process'] / f['process']:.2f}x   load {r['load']:.2f}"
        )
    print()
    print("growth exponent of topodsl's CPU-s against links, between consecutive sizes:")
    for family in ("fat tree", "torus2", "torus3"):
        mine = [r for r in rows if _family(r["case"]) == family]
        for a, b in itertools.pairwise(mine):
            e = math.log(b["topodsl"]["total"] / a["topodsl"]["total"]) / math.log(
                b["links"] / a["links"]
            )
            fe = math.log(b["floor"]["total"] / a["floor"]["total"]) / math.log(
                b["links"] / a["links"]
            )
            print(f"  {a['case']} -> {b['case']}: {e:.2f} (floor {fe:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def _family(name: str) -> str:
    if name.startswith("ft"):
        return "fat tree"
    return f"torus{name.count('x') + 1}"


def _count_links(path: Path) -> int:
    family, size = SIZES[path.stem]
    if family == "fat tree":
        return 3 * size**3 // 4
    cells = math.prod(size)
    return cells + cells * sum(1 for d in size if d > 2) + sum(cells // d for d in size if d == 2)


if __name__ == "__main__":
    sys.exit(main())
