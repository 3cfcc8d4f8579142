"""topodsl, NetGraph and a hand-written NetworkX script, side by side on one 3-tier Clos.

    python benchmarks/compare.py [--sizes 1024 10240 102400] [--repeats 5] [--timeout 600]
                                 [--install-netgraph] [--out DIR] [--json FILE]

The same fabric at each size, written three ways:

* ``clos_N.topo`` — topodsl, with explicit ``connect`` statements in a rack / pod / cluster
  hierarchy that mirrors NetGraph's blueprints; ``clos_N_fabric.topo`` — the same fabric from
  topodsl's ``clos3`` generator (when the installed topodsl has it);
* ``clos_N.yaml`` — a NetGraph scenario (blueprints, ``mesh`` link patterns, a ``MaxFlow``
  workflow step holding the question);
* ``clos_N_networkx.py`` — a NetworkX ``DiGraph`` built by hand-written loops.

The question is the same for all: the maximum flow from the endpoints of the first half of the
pods to the endpoints of the second half (one direction, Gb/s). Every run of every tool must give
the closed-form answer ``pods/2 * min(leaves*hosts*host_bw, leaves*spines*fabric_bw,
spines*cores*fabric_bw)`` to within 1e-9 relative, or the script stops with exit code 1.

Each run is a fresh process (no warm caches); tools take turns within a round so that load from
other processes on a shared machine falls on all of them alike; figures are medians over the
rounds and speed-ups are computed pair by pair from the same rounds. Phases, per run:

``startup``  imports (and topodsl's one-off LALR table build), before the file is opened;
``parse``    text to the tool's syntax tree (topodsl ``parse``; NetGraph YAML load plus schema
             check, timed on its own; NetworkX: executing the script's definitions);
``build``    syntax tree to graph (topodsl ``elaborate``; the rest of NetGraph's
             ``Scenario.from_yaml``; the script's ``build_graph()``);
``solve``    the question (topodsl ``select`` + ``max_flow``; NetGraph
             ``analyze(network).max_flow``; ``networkx.maximum_flow_value``, with its default
             algorithm for ``networkx`` and Boykov-Kolmogorov for ``networkx-bk``);
``total``    parse + build + solve: text file to answer;
``+startup`` startup + total: imports to answer, what a user waits for past the interpreter;
``process``  wall time of the whole process, interpreter start-up included.

NetGraph (PyPI ``ngraph``) is not a dependency of topodsl: ``--install-netgraph`` puts it in its
own virtual environment, ``benchmarks/.venv-ngraph`` (git-ignored), and it runs from there. A
NetGraph run that exceeds ``--timeout`` seconds is stopped; NetGraph is then not tried at larger
sizes, and the table says so.
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
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NETGRAPH_VENV = HERE / ".venv-ngraph"
NETGRAPH_VERSION = "0.24.1"
SIZES = (1024, 10240, 51200, 102400)
TOOLS = ("topodsl", "topodsl-clos3", "netgraph", "networkx", "networkx-bk")
#: NetworkX's max-flow algorithm per tool: its default (preflow-push) and Boykov-Kolmogorov,
#: the quickest of its algorithms on these fabrics (about 2x its default at 10k endpoints).
NETWORKX_FLOW = {"networkx": "preflow_push", "networkx-bk": "boykov_kolmogorov"}
REL_TOL = 1e-9
SLOW_RUN_S = 30.0  # a tool slower than this per run gets at most SLOW_REPEATS runs
SLOW_REPEATS = 3


# -- the fabric -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clos:
    """A 3-tier Clos: ``pods`` pods of ``leaves`` leaves with ``hosts`` endpoints each and
    ``spines`` spines (every leaf to every spine of its pod), and ``cores`` cores (every spine to
    every core). Host links carry ``host_gbps``, switch links ``fabric_gbps`` (per direction).
    """

    pods: int
    leaves: int = 16
    hosts: int = 32
    spines: int = 8
    cores: int = 8
    host_gbps: float = 100.0
    fabric_gbps: float = 400.0

    @classmethod
    def with_endpoints(cls, endpoints: int) -> Clos:
        """The default Clos with ``endpoints`` hosts (a multiple of 2 x 512)."""
        per_pod = cls.leaves * cls.hosts
        if endpoints % (2 * per_pod):
            raise SystemExit(f"endpoints must be a multiple of {2 * per_pod}, got {endpoints}")
        return cls(pods=endpoints // per_pod)

    @property
    def endpoints(self) -> int:
        return self.pods * self.leaves * self.hosts

    @property
    def west(self) -> int:
        """Pods in the source half."""
        return self.pods // 2

    def expected_gbps(self) -> float:
        """Closed form: each source pod sends at most its narrowest tier; cores are symmetric."""
        per_pod = min(
            self.leaves * self.hosts * self.host_gbps,
            self.leaves * self.spines * self.fabric_gbps,
            self.spines * self.cores * self.fabric_gbps,
        )
        return self.west * per_pod


def topodsl_source(c: Clos) -> str:
    """The Clos in topodsl with explicit connects, one definition per tier like NetGraph's."""
    return f"""\
# 3-tier Clos: {c.pods} pods x {c.leaves} racks x {c.hosts} endpoints = {c.endpoints}.
const PODS = {c.pods}
link access {{ bandwidth = {c.host_gbps:g} Gb/s }}
link fabric {{ bandwidth = {c.fabric_gbps:g} Gb/s }}

def rack Rack {{
    switch leaf
    nic host[{c.hosts}]
    connect host[*] -- leaf via access
}}

def pod Pod {{
    Rack rack[{c.leaves}]
    switch spine[{c.spines}]
    connect rack[*].leaf -- spine[*] via fabric
}}

cluster clos {{
    Pod pod[PODS]
    switch core[{c.cores}]
    connect pod[*].spine[*] -- core[*] via fabric
}}
"""


