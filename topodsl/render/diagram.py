"""Turn a :class:`~topodsl.render.view.View` into a pydot graph: clusters, boxes, edges, legend.

Every box and edge carries an SVG ``class`` (``box``, ``kind-gpu``, ``group``, ``cut``...) so
tests and style sheets can find them in the rendered SVG.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import pydot

from ..errors import SolverError
from ..kinds import KINDS, ROLE_OF, ROLES
from ..topology import Topology
from ..units import BANDWIDTH, SIZE, format_quantity
from .style import CUT_COLOR, FONT, KIND_STYLE, UNTYPED_COLOR, link_colors
from .view import View

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

__all__ = ["Highlight", "resolve_highlight", "diagram_graph"]


@dataclass(frozen=True)
class Highlight:
    """A limiting cut to draw in red: link rows, device rows, and the caption that states it."""

    caption: str
    cut_links: np.ndarray
    cut_devices: np.ndarray


def resolve_highlight(topology: Topology, what: str) -> Highlight:
    """Compute the cut named by ``what``: ``"bisection"`` or ``"flow:SOURCES->SINKS"``.

    Sources and sinks are selectors (see :mod:`topodsl.select`).

    Raises
    ------
    SolverError
        An unknown highlight, a malformed or empty selection, or the solver's own errors.

    Examples
    --------
    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for name, kind in (("a", "gpu"), ("b", "switch"), ("c", "gpu")):
    ...     _ = b.add_node(name, kind)
    >>> _ = b.add_link("a", "b", bandwidth=100e9)
    >>> _ = b.add_link("b", "c", bandwidth=20e9)
    >>> h = resolve_highlight(b.build(), "flow:a->c")
    >>> h.caption
    'max flow a → c: 20 GB/s (direction a → c); limiting cut in red: 1 link'
    >>> h.cut_links.tolist()
    [1]
    """
    what = what.strip()
    if what == "bisection":
        return _bisection(topology)
    if what.startswith("flow:"):
        spec = what[len("flow:") :]
        if "->" not in spec:
            raise SolverError(
                f"cannot read highlight {what!r}: expected flow:SOURCES->SINKS, "
                "e.g. flow:kind:gpu->kind:ssd"
            )
        src_sel, dst_sel = (s.strip() for s in spec.split("->", 1))
        from ..solvers.flow import max_flow

        sources = _select(topology, src_sel, "source")
        sinks = _select(topology, dst_sel, "sink")
        r = max_flow(topology, sources, sinks)
        links, devices = _cut_rows(r.cut)
        caption = (
            f"max flow {src_sel} → {dst_sel}: {format_quantity(r.value, BANDWIDTH)} "
            f"(direction {src_sel} → {dst_sel}); limiting cut in red: {_cut_count(links, devices)}"
        )
        return Highlight(caption, links, devices)
    raise SolverError(f"unknown highlight {what!r}: expected 'bisection' or 'flow:SOURCES->SINKS'")


def _select(topology: Topology, selector: str, what: str) -> np.ndarray:
    rows = topology.select(selector)
    if len(rows) == 0:
        raise SolverError(f"the {what} selection {selector!r} matches no component")
    return rows


def _bisection(topology: Topology) -> Highlight:
    try:
        from ..solvers.bisection import bisection
    except ImportError:
        raise SolverError("the bisection solver is not available in this version") from None
    r = bisection(topology)
    links, devices = _cut_rows(r.cut)
    lo, hi = float(r.lower_bound), float(r.upper_bound)
    if math.isclose(lo, hi, rel_tol=1e-9):
        figure = f"bisection bandwidth {format_quantity(hi, BANDWIDTH)} per direction"
    else:
        figure = (
            f"bisection bandwidth between {format_quantity(lo, BANDWIDTH)} and "
            f"{format_quantity(hi, BANDWIDTH)} per direction"
        )
    return Highlight(
        f"{figure}; the cut in red ({_cut_count(links, devices)}) gives the upper bound",
        links,
        devices,
    )


def _cut_rows(cut) -> tuple[np.ndarray, np.ndarray]:
    links = sorted({int(c.row) for c in cut if c.element == "link"})
    devices = sorted({int(c.row) for c in cut if c.element == "device"})
    return np.array(links, dtype=np.int64), np.array(devices, dtype=np.int64)


def _cut_count(links: np.ndarray, devices: np.ndarray) -> str:
    parts = []
    if len(links):
        parts.append(f"{len(links):,} link" + ("s" if len(links) != 1 else ""))
    if len(devices):
        parts.append(f"{len(devices):,} device limit" + ("s" if len(devices) != 1 else ""))
    return " and ".join(parts) or "nothing"


# -- labels ------------------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.3g}"


def _descriptor(topology: Topology, row: int) -> str:
    """What a component is: its kind, and its definition's name (else its model, shortened)."""
    extra = topology.nodes.extra.get(row, {})
    t = int(topology.nodes.template[row])
    template = topology.templates[t] if 0 <= t < len(topology.templates) else None
    kind = topology.kind_of(row)
    if template is not None and not _IDENT.match(template):
        template = None  # an anonymous definition ("nic@file:38:5") has no name worth showing
    name = template or _short_model(extra.get("model"))
    return f"{kind} · {name}" if name and name != kind else kind


