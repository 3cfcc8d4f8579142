"""Time rendering: the largest example, then generated clusters of 1k, 10k and 100k GPUs.

    python benchmarks/bench_render.py [--depth N] [GPUS ...]

For each topology, in CPU-seconds (this process and its Graphviz children; the machine is
shared, so wall time says little): choosing the view (numpy), writing the DOT text with every
box placed and every edge routed (``topodsl.render.layout``; Graphviz's ``dot -Tplain`` sizes
the boxes), and Graphviz drawing it to SVG (``neato -n2``, nothing left to route); plus what
was drawn. Without ``--depth`` the automatic view is drawn; ``--depth 2`` is issue 17's case
(every server of a 100k-GPU cluster at depth 2: identical servers drawn once). Loading (parse
and elaborate) is measured by bench_elaborate.py and left out here.
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SIZES = (1024, 10240, 102400)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Graphviz), user + system."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


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


def main(argv: list[str]) -> None:
    import topodsl
    from benchmarks.clusters import cluster_source

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument("gpus", type=int, nargs="*")
    args = parser.parse_args(argv)
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
