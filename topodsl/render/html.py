"""The interactive view: one self-contained HTML file to explore a topology in a browser.

``topodsl render FILE -o view.html`` writes a page that needs no network access: the graph
drawing library, `vis-network <https://visjs.github.io/vis-network/>`_, is read from the
installed ``pyvis`` package (which ships it) and inlined, with the topology as JSON beside it.
In the page:

* the hierarchy starts collapsed (the top level, or the children of a single top-level
  container); **click** a container to expand it into its parts (it stays as a small node
  joined to them by dashed lines) and click it again to collapse it;
* links between what is shown are aggregated as in the static diagrams: one edge per pair of
  shown nodes and link type, labelled with the lanes and the bandwidth per direction;
* **hovering** a component shows its kind, definition and attributes in units; hovering an
  edge shows the links it stands for (count, lanes, bandwidth per direction, latency);
* ``--highlight bisection`` or ``flow:SOURCES->SINKS`` marks the limiting cut in red, with its
  figure in the header (an edge holding cut links says how many);
* the **search** box finds components by name: the first match is expanded to, selected and
  centred, the others listed.

A very large topology is embedded down to the deepest containment depth that keeps the page
small (:data:`MAX_EMBEDDED` components); deeper parts are folded into their ancestors, and the
header says so. The same topology and options always give the same bytes.

Examples
--------
>>> import tempfile, pathlib
>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder("demo.topo")
>>> _ = b.add_node("srv", "node"); _ = b.add_node("srv.gpu0", "gpu", parent="srv")
>>> _ = b.add_node("srv.gpu1", "gpu", parent="srv")
>>> _ = b.add_link("srv.gpu0", "srv.gpu1", bandwidth=450e9, type="nvlink4", lanes=18)
>>> out = pathlib.Path(tempfile.mkdtemp()) / "view.html"
>>> data = page_data(b.build())
>>> [n["id"] for n in data["nodes"]], data["links"]
(['srv', 'srv.gpu0', 'srv.gpu1'], [[1, 2, 0, 1, 18.0, 450000000000.0, 0]])
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path, PurePath

import numpy as np

from ..errors import SolverError
from ..natural import natural_key
from ..topology import Topology
from ..units import BANDWIDTH, SIZE, TIME, format_quantity
from .diagram import Highlight, _descriptor, resolve_highlight
from .graphviz import RenderError
from .style import CUT_COLOR, KIND_STYLE, UNTYPED_COLOR, link_colors
from .view import View, build_view

__all__ = [
    "write_html",
    "page_data",
    "vis_network_source",
    "component_info",
    "link_type_info",
    "MAX_EMBEDDED",
]

#: At most this many components are embedded; deeper levels are folded into their ancestors.
MAX_EMBEDDED = 40_000

_INSTALL = "install it with: pip install 'topodsl[html]'"


def vis_network_source() -> tuple[str, str]:
    """The vis-network JavaScript and CSS shipped by the installed ``pyvis`` package.

    Raises
    ------
    RenderError
        pyvis is not installed (the message says how to install it).
    """
    try:
        lib = resources.files("pyvis") / "lib"
    except ModuleNotFoundError:
        raise RenderError(
            f"the HTML view needs the pyvis package, which ships vis-network; {_INSTALL}"
        ) from None
    versions = sorted(
        (p for p in lib.iterdir() if p.name.startswith("vis-")),
        key=lambda p: natural_key(p.name),
    )
    for folder in reversed(versions):
        js, css = folder / "vis-network.min.js", folder / "vis-network.css"
        if js.is_file() and css.is_file():
            return js.read_text(encoding="utf-8"), css.read_text(encoding="utf-8")
    raise RenderError(f"the installed pyvis package holds no vis-network library; {_INSTALL}")


def page_data(
    topology: Topology,
    *,
    highlight: Highlight | None = None,
    max_embedded: int = MAX_EMBEDDED,
) -> dict:
    """The JSON the page is built from: components, aggregated links, link types, the cut.

    ``nodes`` lists the embedded components in natural order of their ids, parents first
    (``parent`` is an index into the list, -1 at the top level); ``links`` holds
    ``[a, b, type, links, lanes, bandwidth, cut]`` for each pair of embedded components and
    link type (bandwidth summed, B/s per direction; ``cut`` counts cut links inside).
    """
    n = topology.nodes
    depth = topology.depth.astype(np.int64)
    max_depth = int(depth.max()) if topology.num_nodes else 0
    counts = np.cumsum(np.bincount(depth, minlength=max_depth + 1))
    keep_depth = max_depth
    while keep_depth > 0 and counts[keep_depth] > max_embedded:
        keep_depth -= 1
    view = build_view(topology, depth=keep_depth if keep_depth < max_depth else None, fold=False)
    rows = _embedded_rows(topology, view, keep_depth)
    index = np.full(topology.num_nodes, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    # Every component maps to its deepest embedded ancestor (itself when embedded).
    rep = np.arange(topology.num_nodes, dtype=np.int64)
    parent = n.parent.astype(np.int64)
    while True:
        lost = (index[rep] < 0) & (rep >= 0)
        if not lost.any():
            break
        rep[lost] = parent[rep[lost]]
    infos: dict[str, int] = {}
    nodes = []
    for r in rows.tolist():
        text = component_info(topology, int(r))
        nodes.append(
            {
                "id": n.ids[r],
                "parent": int(index[parent[r]]) if parent[r] >= 0 else -1,
                "kind": topology.kind_of(int(r)),
                "info": infos.setdefault(text, len(infos)),
                "hidden": int(((parent == r) & (index < 0)).sum()) if keep_depth < max_depth else 0,
            }
        )
    L = topology.links
    a, b = index[rep[L.src]], index[rep[L.dst]]
    ok = (a >= 0) & (b >= 0) & (a != b)
    lo, hi = np.minimum(a, b)[ok], np.maximum(a, b)[ok]
    t = L.type.astype(np.int64)[ok]
    t = np.where(t < 0, len(topology.link_type_names), t)  # untyped: the last entry of types
    cut = np.zeros(topology.num_links, dtype=np.int64)
    if highlight is not None and len(highlight.cut_links):
        cut[highlight.cut_links] = 1
    links = []
    if ok.any():
        keys = np.stack([lo, hi, t])
        uniq, inverse = np.unique(keys, axis=1, return_inverse=True)
        inverse = inverse.reshape(-1)
        count = np.bincount(inverse, minlength=uniq.shape[1])
        lanes = np.bincount(inverse, weights=L.lanes[ok], minlength=uniq.shape[1])
        bw = np.bincount(inverse, weights=L.bandwidth[ok], minlength=uniq.shape[1])
        cuts = np.bincount(inverse, weights=cut[ok], minlength=uniq.shape[1])
        for k in range(uniq.shape[1]):
            links.append(
                [
                    int(uniq[0, k]),
                    int(uniq[1, k]),
                    int(uniq[2, k]),
                    int(count[k]),
                    float(lanes[k]),
                    float(bw[k]),
                    int(cuts[k]),
                ]
            )
    cut_devices = []
    if highlight is not None and len(highlight.cut_devices):
        cut_devices = sorted({int(index[rep[r]]) for r in highlight.cut_devices.tolist()})
    colors = link_colors(topology.link_type_names)
    types = [
        {
            "name": name,
            "color": colors.get(name, UNTYPED_COLOR),
            "info": link_type_info(topology, i),
        }
        for i, name in enumerate(topology.link_type_names)
    ]
    types.append({"name": "untyped", "color": UNTYPED_COLOR, "info": "bandwidth as connected"})
    source = PurePath(topology.source).name or topology.source
    return {
        "title": source,
        "summary": f"{topology.num_nodes:,} components, {topology.num_links:,} links",
        "folded_below": keep_depth if keep_depth < max_depth else None,
        "nodes": nodes,
        "infos": list(infos),
        "links": links,
        "types": types,
        "kinds": {k: [s.fill, s.border] for k, s in KIND_STYLE.items()},
        "cut": {
            "caption": highlight.caption if highlight is not None else None,
            "devices": cut_devices,
            "color": CUT_COLOR,
        },
    }


def _embedded_rows(topology: Topology, view: View, keep_depth: int) -> np.ndarray:
    rows = np.flatnonzero(topology.depth <= keep_depth)
    order = sorted(rows.tolist(), key=lambda r: natural_key(topology.nodes.ids[r]))
    return np.array(order, dtype=np.int64)


def component_info(topology: Topology, row: int) -> str:
    """The hover text of a component, without its id: kind, definition, attributes in units."""
    n = topology.nodes
    lines = [_descriptor(topology, row)]
    model = n.extra.get(row, {}).get("model")
    if model:
        lines.append(f"model: {model}")
    figures = (
        ("bandwidth", n.bandwidth[row], BANDWIDTH),
        ("read bandwidth", n.read_bandwidth[row], BANDWIDTH),
        ("write bandwidth", n.write_bandwidth[row], BANDWIDTH),
    )
    for name, value, dim in figures:
        if np.isfinite(value):
            lines.append(f"{name}: {format_quantity(float(value), dim)}")
    if n.capacity[row] > 0:
        lines.append(f"capacity: {format_quantity(float(n.capacity[row]), SIZE)}")
    if n.latency[row] > 0:
        lines.append(f"latency: {format_quantity(float(n.latency[row]), TIME)}")
    if n.ports[row] >= 0:
        lines.append(f"ports: {int(n.ports[row])}")
    return "\n".join(lines)


def link_type_info(topology: Topology, t: int) -> str:
    """A link type's figures: its declared bandwidth per lane and latency, else the median of
    its links."""
    name = topology.link_type_names[t]
    declared = topology.link_types.get(name)
    if declared is not None:
        bw, lat, model = declared.bandwidth, declared.latency, declared.model
    else:
        rows = np.flatnonzero(topology.links.type == t)
        if len(rows) == 0:
            return ""
        lanes = np.maximum(topology.links.lanes[rows], 1e-300)
        bw = float(np.median(topology.links.bandwidth[rows] / lanes))
        lat, model = float(np.median(topology.links.latency[rows])), None
    parts = [f"{format_quantity(bw, BANDWIDTH)} per lane per direction"]
    if lat > 0:
        parts.append(f"latency {format_quantity(lat, TIME)}")
    if model:
        parts.append(model)
    return ", ".join(parts)


def write_html(
    topology: Topology,
    out_path: str | Path,
    *,
    depth: int | None = None,
    focus: str | None = None,
    highlight: str | None = None,
) -> View:
    """Write the interactive view of ``topology`` to ``out_path`` (one self-contained file).

    ``depth`` expands containers down to that depth at load (default: the top level, or the
    children of a single top-level container); ``focus`` expands the way to one component and
    selects it; ``highlight`` is ``"bisection"`` or ``"flow:SOURCES->SINKS"`` as for the
    static diagrams. Returns the :class:`View` of the same options (what a static diagram
    would draw), for the caller's summary.

    Raises
    ------
    RenderError
        pyvis is not installed, or the file cannot be written.
    SolverError
        A bad focus, depth or highlight.
    """
    js, css = vis_network_source()
    mark = resolve_highlight(topology, highlight) if highlight else None
    if depth is not None and depth < 0:
        raise SolverError(f"depth must be 0 or more, got {depth}")
    if focus is not None and focus not in topology:
        build_view(topology, focus=focus)  # raises with suggestions
    data = page_data(topology, highlight=mark)
    data["start"] = {"depth": depth, "focus": focus}
    payload = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Each piece goes in by one replace, in this order, so text inside the data (a component
    # named "@APP@") is never taken for a placeholder.
    page = _static("view.html")
    for mark, text in (
        ("@TITLE@", html.escape(f"{data['title']} · topodsl")),
        ("@CSS@", css.replace("</", "<\\/")),
        ("@APPCSS@", _static("view.css")),
        ("@VIS@", js.replace("</script", "<\\/script")),
        ("@APP@", _static("view.js")),
        ("@DATA@", payload.replace("</", "<\\/")),
    ):
        page = page.replace(mark, text, 1)
    out = Path(out_path)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as e:
        raise RenderError(f"cannot write {out}: {e.strerror or e}") from None
    return build_view(topology, depth=depth, focus=focus)


def _static(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")