def topodsl_fabric_source(c: Clos) -> str:
    """The same Clos from topodsl's ``clos3`` generator (one lane per switch link)."""
    return f"""\
# 3-tier Clos: {c.pods} pods x {c.leaves} leaves x {c.hosts} endpoints = {c.endpoints}.
link access {{ bandwidth = {c.host_gbps:g} Gb/s }}
link fabric {{ bandwidth = {c.fabric_gbps:g} Gb/s }}

cluster clos {{
    nic host[{c.endpoints}]
    fabric clos3 net {{
        hosts = host[*], link = access, uplink = fabric,
        pods = {c.pods}, leaves = {c.leaves}, spines = {c.spines}, cores = {c.cores},
        leaf_uplinks = 1, spine_uplinks = 1
    }}
}}
"""


def topodsl_selectors(c: Clos, fabric: bool) -> tuple[str, str]:
    """Selectors of the two halves of the endpoints."""
    if fabric:
        half = c.west * c.leaves * c.hosts
        return f"clos.host[0..{half - 1}]", f"clos.host[{half}..{c.endpoints - 1}]"
    return (
        f"clos.pod[0..{c.west - 1}].rack[*].host[*]",
        f"clos.pod[{c.west}..{c.pods - 1}].rack[*].host[*]",
    )


