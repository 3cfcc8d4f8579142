"""What a diagram shows: which components are boxes, which are clusters, which links are edges.

A :class:`View` is computed from a :class:`~topodsl.topology.Topology` with numpy only (no
NetworkX), so choosing a view of a million-component cluster takes seconds. Three things make a
large topology readable:

* **depth** — a component at containment depth ``depth`` (0 = top level) is drawn as one box
  standing for everything inside it; shallower components with children are drawn as nested
  clusters. Links are mapped to the boxes holding their endpoints and aggregated: one edge per
  pair of boxes, link type and direction, labelled with the lanes and the total bandwidth.
* **folding** — an array of like siblings (same parent, kind and definition, ids ``name0``,
  ``name1``...) is drawn as one box ``name[0..31] ×32``. Arrays of *alike* devices are always
  folded (HBM stacks that all hang off one GPU; a server's NVSwitch chips, which all link the
  same GPUs), other arrays only by the automatic view when no depth fits its :class:`Budget`,
  the array that removes the most shapes first. At an explicit depth whose view is larger
  than :data:`SLIDE`, the members of each array are split into classes of *identical*
  members (compared exactly: subtree, inner links, links out to the same boxes) and each
  class is drawn once (``node[0..56,58..199] ×199`` beside ``node57``). ``fold=False`` folds
  nothing.
* **focus** — one component is drawn in detail; outside it only the components it links to are
  drawn, each collapsed to the box of the sibling of ``focus`` (or of an ancestor of ``focus``)
  that holds it.

When no depth is given the view is the deepest one that fits the budget (see :func:`build_view`).

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> _ = b.add_node("pod", "pod")
>>> for n in range(4):
...     _ = b.add_node(f"pod.node{n}", "node", parent="pod")
...     _ = b.add_node(f"pod.node{n}.gpu0", "gpu", parent=f"pod.node{n}")
...     _ = b.add_node(f"pod.node{n}.nic0", "nic", parent=f"pod.node{n}")
...     _ = b.add_link(f"pod.node{n}.gpu0", f"pod.node{n}.nic0", bandwidth=64e9, type="pcie5")
>>> _ = b.add_node("pod.leaf0", "switch", parent="pod")
>>> for n in range(4):
...     _ = b.add_link(f"pod.node{n}.nic0", "pod.leaf0", bandwidth=50e9, type="eth400")
>>> v = build_view(b.build(), depth=1, fold=False)
>>> [box.key for box in v.boxes]
['pod.leaf0', 'pod.node0', 'pod.node1', 'pod.node2', 'pod.node3']
>>> [(v.boxes[e.tail].key, v.boxes[e.head].key, e.type, e.lanes, e.bandwidth) for e in v.edges][:1]
[('pod.leaf0', 'pod.node0', 'eth400', 1.0, 50000000000.0)]
>>> v = build_view(b.build(), budget=Budget(max_shapes=3))
>>> [box.key for box in v.boxes], v.folded
(['pod.leaf0', 'pod.node[0..3]'], ('pod.node[0..3]',))
>>> v.edges[0].lanes, v.edges[0].bandwidth
(4.0, 200000000000.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import SolverError
from ..kinds import KINDS, ROLE_OF, ROLES
from ..natural import natural_key
from ..topology import Topology

__all__ = ["Box", "Edge", "Budget", "View", "build_view", "FOLD_MIN", "SLIDE"]

#: An array needs at least this many members to be folded into one box.
FOLD_MIN = 3

_CONTAINER_CODES = np.array([ROLE_OF[k] == "container" for k in KINDS], dtype=bool)
_TRAILING_INDEX = re.compile(r"^(.*?)(\d+)$")


@dataclass(frozen=True)
class Budget:
    """How much one diagram may hold before the automatic view collapses or folds more.

    ``max_shapes`` counts boxes and clusters; ``max_edges`` counts drawn (aggregated) edges.
    """

    max_shapes: int = 80
    max_edges: int = 60

    def fits(self, shapes: int, edges: int) -> bool:
        """Whether a view of ``shapes`` boxes and clusters and ``edges`` edges fits."""
        return shapes <= self.max_shapes and edges <= self.max_edges


#: The most an explicit ``--depth`` draws before identical parts are drawn once: about what
#: reads on one slide.
SLIDE = Budget(max_shapes=160, max_edges=240)


@dataclass(frozen=True)
class Box:
    """One drawn node.

    ``form`` is ``"device"`` (a component drawn as itself), ``"collapsed"`` (a component whose
    contents are hidden inside the box), ``"group"`` (a folded array of components: ``rows``
    are its members) or ``"self"`` (the device part of a component drawn as a cluster, such as
    a GPU whose HBM stacks are drawn beside it). ``cluster`` is the row of the cluster the box
    is drawn in (-1 at the top level).
    """

    key: str
    kind: str
    form: str
    rows: tuple[int, ...]
    cluster: int
    name: str


@dataclass(frozen=True)
class Edge:
    """One drawn edge: every link of one type (and direction, if simplex) between two boxes.

    ``lanes`` sums the lanes of those links and ``bandwidth`` their bandwidth per direction
    (B/s). ``directed`` is True for one-way (simplex) links, drawn ``tail -> head``; otherwise
    ``tail``/``head`` only order the layout. ``internal`` marks a loop on a folded group: links
    between different members of the group. ``each_bandwidth`` is the smallest and the
    largest bandwidth of one of its links (B/s per direction).
    """

    tail: int
    head: int
    type: str | None
    directed: bool
    links: int
    lanes: float
    bandwidth: float
    internal: bool = False
    each_bandwidth: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class View:
    """A computed view of a topology: boxes, clusters and edges, plus how it was chosen.

    ``box_of`` maps every node row to the index of the box that stands for it (-1 when it is
    not drawn, or is drawn only as a cluster). ``edge_of`` maps every link row to its edge
    (-1 when not drawn). ``clusters`` lists the rows drawn as clusters, parents first, with
    ``cluster_parent`` the enclosing cluster row of each (-1 at the top level).
    ``depth`` is the depth used (``None`` for full detail); ``auto`` whether it was chosen
    automatically; ``full_shapes`` the number of shapes the full-detail view would have had.
    ``folded`` names the arrays folded to meet the budget, ``alike`` those drawn once because
    their members are alike, ``identical`` those drawn once because their members are
    identical (an explicit depth larger than :data:`SLIDE`). ``notes`` are what drawing it
    had to say (Graphviz's warnings, a simpler edge routing used after a layout failure).
    """

    topology: Topology
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    clusters: tuple[int, ...]
    cluster_parent: tuple[int, ...]
    box_of: np.ndarray
    edge_of: np.ndarray
    depth: int | None
    auto: bool
    folded: tuple[str, ...] = ()
    alike: tuple[str, ...] = ()
    identical: tuple[str, ...] = ()
    focus: int | None = None
    full_shapes: int = 0
    box_members: tuple[np.ndarray, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()

    @property
    def num_shapes(self) -> int:
        """Boxes plus clusters: what the budget counts."""
        return len(self.boxes) + len(self.clusters)


# -- structure shared by every candidate view --------------------------------------------------


class _Tree:
    """Ancestors, children flags and link arrays of a topology, computed once."""

    def __init__(self, topology: Topology):
        self.topology = topology
        n = topology.num_nodes
        self.n = n
        self.parent = topology.nodes.parent.astype(np.int64)
        self.dep = topology.depth.astype(np.int64)
        self.max_depth = int(self.dep.max()) if n else 0
        rows = np.arange(n, dtype=np.int64)
        # anc[d, r]: the ancestor of r at depth d (r itself at its own depth), -1 if deeper.
        anc = np.full((self.max_depth + 1, n), -1, dtype=np.int64)
        cur = rows.copy()
        live = np.ones(n, dtype=bool)
        while live.any():
            idx = np.flatnonzero(live)
            anc[self.dep[cur[idx]], idx] = cur[idx]
            cur[idx] = self.parent[cur[idx]]
            live = cur >= 0
        self.anc = anc
        has_parent = self.parent >= 0
        self.has_children = np.bincount(self.parent[has_parent], minlength=n)[:n] > 0
        links = topology.links
        self.src = links.src.astype(np.int64)
        self.dst = links.dst.astype(np.int64)
        self.has_links = np.zeros(n, dtype=bool)
        self.has_links[self.src] = True
        self.has_links[self.dst] = True
        self.is_container = _CONTAINER_CODES[topology.nodes.kind]
        self.count_at_or_above = np.cumsum(np.bincount(self.dep, minlength=self.max_depth + 1))
        # row -> match of its last id segment as an array element (name, index), filled on
        # demand: folding asks about the same visible rows again and again.
        self.array_names: dict[int, re.Match | None] = {}

    def subtree_mask(self, row: int) -> np.ndarray:
        return self.anc[self.dep[row]] == row


@dataclass
class _Shape:
    """The row-level outcome of one candidate view, before edges are aggregated."""

    rep: np.ndarray  # row -> the row that stands for it (itself when visible)
    visible: np.ndarray  # rows drawn as a box or a cluster
    expanded: np.ndarray  # rows drawn as clusters
    self_box: np.ndarray  # expanded rows that also get a box of their own
    group_of: np.ndarray  # row -> fold group index (-1 when not folded)
    shapes: int


def _shape(tree: _Tree, stop: np.ndarray, group_of: np.ndarray, ngroups: int) -> _Shape:
    """Map every row to its representative given the rows where drawing stops."""
    n = tree.n
    rep = np.arange(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    for d in range(tree.max_depth + 1):
        a = tree.anc[d]
        ok = (a >= 0) & ~done
        ok[ok] = stop[a[ok]]
        rep[ok] = a[ok]
        done |= ok
    visible = rep == np.arange(n)
    expanded = visible & tree.has_children & ~stop
    self_box = expanded & (~tree.is_container | tree.has_links)
    grouped = visible & (group_of >= 0)
    boxes = int((visible & ~expanded & ~grouped).sum()) + int(self_box.sum()) + ngroups
    return _Shape(rep, visible, expanded, self_box, group_of, boxes + int(expanded.sum()))


def _aggregate(tree: _Tree, shape: _Shape, box_of_row: np.ndarray, focus_mask: np.ndarray | None):
    """Aggregate links into edges: returns (edge_of, edge keys, lanes, bandwidth, links,
    (smallest, largest) bandwidth of one link)."""
    topo = tree.topology
    L = topo.links
    m = len(L.src)
    if m == 0:
        empty = np.zeros(0, dtype=np.int64)
        none = np.full(0, -1, dtype=np.int64)
        return none, empty, empty, empty, empty, empty, empty, empty, (empty, empty)
    rs, rd = shape.rep[tree.src], shape.rep[tree.dst]
    bs, bd = box_of_row[rs], box_of_row[rd]
    ok = (bs >= 0) & (bd >= 0)
    same = bs == bd
    # A link inside one box is hidden, except between two members of a folded group.
    ok &= ~same | ((shape.group_of[rs] >= 0) & (rs != rd))
    if focus_mask is not None:
        ok &= focus_mask[tree.src] | focus_mask[tree.dst]
    simplex = L.simplex.astype(np.int64)
    lo = np.where(simplex == 1, bs, np.minimum(bs, bd))
    hi = np.where(simplex == 1, bd, np.maximum(bs, bd))
    t = L.type.astype(np.int64) + 1
    idx = np.flatnonzero(ok)
    edge_of = np.full(m, -1, dtype=np.int64)
    if len(idx) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return edge_of, empty, empty, empty, empty, empty, empty, empty, (empty, empty)
    keys = np.stack([lo[idx], hi[idx], t[idx], simplex[idx]])
    order = np.lexsort(keys[::-1])
    sk = keys[:, order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (sk[:, 1:] != sk[:, :-1]).any(axis=0)
    eid_sorted = np.cumsum(new) - 1
    eid = np.empty(len(idx), dtype=np.int64)
    eid[order] = eid_sorted
    edge_of[idx] = eid
    first = sk[:, new]
    ne = first.shape[1]
    lanes = np.bincount(eid, weights=L.lanes[idx], minlength=ne)
    bw = np.bincount(eid, weights=L.bandwidth[idx], minlength=ne)
    count = np.bincount(eid, minlength=ne)
    # The smallest and largest figure of one link in each edge (links sorted by edge).
    starts = np.flatnonzero(new)
    sorted_bw = L.bandwidth[idx][order]
    each = (np.minimum.reduceat(sorted_bw, starts), np.maximum.reduceat(sorted_bw, starts))
    return edge_of, first[0], first[1], first[2] - 1, first[3], lanes, bw, count, each


def _edge_count(tree: _Tree, shape: _Shape, box_of_row: np.ndarray, focus_mask) -> int:
    agg = _aggregate(tree, shape, box_of_row, focus_mask)
    return len(agg[1])


def _box_of_row(tree: _Tree, shape: _Shape) -> np.ndarray:
    """Provisional box numbering (rows and groups) good enough for counting edges."""
    n = tree.n
    box = np.full(n, -1, dtype=np.int64)
    plain = shape.visible & ~shape.expanded & (shape.group_of < 0)
    box[plain] = np.flatnonzero(plain)
    box[shape.self_box] = np.flatnonzero(shape.self_box)
    grouped = shape.visible & (shape.group_of >= 0)
    box[grouped] = n + shape.group_of[grouped]
    return box


# -- folding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    key: tuple
    name: str
    short: str
    members: tuple[int, ...]
    alike: bool = False  # folded because its members are alike, not to meet the budget
    identical: bool = False  # folded because its members are identical (checked exactly)


def _array_groups(
    tree: _Tree, shape: _Shape, protected: np.ndarray, keep_first: bool = False
) -> list[_Group]:
    """Arrays of like visible siblings, the candidates for folding. With ``keep_first`` the
    first member of each array stays out of the group, to be drawn in detail beside it."""
    topo = tree.topology
    ids = topo.nodes.ids
    kind = topo.nodes.kind
    template = topo.nodes.template
    buckets: dict[tuple, list[tuple[int, int]]] = {}
    names = tree.array_names
    for r in np.flatnonzero(shape.visible & (shape.group_of < 0) & ~protected).tolist():
        m = names.get(r)
        if m is None:
            m = names[r] = _TRAILING_INDEX.match(ids[r].rsplit(".", 1)[-1])
        if not m:
            continue
        key = (int(tree.parent[r]), int(kind[r]), m.group(1), int(template[r]))
        buckets.setdefault(key, []).append((int(m.group(2)), r))
    groups = []
    for key, members in buckets.items():
        if len(members) < FOLD_MIN:
            continue
        members.sort()
        if keep_first:
            members = members[1:]
        idx = [i for i, _ in members]
        prefix = ids[key[0]] + "." if key[0] >= 0 else ""
        contiguous = idx == list(range(idx[0], idx[0] + len(idx)))
        span = f"{idx[0]}..{idx[-1]}" if contiguous else ",".join(map(str, idx))
        if not contiguous and len(span) > 24:
            span = f"{idx[0]}..{idx[-1]}:{len(idx)}"
        short = f"{key[2]}[{span}]"
        groups.append(_Group(key, prefix + short, short, tuple(r for _, r in members)))
    groups.sort(key=lambda g: natural_key(g.name))
    return groups


def _linked_among(tree: _Tree, shape: _Shape, groups: list[_Group]) -> list[bool]:
    """For each group, whether links join two different members (or their insides)."""
    label = np.full(tree.n, -1, dtype=np.int64)
    for k, g in enumerate(groups):
        label[np.array(g.members, dtype=np.int64)] = k
    # The visible member holding each row: its representative, when that is a member.
    rs, rd = shape.rep[tree.src], shape.rep[tree.dst]
    gs, gd = label[rs], label[rd]
    hit = (gs >= 0) & (gs == gd) & (rs != rd)
    found = np.zeros(len(groups), dtype=bool)
    found[np.unique(gs[hit])] = True
    return found.tolist()


def _shapes_inside(tree: _Tree, shape: _Shape) -> np.ndarray:
    """Number of shapes each visible row's subtree contributes (itself included)."""
    w = shape.visible.astype(np.int64) + shape.self_box.astype(np.int64)
    acc = w.copy()
    vis = np.flatnonzero(shape.visible)
    dep = tree.dep[vis]
    for d in range(tree.max_depth, 0, -1):
        rows = vis[dep == d]
        np.add.at(acc, tree.parent[rows], acc[rows])
    return acc


# -- the public entry point --------------------------------------------------------------------


def build_view(
    topology: Topology,
    *,
    depth: int | None = None,
    focus: str | None = None,
    fold: bool = True,
    budget: Budget | None = None,
    limit: Budget | None = None,
) -> View:
    """Choose what to draw of ``topology``.

    Parameters
    ----------
    topology : Topology
    depth : draw components at this containment depth (0 = top level) as boxes holding
        everything inside them. ``None`` chooses automatically: the deepest depth whose view
        fits ``budget``; when none does, arrays are folded too (see ``fold``).
    focus : dotted id of one component to draw in detail; outside it, only the components
        linked to it are drawn, collapsed.
    fold : fold arrays (alike devices always; others when the automatic view is over budget).
    budget : the limits of a readable diagram (default :class:`Budget()`).
    limit : the most an explicit ``depth`` may draw; past it arrays of like components are
        folded (the largest first) until the view fits, each keeping its first member drawn
        in detail (``node0`` beside ``node[1..7] ×7``); :attr:`View.folded` names them.
        ``None``: an explicit depth is drawn whatever its size.

    Returns
    -------
    View

    Raises
    ------
    SolverError
        ``focus`` names no component, or ``depth`` is negative.

    Examples
    --------
    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> _ = b.add_node("srv", "node")
    >>> _ = b.add_node("srv.gpu0", "gpu", parent="srv")
    >>> _ = b.add_node("srv.gpu0.hbm0", "hbm", parent="srv.gpu0", capacity=16e9)
    >>> _ = b.add_link("srv.gpu0", "srv.gpu0.hbm0", bandwidth=670e9, type="hbm3")
    >>> v = build_view(b.build())
    >>> [(box.key, box.form) for box in v.boxes], v.clusters, v.depth
    ([('srv.gpu0', 'self'), ('srv.gpu0.hbm0', 'device')], (0, 1), None)
    """
    budget = budget or Budget()
    if depth is not None and depth < 0:
        raise SolverError(f"depth must be 0 or more, got {depth}")
    tree = _Tree(topology)
    focus_row = _focus_row(topology, focus) if focus is not None else None
    base_stop = np.zeros(tree.n, dtype=bool)
    focus_mask = None
    protected = np.zeros(tree.n, dtype=bool)
    if focus_row is not None:
        focus_mask = tree.subtree_mask(focus_row)
        on_path = np.zeros(tree.n, dtype=bool)
        fa = tree.anc[:, focus_row]
        on_path[fa[fa >= 0]] = True
        # Outside the focus, stop at the children of the focus's ancestors.
        parent_on_path = np.where(tree.parent >= 0, on_path[np.maximum(tree.parent, 0)], True)
        base_stop = ~on_path & ~focus_mask & parent_on_path
        protected = ~focus_mask

    def stop_at(d: int | None) -> np.ndarray:
        if d is None or d >= tree.max_depth:
            return base_stop
        return base_stop | (tree.dep >= d)

    # Arrays of identical members, found once when an explicit depth draws more than a slide;
    # kept in every later view whose members are still drawn.
    identical: list[_Group] = []

    def evaluate(d: int | None, folded: list[_Group]) -> tuple[_Shape, list[_Group]]:
        groups = list(folded)
        shape = _apply(tree, stop_at(d), groups)
        if identical:
            groups += [g for g in identical if shape.visible[g.members[0]]]
            shape = _apply(tree, stop_at(d), groups)
        if fold:
            # Arrays whose members look alike and link to the same boxes are drawn once.
            for _ in range(4):
                like = _like_groups(tree, shape, protected)
                if not like:
                    break
                groups += like
                shape = _apply(tree, stop_at(d), groups)
        return shape, groups

    def fold_identical(d: int | None, shape: _Shape, groups: list[_Group]):
        # Folding one array can make another's members identical (servers all linked to one
        # folded array of leaves): repeat until nothing more folds.
        for _ in range(8):
            same = _identical_groups(tree, shape, protected)
            if not same:
                break
            identical.extend(same)
            groups = [*groups, *same]
            shape = _apply(tree, stop_at(d), groups)
        return shape, groups

    def size(shape: _Shape) -> tuple[int, int]:
        if focus_mask is not None:
            return _focused_size(tree, shape, focus_mask)
        return shape.shapes, _edge_count(tree, shape, _box_of_row(tree, shape), focus_mask)

    def fold_until_fits(d: int | None, keep_first: bool = False):
        folded: list[_Group] = []
        shape, groups = evaluate(d, folded)
        while True:
            shapes, edges = size(shape)
            if budget.fits(shapes, edges) or not fold:
                return shape, groups, budget.fits(shapes, edges)
            candidates = _array_groups(tree, shape, protected, keep_first)
            if not candidates:
                return shape, groups, False
            inside = _shapes_inside(tree, shape)
            linked = _linked_among(tree, shape, candidates)
            # Arrays whose members link among themselves (a mesh of GPUs, a torus) are folded
            # last: folding them hides a structure. max() keeps the first of equals and
            # candidates are sorted by name: stable.
            best = max(
                range(len(candidates)),
                key=lambda k: (
                    not linked[k],
                    int(inside[list(candidates[k].members)].sum()),
                    len(candidates[k].members),
                ),
            )
            best = candidates[best]
            folded.append(best)
            shape, groups = evaluate(d, folded)

    full_shapes = _apply(tree, base_stop, []).shapes
    auto = depth is None
    if not auto:
        # An explicit depth is drawn as asked: only arrays of alike devices are folded,
        # unless the view would exceed ``limit``.
        shape, groups = evaluate(depth, [])
        if fold and not SLIDE.fits(*size(shape)):
            # More than a slide: identical members of each array are drawn once.
            shape, groups = fold_identical(depth, shape, groups)
        if limit is not None and fold and not limit.fits(*size(shape)):
            # Identical parts are drawn once in detail; the rest of each array is one box.
            budget = limit
            shape, groups, _ = fold_until_fits(depth, keep_first=True)
        chosen = depth if depth < tree.max_depth else None
    else:
        chosen, shape, groups = _auto(tree, budget, evaluate, size, fold_until_fits, focus_row)
    return _finish(tree, shape, groups, chosen, auto, focus_row, focus_mask, full_shapes)


def _apply(tree: _Tree, stop: np.ndarray, groups: list[_Group]) -> _Shape:
    """The shape of a view that stops at ``stop`` and folds ``groups``."""
    group_of = np.full(tree.n, -1, dtype=np.int64)
    stop = stop.copy()
    for gi, g in enumerate(groups):
        members = np.array(g.members, dtype=np.int64)
        group_of[members] = gi
        stop[members] = True
    return _shape(tree, stop, group_of, len(groups))


def _like_groups(tree: _Tree, shape: _Shape, protected: np.ndarray) -> list[_Group]:
    """Arrays drawn once because their members are alike: childless devices with the same
    limits that are either

    * leaves linked to one and the same box and nothing else (HBM stacks of a GPU, drives
      behind one switch), or
    * planes of switches linked to exactly the same compute devices (the NVSwitch chips of a
      server, which together are its GPU fabric).
    """
    candidates = [
        g
        for g in _array_groups(tree, shape, protected)
        if not tree.has_children[list(g.members)].any()
    ]
    if not candidates:
        return []
    box = _box_of_row(tree, shape)
    bs, bd = box[shape.rep[tree.src]], box[shape.rep[tree.dst]]
    limit = tree.n + int(shape.group_of.max(initial=-1)) + 1
    # Only the neighbours of candidate members matter: keep the links that touch one.
    candidate = np.zeros(limit, dtype=bool)
    candidate[box[np.concatenate([np.array(g.members, dtype=np.int64) for g in candidates])]] = True
    ok = (bs >= 0) & (bd >= 0) & (bs != bd)
    ok[ok] = candidate[bs[ok]] | candidate[bd[ok]]
    ends = np.concatenate([bs[ok], bd[ok]])
    others = np.concatenate([bd[ok], bs[ok]])
    keys = ends * limit + others
    keys = keys[candidate[ends]]
    keys.sort()
    pairs = keys[np.append(True, keys[1:] != keys[:-1])] if len(keys) else keys
    first, second = pairs // limit, pairs % limit
    start = np.searchsorted(first, np.arange(limit + 1))
    roles = tree.topology.role_codes
    compute, transit = ROLES.index("compute"), ROLES.index("transit")
    n = tree.topology.nodes
    columns = (n.bandwidth, n.read_bandwidth, n.write_bandwidth, n.capacity, n.latency, n.ports)
    like = []
    for g in candidates:
        members = np.array(g.members, dtype=np.int64)
        if not all((col[members] == col[members[0]]).all() for col in columns):
            continue
        b0 = box[members[0]]
        ref = second[start[b0] : start[b0 + 1]]
        # Every member links to the same boxes: equal counts, then equal sorted lists.
        lo = start[box[members]]
        if not (start[box[members] + 1] - lo == len(ref)).all():
            continue
        if len(ref) and not (second[lo[:, None] + np.arange(len(ref))] == ref).all():
            continue
        if len(ref) <= 1 or (
            roles[members[0]] == transit and (ref < tree.n).all() and (roles[ref] == compute).all()
        ):
            like.append(replace(g, alike=True))
    return like


def _identical_groups(tree: _Tree, shape: _Shape, protected: np.ndarray) -> list[_Group]:
    """Arrays of drawn boxes whose members are identical, each drawn once.

    Two members are identical when, read in row order, their subtrees hold the same rows
    (kind, definition, every limit, ``extra`` attributes, the same tree and the same names
    below the member), the same links inside, and the same links out: from the same inner
    component, of the same type and figures, in the same direction, to the same box of the
    view. The comparison is exact (bytes of the raw columns, compared in a dict): a member
    that differs anywhere, or whose parts were merely listed in another order, stays a box
    of its own. Each array is split into classes of identical members; a class of at least
    :data:`FOLD_MIN` members becomes one group named by its index ranges.
    """
    expanded = shape.expanded
    candidates = [
        g
        for g in _array_groups(tree, shape, protected)
        if not expanded[np.array(g.members, dtype=np.int64)].any()
    ]
    if not candidates:
        return []
    topo = tree.topology
    nodes, links = topo.nodes, topo.links
    n = tree.n
    member_rows = np.concatenate([np.array(g.members, dtype=np.int64) for g in candidates])
    is_member = np.zeros(n, dtype=bool)
    is_member[member_rows] = True
    rep = shape.rep
    # Rows inside members, grouped by member (a stable sort keeps row order within each).
    inside = np.flatnonzero(is_member[rep])
    owner = rep[inside]
    order = np.argsort(owner, kind="stable")
    rows, owner = inside[order], owner[order]
    node_start = np.searchsorted(owner, member_rows, side="left")
    node_end = np.searchsorted(owner, member_rows, side="right")
    first_of = np.full(n, -1, dtype=np.int64)
    first_of[member_rows] = node_start
    rank = np.full(n, -1, dtype=np.int64)
    rank[rows] = np.arange(len(rows)) - first_of[owner]
    parent_rank = np.where(rows == owner, -1, rank[np.maximum(tree.parent[rows], 0)])
    limits = _limits(nodes)
    node_block = np.empty((len(rows), 5 + len(limits)), dtype=np.int64)
    node_block[:, 0] = nodes.kind[rows]
    node_block[:, 1] = nodes.template[rows]
    node_block[:, 2] = parent_rank
    node_block[:, 3] = nodes.ports[rows]
    node_block[:, 4] = _extra_codes(nodes.extra, n)[rows]
    for c, col in enumerate(limits):
        node_block[:, 5 + c] = _bits(col[rows])
    # Link ends at members, grouped by member (link-row order within each): the inner end
    # (and the other inner end, for a link inside), the box of the far end, the side and the
    # link's figures.
    box = _box_of_row(tree, shape)
    rs, rd = rep[tree.src], rep[tree.dst]
    from_src = np.flatnonzero(is_member[rs])
    from_dst = np.flatnonzero(is_member[rd] & (rs != rd))
    ends = np.concatenate([from_src, from_dst])
    at_src = np.arange(len(ends)) < len(from_src)
    end_owner = np.where(at_src, rs[ends], rd[ends])
    lorder = np.argsort(end_owner, kind="stable")
    ends, at_src, end_owner = ends[lorder], at_src[lorder], end_owner[lorder]
    inner = np.where(at_src, tree.src[ends], tree.dst[ends])
    far = np.where(at_src, tree.dst[ends], tree.src[ends])
    internal = rep[far] == end_owner
    link_block = np.empty((len(ends), 7), dtype=np.int64)
    link_block[:, 0] = (rank[inner] << 32) | np.where(internal, rank[far] + 1, 0)
    link_block[:, 1] = np.where(internal, -1, box[rep[far]])
    link_block[:, 2] = (
        np.where(at_src, 1, 2)
        | (links.simplex[ends].astype(np.int64) << 2)
        | (links.half_duplex[ends].astype(np.int64) << 3)
        | ((links.type[ends].astype(np.int64) + 1) << 4)
    )
    link_block[:, 3] = _extra_codes(links.extra, len(tree.src))[ends]
    link_block[:, 4] = _bits(links.bandwidth[ends])
    link_block[:, 5] = _bits(links.lanes[ends])
    link_block[:, 6] = _bits(links.latency[ends])
    link_start = np.searchsorted(end_owner, member_rows, side="left")
    link_end = np.searchsorted(end_owner, member_rows, side="right")
    at = {int(r): k for k, r in enumerate(member_rows.tolist())}
    ids = nodes.ids
    # The name of every row below its member (the member's own id cut off its front).
    id_length = np.zeros(n, dtype=np.int64)
    id_length[member_rows] = [len(ids[r]) for r in member_rows.tolist()]
    below = [ids[x][c:] for x, c in zip(rows.tolist(), id_length[owner].tolist(), strict=True)]
    groups = []
    for g in candidates:
        classes: dict[tuple[bytes, bytes, tuple[str, ...]], list[int]] = {}
        for r in g.members:
            k = at[r]
            a, b = int(node_start[k]), int(node_end[k])
            names = tuple(below[a:b])
            key = (
                node_block[a:b].tobytes(),
                link_block[int(link_start[k]) : int(link_end[k])].tobytes(),
                names,
            )
            classes.setdefault(key, []).append(r)
        index = dict(zip(g.members, _member_indices(tree, g), strict=True))
        for members in classes.values():
            if len(members) < FOLD_MIN:
                continue
            short = f"{g.key[2]}[{_index_ranges([index[r] for r in members])}]"
            prefix = ids[g.key[0]] + "." if g.key[0] >= 0 else ""
            groups.append(_Group(g.key, prefix + short, short, tuple(members), identical=True))
    groups.sort(key=lambda g: natural_key(g.name))
    return groups


def _limits(nodes) -> tuple[np.ndarray, ...]:
    return (
        nodes.bandwidth,
        nodes.read_bandwidth,
        nodes.write_bandwidth,
        nodes.capacity,
        nodes.latency,
    )


def _bits(values: np.ndarray) -> np.ndarray:
    """Float64 values as their int64 bit patterns: equal exactly when the floats are."""
    return np.ascontiguousarray(values, dtype=np.float64).view(np.int64)


def _extra_codes(extra, size: int) -> np.ndarray:
    """One code per distinct ``extra`` mapping (-1 for none), compared by value."""
    codes = np.full(size, -1, dtype=np.int64)
    seen: dict[str, int] = {}
    for row, attrs in extra.items():
        if attrs:
            codes[row] = seen.setdefault(repr(sorted(attrs.items())), len(seen))
    return codes


def _member_indices(tree: _Tree, group: _Group) -> list[int]:
    """The array index of each member of ``group`` (the number its id ends with)."""
    return [int(tree.array_names[r].group(2)) for r in group.members]


def _index_ranges(idx: list[int]) -> str:
    """Sorted indices as ranges: ``0..4,6..31``; past four ranges, the span and the count
    (``0..99 (97 of 100)``), so a missing member is never hidden.

    >>> _index_ranges([0, 1, 2, 3]), _index_ranges([0, 1, 2, 4, 5, 6])
    ('0..3', '0..2,4..6')
    >>> _index_ranges([0, 2, 4, 6, 8, 10])
    '0..10 (6 of 11)'
    """
    runs: list[tuple[int, int]] = []
    for i in idx:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    if len(runs) > 4:
        return f"{idx[0]}..{idx[-1]} ({len(idx)} of {idx[-1] - idx[0] + 1})"
    return ",".join(f"{a}..{b}" if b > a else str(a) for a, b in runs)


def _auto(tree, budget, evaluate, size, fold_until_fits, focus_row):
    """The deepest depth whose view fits; when none does, the shallowest useful depth (the
    top level's children, or the focus's) with arrays folded, largest first, until it fits."""
    top = tree.max_depth
    low = 1 if top >= 1 else 0
    if focus_row is not None:
        low = min(int(tree.dep[focus_row]) + 1, top)
    for d in range(top, low - 1, -1):
        # A view shows at least one shape for most rows down to depth d; skip hopeless ones.
        if focus_row is None and tree.count_at_or_above[d] > 8 * budget.max_shapes:
            continue
        shape, groups = evaluate(d, [])
        if budget.fits(*size(shape)):
            return (d if d < top else None), shape, groups
    shape, groups, _ = fold_until_fits(low)
    return (low if low < top else None), shape, groups


def _focus_row(topology: Topology, focus: str) -> int:
    if focus in topology:
        return topology.index(focus)
    import difflib

    depth = focus.count(".")
    candidates = [i for i in topology.nodes.ids if i.count(".") == depth][:50_000]
    close = difflib.get_close_matches(focus, candidates, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise SolverError(f"--focus: no component {focus!r} in the topology{hint}")


def _focused_size(tree: _Tree, shape: _Shape, focus_mask: np.ndarray) -> tuple[int, int]:
    """Shapes and edges of a focused view: boxes inside the focus, the clusters drawn, and the
    outside boxes linked to the focus (the only outside boxes drawn)."""
    box_of_row = _box_of_row(tree, shape)
    agg = _aggregate(tree, shape, box_of_row, focus_mask)
    lo, hi = agg[1], agg[2]
    inside = np.unique(box_of_row[shape.rep[focus_mask]])
    inside = inside[inside >= 0]
    outside = np.setdiff1d(np.union1d(lo, hi), inside)
    return len(inside) + int(shape.expanded.sum()) + len(outside), len(lo)


def _finish(tree, shape, folded, depth, auto, focus_row, focus_mask, full_shapes) -> View:
    topo = tree.topology
    ids = topo.nodes.ids
    n = tree.n
    parent = tree.parent

    def cluster_of(row: int) -> int:
        return int(parent[row])

    boxes: list[Box] = []
    box_of_row = np.full(n, -1, dtype=np.int64)
    plain = np.flatnonzero(shape.visible & ~shape.expanded & (shape.group_of < 0))
    for r in plain.tolist():
        form = "collapsed" if tree.has_children[r] else "device"
        box_of_row[r] = len(boxes)
        boxes.append(Box(ids[r], topo.kind_of(r), form, (r,), cluster_of(r), _last(ids[r])))
    for r in np.flatnonzero(shape.self_box).tolist():
        box_of_row[r] = len(boxes)
        boxes.append(Box(ids[r], topo.kind_of(r), "self", (r,), r, _last(ids[r])))
    for g in folded:
        b = len(boxes)
        box_of_row[np.array(g.members, dtype=np.int64)] = b
        first = g.members[0]
        boxes.append(
            Box(g.name, topo.kind_of(first), "group", g.members, cluster_of(first), g.short)
        )

    edge_of, lo, hi, t, simplex, lanes, bw, count, each = _aggregate(
        tree, shape, box_of_row, focus_mask
    )
    keep_box = np.ones(len(boxes), dtype=bool)
    if focus_mask is not None:
        inside = np.zeros(len(boxes), dtype=bool)
        inside[box_of_row[shape.rep[focus_mask]]] = True
        linked = np.zeros(len(boxes), dtype=bool)
        linked[lo] = True
        linked[hi] = True
        keep_box = inside | linked
    # Renumber boxes by key so the DOT text does not depend on the order rows were made in.
    kept = [i for i in range(len(boxes)) if keep_box[i]]
    kept.sort(key=lambda i: (natural_key(boxes[i].key), boxes[i].form))
    new_index = np.full(len(boxes), -1, dtype=np.int64)
    new_index[kept] = np.arange(len(kept))
    final_boxes = tuple(boxes[i] for i in kept)
    box_of = np.where(
        box_of_row[shape.rep] >= 0, new_index[np.maximum(box_of_row[shape.rep], 0)], -1
    )
    box_of[box_of_row[shape.rep] < 0] = -1

    names = topo.link_type_names
    edges = []
    for e in range(len(lo)):
        a, b = int(new_index[lo[e]]), int(new_index[hi[e]])
        directed = bool(simplex[e])
        if not directed and natural_key(final_boxes[a].key) > natural_key(final_boxes[b].key):
            a, b = b, a
        edges.append(
            Edge(
                tail=a,
                head=b,
                type=names[t[e]] if t[e] >= 0 else None,
                directed=directed,
                links=int(count[e]),
                lanes=float(lanes[e]),
                bandwidth=float(bw[e]),
                internal=a == b,
                each_bandwidth=(float(each[0][e]), float(each[1][e])),
            )
        )
    order = sorted(
        range(len(edges)),
        key=lambda i: (
            natural_key(final_boxes[edges[i].tail].key),
            natural_key(final_boxes[edges[i].head].key),
            edges[i].type or "",
            edges[i].directed,
        ),
    )
    remap = np.full(len(edges) + 1, -1, dtype=np.int64)
    remap[np.array(order, dtype=np.int64)] = np.arange(len(order))
    edge_of = np.where(edge_of >= 0, remap[np.where(edge_of >= 0, edge_of, len(edges))], -1)
    edges = [edges[i] for i in order]

    # Clusters: expanded rows still holding something drawn, parents before children.
    expanded = np.flatnonzero(shape.expanded)
    holds = np.zeros(n, dtype=bool)
    for b in final_boxes:
        c = b.cluster
        while c >= 0 and not holds[c]:
            holds[c] = True
            c = int(parent[c])
    clusters = sorted(
        (r for r in expanded.tolist() if holds[r]),
        key=lambda r: (int(tree.dep[r]), natural_key(ids[r])),
    )
    drawn = np.flatnonzero(box_of >= 0)
    by_box = drawn[np.argsort(box_of[drawn], kind="stable")]
    bounds = np.searchsorted(box_of[by_box], np.arange(len(final_boxes) + 1))
    members = tuple(by_box[bounds[i] : bounds[i + 1]] for i in range(len(final_boxes)))
    # Report the depth actually drawn: folding an array of containers hides their insides.
    box_rows = [r for b in final_boxes for r in b.rows]
    hidden = [r for b in final_boxes if b.form != "self" for r in b.rows if tree.has_children[r]]
    if hidden and focus_row is None:
        shown = int(tree.dep[np.array(box_rows, dtype=np.int64)].max())
        depth = shown if depth is None else min(depth, shown)
    return View(
        topology=topo,
        boxes=final_boxes,
        edges=tuple(edges),
        clusters=tuple(clusters),
        cluster_parent=tuple(int(parent[r]) for r in clusters),
        box_of=box_of,
        edge_of=edge_of,
        depth=depth,
        auto=auto,
        folded=tuple(g.name for g in folded if not (g.alike or g.identical)),
        alike=tuple(g.name for g in folded if g.alike),
        identical=tuple(g.name for g in folded if g.identical),
        focus=focus_row,
        full_shapes=full_shapes,
        box_members=members,
    )


def _last(node_id: str) -> str:
    """The last dotted segment of an id (the name a box shows inside its cluster)."""
    return node_id.rpartition(".")[2]
