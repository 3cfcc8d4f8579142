"""Where every box of a diagram goes: tiers, grids, rings and racks, in a slide's proportions.

Graphviz's ``dot`` ranks a graph by its edges, which turns a 4 x 4 torus into one row of
sixteen boxes with arcs piled above it and an 8-server cluster into a long strip. This module
places the boxes itself, by the structure the topology was built with, and hands Graphviz
(``neato -n2``) fixed positions, so Graphviz only routes the remaining edges and draws:

* **tiers** — inside each container, boxes are stacked in rows by their distance from compute:
  the network on top (spines above leaves), then NICs and PCIe switches, compute, and memory
  and storage at the bottom (the levels of :func:`levels`);
* **arrays in order** — siblings are placed in natural order (``node2`` before ``node10``);
* **structures** — an array of siblings whose links form a 2-D grid or torus is placed as a
  grid (wrap-around links drawn as arcs outside it), a ring as a circle, and a full mesh as a
  circle with every chord; their links, when alike, are labelled once for the structure
  ("4 × 4 torus · every link ici ×2, 100 GB/s") instead of once per edge;
* **proportions** — a row longer than the container's target width wraps onto further lines,
  the target chosen so each container comes out near 16:9.

Sizes are in points (1/72 in) and y grows downwards; :mod:`topodsl.render.diagram` converts.
Box sizes are estimated from the label text with Helvetica's metrics (Liberation Sans, which
Graphviz uses for Helvetica on Linux, has the same widths), so no Graphviz run is needed to
place them and the ``.dot`` output is the same with or without Graphviz.

Examples
--------
>>> text_width("node0", 12.0)
33.36
>>> _grid_shape(16, [(i, (i + 1) % 4 + i // 4 * 4) for i in range(16)]
...             + [(i, (i + 4) % 16) for i in range(16)])
(4, 4, True)
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..kinds import ROLES
from ..natural import natural_key
from .view import View

__all__ = [
    "Structure",
    "DiagramLayout",
    "layout_view",
    "levels",
    "text_width",
    "FONT_SIZE",
    "ASPECT",
    "SLIDE_WIDTH",
    "slide_fit",
]

#: Target width / height of a diagram and of each container in it: a 16:9 slide.
ASPECT = 16 / 9
#: The widest a diagram should be (points) so that, shown on a slide, its text stays readable.
SLIDE_WIDTH = 1400.0
#: Font sizes (points) of box labels, edge labels, container labels and the caption.
FONT_SIZE = 14.0
EDGE_FONT_SIZE = 12.0
CLUSTER_FONT_SIZE = 14.0
CAPTION_FONT_SIZE = 18.0
LINE = 1.22  # line height / font size

GAP_X = 22.0  # between boxes of one row
GAP_LINE = 34.0  # between wrapped lines of one row
GAP_TIER = 64.0  # between tiers: room for edge labels
PAD = 12.0  # inside a container
LABEL_H = CLUSTER_FONT_SIZE * LINE + 6.0  # a container's label
GRID_GAP_X = 64.0  # between the columns of a grid: room for wrap-around arcs
GRID_GAP_Y = 60.0
MESH_CHORDS_MAX = 16  # a full mesh larger than this is placed as a circle, chords left out
_TOP = 1 << 30  # the tier of a container's own box: above every other

# Helvetica widths per 1000 em for ASCII 32..126 (Adobe's core-font metrics).
_HELVETICA = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
)  # fmt: skip
_OTHER = {"×": 584, "·": 278, "→": 1000, "…": 1000, "━": 1000, "µ": 556}

#: How much wider and taller than its label each shape is drawn (Graphviz fits the label
#: inside the polygon, so octagons and hexagons need room at their corners).
_SHAPE_PAD = {
    "octagon": (1.6, 1.35),
    "hexagon": (1.5, 1.3),
    "cds": (1.25, 1.1),
    "cylinder": (1.08, 1.4),
    "component": (1.15, 1.1),
    "box3d": (1.06, 1.1),
}


def slide_fit(width: float, height: float) -> float:
    """How far a ``width`` x ``height`` (points) picture is from one that reads on a slide:
    0 for 16:9 at most :data:`SLIDE_WIDTH` wide; grows with the log of the aspect ratio's
    distance from 16:9 and, twice as fast, with the log of the excess width (a wide picture
    shrunk onto a slide has text too small to read).

    >>> slide_fit(1280, 720), round(slide_fit(2560, 720), 2), round(slide_fit(2560, 1440), 2)
    (0.0, 1.9, 1.21)
    """
    off = abs(math.log(max(width, 1.0) / max(height, 1.0) / ASPECT))
    return off + 2 * max(0.0, math.log(max(width, 1.0) / SLIDE_WIDTH))


def text_width(line: str, size: float) -> float:
    """Width in points of ``line`` set in Helvetica at ``size`` points.

    >>> text_width("iiii", 10.0) < text_width("MMMM", 10.0)
    True
    """
    total = 0
    for ch in line:
        o = ord(ch)
        total += _HELVETICA[o - 32] if 32 <= o < 127 else _OTHER.get(ch, 600)
    return round(total * size / 1000.0, 2)


def box_size(lines: list[str], shape: str, size: float = FONT_SIZE) -> tuple[float, float]:
    """Width and height (points) of a box drawn with ``shape`` around ``lines``."""
    w = max((text_width(s, size) for s in lines), default=0.0) + 16.0
    h = len(lines) * size * LINE + 10.0
    fw, fh = _SHAPE_PAD.get(shape, (1.0, 1.0))
    return max(w * fw, 40.0), max(h * fh, 30.0)


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Structure:
    """An array of siblings placed by the shape of its links.

    ``shape`` is ``"grid"``, ``"torus"``, ``"ring"`` or ``"mesh"``; ``dims`` the grid's rows
    and columns (or the member count); ``members`` the items in place order; ``edges`` the
    drawn edges among them, whose routes the layout gives; ``wrap`` those drawn as arcs
    (a torus's wrap-around links).
    """

    shape: str
    dims: tuple[int, ...]
    type: str
    members: tuple[int, ...]
    edges: tuple[int, ...]
    wrap: tuple[int, ...] = ()
    chords: bool = True


@dataclass
class DiagramLayout:
    """Positions of a view's boxes (centre x, y and size, points, y down), its containers'
    rectangles, fixed routes of some edges (Bezier control points), and the structures found.
    ``width`` and ``height`` enclose everything; ``notes`` are text lines placed on the
    drawing (a structure's figure), each ``(text, x, y)``."""

    boxes: list[tuple[float, float, float, float]]
    clusters: dict[int, tuple[float, float, float, float]]
    routes: dict[int, list[tuple[float, float]]]
    structures: list[Structure]
    notes: list[tuple[str, float, float]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


# -- levels ------------------------------------------------------------------------------------


def levels(view: View) -> list[float]:
    """Layout level of each box: 0 holds compute, -1 memory or storage only; transit boxes
    count hops from compute, so the network is drawn above the servers and spines above
    leaves. Boxes that reach no compute are level 1; memory and storage reached only through
    switches sit half a level below the nearest of them.

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.render.view import build_view
    >>> b = TopologyBuilder()
    >>> for n, k in (("g", "gpu"), ("h", "hbm"), ("x", "nic"), ("s", "switch")):
    ...     _ = b.add_node(n, k)
    >>> for a, c in (("g", "h"), ("g", "x"), ("x", "s")):
    ...     _ = b.add_link(a, c, bandwidth=1e9)
    >>> v = build_view(b.build())
    >>> dict(zip([x.key for x in v.boxes], levels(v)))
    {'g': 0, 'h': -1, 's': 2, 'x': 1}
    """
    topo = view.topology
    nb = len(view.boxes)
    roles = topo.role_codes
    compute = ROLES.index("compute")
    passive = np.array([ROLES.index("memory"), ROLES.index("storage")])
    level: list[int | None] = [None] * nb
    for i, box in enumerate(view.boxes):
        members = view.box_members[i]
        if box.form == "self":
            members = np.array(box.rows, dtype=np.int64)
        r = roles[members] if len(members) else np.zeros(0, dtype=np.uint8)
        if (r == compute).any():
            level[i] = 0
        elif len(r) and np.isin(r, passive).all():
            level[i] = -1
    adj: list[list[int]] = [[] for _ in range(nb)]
    for e in view.edges:
        adj[e.tail].append(e.head)
        adj[e.head].append(e.tail)
    frontier = [i for i in range(nb) if level[i] == 0]
    dist = 0
    while frontier:
        dist += 1
        nxt = set()
        for u in frontier:
            for w in adj[u]:
                if level[w] is None:
                    level[w] = dist
                    nxt.add(w)
        frontier = sorted(nxt)
    out: list[float] = [lv if lv is not None else 1 for lv in level]
    # Memory or storage reached only through switches (NVMe drives behind a PCIe switch)
    # hangs just below them, not at the bottom under the compute.
    for i in range(nb):
        if out[i] == -1 and adj[i] and all(out[w] >= 1 for w in adj[i]):
            out[i] = min(out[w] for w in adj[i]) - 0.5
    return out


# -- structure detection -----------------------------------------------------------------------


def _grid_shape(n: int, pairs: list[tuple[int, int]]) -> tuple[int, int, bool] | None:
    """Rows, columns and wrap-around of the grid that ``pairs`` (positions 0..n-1, row-major)
    form, or None. Every pair must join grid neighbours, every neighbour pair must be linked,
    and wrap-around links must join the ends of every row and column or of none."""
    want = {(min(a, b), max(a, b)) for a, b in pairs if a != b}
    best = None
    for rows in range(2, n // 2 + 1):
        if n % rows:
            continue
        cols = n // rows
        if cols < 2:
            continue
        plain, wrapped = set(), set()
        for i in range(n):
            r, c = divmod(i, cols)
            if c + 1 < cols:
                plain.add((i, i + 1))
            elif cols >= 3:
                wrapped.add((i - cols + 1, i))
            if r + 1 < rows:
                plain.add((i, i + cols))
            elif rows >= 3:
                wrapped.add((c, i))
        if want == plain:
            shape = (rows, cols, False)
        elif want == plain | wrapped and wrapped:
            shape = (rows, cols, True)
        else:
            continue
        # Prefer the squarest grid that fits (a 2 x 8 mesh is not a 4 x 4 one, so at most
        # one usually matches; ties go to more columns, which suits a wide slide).
        if best is None or abs(rows - cols) <= abs(best[0] - best[1]):
            best = shape
    return best


def _is_ring(n: int, pairs: set[tuple[int, int]]) -> bool:
    return n >= 4 and pairs == {(min(i, (i + 1) % n), max(i, (i + 1) % n)) for i in range(n)}


def _is_full_mesh(n: int, pairs: set[tuple[int, int]]) -> bool:
    return n >= 4 and len(pairs) == n * (n - 1) // 2


def _array_key(key: str, kind: str) -> tuple[str, str] | None:
    """The array a box belongs to: its id without the trailing index, and its kind."""
    last = key.rstrip("0123456789")
    return (last, kind) if last != key else None


# -- the layout --------------------------------------------------------------------------------


@dataclass
class _Block:
    """A laid-out container or structure: its size and the offsets of its items' centres."""

    w: float
    h: float
    place: dict[tuple[str, int], tuple[float, float]]  # item -> centre, relative to top-left
    notes: list[tuple[str, float, float]] = field(default_factory=list)


def layout_view(
    view: View,
    sizes: list[tuple[float, float]],
    cluster_labelled: dict[int, bool],
) -> DiagramLayout:
    """Place the boxes of ``view``; ``sizes`` are the boxes' (width, height) in points.

    ``cluster_labelled`` says which containers carry a label line at the top. Each structure
    found leaves a note ``structure:K`` (K its index in ``structures``) under its block, where
    the caller writes the figure of its links.
    """
    topo = view.topology
    parent_of = dict(zip(view.clusters, view.cluster_parent, strict=True))
    lv = levels(view)

    # Items of each container: its boxes and its child containers.
    items: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for i, box in enumerate(view.boxes):
        items[box.cluster if box.cluster in parent_of else -1].append(("box", i))
    for row in view.clusters:
        p = parent_of[row]
        items[p if p in parent_of else -1].append(("cluster", row))

    # The item of each box in each container on its path (for edges between items).
    box_item: dict[int, dict[int, tuple[str, int]]] = defaultdict(dict)
    for i, box in enumerate(view.boxes):
        c = box.cluster if box.cluster in parent_of else -1
        item: tuple[str, int] = ("box", i)
        while True:
            box_item[c][i] = item
            if c < 0:
                break
            item = ("cluster", c)
            c = parent_of[c] if parent_of[c] in parent_of else -1

    ids = topo.nodes.ids

    def key_of(item: tuple[str, int]) -> str:
        return view.boxes[item[1]].key if item[0] == "box" else ids[item[1]]

    def kind_of(item: tuple[str, int]) -> str:
        return view.boxes[item[1]].kind if item[0] == "box" else topo.kind_of(item[1])

    level_cache: dict[tuple[str, int], float] = {}

    def level_of(item: tuple[str, int]) -> float:
        if item in level_cache:
            return level_cache[item]
        if item[0] == "box":
            value = lv[item[1]]
        else:
            inner = [level_of(x) for x in items[item[1]]]
            value = 0 if 0 in inner else (max(inner) if inner else 1)
        level_cache[item] = value
        return value

    blocks: dict[int, _Block] = {}
    structures: list[Structure] = []
    size_of: dict[tuple[str, int], tuple[float, float]] = {}
    for i in range(len(view.boxes)):
        size_of[("box", i)] = sizes[i]

    order = sorted(view.clusters, key=lambda r: -int(topo.depth[r]))
    for row in [*order, -1]:
        block = _layout_container(
            view, row, items[row], size_of, key_of, kind_of, level_of, box_item[row], structures
        )
        top = LABEL_H if row >= 0 and cluster_labelled.get(row, False) else (PAD if row >= 0 else 0)
        pad = PAD if row >= 0 else 0.0
        block.place = {k: (x + pad, y + top) for k, (x, y) in block.place.items()}
        block.notes = [(t, x + pad, y + top) for t, x, y in block.notes]
        block.w += 2 * pad
        block.h += top + pad
        blocks[row] = block
        if row >= 0:
            size_of[("cluster", row)] = (block.w, block.h)

    # Absolute positions, top-down.
    box_pos: list[tuple[float, float, float, float]] = [(0.0, 0.0, 0.0, 0.0)] * len(view.boxes)
    rects: dict[int, tuple[float, float, float, float]] = {}
    notes: list[tuple[str, float, float]] = []

    def place(row: int, x0: float, y0: float) -> None:
        block = blocks[row]
        notes.extend((t, x + x0, y + y0) for t, x, y in block.notes)
        for item, (cx, cy) in block.place.items():
            w, h = size_of[item]
            if item[0] == "box":
                box_pos[item[1]] = (cx + x0, cy + y0, w, h)
            else:
                left, top = cx + x0 - w / 2, cy + y0 - h / 2
                rects[item[1]] = (left, top, left + w, top + h)
                place(item[1], left, top)

    place(-1, 0.0, 0.0)
    result = DiagramLayout(box_pos, rects, {}, structures, notes)
    result.width, result.height = blocks[-1].w, blocks[-1].h
    _route_structures(view, result)
    _route_edges(view, result)
    return result


def _layout_container(
    view, row, members, size_of, key_of, kind_of, level_of, box_item, structures
) -> _Block:
    """Lay out one container's items: tiers top to bottom, structures placed by shape, long
    rows wrapped to the container's target width."""
    by_level: dict[float, list[tuple[str, int]]] = defaultdict(list)
    for item in members:
        # A device drawn as a container (a GPU holding its HBM) heads its own box.
        own = item[0] == "box" and view.boxes[item[1]].form == "self"
        by_level[_TOP if own else level_of(item)].append(item)

    # Edges between items of this container, by link type.
    pairs: dict[str, set[tuple[tuple[str, int], tuple[str, int]]]] = defaultdict(set)
    edge_items: dict[tuple, list[int]] = defaultdict(list)
    for ei, e in enumerate(view.edges):
        a, b = box_item.get(e.tail), box_item.get(e.head)
        if a is None or b is None or a == b or e.directed or e.internal:
            continue
        lo, hi = sorted((a, b))
        pairs[e.type or ""].add((lo, hi))
        edge_items[(e.type or "", lo, hi)].append(ei)

    tiers = []
    for lev in sorted(by_level, reverse=True):
        row_items = sorted(by_level[lev], key=lambda it: natural_key(key_of(it)))
        units = _units(
            row_items, size_of, key_of, kind_of, pairs, edge_items, view, structures, box_item
        )
        tiers.append(units)

    # Siblings stay in natural order; only where rows wrap is chosen.
    arranged = _best_arrangement(tiers)
    place, notes, total_w, y = arranged
    return _Block(total_w, y, place, notes)


def _best_arrangement(tiers: list[list[_Unit]]):
    """The arrangement (see :func:`_arrange`) closest to 16:9 over the useful target widths:
    each tier's own width, or that width split over 2, 3, ... lines, never narrower than the
    widest unit; ties go to the smaller area."""
    widest = max((u.w for units in tiers for u in units), default=0.0)
    candidates = {widest}
    for units in tiers:
        full = sum(u.w for u in units) + GAP_X * (len(units) - 1)
        for k in range(1, min(len(units), 8) + 1):
            candidates.add(max(widest, full / k))
    best = None
    for target in sorted(candidates):
        arranged = _arrange(tiers, target)
        w, h = arranged[2], arranged[3]
        score = (round(slide_fit(w, h), 6), w * h)
        if best is None or score < best[0]:
            best = (score, arranged)
    return best[1] if best else ({}, [], 0.0, 0.0)


def _line_width(units: list[_Unit]) -> float:
    return sum(u.w for u in units) + GAP_X * (len(units) - 1)


def _arrange(tiers: list[list[_Unit]], target: float):
    """Place the tiers' units in rows no wider than ``target``: a tier that does not fit is
    split into lines of equal counts (8 NICs as 4 + 4, not 7 + 1), every other line set half
    a box to the right. Returns the places, the notes, and the width and height used."""
    lines: list[list[_Unit]] = []
    line_gap: list[float] = []
    shift: list[float] = []
    for t, units in enumerate(tiers):
        # The fewest lines of equal counts (9 as 5 + 4 or 3 + 3 + 3, never 4 + 4 + 1) whose
        # widest line fits the target.
        n = len(units)
        if not n:
            continue
        for k in range(1, n + 1):
            per = math.ceil(n / k)
            chunks = [units[i : i + per] for i in range(0, n, per)]
            if per == 1 or max(_line_width(c) for c in chunks) <= target + 0.5:
                break
        pitch = max(u.w for u in units) + GAP_X
        for k, chunk in enumerate(chunks):
            lines.append(chunk)
            last = k + 1 == len(chunks)
            line_gap.append((GAP_TIER if t + 1 < len(tiers) else 0.0) if last else GAP_LINE)
            # Every other line of a wrapped tier sits half a box to the right, so the links
            # of the line above pass between its boxes rather than through them.
            shift.append(pitch / 2 if k % 2 else 0.0)
    total_w = max(
        (_line_width(line) + sh for line, sh in zip(lines, shift, strict=True)), default=0.0
    )
    place: dict[tuple[str, int], tuple[float, float]] = {}
    notes: list[tuple[str, float, float]] = []
    y = 0.0
    for line, gap, sh in zip(lines, line_gap, shift, strict=True):
        h = max(u.h for u in line)
        w = _line_width(line) + sh
        x = (total_w - w) / 2 + sh
        for u in line:
            ux, uy = x, y + (h - u.h) / 2
            for item, (cx, cy) in u.place.items():
                place[item] = (ux + cx, uy + cy)
            notes.extend((text, ux + nx, uy + ny) for text, nx, ny in u.notes)
            x += u.w + GAP_X
        y += h + gap
    return place, notes, total_w, y


@dataclass
class _Unit:
    """One thing placed in a row: a single item, or a structure's block."""

    w: float
    h: float
    place: dict[tuple[str, int], tuple[float, float]]
    notes: list[tuple[str, float, float]] = field(default_factory=list)


def _units(row_items, size_of, key_of, kind_of, pairs, edge_items, view, structures, box_item):
    """Split a tier into units: structures found among arrays of siblings, and single items."""
    arrays: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for item in row_items:
        k = _array_key(key_of(item), kind_of(item))
        if k is not None:
            arrays[k].append(item)
    taken: dict[tuple[str, int], _Unit] = {}
    first_of: dict[tuple[str, int], _Unit] = {}
    for members in arrays.values():
        if len(members) < 4:
            continue
        unit = _structure_unit(members, size_of, pairs, edge_items, view, structures, box_item)
        if unit is None:
            continue
        for m in members:
            taken[m] = unit
        first_of[members[0]] = unit
    units = []
    for item in row_items:
        if item in first_of:
            units.append(first_of[item])
        elif item not in taken:
            w, h = size_of[item]
            units.append(_Unit(w, h, {item: (w / 2, h / 2)}))
    return units


def _structure_unit(
    members, size_of, pairs, edge_items, view, structures, box_item
) -> _Unit | None:
    index = {m: i for i, m in enumerate(members)}
    n = len(members)
    # One link type at a time, then all together (the 2 x 2 grid of an MI300X's I/O dies is
    # joined by two types, one per direction).
    options = [(t, pairs[t]) for t in sorted(pairs)]
    if len(options) > 1:
        options.append(("*", set().union(*pairs.values())))
    for t, found in options:
        inside = {(index[a], index[b]) for a, b in found if a in index and b in index}
        if not inside:
            continue
        inside = {(min(a, b), max(a, b)) for a, b in inside}
        edges = tuple(
            sorted(
                ei
                for (tt, a, b), eis in edge_items.items()
                if t in (tt, "*") and a in index and b in index
                for ei in eis
            )
        )
        cw = max(size_of[m][0] for m in members)
        ch = max(size_of[m][1] for m in members)
        grid = _grid_shape(n, sorted(inside))
        if grid is not None:
            rows, cols, wrap = grid
            gx, gy = GRID_GAP_X, GRID_GAP_Y
            unit = _Unit(
                cols * cw + (cols - 1) * gx + (2 * gy if wrap else 0),
                rows * ch + (rows - 1) * gy + (gy if wrap else 0),
                {},
            )
            ox, oy = (gy if wrap else 0.0), (gy if wrap else 0.0)
            for i, m in enumerate(members):
                r, c = divmod(i, cols)
                unit.place[m] = (ox + c * (cw + gx) + cw / 2, oy + r * (ch + gy) + ch / 2)
            wrapped = tuple(
                sorted(
                    ei
                    for (tt, a, b), eis in edge_items.items()
                    if t in (tt, "*")
                    and a in index
                    and b in index
                    and _wraps(index[a], index[b], rows, cols)
                    for ei in eis
                )
            )
            shape = "torus" if wrap else "grid"
            structures.append(Structure(shape, (rows, cols), t, tuple(members), edges, wrapped))
            return _with_note(unit, len(structures) - 1)
        if _is_ring(n, inside) and _linked_outside(view, members, box_item):
            # A ring in a tier (switches joined in a ring, also wired to the servers below):
            # a row in ring order, the closing link an arc above it, so the wiring to the
            # other tiers stays straight.
            unit = _Unit(n * cw + (n - 1) * GRID_GAP_X, ch + GRID_GAP_Y * 0.6, {})
            for i, m in enumerate(members):
                unit.place[m] = (i * (cw + GRID_GAP_X) + cw / 2, GRID_GAP_Y * 0.6 + ch / 2)
            closing = tuple(
                sorted(
                    ei
                    for (tt, a, b), eis in edge_items.items()
                    if t in (tt, "*") and {index.get(a), index.get(b)} == {0, n - 1}
                    for ei in eis
                )
            )
            structures.append(Structure("ring", (n,), t, tuple(members), edges, closing))
            return _with_note(unit, len(structures) - 1, above=True)
        if _is_ring(n, inside) or _is_full_mesh(n, inside):
            mesh = not _is_ring(n, inside)
            # An ellipse wider than tall (a slide is), grown until no two members' boxes
            # come closer than a gap.
            diag = math.hypot(cw, ch)
            radius = max((diag + GAP_X) / (2 * math.sin(math.pi / n)), diag)
            rx, ry = radius * 1.3, max(radius * 0.8, ch + GAP_LINE)
            angles = [-math.pi / 2 + 2 * math.pi * i / n for i in range(n)]
            for _ in range(40):
                pts = [(rx * math.cos(a), ry * math.sin(a)) for a in angles]
                clear = all(
                    abs(p[0] - q[0]) >= cw + GAP_X or abs(p[1] - q[1]) >= ch + GAP_LINE / 2
                    for k, p in enumerate(pts)
                    for q in pts[k + 1 :]
                )
                if clear:
                    break
                rx, ry = rx * 1.08, ry * 1.08
            unit = _Unit(2 * rx + cw, 2 * ry + ch, {})
            for m, (px, py) in zip(members, pts, strict=True):
                unit.place[m] = (rx + cw / 2 + px, ry + ch / 2 + py)
            structures.append(
                Structure(
                    "mesh" if mesh else "ring",
                    (n,),
                    t,
                    tuple(members),
                    edges,
                    chords=not mesh or n <= MESH_CHORDS_MAX,
                )
            )
            return _with_note(unit, len(structures) - 1)
    return None


def _with_note(unit: _Unit, structure: int, above: bool = False) -> _Unit:
    """Reserve room under the structure (or ``above`` it) for the note stating its links'
    figure: two lines of text, clear of the structure's boxes."""
    h = EDGE_FONT_SIZE * LINE * 2 + 6  # two lines; the note node has no margin of its own
    gap = 10.0
    if above:
        unit.place = {k: (x, y + h + gap) for k, (x, y) in unit.place.items()}
        unit.notes.append((f"structure:{structure}", unit.w / 2, h / 2))
    else:
        unit.notes.append((f"structure:{structure}", unit.w / 2, unit.h + gap + h / 2))
    unit.h += gap + h
    return unit


def _linked_outside(view: View, members, box_item) -> bool:
    """Whether any box in ``members`` (items of one container) links to a box outside them."""
    inside = {b for b, item in box_item.items() if item in set(members)}
    return any((e.tail in inside) != (e.head in inside) for e in view.edges)


def _wraps(i: int, j: int, rows: int, cols: int) -> bool:
    """Whether grid positions ``i`` and ``j`` are joined by a wrap-around link."""
    (ri, ci), (rj, cj) = divmod(i, cols), divmod(j, cols)
    return (ri == rj and cols >= 3 and abs(ci - cj) == cols - 1) or (
        ci == cj and rows >= 3 and abs(ri - rj) == rows - 1
    )


def _route_structures(view: View, lay: DiagramLayout) -> None:
    """Fixed routes for the edges of each structure: straight lines between neighbours and
    chords, arcs outside the grid for a torus's wrap-around links."""
    for s in lay.structures:
        wrap = set(s.wrap)
        members = {i for kind, i in s.members if kind == "box"} if s.members else None
        for ei in s.edges:
            e = view.edges[ei]
            a, b = lay.boxes[e.tail], lay.boxes[e.head]
            if members is not None and not {e.tail, e.head} <= members:
                continue  # ends inside member containers: Graphviz routes around their parts
            if ei in wrap:
                lay.routes[ei] = _arc(a, b)
            elif s.chords:
                lay.routes[ei] = _line(a, b)


def _route_edges(view: View, lay: DiagramLayout) -> None:
    """Routes for every edge a structure did not route: a curve leaving the upper box at its
    bottom and entering the lower one at its top, with vertical tangents (tiers read top to
    bottom), or, between boxes side by side, from side to side (bowing above the row when
    other boxes stand between). Where several edges leave one side of a box, their ends are
    spread along it in the order of their far ends, so they do not cross at the box.

    Graphviz then draws every edge as given, which takes milliseconds where routing curves
    around 100 boxes takes seconds (and sometimes fails)."""
    ends: dict[tuple[int, str], list[tuple[float, int, str]]] = defaultdict(list)
    plan: dict[int, tuple[str, str]] = {}
    for ei, e in enumerate(view.edges):
        if ei in lay.routes or e.internal or e.tail == e.head:
            continue
        a, b = lay.boxes[e.tail], lay.boxes[e.head]
        if a[1] + a[3] / 2 <= b[1] - b[3] / 2:
            sides = ("bottom", "top")
        elif b[1] + b[3] / 2 <= a[1] - a[3] / 2:
            sides = ("top", "bottom")
        else:
            sides = ("right", "left") if a[0] <= b[0] else ("left", "right")
        plan[ei] = sides
        ends[(e.tail, sides[0])].append((b[0] if sides[0] in ("top", "bottom") else b[1], ei, "t"))
        ends[(e.head, sides[1])].append((a[0] if sides[1] in ("top", "bottom") else a[1], ei, "h"))
    port: dict[tuple[int, str], tuple[float, float]] = {}
    for (box, side), items in ends.items():
        x, y, w, h = lay.boxes[box]
        items.sort()
        n = len(items)
        for k, (_, ei, end) in enumerate(items):
            f = (k + 0.5) / n - 0.5  # -0.5 .. 0.5 along the side
            if side in ("top", "bottom"):
                spread = w * (0.6 if n > 1 else 0.0)
                port[(ei, end)] = (x + f * spread, y + (h / 2 if side == "bottom" else -h / 2))
            else:
                spread = h * (0.6 if n > 1 else 0.0)
                port[(ei, end)] = (x + (w / 2 if side == "right" else -w / 2), y + f * spread)
    for ei, (s0, _s1) in plan.items():
        p0, p3 = port[(ei, "t")], port[(ei, "h")]
        if s0 in ("top", "bottom"):
            dy = (p3[1] - p0[1]) * 0.5
            route = [p0, (p0[0], p0[1] + dy), (p3[0], p3[1] - dy), p3]
        else:
            a, b = lay.boxes[view.edges[ei].tail], lay.boxes[view.edges[ei].head]
            gap = abs(b[0] - a[0]) - (a[2] + b[2]) / 2
            lift = 0.0 if gap < GAP_X * 2.5 else min(GAP_TIER * 0.5, gap * 0.15)
            route = [p0, _lerp(p0, p3, 1 / 3), _lerp(p0, p3, 2 / 3), p3]
            route[1] = (route[1][0], route[1][1] - lift * 1.33)
            route[2] = (route[2][0], route[2][1] - lift * 1.33)
        lay.routes[ei] = route


def _border(box, toward) -> tuple[float, float]:
    """Where the line from ``box``'s centre towards ``toward`` leaves the box."""
    x, y, w, h = box
    dx, dy = toward[0] - x, toward[1] - y
    if dx == 0 and dy == 0:
        return x, y
    t = min(w / 2 / abs(dx) if dx else math.inf, h / 2 / abs(dy) if dy else math.inf)
    return x + dx * t, y + dy * t


def _line(a, b) -> list[tuple[float, float]]:
    p0 = _border(a, b[:2])
    p3 = _border(b, a[:2])
    return [p0, _lerp(p0, p3, 1 / 3), _lerp(p0, p3, 2 / 3), p3]


def _lerp(p, q, t):
    return (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)


def _arc(a, b) -> list[tuple[float, float]]:
    """An arc joining the two ends of a grid row (in the gap above it) or column (in the gap
    left of it); the lift keeps it within half the gap, clear of the neighbouring boxes."""
    if abs(a[1] - b[1]) < abs(a[0] - b[0]):  # same row: bow above the row
        lift = GRID_GAP_Y * 0.6
        p0 = (a[0] + a[2] / 4, a[1] - a[3] / 2)
        p3 = (b[0] - b[2] / 4, b[1] - b[3] / 2)
        return [p0, (p0[0], p0[1] - lift), (p3[0], p3[1] - lift), p3]
    lift = GRID_GAP_X * 0.6  # same column: bow to the left
    p0 = (a[0] - a[2] / 2, a[1] + a[3] / 4)
    p3 = (b[0] - b[2] / 2, b[1] - b[3] / 4)
    return [p0, (p0[0] - lift, p0[1]), (p3[0] - lift, p3[1]), p3]