def netgraph_scenario(c: Clos) -> str:
    """The Clos as a NetGraph scenario; capacities in Gb/s, links bidirectional."""
    return f"""\
# 3-tier Clos: {c.pods} pods x {c.leaves} racks x {c.hosts} endpoints = {c.endpoints}.
blueprints:
  Rack:
    nodes:
      leaf: {{}}
      host: {{count: {c.hosts}, template: "{{n}}"}}
    links:
      - {{source: /leaf, target: /host, pattern: mesh, capacity: {c.host_gbps:g}}}
  Pod:
    nodes:
      rack[1-{c.leaves}]: {{blueprint: Rack}}
      spine: {{count: {c.spines}, template: "{{n}}"}}
    links:
      - {{source: "/rack[0-9]+/leaf", target: /spine/, pattern: mesh, capacity: {c.fabric_gbps:g}}}
network:
  nodes:
    pod[1-{c.west}]: {{blueprint: Pod, attrs: {{half: west}}}}
    pod[{c.west + 1}-{c.pods}]: {{blueprint: Pod, attrs: {{half: east}}}}
    core: {{count: {c.cores}, template: "{{n}}"}}
  links:
    - {{source: "pod[0-9]+/spine/", target: "core/", pattern: mesh, capacity: {c.fabric_gbps:g}}}
workflow:
  - type: MaxFlow
    name: west_to_east
    mode: combine
    source:
      path: "pod[0-9]+/rack[0-9]+/host/"
      match: {{conditions: [{{attr: half, op: "==", value: west}}]}}
    target:
      path: "pod[0-9]+/rack[0-9]+/host/"
      match: {{conditions: [{{attr: half, op: "==", value: east}}]}}
"""


NETWORKX_SCRIPT = '''\
"""3-tier Clos as a NetworkX DiGraph: max flow between the two halves of the endpoints.

Capacities in Gb/s per direction; arcs without a capacity (to S and from T) are unbounded.
"""

import networkx as nx

PODS, LEAVES, HOSTS, SPINES, CORES = {pods}, {leaves}, {hosts}, {spines}, {cores}
HOST_GBPS, FABRIC_GBPS = {host_gbps!r}, {fabric_gbps!r}


def build_graph():
    g = nx.DiGraph()

    def link(a, b, capacity):
        g.add_edge(a, b, capacity=capacity)
        g.add_edge(b, a, capacity=capacity)

    for p in range(PODS):
        for r in range(LEAVES):
            leaf = f"pod{{p}}/rack{{r}}/leaf"
            for h in range(HOSTS):
                host = f"pod{{p}}/rack{{r}}/host{{h}}"
                link(host, leaf, HOST_GBPS)
                if p < PODS // 2:
                    g.add_edge("S", host)
                else:
                    g.add_edge(host, "T")
            for s in range(SPINES):
                link(leaf, f"pod{{p}}/spine{{s}}", FABRIC_GBPS)
        for s in range(SPINES):
            for k in range(CORES):
                link(f"pod{{p}}/spine{{s}}", f"core{{k}}", FABRIC_GBPS)
    return g


def answer(g, algorithm="preflow_push"):
    flow_func = getattr(nx.algorithms.flow, algorithm)
    return nx.maximum_flow_value(g, "S", "T", flow_func=flow_func)


if __name__ == "__main__":
    print(answer(build_graph()))
'''


def networkx_script(c: Clos) -> str:
    """The hand-written NetworkX script, with this Clos's numbers filled in."""
    return NETWORKX_SCRIPT.format(**asdict(c))


def write_inputs(c: Clos, out: Path, fabric: bool) -> dict[str, Path]:
    """Write every encoding of ``c`` under ``out``; returns the file of each tool."""
    out.mkdir(parents=True, exist_ok=True)
    n = c.endpoints
    files = {
        "topodsl": (out / f"clos_{n}.topo", topodsl_source(c)),
        "netgraph": (out / f"clos_{n}.yaml", netgraph_scenario(c)),
        "networkx": (out / f"clos_{n}_networkx.py", networkx_script(c)),
    }
    files["networkx-bk"] = files["networkx"]
    if fabric:
        files["topodsl-clos3"] = (out / f"clos_{n}_fabric.topo", topodsl_fabric_source(c))
    for path, text in files.values():
        path.write_text(text, encoding="utf-8")
    return {tool: path for tool, (path, _) in files.items()}


