"""Issue 17's figures, each as a ratio against the alternative run beside it, with a gate.

    python benchmarks/bench_speed.py                      # every stage, compared to the baseline
    python benchmarks/bench_speed.py startup json --repeats 5
    python benchmarks/bench_speed.py --k 64 --gpus 102400 json reach
    python benchmarks/bench_speed.py --save-baseline      # after a change that is meant to stay

Stages (each in fresh processes, CPU seconds: user + sys of the child, median of the repeats;
the ratio is taken within each round, so both sides saw much the same load):

* ``help``: ``topodsl --help`` against ``python -c "import numpy"``;
* ``check``: ``topodsl check`` of a 25-line file with structural assertions (no flow to
  solve) against the same;
* ``json``: ``loads_json`` of a k-ary fat tree written as NetworkX node-link JSON against
  ``json.loads`` of the same text (the floor: reading it at all);
* ``reach``: the whole process ``topodsl analyze reach --within 1us --jsonl`` on the
  benchmark cluster against ``memory_reach`` alone in a process that has loaded the file
  (what writing the answer adds to the solve);
* ``cut``: writing the bisection report of the benchmark cluster with its whole limiting cut
  (``analyze bisection --json --cut-rows all``: 5,120 elements at 10,240 GPUs, 51,200 at
  102,400) against the solve it reports, in one process that has loaded the file.

``--breakdown`` also prints where a ``check`` process spends its CPU time (interpreter,
``import numpy``, the CLI and the registry, lark, the parser tables, the parse, the rest),
measured by the clock in a child at each step.

The gate: every ratio is compared to the one stored in ``benchmarks/baseline.json`` (taken
on the same kind of machine); a stage whose ratio grew 1.5x or more is flagged, and the
script exits with code 1. Ratios, not seconds, so a busier or a faster machine moves both
sides together (see docs/performance.md, "The regression gate").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASELINE = HERE / "baseline.json"
GATE = 1.5

SMALL = """\
# A small server: the size of file a CI check reads on every push.
const GPUS = 8
link nvlink4 { bandwidth = 25 GB/s, latency = 100 ns }
link pcie5   { bandwidth = 63 GB/s, latency = 500 ns }
link hbm_if  { bandwidth = 670 GB/s }

def gpu H100 {
    bandwidth = 3.35 TB/s
    hbm stack[5] { capacity = 16 GB, bandwidth = 670 GB/s, latency = 100 ns }
    connect self -- stack[*] via hbm_if
}

node server {
    H100 gpu[GPUS]
    nvswitch nvs[4] { ports = 64 }
    pcie_switch pex[4]
    cpu cpu[2]
    connect gpu[*] -- nvs[*] via nvlink4 x4
    connect gpu[i] -- pex[i / 2] via pcie5
    connect pex[i] -- cpu[i / 2] via pcie5

    assert count(kind:gpu) == GPUS
    assert capacity(kind:hbm) >= 640 GB
}
"""


def fat_tree_json(k: int) -> str:
    """A k-ary fat tree (k pods of k/2 edge and k/2 aggregation switches, (k/2)^2 cores,
    k^3/4 hosts) as NetworkX's node-link JSON with a ``layer`` attribute, 100 Gb/s links."""
    h = k // 2
    nodes: list[dict] = []
    links: list[dict] = []

    def link(a: str, b: str) -> None:
        links.append({"source": a, "target": b, "bandwidth": 12_500_000_000, "latency": 1e-6})

    for c in range(h * h):
        nodes.append({"id": f"core{c}", "kind": "switch", "layer": "core"})
    for p in range(k):
        for a in range(h):
            nodes.append({"id": f"p{p}.agg{a}", "kind": "switch", "layer": "aggregation"})
            for c in range(h):
                link(f"p{p}.agg{a}", f"core{a * h + c}")
        for e in range(h):
            nodes.append({"id": f"p{p}.edge{e}", "kind": "switch", "layer": "edge"})
            for a in range(h):
                link(f"p{p}.edge{e}", f"p{p}.agg{a}")
            for x in range(h):
                host = f"p{p}.edge{e}.h{x}"
                nodes.append({"id": host, "kind": "gpu", "layer": "host"})
                link(host, f"p{p}.edge{e}")
    doc = {"directed": False, "multigraph": False, "graph": {}, "nodes": nodes, "links": links}
    return json.dumps(doc, indent=1)