def _short_model(model: str | None) -> str | None:
    """A model name short enough for a box: up to the first comma or parenthesis, 24 chars.

    >>> _short_model("NVIDIA QM9700, 64 x NDR 400G")
    'NVIDIA QM9700'
    """
    if not model:
        return None
    short = re.split(r"[,(]", model, maxsplit=1)[0].strip() or model
    return short if len(short) <= 24 else short[:23].rstrip() + "…"


def _descriptor_line(topology: Topology, row: int, shown_name: str) -> list[str]:
    """The descriptor as a label line, left out when the name already says the kind."""
    text = _descriptor(topology, row)
    if text == topology.kind_of(row) and shown_name.startswith(text):
        return []
    return [text]


def _figures(topology: Topology, row: int) -> str:
    n = topology.nodes
    role = topology.role_of(row)
    parts = []
    if role in ("memory", "storage") and n.capacity[row] > 0:
        parts.append(format_quantity(float(n.capacity[row]), SIZE))
    if np.isfinite(n.bandwidth[row]):
        parts.append(format_quantity(float(n.bandwidth[row]), BANDWIDTH))
    if n.ports[row] >= 0:
        parts.append(f"{int(n.ports[row])} ports")
    return " · ".join(parts)


def _kind_rank(k: int) -> tuple[int, int]:
    role = ROLE_OF[KINDS[k]]
    return (-1 if role == "container" else ROLES.index(role), k)


# Containers first (how many servers), then compute, memory, storage, transit.
_KIND_ORDER = sorted(range(len(KINDS)), key=_kind_rank)


def _contents(topology: Topology, rows: np.ndarray, divide: int) -> list[str]:
    """Lines summarising what ``rows`` hold: counts by kind, memory by kind."""
    if len(rows) == 0:
        return []
    counts = np.bincount(topology.nodes.kind[rows], minlength=len(KINDS))
    each = divide > 1 and all(c % divide == 0 for c in counts)
    div = divide if each else 1
    items = [
        f"{_num(counts[k] // div)} {KINDS[k]}"
        for k in _KIND_ORDER
        if counts[k] and ROLE_OF[KINDS[k]] != "memory"
    ]
    mem = []
    cap = topology.nodes.capacity[rows]
    kinds = topology.nodes.kind[rows]
    for k in _KIND_ORDER:
        if counts[k] and ROLE_OF[KINDS[k]] == "memory":
            total = float(cap[kinds == k].sum()) / div
            mem.append(f"{format_quantity(total, SIZE)} {KINDS[k]}" if total else KINDS[k])
    lines = []
    prefix = "each: " if each else ("in all: " if divide > 1 else "")
    for i in range(0, len(items), 3):
        lines.append((prefix if i == 0 else "") + " · ".join(items[i : i + 3]))
    if mem:
        lines.append((prefix if not items else "") + " · ".join(mem))
    return lines