# -- one run, inside the measured process -------------------------------------------------------
#
# These run in a fresh interpreter (for NetGraph, the one in its own venv), so nothing at module
# level may import anything but the standard library.


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_topodsl(path: str, source_sel: str, sink_sel: str) -> dict:
    """Parse, elaborate and solve one .topo file; timings in seconds, answer in Gb/s."""
    sys.path.insert(0, str(REPO))
    t_start = time.perf_counter()
    from topodsl.elaborate import elaborate
    from topodsl.parser import parse, parser
    from topodsl.solvers.flow import max_flow

    parser()  # the LALR tables: a one-off per process, whatever the file
    t0 = time.perf_counter()
    c0 = time.process_time()
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    module = parse(text, str(file))
    t1 = time.perf_counter()
    topo = elaborate(module, texts={str(file): text}, root=file.resolve().parent)
    t2 = time.perf_counter()
    c2 = time.process_time()
    result = max_flow(topo, topo.select(source_sel), topo.select(sink_sel))
    t3 = time.perf_counter()
    return {
        "value_gbps": result.value * 8 / 1e9,
        "nodes": topo.num_nodes,
        "links": topo.num_links,
        "startup_s": t0 - t_start,
        "parse_s": t1 - t0,
        "build_s": t2 - t1,
        "solve_s": t3 - t2,
        "total_s": t3 - t0,
        "cpu_s": time.process_time() - c0,
        "solve_cpu_s": time.process_time() - c2,
        "peak_mib": _peak_mib(),
    }


def run_netgraph(path: str) -> dict:
    """Load one NetGraph scenario and answer its MaxFlow step; answer in the file's units."""
    t_start = time.perf_counter()
    from ngraph import Mode, analyze
    from ngraph.dsl.loader import load_scenario_yaml
    from ngraph.scenario import Scenario

    t0 = time.perf_counter()
    c0 = time.process_time()
    text = Path(path).read_text(encoding="utf-8")
    scenario = Scenario.from_yaml(text)
    t1 = time.perf_counter()
    c1 = time.process_time()
    # The workflow's MaxFlow step holds the question. Asking analyze() directly skips the
    # workflow's failure-simulation machinery: the quickest route NetGraph offers.
    step = scenario.workflow[0]
    flows = analyze(scenario.network).max_flow(step.source, step.target, mode=Mode.COMBINE)
    t2 = time.perf_counter()
    cpu = time.process_time() - c0
    solve_cpu = time.process_time() - c1
    (value,) = flows.values()
    # Split loading into parse (YAML + schema) and build (expansion) by timing the parse alone.
    p0 = time.perf_counter()
    load_scenario_yaml(text)
    parse_s = time.perf_counter() - p0
    return {
        "value_gbps": float(value),
        "nodes": len(scenario.network.nodes),
        "links": len(scenario.network.links),
        "startup_s": t0 - t_start,
        "parse_s": parse_s,
        "build_s": (t1 - t0) - parse_s,
        "solve_s": t2 - t1,
        "total_s": t2 - t0,
        "cpu_s": cpu,
        "solve_cpu_s": solve_cpu,
        "peak_mib": _peak_mib(),
    }


