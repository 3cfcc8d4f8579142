"""Time rendering: the largest example, then generated clusters of 1k, 10k and 100k GPUs.

    python benchmarks/bench_render.py [GPUS ...]

For each topology: choosing the automatic view (numpy), building the DOT text (pydot), and
laying it out to SVG with Graphviz, in seconds; plus what was drawn (shapes, edges, depth).
Loading (parse and elaborate) is measured by bench_elaborate.py and left out here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SIZES = (1024, 10240, 102400)


def measure(name: str, topo) -> dict:
    """Time the three stages of rendering ``topo`` to SVG."""
    from topodsl.render import build_view
    from topodsl.render.diagram import diagram_graph
    from topodsl.render.graphviz import run_dot

    t0 = time.perf_counter()
    view = build_view(topo)
    t1 = time.perf_counter()
    text = diagram_graph(view).to_string()
    t2 = time.perf_counter()
    svg = run_dot(text, "svg")
    t3 = time.perf_counter()
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

    examples = sorted((HERE.parent / "topologies").glob("*.topo"))
    rows = []
    if examples:
        loaded = [(p.name, topodsl.load(p)) for p in examples]
        name, topo = max(loaded, key=lambda nt: nt[1].num_nodes + nt[1].num_links)
        rows.append(measure(name, topo))
    for gpus in [int(a) for a in argv] or SIZES:
        topo = topodsl.loads(cluster_source(gpus), file=f"cluster{gpus}.topo")
        rows.append(measure(f"cluster{gpus}.topo", topo))
    print(
        f"{'topology':<22} {'components':>10} {'links':>9} {'view s':>7} {'dot s':>6} "
        f"{'layout s':>8} {'total s':>7} {'shapes':>6} {'edges':>5} {'depth':>5}"
    )
    for r in rows:
        print(
            f"{r['name']:<22} {r['components']:>10,} {r['links']:>9,} {r['view_s']:>7.2f} "
            f"{r['dot_s']:>6.2f} {r['layout_s']:>8.2f} {r['total_s']:>7.2f} {r['shapes']:>6} "
            f"{r['edges']:>5} {r['depth']:>5}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