def _box_label(view: View, i: int) -> list[str]:
    topo = view.topology
    box = view.boxes[i]
    row = box.rows[0]
    in_cluster = box.cluster >= 0 and box.cluster in view.clusters
    name = box.name if in_cluster else box.key
    if box.form == "group":
        lines = [f"{name} ×{len(box.rows)}", *_descriptor_line(topo, row, name)]
        members = view.box_members[i]
        own = np.zeros(topo.num_nodes, dtype=bool)
        own[np.array(box.rows, dtype=np.int64)] = True
        inner = members[~own[members]]
        lines += _contents(topo, inner, len(box.rows))
        if not inner.size:
            fig = _figures(topo, row)
            if fig:
                lines.append("each: " + fig)
        return lines
    lines = [name, *_descriptor_line(topo, row, name)]
    if box.form == "collapsed":
        inner = view.box_members[i]
        inner = inner[inner != row]
        lines += _contents(topo, inner, 1)
    fig = _figures(topo, row)
    if fig:
        lines.append(fig)
    return lines


def _edge_label(edge, cut_links: int) -> str:
    head = edge.type or "link"
    if edge.lanes != 1:
        head += f" ×{_num(edge.lanes)}"
    lines = [head, format_quantity(edge.bandwidth, BANDWIDTH)]
    if edge.internal:
        lines.insert(0, "between members")
    if cut_links:
        lines.append(
            f"cut: {cut_links:,} of {edge.links:,} link" + ("s" if edge.links != 1 else "")
        )
    return "\n".join(lines)


# -- layout order ------------------------------------------------------------------------------


def _levels(view: View) -> list[int]:
    """Layout level of each box: 0 holds compute, -1 memory or storage only, transit boxes
    count hops from compute (the network is drawn above the servers, spines above leaves)."""
    topo = view.topology
    nb = len(view.boxes)
    roles = topo.role_codes
    compute, memory, storage = ROLES.index("compute"), ROLES.index("memory"), ROLES.index("storage")
    level = [None] * nb
    for i in range(nb):
        members = view.box_members[i]
        box = view.boxes[i]
        if box.form == "self":
            members = np.array(box.rows, dtype=np.int64)
        r = roles[members] if len(members) else np.zeros(0, dtype=np.uint8)
        if (r == compute).any():
            level[i] = 0
        elif ((r == memory) | (r == storage)).any() and not np.isin(
            r, [ROLES.index("transit")]
        ).any():
            level[i] = -1
    adj: list[list[int]] = [[] for _ in range(nb)]
    for e in view.edges:
        adj[e.tail].append(e.head)
        adj[e.head].append(e.tail)
    frontier = [i for i in range(nb) if level[i] == 0]
    dist = 0
    while frontier:
        dist += 1
        nxt = []
        for u in frontier:
            for w in adj[u]:
                if level[w] is None:
                    level[w] = dist
                    nxt.append(w)
        frontier = sorted(set(nxt))
    return [lv if lv is not None else 1 for lv in level]


# -- the graph ---------------------------------------------------------------------------------


