"""The elaborated topology: the one type every solver, renderer and report reads.

A :class:`Topology` keeps the graph as numpy arrays so that a 100,000-GPU cluster (about a
million components and several million links) stays small and fast:

* :class:`NodeTable` — one row per component: dotted id, kind code, parent row, device limits
  in SI base units (``inf`` where there is no limit), source position.
* :class:`LinkTable` — one row per link: endpoint rows, bandwidth **per direction** in bytes per
  second (lanes included), latency in seconds, link type, lanes, and whether it is one-way.

:meth:`Topology.to_networkx` builds the user-facing NetworkX view on demand; solvers never
round-trip through it.

Examples
--------
>>> b = TopologyBuilder()
>>> b.add_node("srv", "node")
0
>>> b.add_node("srv.gpu0", "gpu", parent="srv")
1
>>> b.add_node("srv.gpu1", "gpu", parent="srv")
2
>>> _ = b.add_link("srv.gpu0", "srv.gpu1", bandwidth=450e9, latency=1e-7, type="nvlink4")
>>> topo = b.build()
>>> topo.num_nodes, topo.num_links
(3, 1)
>>> topo.kind_of(topo.index("srv.gpu1"))
'gpu'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .errors import Diagnostic, SolverError, Span
from .kinds import KIND_ALIASES, KIND_CODE, KINDS, ROLE_OF, ROLES

__all__ = [
    "NodeTable",
    "LinkTable",
    "LinkType",
    "FabricInfo",
    "RiskGroup",
    "Topology",
    "TopologyBuilder",
    "NODE_FIELDS",
]

#: Topologies from this many rows on answer their first lookups by id with a scan of the id
#: list, and build the id -> row dict only at the next (see ``Topology._row``).
_SCAN_FROM_ROWS = 100_000
_SCANS_BEFORE_DICT = 8

# Float device attributes and their default ("no limit" / "none").
NODE_FIELDS: dict[str, float] = {
    "bandwidth": np.inf,
    "read_bandwidth": np.inf,
    "write_bandwidth": np.inf,
    "capacity": 0.0,
    "latency": 0.0,
}


@dataclass(frozen=True)
class NodeTable:
    """Components, one row each. Float columns are in SI base units.

    ``bandwidth`` caps every flow through the device; ``read_bandwidth`` caps flow out of a
    storage device and ``write_bandwidth`` flow into it (``inf`` = no cap). ``capacity`` is in
    bytes (0 for non-memory). ``ports`` is -1 when undeclared. ``parent`` is -1 at the top level.
    ``origin`` indexes :attr:`Topology.spans` (-1 when unknown). ``template`` indexes
    :attr:`Topology.templates`: components made from the same definition with the same
    arguments share it, so solvers can compute once per definition.
    """

    ids: list[str]
    kind: np.ndarray  # uint8, index into KINDS
    parent: np.ndarray  # int32
    bandwidth: np.ndarray  # float64, B/s
    read_bandwidth: np.ndarray  # float64, B/s
    write_bandwidth: np.ndarray  # float64, B/s
    capacity: np.ndarray  # float64, bytes
    latency: np.ndarray  # float64, s
    ports: np.ndarray  # int32
    origin: np.ndarray  # int32
    template: np.ndarray  # int32
    extra: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class LinkTable:
    """Links, one row each. ``bandwidth`` is per direction, in B/s, with lanes multiplied in.

    A link carries ``bandwidth`` from ``src`` to ``dst`` and, unless ``simplex``, the same from
    ``dst`` to ``src`` at the same time (full duplex). A ``half_duplex`` link shares its
    bandwidth between the two directions. ``type`` indexes :attr:`Topology.link_type_names`
    (-1 for an untyped link). ``extra`` holds rare per-link values by link row, such as the
    free-form ``meta`` dict (text or plain numbers) a connection's ``meta { ... }`` gave it.
    """

    src: np.ndarray  # int32
    dst: np.ndarray  # int32
    bandwidth: np.ndarray  # float64, B/s per direction
    latency: np.ndarray  # float64, s
    lanes: np.ndarray  # float64
    type: np.ndarray  # int32
    simplex: np.ndarray  # bool
    half_duplex: np.ndarray  # bool
    origin: np.ndarray  # int32
    extra: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.src)


@dataclass(frozen=True, slots=True)
class LinkType:
    """A declared link type: bandwidth per lane and per direction (B/s), latency (s)."""

    name: str
    bandwidth: float
    latency: float = 0.0
    half_duplex: bool = False
    model: str | None = None
    span: Span | None = None


@dataclass(frozen=True)
class FabricInfo:
    """What a fabric generator built, so solvers can use its known structure.

    ``generator`` is one of ``ring``, ``line``, ``mesh``, ``torus``, ``hypercube``,
    ``full_mesh``, ``fat_tree``, ``leaf_spine``, ``clos3``, ``dragonfly``. ``hosts`` are the rows
    the generator connected, in order; ``switches`` the rows it created (empty for patterns
    that only add links); ``links`` the link rows it created. ``params`` holds the generator's
    arguments as plain numbers (bandwidths in B/s per direction), e.g. ``{"dims": (4, 4)}``
    for a mesh or ``{"k": 4, "link_bandwidth": 5e10}`` for a fat tree.
    """

    name: str
    generator: str
    params: Mapping[str, Any]
    hosts: np.ndarray
    switches: np.ndarray
    links: np.ndarray
    span: Span | None = None


@dataclass(frozen=True)
class RiskGroup:
    """A shared-risk group: components and links that fail together (a rack's power feed, a
    cable tray, a batch of optics), declared with ``risk NAME { ... }``.

    ``name`` is its dotted id (``pod.rack0.pdu``: the component it is declared in, then its
    name); ``components`` are node rows (each fails with everything inside it), ``links`` link
    rows; ``probability`` the chance it fails (``None`` when not declared).
    """

    name: str
    components: np.ndarray
    links: np.ndarray
    probability: float | None = None
    span: Span | None = None


@dataclass(frozen=True)
class Topology:
    """An elaborated topology: node and link tables plus what they refer to.

    Attributes
    ----------
    nodes, links : the tables.
    link_type_names : names indexed by ``links.type``.
    link_types : declared link types by name.
    spans : source positions indexed by ``nodes.origin`` and ``links.origin``.
    templates : definition names indexed by ``nodes.template``.
    source : the file the topology came from.
    warnings : diagnostics that did not stop elaboration.
    assertions : design assertions declared in the file (see :mod:`topodsl.check`).
    fabrics : what each fabric generator or connection pattern built.
    source_texts : source text of every file read, for diagnostics.
    risks : shared-risk groups (``risk NAME { ... }``), see :mod:`topodsl.risks`.
    constants : every top-level constant that is a plain number, ``name -> (value in SI base
        units, Dim)``, as elaborated (``-D`` included): what assertions read.
    overrides : the constants ``-D NAME=VALUE`` set (:class:`topodsl.params.Setting`), for
        reports to echo.
    workloads : the jobs declared to run on the design (see :mod:`topodsl.workload`).
    """

    nodes: NodeTable
    links: LinkTable
    link_type_names: tuple[str, ...] = ()
    link_types: Mapping[str, LinkType] = field(default_factory=dict)
    spans: tuple[Span, ...] = ()
    templates: tuple[str, ...] = ()
    source: str = "<memory>"
    warnings: tuple[Diagnostic, ...] = ()
    assertions: tuple[Any, ...] = ()
    fabrics: tuple[FabricInfo, ...] = ()
    source_texts: Mapping[str, str] = field(default_factory=dict)
    risks: tuple[RiskGroup, ...] = ()
    constants: Mapping[str, tuple[float, Any]] = field(default_factory=dict)
    overrides: tuple[Any, ...] = ()
    workloads: tuple[Any, ...] = ()

    # -- sizes and lookups ------------------------------------------------------------------

    @property
    def num_nodes(self) -> int:
        """Number of components (containers included)."""
        return len(self.nodes.ids)

    @property
    def num_links(self) -> int:
        """Number of links (a full-duplex link counts once)."""
        return len(self.links.src)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.nodes.ids)}

    def _row(self, node_id: object) -> int | None:
        """The row of ``node_id``, or ``None``. On a large topology the first few lookups
        scan the id list (C speed, 0.1 s at 9 million ids) rather than build the id -> row
        dict (seconds and about 100 B per component at a million GPUs, for a check that
        looks up the four scopes of its assertions); later ones build it."""
        if "_index" not in self.__dict__ and self.num_nodes >= _SCAN_FROM_ROWS:
            scans = self.__dict__.get("_scans", 0)
            if scans < _SCANS_BEFORE_DICT:
                self.__dict__["_scans"] = scans + 1
                try:
                    return self.nodes.ids.index(node_id)
                except ValueError:
                    return None
        return self._index.get(node_id)  # type: ignore[call-overload]

    def index(self, node_id: str) -> int:
        """Row of the component with dotted id ``node_id``; ``SolverError`` if there is none.

        >>> TopologyBuilder().build().index("nope")
        Traceback (most recent call last):
        ...
        topodsl.errors.SolverError: error: no component 'nope' in the topology
        """
        row = self._row(node_id)
        if row is None:
            raise SolverError(f"no component {node_id!r} in the topology")
        return row

    def __contains__(self, node_id: object) -> bool:
        return self._row(node_id) is not None

    def kind_of(self, row: int) -> str:
        """Kind name of row ``row``."""
        return KINDS[int(self.nodes.kind[row])]

    def role_of(self, row: int) -> str:
        """Role name of row ``row``."""
        return ROLE_OF[self.kind_of(row)]

    @cached_property
    def role_codes(self) -> np.ndarray:
        """Role index (into :data:`topodsl.kinds.ROLES`) of every row, as uint8."""
        table = np.array([ROLES.index(ROLE_OF[k]) for k in KINDS], dtype=np.uint8)
        return table[self.nodes.kind]

    def rows_of_kind(self, *kinds: str) -> np.ndarray:
        """Rows whose kind is one of ``kinds`` (aliases allowed), ascending.

        >>> b = TopologyBuilder(); _ = b.add_node("g", "gpu"); _ = b.add_node("h", "hbm")
        >>> b.build().rows_of_kind("gpu").tolist()
        [0]
        """
        codes = [KIND_CODE[KIND_ALIASES.get(k, k)] for k in kinds]
        return np.flatnonzero(np.isin(self.nodes.kind, codes))

    def rows_of_role(self, *roles: str) -> np.ndarray:
        """Rows whose role is one of ``roles``, ascending."""
        codes = [ROLES.index(r) for r in roles]
        return np.flatnonzero(np.isin(self.role_codes, codes))

    def select(self, selector: str) -> np.ndarray:
        """Rows matched by a selector string (see :mod:`topodsl.select`)."""
        from .select import select

        return select(self, selector)

    def span_of(self, row: int) -> Span | None:
        """Source position that made row ``row``, if known."""
        o = int(self.nodes.origin[row])
        return self.spans[o] if o >= 0 else None

    def link_type_of(self, link: int) -> str | None:
        """Type name of link ``link`` (``None`` if untyped)."""
        t = int(self.links.type[link])
        return self.link_type_names[t] if t >= 0 else None

    def meta(self, row: int) -> Mapping[str, Any]:
        """Free-form metadata of component ``row`` (``meta { ... }`` in the language), or ``{}``.

        >>> b = TopologyBuilder(); _ = b.add_node("g", "gpu", meta={"pci_busid": "0000:18:00.0"})
        >>> dict(b.build().meta(0))
        {'pci_busid': '0000:18:00.0'}
        """
        return self.nodes.extra.get(row, {}).get("meta", {})

    def link_meta(self, link: int) -> Mapping[str, Any]:
        """Free-form metadata of link ``link``, or ``{}``."""
        return self.links.extra.get(link, {}).get("meta", {})

    def attributes(self, row: int) -> dict[str, Any]:
        """All attributes of row ``row`` as a dict (SI units), for reports and exports."""
        n = self.nodes
        out: dict[str, Any] = {"kind": self.kind_of(row)}
        p = int(n.parent[row])
        out["parent"] = n.ids[p] if p >= 0 else None
        for name, default in NODE_FIELDS.items():
            v = float(getattr(n, name)[row])
            if v != default:
                out[name] = v
        if n.ports[row] >= 0:
            out["ports"] = int(n.ports[row])
        out.update(n.extra.get(row, {}))
        return out

    @cached_property
    def children(self) -> list[list[int]]:
        """Child rows of every row, in row order (built once, on demand)."""
        kids: list[list[int]] = [[] for _ in range(self.num_nodes)]
        for child, parent in enumerate(self.nodes.parent.tolist()):
            if parent >= 0:
                kids[parent].append(child)
        return kids

    @cached_property
    def children_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Children of every row as CSR arrays ``(ptr, rows)``: the children of ``r`` are
        ``rows[ptr[r]:ptr[r + 1]]``, in row order. Built with numpy in one pass."""
        parent = self.nodes.parent.astype(np.int64)
        has = parent >= 0
        kids = np.flatnonzero(has)
        order = np.argsort(parent[kids], kind="stable")
        counts = np.bincount(parent[kids], minlength=self.num_nodes)
        ptr = np.zeros(self.num_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        return ptr, kids[order]

    @cached_property
    def depth(self) -> np.ndarray:
        """Containment depth of every row (0 at the top level), as int32."""
        parent = self.nodes.parent
        depth = np.zeros(len(parent), dtype=np.int32)
        cur = parent.copy()
        while True:
            mask = cur >= 0
            if not mask.any():
                return depth
            depth[mask] += 1
            cur[mask] = parent[cur[mask]]

    # -- views ------------------------------------------------------------------------------

    def to_networkx(self):
        """Build the NetworkX view: a ``MultiDiGraph`` with one arc per direction of each link.

        Node keys are dotted ids; node attributes are those of :meth:`attributes` (``kind``,
        ``parent``, ``bandwidth``, ``read_bandwidth``, ``write_bandwidth``, ``capacity``,
        ``latency``, ``ports`` where set). Each arc has ``bandwidth`` (B/s, that direction),
        ``latency`` (s), ``type``, ``lanes`` and ``link`` (the row in :attr:`links`), keyed by
        the link row. A full-duplex link gives two arcs; a simplex link one. Half-duplex
        links also give two arcs, marked ``half_duplex=True``: the two share one budget.

        Building this for a million components takes tens of seconds; solvers use the arrays.

        >>> b = TopologyBuilder(); _ = b.add_node("a", "gpu"); _ = b.add_node("b", "gpu")
        >>> _ = b.add_link("a", "b", bandwidth=1e9)
        >>> g = b.build().to_networkx()
        >>> sorted(g.edges(keys=True))
        [('a', 'b', 0), ('b', 'a', 0)]
        """
        import networkx as nx

        g = nx.MultiDiGraph(source=self.source)
        ids = self.nodes.ids
        for row, name in enumerate(ids):
            g.add_node(name, **self.attributes(row))
        L = self.links
        for e in range(len(L.src)):
            attrs = {
                "bandwidth": float(L.bandwidth[e]),
                "latency": float(L.latency[e]),
                "type": self.link_type_of(e),
                "lanes": float(L.lanes[e]),
                "link": e,
            }
            if L.half_duplex[e]:
                attrs["half_duplex"] = True
            if e in L.extra:
                attrs.update(L.extra[e])
            a, b = ids[L.src[e]], ids[L.dst[e]]
            g.add_edge(a, b, key=e, **attrs)
            if not L.simplex[e]:
                g.add_edge(b, a, key=e, **attrs)
        return g


class TopologyBuilder:
    """Build a :class:`Topology` one component and link at a time.

    Meant for tests, importers and small programmatic topologies; the language's elaborator
    builds the arrays directly. Attributes are in SI base units.
    """

    def __init__(self, source: str = "<memory>"):
        self.source = source
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._kind: list[int] = []
        self._parent: list[int] = []
        self._fields: dict[str, list[float]] = {k: [] for k in NODE_FIELDS}
        self._ports: list[int] = []
        self._extra: dict[int, dict[str, Any]] = {}
        self._links: list[tuple] = []
        self._link_extra: dict[int, dict[str, Any]] = {}
        self._type_names: list[str] = []
        self._type_index: dict[str, int] = {}
        self.link_types: dict[str, LinkType] = {}

    def add_node(
        self, node_id: str, kind: str, parent: str | None = None, ports: int = -1, **attrs: Any
    ) -> int:
        """Add a component; returns its row. Other attributes (``model``, a ``meta`` dict of
        free-form metadata) go to ``extra``."""
        if node_id in self._index:
            raise ValueError(f"duplicate component id {node_id!r}")
        kind = KIND_ALIASES.get(kind, kind)
        if kind not in KIND_CODE:
            raise ValueError(f"unknown kind {kind!r}")
        row = len(self._ids)
        self._ids.append(node_id)
        self._index[node_id] = row
        self._kind.append(KIND_CODE[kind])
        self._parent.append(self._index[parent] if parent is not None else -1)
        for name, default in NODE_FIELDS.items():
            v = attrs.pop(name, None)
            self._fields[name].append(default if v is None else float(v))
        self._ports.append(int(ports))
        attrs = {k: v for k, v in attrs.items() if v is not None}
        if attrs:
            self._extra[row] = attrs
        return row

    def add_link(
        self,
        a: str | int,
        b: str | int,
        bandwidth: float,
        latency: float = 0.0,
        type: str | None = None,
        lanes: float = 1.0,
        simplex: bool = False,
        half_duplex: bool = False,
        meta: Mapping[str, Any] | None = None,
    ) -> int:
        """Add a link between ``a`` and ``b`` (ids or rows); ``bandwidth`` per direction, B/s.

        ``meta`` is free-form metadata (text or plain numbers) kept with the link."""
        ra = self._index[a] if isinstance(a, str) else int(a)
        rb = self._index[b] if isinstance(b, str) else int(b)
        t = -1
        if type is not None:
            if type not in self._type_index:
                self._type_index[type] = len(self._type_names)
                self._type_names.append(type)
            t = self._type_index[type]
        self._links.append(
            (ra, rb, float(bandwidth), float(latency), float(lanes), t, simplex, half_duplex)
        )
        if meta:
            self._link_extra[len(self._links) - 1] = {"meta": dict(meta)}
        return len(self._links) - 1

    def build(self, **kwargs: Any) -> Topology:
        """Freeze what was added into a :class:`Topology`."""
        n = len(self._ids)
        nodes = NodeTable(
            ids=list(self._ids),
            kind=np.array(self._kind, dtype=np.uint8),
            parent=np.array(self._parent, dtype=np.int32),
            ports=np.array(self._ports, dtype=np.int32),
            origin=np.full(n, -1, dtype=np.int32),
            template=np.full(n, -1, dtype=np.int32),
            extra=dict(self._extra),
            **{k: np.array(v, dtype=np.float64) for k, v in self._fields.items()},
        )
        cols = list(zip(*self._links, strict=True)) if self._links else [()] * 8
        links = LinkTable(
            src=np.array(cols[0], dtype=np.int32),
            dst=np.array(cols[1], dtype=np.int32),
            bandwidth=np.array(cols[2], dtype=np.float64),
            latency=np.array(cols[3], dtype=np.float64),
            lanes=np.array(cols[4], dtype=np.float64),
            type=np.array(cols[5], dtype=np.int32),
            simplex=np.array(cols[6], dtype=bool),
            half_duplex=np.array(cols[7], dtype=bool),
            origin=np.full(len(self._links), -1, dtype=np.int32),
            extra=dict(self._link_extra),
        )
        kwargs.setdefault("source", self.source)
        kwargs.setdefault("link_types", dict(self.link_types))
        return Topology(nodes=nodes, links=links, link_type_names=tuple(self._type_names), **kwargs)


def concat_rows(parts: Sequence[np.ndarray] | Iterable[np.ndarray], dtype) -> np.ndarray:
    """Concatenate row arrays, giving an empty array of ``dtype`` when there are none."""
    parts = list(parts)
    if not parts:
        return np.zeros(0, dtype=dtype)
    return np.concatenate(parts).astype(dtype, copy=False)