def _env() -> dict[str, str]:
    """The children's environment: byte code cached under a private prefix, as an installed
    wheel has it (this machine sets PYTHONDONTWRITEBYTECODE, which would make every start
    compile topodsl's sources afresh and measure that instead)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "topodsl-bench-pyc")
    return env


def _cpu(argv: list[str], **kw) -> float:
    """CPU seconds (user + sys) of one child process running ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=_env(), cwd=REPO, **kw)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _timed(code: str, lines: int = 1):
    """CPU seconds of the part of ``code`` between the markers, in a fresh interpreter:
    ``code`` prints them as the last line of its output. With ``lines`` > 1, the numbers on
    the last ``lines`` lines, as tuples (the last one being the seconds)."""
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=_env(),
        cwd=REPO,
    ).stdout  # fmt: skip
    last = out.strip().splitlines()[-lines:]
    if lines == 1:
        return float(last[0])
    return [tuple(float(x) for x in line.split()) for line in last[:-1]], float(last[-1])


_CLOCK = "import time\nt0 = time.process_time()\n"
_STOP = "print(time.process_time() - t0)\n"
TOPODSL = [sys.executable, "-m", "topodsl"]


def stage_help(work: Path) -> tuple[float, float]:
    return _cpu([*TOPODSL, "--help"]), _cpu([sys.executable, "-c", "import numpy"])


def stage_check(work: Path) -> tuple[float, float]:
    path = work / "small.topo"
    path.write_text(SMALL)
    return _cpu([*TOPODSL, "check", str(path)]), _cpu([sys.executable, "-c", "import numpy"])


def stage_json(work: Path, k: int) -> tuple[float, float]:
    path = work / f"fat_tree_{k}.json"
    if not path.exists():
        path.write_text(fat_tree_json(k))
    read = f"text = open({str(path)!r}).read()\n"
    ours = _timed(
        "from topodsl.io import loads_json\n" + read + _CLOCK + "t = loads_json(text)\n" + _STOP
    )
    floor = _timed("import json\n" + read + _CLOCK + "d = json.loads(text)\n" + _STOP)
    return ours, floor


def _cluster(work: Path, gpus: int) -> Path:
    """The benchmark cluster of ``gpus`` GPUs as a file in ``work``."""
    sys.path.insert(0, str(REPO))
    from benchmarks.clusters import cluster_source

    path = work / f"cluster_{gpus}.topo"
    if not path.exists():
        path.write_text(cluster_source(gpus))
    return path


def stage_reach(work: Path, gpus: int) -> tuple[float, float]:
    path = _cluster(work, gpus)
    argv = [*TOPODSL, "analyze", "reach", str(path), "--within", "1us", "--jsonl"]
    whole = _cpu(argv)
    solve = _timed(
        "import topodsl\nfrom topodsl.solvers.reach import memory_reach\n"
        f"t = topodsl.load({str(path)!r})\n" + _CLOCK + "r = memory_reach(t, within=1e-6)\n" + _STOP
    )
    return whole, solve


STAGES = {
    "help": ("topodsl --help", "import numpy"),
    "check": ("topodsl check, 25 lines", "import numpy"),
    "json": ("loads_json, fat tree k={k}", "json.loads"),
    "reach": ("analyze reach --jsonl, {gpus:,} GPUs", "memory_reach alone"),
    "cut": ("bisection report, whole cut, {gpus:,} GPUs", "bisection solve"),
}


def stage_cut(work: Path, gpus: int) -> tuple[float, float]:
    path = _cluster(work, gpus)
    out = _timed(
        "import json\nimport time\nimport topodsl\nfrom topodsl.analyses import run\n"
        f"t = topodsl.load({str(path)!r})\n"
        "s0 = time.process_time()\nr = run(t, 'bisection')\nsolve = time.process_time() - s0\n"
        + _CLOCK
        + "text = json.dumps(r.to_dict(max_cut_rows=None), indent=2)\n"
        "text += r.format(max_cut_rows=None)\n"
        "print(solve, len(text.encode()))\n" + _STOP,
        lines=2,
    )
    [(solve, size)], writing = out
    print(f"  cut: {size / 1e6:.1f} MB of JSON and text written", flush=True)
    return writing, solve