def _q(name: str) -> str:
    """A quoted DOT id (pydot would treat a bare ``node`` or ``edge`` as a keyword)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def diagram_graph(view: View, highlight: Highlight | None = None) -> pydot.Dot:
    """Build the pydot graph of ``view``, with ``highlight``'s cut in red when given."""
    topo = view.topology
    g = pydot.Dot("topology", graph_type="graph", strict=False)
    g.set("rankdir", "TB")
    g.set("newrank", "true")
    g.set("compound", "true")
    g.set("nodesep", "0.25")
    g.set("ranksep", "0.55")
    g.set("fontname", FONT)
    g.set("fontsize", "12")
    g.set("labelloc", "t")
    g.set("labeljust", "l")
    g.set("label", _caption(view, highlight))
    g.set_node_defaults(fontname=FONT, fontsize="10", style="filled", margin="0.08,0.04")
    g.set_edge_defaults(fontname=FONT, fontsize="8")

    cut_edge: Counter[int] = Counter()
    cut_box: Counter[int] = Counter()
    if highlight is not None:
        for e in view.edge_of[highlight.cut_links].tolist():
            if e >= 0:
                cut_edge[e] += 1
        for b in view.box_of[highlight.cut_devices].tolist():
            if b >= 0:
                cut_box[b] += 1

    # Clusters, nested as the containment is.
    parents = {}
    clusters: dict[int, pydot.Subgraph] = {}
    for row, parent in zip(view.clusters, view.cluster_parent, strict=True):
        kind = topo.kind_of(row)
        style = KIND_STYLE[kind]
        device = ROLE_OF[kind] != "container"
        sub = pydot.Cluster(
            topo.nodes.ids[row],
            label=_cluster_label(view, row, device),
            style="rounded,filled" if device else "filled",
            fillcolor=_lighten(style.fill) if device else _container_fill(topo, row),
            color=style.border,
            fontname=FONT,
            fontsize="10" if device else "11",
            penwidth="1" if device else "1.4",
            labeljust="l",
        )
        sub.set("class", f"container kind-{kind}")
        clusters[row] = sub
        parents[row] = parent
    for row in view.clusters:
        parent = parents[row]
        (clusters.get(parent, g)).add_subgraph(clusters[row])

    for i, box in enumerate(view.boxes):
        kind = box.kind
        style = KIND_STYLE[kind]
        attrs = {
            "label": "\n".join(_box_label(view, i)),
            "shape": style.shape,
            "fillcolor": style.fill,
            "color": style.border,
            "class": f"box {box.form} kind-{kind}",
        }
        if box.form == "collapsed":
            attrs["shape"] = "box3d"
        if box.form == "group":
            attrs["peripheries"] = "2"
        if i in cut_box:
            attrs["color"] = CUT_COLOR
            attrs["penwidth"] = "3"
            attrs["class"] += " cut"
            n = cut_box[i]
            attrs["label"] += (
                f"\ncut: {n:,} device limits inside" if n > 1 else "\ncut: device limit"
            )
        node = pydot.Node(_q(box.key), **attrs)
        target = clusters.get(box.cluster, g)
        target.add_node(node)

    levels = _levels(view)
    colors = link_colors(topo.link_type_names)
    bws = [e.bandwidth for e in view.edges if e.bandwidth > 0]
    lo_bw, hi_bw = (min(bws), max(bws)) if bws else (1.0, 1.0)
    meshes = _meshes(view)
    in_mesh = {i for m in meshes for i in m.edges}
    for i, e in enumerate(view.edges):
        if i in in_mesh:
            continue
        tail, head = e.tail, e.head
        a, b = view.boxes[tail], view.boxes[head]
        key_t = (levels[tail], -KIND_STYLE[a.kind].tier)
        key_h = (levels[head], -KIND_STYLE[b.kind].tier)
        attrs = {
            "label": _edge_label(e, cut_edge.get(i, 0)),
            "color": colors.get(e.type, UNTYPED_COLOR) if e.type else UNTYPED_COLOR,
            "penwidth": f"{_width(e.bandwidth, lo_bw, hi_bw):.2f}",
            "class": "link" + (f" type-{e.type}" if e.type else ""),
        }
        if e.directed:
            attrs["dir"] = "forward"
            if key_t < key_h:
                attrs["dir"] = "back"
                tail, head = head, tail
        elif key_t < key_h:
            tail, head = head, tail
        if key_t == key_h and a.cluster == b.cluster and "self" not in (a.form, b.form):
            # Peers (a ring of switches, two CPU sockets) side by side, not stacked. Only
            # within one cluster: across nested clusters Graphviz 2.43 can lose such edges.
            attrs["constraint"] = "false"
        if i in cut_edge:
            _mark_cut(attrs)
        g.add_edge(pydot.Edge(_q(view.boxes[tail].key), _q(view.boxes[head].key), **attrs))
    for mesh in meshes:
        _draw_mesh(g, view, mesh, clusters, colors, cut_edge, lo_bw, hi_bw)

    _add_legend(g, view, colors, highlight is not None, bool(meshes))
    return g


def _mark_cut(attrs: dict) -> None:
    attrs["color"] = CUT_COLOR
    attrs["penwidth"] = "4"
    attrs["fontcolor"] = CUT_COLOR
    attrs["class"] += " cut"


