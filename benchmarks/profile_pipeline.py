"""Time and profile every stage of the pipeline on the shared benchmark cluster.

    python benchmarks/profile_pipeline.py [--gpus 102400] [--repeats 3]
                                          [--profile cprofile|pyinstrument] [--stages ...]

Stages, in pipeline order, each run on the result of the ones before it:

``startup``    ``import topodsl`` and the one-off LALR table build;
``parse``      text to AST (:func:`topodsl.parser.parse`);
``elaborate``  AST to :class:`~topodsl.topology.Topology`;
``bisection``  :func:`topodsl.solvers.bisection.bisection` over every GPU;
``reach``      :func:`topodsl.solvers.reach.memory_reach` of every compute element, within
               1 us;
``flow``       :func:`topodsl.solvers.flow.max_flow` from the GPUs of the first half of the
               scalable units to those of the second half;
``dataflow``   :func:`topodsl.solvers.dataflow.data_flow` from every SSD to every GPU (how
               fast storage feeds the GPUs: throughput, bottleneck, link use);
``render``     :func:`topodsl.render.to_dot` at depth 2 (the DOT text; Graphviz not run).

A stage whose module is not there yet is reported as missing, not failed. Each repeat is a
fresh process (so peak memory and caches belong to it); the table gives the median wall and CPU
time of each stage. With ``--profile``, the last repeat also writes one profile per stage to
``--out`` (cProfile text sorted by own time, or pyinstrument HTML and text) and prints the
functions with the most own time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STAGES = ("startup", "parse", "elaborate", "bisection", "reach", "flow", "dataflow", "render")
TOP_FUNCTIONS = 12


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class _Profiler:
    """One profile per stage, written to ``out`` as ``<stage>.txt`` (and ``.html``)."""

    def __init__(self, kind: str | None, out: Path):
        self.kind = kind
        self.out = out
        self.top: dict[str, list[str]] = {}

    def run(self, stage: str, fn):
        if self.kind is None:
            return fn()
        self.out.mkdir(parents=True, exist_ok=True)
        if self.kind == "pyinstrument":
            from pyinstrument import Profiler

            prof = Profiler(interval=0.001)
            prof.start()
            try:
                return fn()
            finally:
                prof.stop()
                (self.out / f"{stage}.html").write_text(prof.output_html())
                text = prof.output_text(unicode=False, color=False, show_all=False)
                (self.out / f"{stage}.txt").write_text(text)
                self.top[stage] = text.splitlines()[:40]
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        try:
            return prof.runcall(fn)
        finally:
            buf = io.StringIO()
            stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime")
            stats.print_stats(60)
            (self.out / f"{stage}.txt").write_text(buf.getvalue())
            self.top[stage] = _top_lines(stats)


def _top_lines(stats) -> list[str]:
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)
    out = []
    for (file, line, name), (_cc, nc, tt, ct, _callers) in rows[:TOP_FUNCTIONS]:
        out.append(f"{tt:8.3f} s own {ct:8.3f} s cum {nc:>9} calls  {name} ({file}:{line})")
    return out


def run_pipeline(gpus: int, stages: list[str], profile: str | None, out: Path) -> dict:
    """Run the stages once in this process; returns per-stage wall and CPU seconds."""
    sys.path.insert(0, str(REPO))
    prof = _Profiler(profile, out)
    times: dict[str, dict] = {}
    state: dict = {}

    def timed(stage: str, fn):
        w0, c0 = time.perf_counter(), time.process_time()
        result = prof.run(stage, fn)
        times[stage] = {
            "wall_s": time.perf_counter() - w0,
            "cpu_s": time.process_time() - c0,
        }
        return result

    def startup():
        import topodsl  # noqa: F401
        from topodsl.parser import parser

        parser()

    timed("startup", startup)
    from benchmarks.clusters import cluster_source
    from topodsl.elaborate import elaborate
    from topodsl.parser import parse

    text = cluster_source(gpus)
    file = f"cluster{gpus}.topo"
    module = timed("parse", lambda: parse(text, file))
    topo = timed("elaborate", lambda: elaborate(module, texts={file: text}))
    state["components"] = topo.num_nodes
    state["links"] = topo.num_links
    gpu_rows = topo.rows_of_kind("gpu")
    state["gpus"] = len(gpu_rows)
    notes: dict[str, str] = {}

    if "bisection" in stages:
        if _has("topodsl.solvers.bisection"):
            from topodsl.solvers.bisection import bisection

            r = timed("bisection", lambda: bisection(topo))
            notes["bisection"] = (
                f"lower {r.lower_bound / 1e12:.6g} TB/s ({r.lower_method}), "
                f"upper {r.upper_bound / 1e12:.6g} TB/s ({r.upper_method}) per direction"
            )
        else:
            notes["bisection"] = "missing: topodsl.solvers.bisection has not landed"
    if "reach" in stages:
        if _has("topodsl.solvers.reach"):
            from topodsl.solvers.reach import memory_reach

            # Within 1 us: the memory a GPU or CPU can use as its own (server and nearby). With
            # no budget every element reaches every memory in the cluster, a quadratic answer.
            r = timed("reach", lambda: memory_reach(topo, within=1e-6))
            notes["reach"] = f"within 1 us: {len(r.latency):,} (element, memory) rows"
        else:
            notes["reach"] = "missing: topodsl.solvers.reach has not landed"
    if "flow" in stages:
        from topodsl.solvers.flow import max_flow

        sus = int(topo.select("c.su[*]").size)
        west = topo.select(f"c.su[0..{sus // 2 - 1}].node[*].gpu[*]")
        east = topo.select(f"c.su[{sus // 2}..{sus - 1}].node[*].gpu[*]")
        r = timed("flow", lambda: max_flow(topo, west, east))
        notes["flow"] = (
            f"{len(west)} GPUs to {len(east)} GPUs: {r.value / 1e12:.6g} TB/s per direction"
        )
    if "dataflow" in stages:
        if _has("topodsl.solvers.dataflow"):
            notes["dataflow"] = _run_dataflow(topo, timed)
        else:
            notes["dataflow"] = "missing: topodsl.solvers.dataflow has not landed"
    if "render" in stages:
        if _has("topodsl.render"):
            from topodsl.render import to_dot

            dot = timed("render", lambda: to_dot(topo, depth=2))
            notes["render"] = f"DOT text of {len(dot):,} characters at depth 2"
        else:
            notes["render"] = "missing: topodsl.render has not landed"
    return {
        **state,
        "stages": times,
        "notes": notes,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "top": prof.top,
    }


def _run_dataflow(topo, timed) -> str:
    """Storage to every GPU through the data-path solver."""
    from topodsl.solvers.dataflow import data_flow

    r = timed("dataflow", lambda: data_flow(topo, "kind:ssd", "kind:gpu"))
    return f"kind:ssd -> kind:gpu: {r.throughput / 1e12:.6g} TB/s"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpus", type=int, default=102400)
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes (default 3)")
    ap.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    ap.add_argument("--profile", choices=("cprofile", "pyinstrument"), default=None)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "profile")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.one:
        print(json.dumps(run_pipeline(args.gpus, args.stages, args.profile, args.out)))
        return 0

    runs = []
    for i in range(args.repeats):
        last = i == args.repeats - 1
        cmd = [
            sys.executable,
            __file__,
            "--one",
            "--gpus",
            str(args.gpus),
            "--out",
            str(args.out),
            "--stages",
            *args.stages,
        ]
        if last and args.profile:
            cmd += ["--profile", args.profile]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        run = json.loads(proc.stdout.strip().splitlines()[-1])
        run["profiled"] = bool(last and args.profile)
        runs.append(run)
        print(
            f"  run {i}: "
            + ", ".join(f"{k} {v['wall_s']:.2f} s" for k, v in run["stages"].items()),
            file=sys.stderr,
        )

    # Profiled runs are slower; use them for the medians only when nothing else ran.
    timed_runs = [r for r in runs if not r["profiled"]] or runs
    first = runs[0]
    print(
        f"{first['gpus']} GPUs, {first['components']:,} components, {first['links']:,} links; "
        f"median of {len(timed_runs)} run(s), peak {max(r['peak_mib'] for r in runs):.0f} MiB"
    )
    print(f"{'stage':<10} {'wall s':>8} {'cpu s':>8}  note")
    for stage in STAGES:
        if stage not in args.stages:
            continue
        got = [r["stages"][stage] for r in timed_runs if stage in r["stages"]]
        note = first["notes"].get(stage, "")
        if not got:
            print(f"{stage:<10} {'-':>8} {'-':>8}  {note}")
            continue
        wall = statistics.median(g["wall_s"] for g in got)
        cpu = statistics.median(g["cpu_s"] for g in got)
        print(f"{stage:<10} {wall:>8.3f} {cpu:>8.3f}  {note}")
    if args.profile:
        for stage, lines in runs[-1]["top"].items():
            print(f"\n-- {stage}: most own time ({args.profile}; full profile in {args.out})")
            for line in lines:
                print("  " + line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