def run_networkx(path: str, algorithm: str = "preflow_push") -> dict:
    """Execute the hand-written script's definitions, build its graph, take its max flow with
    NetworkX's ``algorithm``."""
    import importlib.util

    t_start = time.perf_counter()
    import networkx  # noqa: F401  (imported here so startup is not counted as parse)

    t0 = time.perf_counter()
    c0 = time.process_time()
    spec = importlib.util.spec_from_file_location("clos_networkx", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    t1 = time.perf_counter()
    g = script.build_graph()
    t2 = time.perf_counter()
    c2 = time.process_time()
    value = script.answer(g, algorithm)
    t3 = time.perf_counter()
    return {
        "value_gbps": float(value),
        "nodes": g.number_of_nodes(),
        "links": g.number_of_edges() // 2,  # every link is two arcs; S and T arcs round off
        "startup_s": t0 - t_start,
        "parse_s": t1 - t0,
        "build_s": t2 - t1,
        "solve_s": t3 - t2,
        "total_s": t3 - t0,
        "cpu_s": time.process_time() - c0,
        "solve_cpu_s": time.process_time() - c2,
        "peak_mib": _peak_mib(),
    }


def _run_one(argv: list[str]) -> None:
    tool, rest = argv[0], argv[1:]
    runner = {"topodsl": run_topodsl, "netgraph": run_netgraph, "networkx": run_networkx}[tool]
    print(json.dumps(runner(*rest)))


# -- the comparison -----------------------------------------------------------------------------


def netgraph_python() -> Path | None:
    """The NetGraph venv's interpreter, if it is installed."""
    py = NETGRAPH_VENV / "bin" / "python"
    return py if py.exists() else None


def install_netgraph(version: str) -> Path:
    """Create ``benchmarks/.venv-ngraph`` and install NetGraph into it (pinned version)."""
    if netgraph_python() is None:
        subprocess.run([sys.executable, "-m", "venv", str(NETGRAPH_VENV)], check=True)
    py = netgraph_python()
    assert py is not None
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"ngraph=={version}"], check=True)
    out = subprocess.run(
        [str(py), "-c", "import ngraph, importlib.metadata as m; print(m.version('ngraph'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"NetGraph {out} installed in {NETGRAPH_VENV}", file=sys.stderr)
    return py


def has_clos3() -> bool:
    """Whether this topodsl has the ``clos3`` fabric generator."""
    try:
        sys.path.insert(0, str(REPO))
        from topodsl.fabrics import GENERATORS
    except ImportError:
        return False
    return "clos3" in GENERATORS


def command(tool: str, c: Clos, files: dict[str, Path]) -> list[str]:
    """The command line of one measured run."""
    me = str(Path(__file__).resolve())
    if tool.startswith("topodsl"):
        src, dst = topodsl_selectors(c, fabric=tool == "topodsl-clos3")
        return [sys.executable, me, "--run", "topodsl", str(files[tool]), src, dst]
    if tool == "netgraph":
        return [str(netgraph_python()), me, "--run", "netgraph", str(files[tool])]
    return [sys.executable, me, "--run", "networkx", str(files[tool]), NETWORKX_FLOW[tool]]


def _env() -> dict[str, str]:
    """The runs' environment. Byte code is cached (under a private prefix) as an installed
    package has it: where PYTHONDONTWRITEBYTECODE is set, as on the project's machines, every
    topodsl start would otherwise compile its sources while NetworkX, installed by pip with
    its byte code, would not."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "topodsl-bench-pyc")
    return env


def measure(cmd: list[str], timeout: float) -> dict | None:
    """Run one measurement process; ``None`` if it ran out of time."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_env(),
        )
    except subprocess.TimeoutExpired:
        return None
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed: {' '.join(cmd)}\n{proc.stderr}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["process_s"] = wall
    row["with_startup_s"] = row["startup_s"] + row["total_s"]
    return row


def agrees(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b), 1.0)


