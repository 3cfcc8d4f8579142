"""Time rendering: the largest example, then generated clusters of 1k, 10k and 100k GPUs.

    python benchmarks/bench_render.py [--depth N] [GPUS ...]
    python benchmarks/bench_render.py --dot [--depth 2] [--against DIR] [GPUS ...]

For each topology, in CPU-seconds (this process and its Graphviz children; the machine is
shared, so wall time says little): choosing the view (numpy), writing the DOT text with every
box placed and every edge routed (``topodsl.render.layout``; Graphviz's ``dot -Tplain`` sizes
the boxes), and Graphviz drawing it to SVG (``neato -n2``, nothing left to route); plus what
was drawn. Without ``--depth`` the automatic view is drawn; ``--depth 2`` is issue 17's case
(every server of a 100k-GPU cluster at depth 2: identical servers drawn once). Loading (parse
and elaborate) is measured by bench_elaborate.py and left out here.

``--dot`` measures issue 17's goal instead: the DOT text at ``--depth`` (default 2) of each
generated cluster, as ``to_dot`` and ``topodsl render -o c.dot`` write it, with identical parts
drawn once (the default) beside ``--no-fold`` (every server drawn), each in a fresh process:
render-only CPU-seconds of ``to_dot`` and of ``render(topo, "c.dot")`` (choosing the view and
writing the DOT, the topology already loaded; ``render`` also folds to a slide), whole-process
CPU-seconds of that command (start-up, parse and elaborate included), and the sizes of the DOT
(million characters from ``to_dot``, MB of the file ``render`` writes). ``--against DIR``
runs the same in another source tree (``git archive main | tar -x -C DIR``) side by side:
before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import clock  # noqa: E402

SIZES = (1024, 10240, 102400)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Graphviz), user + system."""
    return clock.cpu_seconds(children=True)


def measure(name: str, topo, depth: int | None) -> dict:
    """CPU-seconds of the three stages of rendering ``topo`` to SVG."""
    from topodsl.render import SLIDE, build_view
    from topodsl.render.diagram import diagram_dot
    from topodsl.render.graphviz import measure_nodes, run_layout

    t0 = cpu_seconds()
    view = build_view(topo, depth=depth, limit=SLIDE if depth is not None else None)
    t1 = cpu_seconds()
    text = diagram_dot(view, measure=measure_nodes)
    t2 = cpu_seconds()
    svg = run_layout(text, "svg").data
    t3 = cpu_seconds()
    return {
        "name": name,
        "components": topo.num_nodes,
        "links": topo.num_links,
        "view_s": t1 - t0,
        "dot_s": t2 - t1,
        "layout_s": t3 - t2,
        "total_s": t3 - t0,
        "shapes": view.num_shapes,
        "edges": len(view.edges),
        "depth": "full" if view.depth is None else str(view.depth),
        "svg_kB": len(svg) / 1e3,
    }


# Run in a fresh process with a source tree first on sys.path: the DOT of one cluster, by
# to_dot and by render() into a .dot file (what `topodsl render -o c.dot` calls).
_RENDER_ONLY = """
import json, resource, sys
sys.path.insert(0, sys.argv[1])
import topodsl
from topodsl.render import render, to_dot
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
topo = topodsl.load(sys.argv[2])
depth, fold = int(sys.argv[3]), sys.argv[4] == "fold"
t0 = cpu()
text = to_dot(topo, depth=depth, fold=fold)
t1 = cpu()
render(topo, sys.argv[5], depth=depth, fold=fold)
t2 = cpu()
print(json.dumps({"to_dot": t1 - t0, "chars": len(text), "render": t2 - t1,
                  "file": topodsl.__file__}))
"""


def dot_row(tree: Path, topo_file: Path, depth: int, fold: bool) -> dict:
    """CPU-seconds of the DOT at ``depth`` with ``tree``'s topodsl: ``to_dot`` and
    ``render`` alone (the topology loaded), and the whole ``topodsl render`` command."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = topo_file.with_suffix(".out.dot")
    proc = subprocess.run(
        [sys.executable, "-c", _RENDER_ONLY, str(tree), str(topo_file), str(depth),
         "fold" if fold else "no-fold", str(out)],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    only = json.loads(proc.stdout)
    assert Path(only["file"]).resolve().is_relative_to(tree.resolve()), only["file"]
    before = cpu_seconds()
    subprocess.run(
        [sys.executable, "-m", "topodsl", "render", str(topo_file), "--depth", str(depth),
         "-o", str(out), *(() if fold else ("--no-fold",))],
        capture_output=True, check=True, env=env,
    )  # fmt: skip
    whole = cpu_seconds() - before
    size = out.stat().st_size
    out.unlink()
    return {
        "to_dot_s": only["to_dot"],
        "to_dot_MB": only["chars"] / 1e6,
        "render_s": only["render"],
        "whole_s": whole,
        "MB": size / 1e6,
    }


def dot_main(args) -> None:
    from benchmarks.clusters import cluster_source

    depth = 2 if args.depth is None else args.depth
    trees = [("after", HERE.parent)]
    if args.against:
        trees.insert(0, ("before", Path(args.against)))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"DOT at depth {depth}: CPU-seconds (user + system), fresh processes; load {load}")
    print(
        f"{'GPUs':>7} {'tree':<6} {'folding':<8} {'to_dot':>7} {'M chars':>8} "
        f"{'render':>7} {'whole':>7} {'file MB':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for gpus in args.gpus or (10240, 102400):
            topo_file = Path(tmp) / f"cluster{gpus}.topo"
            topo_file.write_text(cluster_source(gpus))
            for name, tree in trees:
                for fold in (True, False):
                    r = dot_row(tree, topo_file, depth, fold)
                    print(
                        f"{gpus:>7} {name:<6} {'default' if fold else 'no-fold':<8} "
                        f"{r['to_dot_s']:>7.2f} {r['to_dot_MB']:>8.2f} {r['render_s']:>7.2f} "
                        f"{r['whole_s']:>7.2f} {r['MB']:>8.2f}",
                        flush=True,
                    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument("--dot", action="store_true", help="time the DOT text (issue 17)")
    parser.add_argument("--against", metavar="DIR", help="another source tree, run beside")
    parser.add_argument("gpus", type=int, nargs="*")
    args = parser.parse_args(argv)
    if args.dot:
        return dot_main(args)
    import topodsl
    from benchmarks.clusters import cluster_source

    examples = sorted((HERE.parent / "topologies").glob("*.topo"))
    rows = []
    if examples:
        loaded = [(p.name, topodsl.load(p)) for p in examples]
        name, topo = max(loaded, key=lambda nt: nt[1].num_nodes + nt[1].num_links)
        rows.append(measure(name, topo, args.depth))
    for gpus in args.gpus or SIZES:
        topo = topodsl.loads(cluster_source(gpus), file=f"cluster{gpus}.topo")
        rows.append(measure(f"cluster{gpus}.topo", topo, args.depth))
    print("CPU-seconds (user + system, Graphviz included)")
    print(
        f"{'topology':<22} {'components':>10} {'links':>9} {'view':>6} {'dot':>6} "
        f"{'draw':>6} {'total':>6} {'shapes':>6} {'edges':>5} {'depth':>5}"
    )
    for r in rows:
        print(
            f"{r['name']:<22} {r['components']:>10,} {r['links']:>9,} {r['view_s']:>6.2f} "
            f"{r['dot_s']:>6.2f} {r['layout_s']:>6.2f} {r['total_s']:>6.2f} {r['shapes']:>6} "
            f"{r['edges']:>5} {r['depth']:>5}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
