"""Turn a :class:`~topodsl.render.view.View` into DOT text: containers, boxes, edges, legend.

The DOT is written directly (no intermediate graph objects), with every box at the place
:mod:`topodsl.render.layout` chose for it. Labels say what each box is and holds, each edge
its link type, lanes and bandwidth per direction; the figure of a structure's links (a torus,
a ring, a mesh) is stated once beside it, per link. Every box and edge carries an SVG
``class`` (``box``, ``kind-gpu``, ``group``, ``cut``...) so tests and style sheets can find
them in the rendered SVG.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from ..errors import SolverError
from ..kinds import KINDS, ROLE_OF, ROLES
from ..natural import natural_sorted
from ..topology import Topology
from ..units import BANDWIDTH, SIZE, format_quantity
from .layout import (
    CAPTION_FONT_SIZE,
    CLUSTER_FONT_SIZE,
    EDGE_FONT_SIZE,
    FONT_SIZE,
    LABEL_H,
    LINE,
    Structure,
    box_size,
    layout_view,
    slide_fit,
    text_width,
)
from .style import CUT_COLOR, FONT, KIND_STYLE, UNTYPED_COLOR, link_colors
from .view import View

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

__all__ = ["Highlight", "resolve_highlight", "diagram_dot", "MAX_PLACED_SHAPES"]


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


def _edge_label(edge, cut_links: int, folded: bool = False) -> str:
    """Type ×lanes and bandwidth per direction summed over the edge's links; on an edge of an
    array drawn once (``folded``), also how many links and the figure of one:
    ``256 links × 50 GB/s``, or their range when they differ."""
    head = edge.type or "link"
    if edge.lanes != 1:
        head += f" ×{_num(edge.lanes)}"
    total = format_quantity(edge.bandwidth, BANDWIDTH)
    lines = [head, total]
    if folded and edge.links > 1:
        lo, hi = (format_quantity(x, BANDWIDTH) for x in edge.each_bandwidth)
        each = lo if lo == hi else f"{lo}–{hi}"
        lines[1] = f"{edge.links:,} links × {each}" + (f" = {total}" if lo == hi else "")
        if lo != hi:
            lines.append(f"{total} in all")
    if edge.internal:
        lines.insert(0, "between members")
    if cut_links:
        lines.append(
            f"cut: {cut_links:,} of {edge.links:,} link" + ("s" if edge.links != 1 else "")
        )
    return "\n".join(lines)


# -- per-link figures --------------------------------------------------------------------------


def _per_link(view: View, edges) -> str:
    """The figure of one link among ``edges`` (drawn edges): ``if_x16, 64 GB/s`` when every
    link they stand for is alike, else the range (``64–128 GB/s``)."""
    topo = view.topology
    rows = np.flatnonzero(np.isin(view.edge_of, np.asarray(list(edges), dtype=np.int64)))
    if len(rows) == 0:
        return ""
    L = topo.links
    bw, lanes = L.bandwidth[rows], L.lanes[rows]
    types = {view.edges[e].type or "untyped" for e in edges}
    head = "/".join(sorted(types))
    if (lanes == lanes[0]).all() and lanes[0] != 1:
        head += f" ×{_num(float(lanes[0]))}"
    lo, hi = float(bw.min()), float(bw.max())
    if math.isclose(lo, hi, rel_tol=1e-9):
        return f"{head}, {format_quantity(hi, BANDWIDTH)}"
    return f"{head}, {format_quantity(lo, BANDWIDTH)}–{format_quantity(hi, BANDWIDTH)}"


def _structure_note(view: View, s: Structure) -> str:
    n = len(s.members)
    if s.shape in ("torus", "grid"):
        what = f"{s.dims[0]} × {s.dims[1]} {'torus' if s.shape == 'torus' else 'mesh'}"
    else:
        what = f"ring of {n}" if s.shape == "ring" else f"full mesh of {n}"
    links = int(sum(view.edges[e].links for e in s.edges))
    line2 = f"{links:,} links, each {_per_link(view, s.edges)} per direction"
    if not s.chords:
        line2 += " (links not drawn)"
    return f"{what}\n{line2}"


def _internal_notes(view: View) -> dict[int, list[str]]:
    """Lines for each folded group whose members are linked among themselves: how many links
    and the figure of one (never their sum drawn as a loop, which no link carries)."""
    inner: dict[int, list[int]] = {}
    for k, e in enumerate(view.edges):
        if e.internal:
            inner.setdefault(e.tail, []).append(k)
    return {
        box: [
            f"among them: {int(sum(view.edges[k].links for k in edges)):,} links, "
            f"each {_per_link(view, edges)}"
        ]
        for box, edges in inner.items()
    }


# -- the DOT text ------------------------------------------------------------------------------

#: Views larger than this are written as plain DOT, without positions (for other tools).
MAX_PLACED_SHAPES = 2_000


# Control characters other than a newline, written as a visible escape: Graphviz stops reading a
# file at a NUL, and no name may end a quoted string early.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def _escape(text: str) -> str:
    r"""``text`` for the inside of a quoted DOT string: a backslash, a quote, a newline and
    control characters cannot end the string or act as Graphviz escapes (``\N``, ``\l``).

    >>> print(_escape('a"b\\N' + chr(0)))
    a\"b\\N\x00
    """
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _q(name: str) -> str:
    """A quoted DOT id or string: every name and label from a file goes through here."""
    return '"' + _escape(name) + '"'


def _q_lines(lines: list[str]) -> str:
    """Lines as one quoted DOT label, each left-justified (ended by Graphviz's ``\\l``)."""
    return '"' + "".join(_escape(t) + "\\l" for t in lines) + '"'


def _attrs(attrs: dict[str, str]) -> str:
    """``key="value", ...``: every value quoted (an HTML label is never built from here)."""
    return ", ".join(f"{k}={_q(v)}" for k, v in attrs.items())


def _free_name(name: str, taken: set[str]) -> str:
    """``name`` for a node of the picture itself (caption, legend, notes), unless a box of the
    topology has that key: a component may be called ``legend``."""
    while name in taken:
        name = "_" + name
    return name


def diagram_dot(
    view: View,
    highlight: Highlight | None = None,
    *,
    measure: Callable[[str], dict[str, tuple[float, float]]] | None = None,
) -> str:
    r"""The DOT text of ``view``, with ``highlight``'s cut in red when given.

    Boxes carry fixed positions (``pos``, points) chosen by :mod:`topodsl.render.layout`;
    Graphviz draws it with ``neato -n2`` (:func:`topodsl.render.graphviz.run_layout`), which
    keeps them and routes the edges. Every box and edge carries an SVG ``class`` (``box``,
    ``kind-gpu``, ``group``, ``link``, ``cut``...) so tests and style sheets can find them.
    Box sizes are estimated from Helvetica's metrics, or, with ``measure`` (such as
    :func:`topodsl.render.graphviz.measure_nodes`), taken from Graphviz itself.

    Examples
    --------
    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.render.view import build_view
    >>> b = TopologyBuilder()
    >>> _ = b.add_node("a", "gpu"); _ = b.add_node("b", "gpu")
    >>> _ = b.add_link("a", "b", bandwidth=450e9, type="nvlink4", lanes=18)
    >>> text = diagram_dot(build_view(b.build()))
    >>> text.startswith("graph topology {"), 'label="nvlink4 ×18\\n450 GB/s"' in text
    (True, True)
    """
    topo = view.topology
    cut_edge: Counter[int] = Counter()
    cut_box: Counter[int] = Counter()
    if highlight is not None:
        for e in view.edge_of[highlight.cut_links].tolist():
            if e >= 0:
                cut_edge[e] += 1
        for b in view.box_of[highlight.cut_devices].tolist():
            if b >= 0:
                cut_box[b] += 1

    inner = _internal_notes(view)
    labels = [_box_label(view, i) + inner.get(i, []) for i in range(len(view.boxes))]
    for i, n in cut_box.items():
        labels[i].append(f"cut: {n:,} device limits inside" if n > 1 else "cut: device limit")
    shapes = [
        "box3d" if box.form == "collapsed" else KIND_STYLE[box.kind].shape for box in view.boxes
    ]
    placed = view.num_shapes <= MAX_PLACED_SHAPES
    lay = None
    cluster_text = {
        row: _cluster_label(view, row, ROLE_OF[topo.kind_of(row)] != "container")
        for row in view.clusters
    }
    if placed:
        sizes = [box_size(lines, shape) for lines, shape in zip(labels, shapes, strict=True)]
        if measure is not None and view.boxes:
            nodes = [
                _box_dot(view, i, labels[i], shapes[i], i in cut_box, None, None)
                for i in range(len(view.boxes))
            ]
            measured = measure(
                "graph measure {\n"
                f'  node [fontname="{FONT}", fontsize="{FONT_SIZE:g}", style="filled", '
                'margin="0.08,0.04"];\n  ' + "\n  ".join(nodes) + "\n}\n"
            )
            sizes = [measured.get(box.key, sizes[i]) for i, box in enumerate(view.boxes)]
        lay = layout_view(view, sizes, {r: bool(t) for r, t in cluster_text.items()})

    caption = _caption_lines(view, highlight)
    caption_label = "<" + "".join(_html(t) + '<br align="left"/>' for t in caption) + ">"
    legend, legend_size = _legend(view, highlight is not None, lay)
    cw = max(text_width(t, CAPTION_FONT_SIZE) for t in caption)
    cap_h = len(caption) * CAPTION_FONT_SIZE * LINE + 12
    if lay is not None and measure is not None:
        sizes = measure(
            f'graph measure {{\n  node [fontname="{FONT}"];\n'
            f'  "caption" [shape=plaintext, fontsize="{CAPTION_FONT_SIZE:g}", '
            f"label={caption_label}];\n"
            f'  "legend" [shape=plaintext, label={legend}];\n}}\n'
        )
        cw, cap_h = sizes.get("caption", (cw, cap_h))
        legend_size = sizes.get("legend", legend_size)
    width = height = 0.0
    ox = oy = 0.0
    legend_at = (0.0, 0.0)
    if lay is not None:
        oy = cap_h + 12
        # The legend goes right of the drawing or below it, whichever keeps the whole
        # picture nearer 16:9.
        lw, lh = legend_size
        right = (lay.width + 30 + lw, oy + max(lay.height, lh))
        below = (max(lay.width, lw), oy + lay.height + 30 + lh)
        if slide_fit(*right) <= slide_fit(*below):
            legend_at = (lay.width + 30 + lw / 2, oy + lh / 2)
            width, height = right
        else:
            legend_at = (lw / 2, oy + lay.height + 30 + lh / 2)
            width, height = below
        width = max(width, cw + 10)

    def pt(x: float, y: float) -> str:
        return f"{x + ox:.1f},{height - (y + oy) + 0:.1f}"

    out = ["graph topology {"]
    out.append(
        "  // Boxes have fixed positions: draw with 'neato -n2' (topodsl render does)."
        if placed
        else "  // Too large to place: any Graphviz layout program can draw this."
    )
    graph_attrs = {
        "fontname": FONT,
        "outputorder": "edgesfirst",
        "pad": "0.3",
    }
    if placed:
        graph_attrs.update({"splines": "true", "bb": f"0,0,{width:.1f},{height:.1f}"})
    else:
        graph_attrs.update({"rankdir": "TB", "labelloc": "t", "labeljust": "l"})
    label = "" if placed else f", label={_q_lines(caption)}"
    out.append(f"  graph [{_attrs(graph_attrs)}{label}];")
    out.append(
        f'  node [fontname="{FONT}", fontsize="{FONT_SIZE:g}", style="filled", margin="0.08,0.04"];'
    )
    out.append(f'  edge [fontname="{FONT}", fontsize="{EDGE_FONT_SIZE:g}"];')
    keys = {box.key for box in view.boxes}
    if lay is not None:
        out.append(
            f'  {_q(_free_name("caption", keys))} [shape=plaintext, style="", '
            f'fontsize="{CAPTION_FONT_SIZE:g}", '
            f'label={caption_label}, pos="{pt(cw / 2 - ox, cap_h / 2 - oy)}", class="caption"];'
        )

    # Containers, nested as the containment is.
    children: dict[int, list[int]] = {}
    for row, parent in zip(view.clusters, view.cluster_parent, strict=True):
        children.setdefault(parent if parent in view.clusters else -1, []).append(row)
    box_lines: dict[int, list[str]] = {}
    for i, box in enumerate(view.boxes):
        box_lines.setdefault(box.cluster if box.cluster in view.clusters else -1, []).append(
            _box_dot(view, i, labels[i], shapes[i], i in cut_box, lay, pt)
        )

    def emit(row: int, indent: str) -> None:
        kind = topo.kind_of(row)
        style = KIND_STYLE[kind]
        device = ROLE_OF[kind] != "container"
        attrs = {
            "label": cluster_text[row],
            "style": "rounded,filled" if device else "filled",
            "fillcolor": _lighten(style.fill) if device else _container_fill(topo, row),
            "color": style.border,
            "fontname": FONT,
            "fontsize": f"{CLUSTER_FONT_SIZE:g}",
            "penwidth": "1" if device else "1.4",
            "labeljust": "l",
            "class": f"container kind-{kind}",
        }
        if lay is not None:
            x0, y0, x1, y1 = lay.clusters[row]
            attrs["bb"] = f"{pt(x0, y1)},{pt(x1, y0)}"
            if cluster_text[row]:
                tw = text_width(cluster_text[row], CLUSTER_FONT_SIZE)
                attrs["lp"] = pt(x0 + 8 + tw / 2, y0 + LABEL_H / 2 + 1)
        out.append(f"{indent}subgraph {_q('cluster_' + topo.nodes.ids[row])} {{")
        out.append(f"{indent}  graph [{_attrs(attrs)}];")
        for line in box_lines.get(row, []):
            out.append(indent + "  " + line)
        for child in children.get(row, []):
            emit(child, indent + "  ")
        out.append(f"{indent}}}")

    for line in box_lines.get(-1, []):
        out.append("  " + line)
    for row in children.get(-1, []):
        emit(row, "  ")

    # Structure notes (a torus's figure, once for all its links).
    if lay is not None:
        for k, (text, x, y) in enumerate(lay.notes):
            s = lay.structures[int(text.split(":")[1])]
            note = _structure_note(view, s)
            out.append(
                f'  {_q(_free_name(f"note:{k}", keys))} [shape=plaintext, style="", '
                f'margin="0.02,0.02", '
                f'fontsize="{EDGE_FONT_SIZE:g}", label={_q(note)}, pos="{pt(x, y)}", '
                f'class="note structure-{s.shape}"];'
            )

    colors = link_colors(topo.link_type_names)
    bws = [e.bandwidth for e in view.edges if e.bandwidth > 0]
    lo_bw, hi_bw = (min(bws), max(bws)) if bws else (1.0, 1.0)
    in_structure: set[int] = set()
    wrap_edges: set[int] = set()
    if lay is not None:
        for s in lay.structures:
            in_structure.update(s.edges)
            wrap_edges.update(s.wrap)
    labelled = _edges_to_label(view, in_structure)
    identical = set(view.identical)
    for i, e in enumerate(view.edges):
        if e.internal:
            continue  # stated in the group's box, never drawn as a loop
        attrs = {
            "color": colors.get(e.type, UNTYPED_COLOR) if e.type else UNTYPED_COLOR,
            "penwidth": f"{_width(e.bandwidth, lo_bw, hi_bw):.2f}",
            "class": "link" + (f" type-{e.type}" if e.type else ""),
        }
        text = labelled.get(i)
        if text is not None or i in cut_edge:
            folded = view.boxes[e.tail].key in identical or view.boxes[e.head].key in identical
            text = _edge_label(e, cut_edge.get(i, 0), folded) + (text or "")
            attrs["label"] = text
        if e.directed:
            attrs["dir"] = "forward"
        if lay is not None and i in lay.routes:
            route = lay.routes[i]
            attrs["pos"] = " ".join(pt(x, y) for x, y in route)
            if e.directed:
                # The curve stops short of the head box; Graphviz draws the arrowhead to it.
                tip, before = route[-1], route[-2]
                d = math.hypot(tip[0] - before[0], tip[1] - before[1]) or 1.0
                short = (
                    tip[0] - (tip[0] - before[0]) * 9 / d,
                    tip[1] - (tip[1] - before[1]) * 9 / d,
                )
                body = [*route[:-1], short]
                attrs["pos"] = f"e,{pt(*tip)} " + " ".join(pt(x, y) for x, y in body)
            if i in wrap_edges:
                attrs["style"] = "dashed"
            if "label" in attrs:
                pts = lay.routes[i]
                attrs["lp"] = pt(*_bezier_mid(pts))
        if i in cut_edge:
            attrs["color"] = CUT_COLOR
            attrs["penwidth"] = "4"
            attrs["fontcolor"] = CUT_COLOR
            attrs["class"] += " cut"
        tail, head = view.boxes[e.tail].key, view.boxes[e.head].key
        out.append(f"  {_q(tail)} -- {_q(head)} [{_attrs(attrs)}];")

    if lay is not None:
        out.append(
            f'  {_q(_free_name("legend", keys))} [shape=plaintext, style="", label={legend}, '
            f'pos="{pt(*legend_at)}", class="legend"];'
        )
    out.append("}")
    return "\n".join(out) + "\n"


def _bezier_mid(pts: list[tuple[float, float]]) -> tuple[float, float]:
    p0, p1, p2, p3 = pts[:4]
    return (
        0.125 * p0[0] + 0.375 * p1[0] + 0.375 * p2[0] + 0.125 * p3[0],
        0.125 * p0[1] + 0.375 * p1[1] + 0.375 * p2[1] + 0.125 * p3[1] - 8,
    )


def _box_dot(view, i, lines, shape, cut, lay, pt) -> str:
    box = view.boxes[i]
    style = KIND_STYLE[box.kind]
    attrs = {
        "label": "\n".join(lines),
        "shape": shape,
        "fillcolor": style.fill,
        "color": style.border,
        "class": f"box {box.form} kind-{box.kind}",
    }
    if box.form == "group":
        attrs["peripheries"] = "2"
    if cut:
        attrs["color"] = CUT_COLOR
        attrs["penwidth"] = "3"
        attrs["class"] += " cut"
    if lay is not None:
        x, y, w, h = lay.boxes[i]
        attrs["pos"] = pt(x, y)
        attrs["width"] = f"{w / 72:.3f}"
        attrs["height"] = f"{h / 72:.3f}"
        attrs["fixedsize"] = "true"  # the size it was placed at: no box grows into another
    return f"{_q(box.key)} [{_attrs(attrs)}];"


def _edges_to_label(view: View, skip: set[int]) -> dict[int, str]:
    """Which edges carry a label, and what it adds. Edges of one type and figure between two
    arrays (every leaf to every spine) are labelled once, on the first in natural order, with
    how many edges the label stands for; structure edges are labelled by the structure's note.
    Returns edge index -> text appended to the edge's own label."""
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(view.edges):
        if i in skip or e.internal:
            continue
        a = _array_of(view.boxes[e.tail].key)
        b = _array_of(view.boxes[e.head].key)
        key = (min(a, b), max(a, b), e.type, e.lanes, e.bandwidth, e.directed)
        groups.setdefault(key, []).append(i)
    out = {}
    for members in groups.values():
        if len(members) >= 3:
            out[members[0]] = f"\n(each of {len(members):,})"
        else:
            out.update({m: "" for m in members})
    return out


def _array_of(key: str) -> str:
    return re.sub(r"\d+$", "#", re.sub(r"\d+(?=\.)", "#", key))


def _html(text: str) -> str:
    """``text`` for an HTML-like label: markup characters as entities, control characters as
    a visible escape (Graphviz stops reading at a NUL)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _width(bw: float, lo: float, hi: float) -> float:
    if hi <= lo or bw <= 0:
        return 1.6
    return 1.2 + 2.8 * math.log(bw / lo) / math.log(hi / lo)


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


def _caption_lines(view: View, highlight: Highlight | None) -> list[str]:
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
    if view.identical:
        shown = ", ".join(view.identical[:2])
        more = f" and {len(view.identical) - 2:,} more" if len(view.identical) > 2 else ""
        what += f"; identical parts drawn once: {shown}{more}"
    if view.folded:
        shown = ", ".join(view.folded[:3])
        more = f" and {len(view.folded) - 3} more" if len(view.folded) > 3 else ""
        what += f"; folded arrays: {shown}{more}"
    lines.append(what)
    if highlight is not None:
        lines.append(highlight.caption)
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _legend(view: View, with_cut: bool, lay) -> tuple[str, tuple[float, float]]:
    """A compact legend (an HTML-like Graphviz label) and its size in points: the kinds drawn
    in their colours, beside the link types in theirs, then how to read edges and boxes."""
    kinds: list[str] = []
    for box in view.boxes:
        if box.kind not in kinds:
            kinds.append(box.kind)
    for c in view.clusters:
        k = view.topology.kind_of(c)
        if ROLE_OF[k] == "container" and k not in kinds:
            kinds.append(k)
    kinds.sort(key=lambda k: (KIND_STYLE[k].tier, k))
    colors = link_colors(view.topology.link_type_names)
    links = [(colors[t], t) for t in natural_sorted({e.type for e in view.edges if e.type})]
    if any(e.type is None for e in view.edges):
        links.append((UNTYPED_COLOR, "untyped"))
    if with_cut:
        links.append((CUT_COLOR, "limiting cut"))
    notes = ["edge label: type ×lanes, bandwidth", "per direction, summed over its links"]
    notes += ["3-D box: collapsed", "double border: an array drawn once"]
    if lay is not None and any(e in lay.routes for s in lay.structures for e in s.wrap):
        notes.append("dashed arc: wrap-around link")
    size = 12.0
    rows = []
    for i in range(max(len(kinds), len(links))):
        left = right = "<td></td>"
        if i < len(kinds):
            st = KIND_STYLE[kinds[i]]
            left = f'<td bgcolor="{st.fill}" border="1" color="{st.border}">{kinds[i]}</td>'
        if i < len(links):
            c, t = links[i]
            right = f'<td align="left"><font color="{c}">━━</font> {_html(t)}</td>'
        rows.append(f"<tr>{left}{right}</tr>")
    rows += [f'<tr><td colspan="2" align="left">{_html(n)}</td></tr>' for n in notes]
    label = (
        f'<<font point-size="{size:g}"><table border="0" cellspacing="2" cellpadding="2">'
        f'<tr><td colspan="2" align="left"><b>legend</b></td></tr>{"".join(rows)}</table></font>>'
    )
    kind_w = max((text_width(k, size) for k in kinds), default=30.0) + 14
    link_w = max((text_width("━━ " + t, size) for _, t in links), default=40.0) + 10
    width = max(kind_w + link_w, max(text_width(n, size) for n in notes) + 10)
    height = (len(rows) + 1) * (size * LINE + 4) + 8
    return label, (width, height)