def compare_size(
    c: Clos, tools: list[str], repeats: int, timeout: float, out: Path, gave_up: dict[str, str]
) -> dict:
    """Measure every tool on one size, in interleaved rounds; check every answer."""
    files = write_inputs(c, out, fabric="topodsl-clos3" in tools)
    expected = c.expected_gbps()
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    limit = {t: repeats for t in tools}
    for rnd in range(repeats):
        for tool in tools:
            if tool in gave_up or len(runs[tool]) >= limit[tool]:
                continue
            row = measure(command(tool, c, files), timeout)
            if row is None:
                gave_up[tool] = f"did not finish {c.endpoints} endpoints in {timeout:g} s"
                print(f"  {tool}: {gave_up[tool]}", file=sys.stderr)
                continue
            row["round"] = rnd
            runs[tool].append(row)
            if not agrees(row["value_gbps"], expected):
                raise SystemExit(
                    f"ANSWERS DISAGREE at {c.endpoints} endpoints: {tool} says "
                    f"{row['value_gbps']!r} Gb/s, the closed form {expected!r} Gb/s"
                )
            if row["process_s"] > SLOW_RUN_S:
                limit[tool] = min(limit[tool], SLOW_REPEATS)
            print(
                f"  {c.endpoints:>7} {tool:<14} round {rnd}: total {row['total_s']:.3f} s, "
                f"process {row['process_s']:.2f} s, {row['value_gbps']:.6g} Gb/s",
                file=sys.stderr,
            )
    summary = {}
    for tool, rows in runs.items():
        if rows:
            med = {k: statistics.median(r[k] for r in rows) for k in PHASES}
            summary[tool] = {
                "runs": len(rows),
                "value_gbps": rows[0]["value_gbps"],
                "nodes": rows[0]["nodes"],
                "links": rows[0]["links"],
                **med,
            }
    return {
        "endpoints": c.endpoints,
        "pods": c.pods,
        "expected_gbps": expected,
        "tools": summary,
        "ratios": ratios(runs),
        "raw": runs,
    }


PHASES = (
    "startup_s",
    "parse_s",
    "build_s",
    "solve_s",
    "total_s",
    "with_startup_s",
    "cpu_s",
    "solve_cpu_s",
    "process_s",
    "peak_mib",
)
RATIO_KEYS = ("total_s", "with_startup_s", "cpu_s", "solve_s", "solve_cpu_s", "process_s")