@dataclass(frozen=True)
class _Mesh:
    """A full mesh: every pair of ``members`` (box indices) joined by ``type`` edges."""

    type: str
    members: tuple[int, ...]
    edges: tuple[int, ...]


#: A complete graph on this many boxes or more is drawn as a hub with one spoke per member.
MESH_MIN = 4


def _meshes(view: View) -> list[_Mesh]:
    """Full meshes among the drawn edges: for each link type, each connected component of its
    undirected edges that is a complete graph of at least :data:`MESH_MIN` boxes."""
    by_type: dict[str, list[int]] = {}
    for i, e in enumerate(view.edges):
        if e.type and not e.directed and not e.internal:
            by_type.setdefault(e.type, []).append(i)
    meshes = []
    for t in sorted(by_type):
        adj: dict[int, set[int]] = {}
        for i in by_type[t]:
            e = view.edges[i]
            adj.setdefault(e.tail, set()).add(e.head)
            adj.setdefault(e.head, set()).add(e.tail)
        seen: set[int] = set()
        for start in sorted(adj):
            if start in seen:
                continue
            comp, stack = set(), [start]
            while stack:
                u = stack.pop()
                if u not in comp:
                    comp.add(u)
                    stack.extend(adj[u] - comp)
            seen |= comp
            k = len(comp)
            if k < MESH_MIN or any(len(adj[u]) != k - 1 for u in comp):
                continue
            edges = tuple(i for i in by_type[t] if view.edges[i].tail in comp)
            meshes.append(_Mesh(t, tuple(sorted(comp)), edges))
    return meshes


def _draw_mesh(g, view, mesh, clusters, colors, cut_edge, lo_bw, hi_bw) -> None:
    """Draw ``mesh`` as a hub node with one spoke per member, labelled with the member's
    links into the mesh (lanes and bandwidth per direction summed)."""
    topo = view.topology
    hub = _q(f"mesh:{mesh.type}:{view.boxes[mesh.members[0]].key}")
    k = len(mesh.members)
    # The hub goes in the innermost cluster holding every member.
    chains = []
    for b in mesh.members:
        chain, c = [], view.boxes[b].cluster
        while c >= 0:
            chain.append(c)
            c = int(topo.nodes.parent[c])
        chains.append(chain[::-1])
    common = -1
    for level in zip(*chains, strict=False):
        if len(set(level)) != 1:
            break
        common = level[0]
    color = colors.get(mesh.type, UNTYPED_COLOR)
    (clusters.get(common, g)).add_node(
        pydot.Node(
            hub,
            label=f"full mesh\n{mesh.type}\n{k} × {k - 1} links",
            shape="ellipse",
            style="dashed",
            color=color,
            fontsize="9",
            **{"class": f"mesh type-{mesh.type}"},
        )
    )
    for b in mesh.members:
        mine = [i for i in mesh.edges if b in (view.edges[i].tail, view.edges[i].head)]
        lanes = sum(view.edges[i].lanes for i in mine)
        bw = sum(view.edges[i].bandwidth for i in mine)
        cut = sum(cut_edge.get(i, 0) for i in mine)
        label = f"{mesh.type} ×{_num(lanes)}\n{format_quantity(bw, BANDWIDTH)}"
        if cut:
            label += f"\ncut: {cut:,} link" + ("s" if cut != 1 else "")
        attrs = {
            "label": label,
            "color": color,
            "penwidth": f"{_width(bw / max(len(mine), 1), lo_bw, hi_bw):.2f}",
            "class": f"link type-{mesh.type}",
        }
        if cut:
            _mark_cut(attrs)
        g.add_edge(pydot.Edge(hub, _q(view.boxes[b].key), **attrs))


def _width(bw: float, lo: float, hi: float) -> float:
    if hi <= lo or bw <= 0:
        return 1.2
    return 1.0 + 2.5 * math.log(bw / lo) / math.log(hi / lo)


