"""The figures behind the limits of docs/security.md, each measured in fresh processes.

    python benchmarks/bench_limits.py [startup|parse|refuse|memory ...]

* ``startup``: building the LALR tables against loading them from the JSON cache, and against
  lark's own pickle cache (what topodsl used before), CPU seconds, medians of 5, side by side;
* ``parse``: CPU seconds to parse 1 MiB of valid statements, and to report a file of
  erroneous statements at the size cap (the time a hostile file can cost);
* ``refuse``: CPU seconds to refuse a 50 MB file of valid lines and a 5 MB file of 200,000
  erroneous statements (both past the size cap);
* ``memory``: peak resident memory of elaboration per component and per link.

Numbers are CPU time (user + sys), so a loaded machine changes them less than wall time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _child(code: str, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=900,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


_CPU = (
    "import resource, json\n"
    "def cpu():\n"
    "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    return r.ru_utime + r.ru_stime\n"
)


def startup(reps: int = 5) -> None:
    cache = tempfile.mkdtemp(prefix="topodsl-bench-")
    modes = {
        "build the tables (no cache)": ("nocache", {"TOPODSL_NO_CACHE": "1"}),
        "load the JSON cache (now)": ("json", {"XDG_CACHE_HOME": cache}),
        "load lark's pickle cache (before)": ("pickle", {}),
    }
    code = (
        _CPU + "import lark\n"
        "from topodsl import parser as p\n"
        "t = cpu()\n"
        "if MODE == 'pickle':\n"
        "    lark.Lark(p._grammar_with_units(), cache=PICKLE, **p._OPTIONS)\n"
        "else:\n"
        "    p.parser()\n"
        "print(json.dumps({'cpu': cpu() - t}))\n"
    )
    pickle_path = os.path.join(cache, "tables.pickle")
    results: dict[str, list[float]] = {name: [] for name in modes}
    for mode, env in modes.values():  # warm each cache once
        _child(code.replace("MODE", repr(mode)).replace("PICKLE", repr(pickle_path)), env)
    for _ in range(reps):
        for name, (mode, env) in modes.items():
            c = code.replace("MODE", repr(mode)).replace("PICKLE", repr(pickle_path))
            results[name].append(_child(c, env)["cpu"])
    base = statistics.median(results["build the tables (no cache)"])
    print(f"{'parser start-up':36s} {'CPU s (median)':>14s} {'vs build':>9s}")
    for name, values in results.items():
        m = statistics.median(values)
        print(f"{name:36s} {m:14.3f} {m / base:9.2f}")


def parse() -> None:
    code = (
        _CPU + "from topodsl.parser import parse, parser\n"
        "from topodsl.errors import TopoError\n"
        "import topodsl\n"
        "parser()\n"
        "line = 'connect node[3].gpu[i] -- leaf[(i + 1) % 8] via eth400 x2\\n'\n"
        "valid = 'cluster c {\\n' + line * ((2**20 - 20) // len(line)) + '}\\n'\n"
        "t = cpu(); parse(valid, 'v.topo'); tv = cpu() - t\n"
        "ntok = sum(1 for _ in parser().lex(valid))\n"
        "bad = 'node n { gpu g[2]\\n' + 'connect g[0] -- q[1] via l\\n' * 38000 + '}'\n"
        "t = cpu()\n"
        "try:\n"
        "    topodsl.loads(bad, file='b.topo')\n"
        "except TopoError as e:\n"
        "    n = len(e.diagnostics)\n"
        "tb = cpu() - t\n"
        "print(json.dumps({'valid_bytes': len(valid), 'tokens': ntok, 'valid_cpu': tv,"
        " 'bad_bytes': len(bad), 'bad_cpu': tb, 'bad_diagnostics': n}))\n"
    )
    r = _child(code)
    print(
        f"parse 1 MiB of valid statements: {r['valid_cpu']:.2f} CPU s "
        f"({r['tokens']:,} tokens, {r['tokens'] / r['valid_cpu']:,.0f} tokens/s)"
    )
    print(
        f"load {r['bad_bytes']:,} bytes of erroneous statements: {r['bad_cpu']:.2f} CPU s "
        f"to {r['bad_diagnostics']} diagnostics"
    )


def refuse() -> None:
    folder = Path(tempfile.mkdtemp(prefix="topodsl-bench-"))
    valid = folder / "valid50mb.topo"
    valid.write_text("cluster c { gpu g[2] }\n" * (50 * 2**20 // 23))
    bad = folder / "bad5mb.topo"
    bad.write_text("connect a -- b via nowhere x(\n" * 200_000)
    code = (
        _CPU + "import sys, topodsl\n"
        "t = cpu()\n"
        "try:\n"
        "    topodsl.load(sys.argv[1])\n"
        "except topodsl.TopoError as e:\n"
        "    msg = e.diagnostics[0].message\n"
        "print(json.dumps({'cpu': cpu() - t, 'message': msg}))\n"
    )
    for f in (valid, bad):
        out = subprocess.run(
            [sys.executable, "-c", code, str(f)], capture_output=True, text=True, cwd=REPO
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{f.name} ({f.stat().st_size:,} B): refused in {r['cpu']:.3f} CPU s: {r['message']}")


def memory() -> None:
    code = (
        "import resource, json, sys, topodsl\n"
        "n, m = int(sys.argv[1]), int(sys.argv[2])\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "src = 'link l { bandwidth = 1 GB/s }\\ncluster c { gpu g[%d]\\n' % n\n"
        "if m:\n"
        "    src += ' gpu h[%d]\\n connect g[*] -- h[*] via l' % m\n"
        "src += ' }'\n"
        "t = topodsl.loads(src)\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'nodes': t.num_nodes, 'links': t.num_links,"
        " 'peak_kib': peak, 'base_kib': base}))\n"
    )

    def run(n: int, m: int) -> dict:
        out = subprocess.run(
            [sys.executable, "-c", code, str(n), str(m)], capture_output=True, text=True, cwd=REPO
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    small, big = run(500_000, 0), run(2_000_000, 0)
    per_node = (big["peak_kib"] - small["peak_kib"]) * 1024 / (big["nodes"] - small["nodes"])
    l1, l2 = run(1000, 1000), run(2000, 2000)
    per_link = (l2["peak_kib"] - l1["peak_kib"]) * 1024 / (l2["links"] - l1["links"])
    print(f"elaboration peak memory: {per_node:.0f} B per component, {per_link:.0f} B per link")
    from topodsl.limits import LINKS_PER_COMPONENT, MAX_NODES

    at_caps = MAX_NODES * per_node + LINKS_PER_COMPONENT * MAX_NODES * per_link
    print(
        f"at the default caps ({MAX_NODES:,} components, "
        f"{LINKS_PER_COMPONENT * MAX_NODES:,} links): about {at_caps / 1e9:.1f} GB"
    )


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(REPO))
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for what in argv or ["startup", "parse", "refuse", "memory"]:
        {"startup": startup, "parse": parse, "refuse": refuse, "memory": memory}[what]()


if __name__ == "__main__":
    main(sys.argv[1:])