def ratios(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Speed-up of the first tool of each pair over the second, pair by pair.

    Runs of the same round were made one after the other, so they saw much the same load from
    the rest of the machine: ``median`` is the median over rounds of the ratio within the round,
    ``low``/``high`` its range. (Rounds where one tool did not run are left out; with no common
    round, the ratio of the medians is given.)
    """
    out: dict[str, dict] = {}
    names = [t for t in TOOLS if runs.get(t)]
    for i, fast in enumerate(names):
        for slow in names[i + 1 :]:
            for key in RATIO_KEYS:
                a = {r["round"]: r[key] for r in runs[fast]}
                b = {r["round"]: r[key] for r in runs[slow]}
                paired = [b[k] / a[k] for k in sorted(a.keys() & b.keys()) if a[k] > 0]
                if paired:
                    q = {
                        "median": statistics.median(paired),
                        "low": min(paired),
                        "high": max(paired),
                        "rounds": len(paired),
                    }
                else:
                    ma, mb = statistics.median(a.values()), statistics.median(b.values())
                    q = {"median": mb / ma, "low": None, "high": None, "rounds": 0}
                out.setdefault(f"{fast} vs {slow}", {})[key] = q
    return out


def goal_check(results: list[dict], gave_up: dict[str, str]) -> list[str]:
    """The issue's goal, read off the results: at the largest size NetGraph finished, topodsl
    at least 10x faster than NetGraph from file to answer and at least 50x faster than
    NetworkX's max flow."""
    done = [r for r in results if "netgraph" in r["tools"] and "topodsl" in r["tools"]]
    if not done:
        return ["goal: NetGraph did not run, nothing to check"]
    res = done[-1]
    why = (
        "the largest size NetGraph finished"
        if "netgraph" in gave_up
        else "the largest size tried; NetGraph finished every size"
    )
    lines = [f"goal, at {res['endpoints']} endpoints ({why}):"]
    for pair, key, need, what in (
        ("topodsl vs netgraph", "total_s", 10, "file to answer vs NetGraph"),
        ("topodsl vs netgraph", "process_s", 10, "whole process vs NetGraph"),
        ("topodsl vs networkx", "solve_s", 50, "max flow vs NetworkX's max flow"),
        ("topodsl vs networkx", "solve_cpu_s", 50, "max flow vs NetworkX's, CPU time"),
    ):
        q = res["ratios"].get(pair, {}).get(key)
        if q is None:
            continue
        verdict = "met" if q["median"] >= need else "NOT met"
        lines.append(f"  {what}: {q['median']:.1f}x (need {need}x): {verdict}")
    return lines


def _ratio_cell(q: dict) -> str:
    rng = f" [{q['low']:.1f}-{q['high']:.1f}]" if q["low"] is not None else ""
    return f"{q['median']:.1f}x{rng}"


def print_table(results: list[dict], gave_up: dict[str, str]) -> None:
    print(
        f"{'endpoints':>9} {'tool':<14} {'runs':>4} {'answer Gb/s':>12} {'parse s':>8} "
        f"{'build s':>8} {'solve s':>8} {'total s':>8} {'+startup':>8} {'total cpu':>9} "
        f"{'solve cpu':>9} {'process s':>9} {'peak MiB':>8}"
    )
    for res in results:
        for tool, s in res["tools"].items():
            print(
                f"{res['endpoints']:>9} {tool:<14} {s['runs']:>4} {s['value_gbps']:>12.6g} "
                f"{s['parse_s']:>8.3f} {s['build_s']:>8.3f} {s['solve_s']:>8.3f} "
                f"{s['total_s']:>8.3f} {s['with_startup_s']:>8.3f} {s['cpu_s']:>9.3f} "
                f"{s['solve_cpu_s']:>9.3f} "
                f"{s['process_s']:>9.2f} {s['peak_mib']:>8.0f}"
            )
    print()
    print("speed-ups: median over rounds of the ratio within a round [its range]")
    for res in results:
        for pair, r in res["ratios"].items():
            print(
                f"{res['endpoints']:>9} {pair:<28} file to answer {_ratio_cell(r['total_s'])} "
                f"(CPU {r['cpu_s']['median']:.1f}x), solve {_ratio_cell(r['solve_s'])} "
                f"(CPU {r['solve_cpu_s']['median']:.1f}x), "
                f"with start-up {_ratio_cell(r['with_startup_s'])}, "
                f"whole process {_ratio_cell(r['process_s'])}"
            )
    for tool, why in gave_up.items():
        print(f"note: {tool} {why}")
    print()
    for line in goal_check(results, gave_up):
        print(line)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--run"]:
        _run_one(argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(SIZES),
        help="endpoint counts (multiples of 1024)",
    )
    ap.add_argument("--repeats", type=int, default=5, help="rounds per size (default 5)")
    ap.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds one run may take before it is stopped (default 600)",
    )
    ap.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    ap.add_argument(
        "--install-netgraph",
        action="store_true",
        help=f"install NetGraph {NETGRAPH_VERSION} into {NETGRAPH_VENV.name}",
    )
    ap.add_argument("--netgraph-version", default=NETGRAPH_VERSION)
    ap.add_argument(
        "--out",
        type=Path,
        default=HERE / "out" / "compare",
        help="where the input files are written",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)

    tools = list(args.tools)
    if args.install_netgraph:
        install_netgraph(args.netgraph_version)
    if "netgraph" in tools and netgraph_python() is None:
        print(
            "NetGraph is not installed: run with --install-netgraph to include it", file=sys.stderr
        )
        tools.remove("netgraph")
    if "topodsl-clos3" in tools and not has_clos3():
        print("this topodsl has no clos3 generator: the fabric variant is skipped", file=sys.stderr)
        tools.remove("topodsl-clos3")

    gave_up: dict[str, str] = {}
    results = []
    for n in sorted(args.sizes):
        c = Clos.with_endpoints(n)
        results.append(compare_size(c, tools, args.repeats, args.timeout, args.out, gave_up))
    print_table(results, gave_up)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": results, "gave_up": gave_up}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