def _lighten(color: str) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    r, g, b = (int(c + (255 - c) * 0.55) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def _container_fill(topology: Topology, row: int) -> str:
    # Alternate shades by depth so nested containers stay distinguishable.
    return ("#fafafa", "#f0f0f0", "#fafafa", "#f4f4f4")[int(topology.depth[row]) % 4]


def _cluster_label(view: View, row: int, device: bool) -> str:
    topo = view.topology
    ids = topo.nodes.ids
    parent = int(topo.nodes.parent[row])
    name = ids[row] if parent < 0 or parent not in view.clusters else ids[row].rpartition(".")[2]
    if device:
        return ""  # the device's own box inside the cluster says what it is
    return f"{name} ({_descriptor(topo, row)})"


def _caption(view: View, highlight: Highlight | None) -> str:
    topo = view.topology
    source = PurePath(topo.source).name or topo.source
    lines = [f"{source}: {_plural(topo.num_nodes, 'component')}, {_plural(topo.num_links, 'link')}"]
    if view.focus is not None:
        what = (
            f"focus on {topo.nodes.ids[view.focus]}; outside it only linked components, collapsed"
        )
    elif view.depth is None:
        what = "full detail"
    else:
        what = f"collapsed below depth {view.depth}"
    if view.auto and view.depth is not None:
        what += f" (chosen automatically: full detail is {view.full_shapes:,} shapes)"
    if view.folded:
        shown = ", ".join(view.folded[:3])
        more = f" and {len(view.folded) - 3} more" if len(view.folded) > 3 else ""
        what += f"; folded arrays: {shown}{more}"
    lines.append(what)
    if highlight is not None:
        lines.append(highlight.caption)
    # "\l" ends a left-justified line in Graphviz.
    return "".join(line + "\\l" for line in lines)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _add_legend(
    g: pydot.Dot, view: View, colors: dict[str, str], with_cut: bool, with_mesh: bool
) -> None:
    leg = pydot.Cluster(
        "legend", label="legend", style="rounded", color="#bdbdbd", fontname=FONT, fontsize="10"
    )
    leg.set("class", "legend")
    kinds: dict[str, str] = {}
    for box in view.boxes:
        shape = "box3d" if box.form == "collapsed" else KIND_STYLE[box.kind].shape
        kinds.setdefault(box.kind, shape)
    for c in view.clusters:
        k = view.topology.kind_of(c)
        if ROLE_OF[k] == "container":
            kinds.setdefault(k, "box3d")
    order = sorted(kinds, key=lambda k: (KIND_STYLE[k].tier, k))
    names = []
    for k in order:
        style = KIND_STYLE[k]
        name = _q(f"legend:{k}")
        names.append(name)
        leg.add_node(
            pydot.Node(
                name,
                label=k,
                shape=kinds[k],
                fillcolor=style.fill,
                color=style.border,
                fontsize="9",
            )
        )
    types = sorted({e.type for e in view.edges if e.type})
    rows = "".join(
        f'<tr><td align="left"><font color="{colors[t]}">━━━</font> {t}</td></tr>' for t in types
    )
    if any(e.type is None for e in view.edges):
        rows += f'<tr><td align="left"><font color="{UNTYPED_COLOR}">━━━</font> untyped</td></tr>'
    if with_cut:
        rows += f'<tr><td align="left"><font color="{CUT_COLOR}">━━━</font> limiting cut</td></tr>'
    note = (
        '<tr><td align="left">edge label: type ×lanes, bandwidth per direction</td></tr>'
        '<tr><td align="left">(summed over every link the edge stands for)</td></tr>'
        '<tr><td align="left">3-D box: collapsed; double border: folded array</td></tr>'
    )
    if with_mesh:
        note += '<tr><td align="left">dashed ellipse: full mesh, one spoke per member</td></tr>'
    label = f'<<table border="0" cellspacing="0" cellpadding="1">{rows}{note}</table>>'
    links_name = _q("legend:links")
    leg.add_node(pydot.Node(links_name, label=label, shape="plaintext", style="", fontsize="9"))
    names.append(links_name)
    same = pydot.Subgraph(rank="same")
    for n in names:
        same.add_node(pydot.Node(n))
    leg.add_subgraph(same)
    for a, b in zip(names, names[1:], strict=False):
        leg.add_edge(pydot.Edge(a, b, style="invis"))
    g.add_subgraph(leg)