#: What a ``check`` process does, step by step, each step timed by the clock in the child.
_BREAKDOWN = """\
import time
c = time.process_time
marks = [("interpreter", c())]
import numpy
marks.append(("import numpy", c()))
import topodsl.cli
marks.append(("CLI and analysis registry", c()))
import lark
marks.append(("import lark (and interegular)", c()))
from topodsl import parser
marks.append(("topodsl.parser and topodsl.ast", c()))
parser.parser()
marks.append(("parser tables (cache)", c()))
import topodsl.elaborate, topodsl.check
marks.append(("elaborate and check imports", c()))
from topodsl.cli import main
try:
    main(["check", PATH], prog_name="topodsl")
except SystemExit:
    pass
marks.append(("parse, elaborate, assertions, report", c()))
last = 0.0
for name, t in marks:
    print(f"{name}\t{t - last}")
    last = t
"""


def breakdown(work: Path, repeats: int) -> None:
    """Print the median CPU seconds of each step of a ``check`` process (see _BREAKDOWN)."""
    path = work / "small.topo"
    path.write_text(SMALL)
    code = _BREAKDOWN.replace("PATH", repr(str(path)))
    runs: dict[str, list[float]] = {}
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True,
            env=_env(), cwd=REPO,
        ).stdout  # fmt: skip
        for line in out.splitlines():
            if "\t" in line:
                name, t = line.rsplit("\t", 1)
                runs.setdefault(name, []).append(float(t))
    print("check, step by step (CPU s, median; 'interpreter' is the start before any import):")
    for name, ts in runs.items():
        print(f"  {name:<40} {statistics.median(ts):7.3f}")
    print(f"  {'total':<40} {sum(statistics.median(ts) for ts in runs.values()):7.3f}")


def measure(stage: str, work: Path, args) -> tuple[float, float]:
    if stage == "json":
        return stage_json(work, args.k)
    if stage == "reach":
        return stage_reach(work, args.gpus)
    if stage == "cut":
        return stage_cut(work, args.gpus)
    return {"help": stage_help, "check": stage_check}[stage](work)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stages", nargs="*", metavar="STAGE", help=f"of {', '.join(STAGES)}")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--k", type=int, default=32, help="fat tree arity for the json stage")
    ap.add_argument("--gpus", type=int, default=10240, help="cluster size for the reach stage")
    ap.add_argument("--baseline", type=Path, default=BASELINE)
    ap.add_argument("--save-baseline", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--breakdown", action="store_true", help="print a check process's steps")
    args = ap.parse_args(argv)
    args.stages = args.stages or list(STAGES)
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        ap.error(f"unknown stage {sorted(unknown)}; the stages are {', '.join(STAGES)}")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="topodsl-speed-"))
    _cpu([*TOPODSL, "--help"])  # writes the byte code once, outside the figures
    if args.breakdown:
        breakdown(work, args.repeats)
    figures = {}
    for stage in args.stages:
        rounds = [measure(stage, work, args) for _ in range(args.repeats)]
        ours = statistics.median(r[0] for r in rounds)
        other = statistics.median(r[1] for r in rounds)
        ratio = statistics.median(r[0] / r[1] for r in rounds)
        what, against = STAGES[stage]
        figures[stage] = {
            "what": what.format(k=args.k, gpus=args.gpus),
            "cpu_s": round(ours, 4),
            "against": against,
            "against_cpu_s": round(other, 4),
            "ratio": round(ratio, 3),
        }
    baseline = json.loads(args.baseline.read_text()) if args.baseline.exists() else {}
    slower = []
    print(f"{'stage':<7} {'what':<44} {'CPU s':>8} {'against':<20} {'CPU s':>8} {'ratio':>7}  gate")
    for stage, f in figures.items():
        base = baseline.get("stages", {}).get(stage)
        if base is None or base.get("what") != f["what"]:
            verdict = "(no baseline)"
        else:
            grew = f["ratio"] / base["ratio"]
            verdict = f"{grew:.2f}x baseline" + ("  SLOWER" if grew >= GATE else "")
            if grew >= GATE:
                slower.append(stage)
        print(
            f"{stage:<7} {f['what']:<44} {f['cpu_s']:>8.3f} {f['against']:<20} "
            f"{f['against_cpu_s']:>8.3f} {f['ratio']:>7.2f}  {verdict}"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    if args.save_baseline:
        stages = {**baseline.get("stages", {}), **figures}
        doc = {"load_average": [round(x, 2) for x in load], "stages": stages}
        args.baseline.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"baseline written to {args.baseline}")
    if slower:
        print(f"{', '.join(slower)}: {GATE}x or more slower than the baseline, relative to the "
              "alternative beside it")  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
