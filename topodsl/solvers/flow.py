"""The flow core every solver shares: a topology as a directed capacity network, max flow, min cut.

Modelling
---------
* Each direction of a link is an arc with the link's bandwidth (B/s, per direction). A simplex
  link gives one arc. (For a single commodity, a half-duplex link of capacity c and a full-duplex
  one are the same network: opposite flows cancel.)
* A device with a finite ``bandwidth`` is split into an *in* and an *out* vertex joined by one
  arc of that capacity, so the limit bounds every flow through it. Devices without a limit are
  not split, which keeps the network small.
* Memory and storage devices (roles ``memory`` and ``storage``) are only ever where data
  starts or ends: they are split the same way but with no arc between their two vertices, so no
  flow passes *through* an HBM stack, a DIMM, a CXL expander or an SSD.
* A super-source feeds every source row on its *out* vertex with the row's egress limit
  (``min(bandwidth, read_bandwidth)``: reading a storage device is capped by its read speed) and
  every sink row drains into a super-sink from its *in* vertex with the ingress limit
  (``min(bandwidth, write_bandwidth)``: writing is capped by its write speed).

Backends
--------
``"scipy"`` (default) is ``scipy.sparse.csgraph.maximum_flow`` with Dinic's algorithm over CSR
arrays: 90-260x faster than NetworkX here. It needs int32 capacities and answers wrongly, without
a word, when they do not fit (an int64 graph gives a flow of 0; sums past 2**31 wrap). So
capacities are expressed in an integer *unit* of B/s, parallel arcs are merged and clipped in
64-bit before the cast, and every arc above the largest possible cut is clipped to just above it
(it can never be in a minimum cut):

* the unit is the largest power of ten (else the smallest power of two) that divides every
  capacity while the largest cut fits in 2**30 units: then the answer is exact and
  :attr:`FlowResult.resolution` is that unit;
* otherwise the unit is a power of two (never 1) and arcs are rounded down; the minimum cut
  found is then re-measured with the true capacities, so the true max flow lies between
  :attr:`FlowResult.value` and :attr:`FlowResult.cut_capacity` (:attr:`FlowResult.exact` is
  False). When those differ by more than one part in ten thousand,
  :class:`~topodsl.errors.SolverError` is raised rather than a doubtful number returned.

``"networkx"`` (preflow-push, floats) is the oracle the tests compare against.

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> for name in ("a", "b", "c"):
...     _ = b.add_node(name, "gpu")
>>> _ = b.add_link("a", "b", bandwidth=100e9)
>>> _ = b.add_link("a", "c", bandwidth=50e9)
>>> _ = b.add_link("c", "b", bandwidth=20e9)
>>> r = max_flow(b.build(), [0], [1])
>>> r.value / 1e9
120.0
>>> sorted((c.source, c.target) for c in r.cut)
[('a', 'b'), ('c', 'b')]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components, maximum_flow

from ..errors import SolverError
from ..kinds import ROLES
from ..topology import Topology

__all__ = [
    "FlowNetwork",
    "FlowResult",
    "CutItem",
    "TerminalCuts",
    "flow_network",
    "max_flow",
    "egress_limit",
    "ingress_limit",
    "prune_for_terminals",
    "sorted_unique",
    "INT_LIMIT",
]

INT_LIMIT = 2**31 - 1
# Keep headroom below the int32 limit: Dinic adds flows, and the answer is summed in int32 too.
_BUDGET = 2**30
# Largest relative gap between the flow found and the cut re-measured with true capacities.
_MAX_ROUNDING = 1e-4

_TERMINAL_ROLES = [ROLES.index("memory"), ROLES.index("storage")]
_ARC_LINK, _ARC_DEVICE, _ARC_SOURCE, _ARC_SINK = 0, 1, 2, 3


@dataclass(frozen=True)
class FlowNetwork:
    """A topology as arcs between vertices; built once per topology and reused per query.

    ``vin[row]``/``vout[row]`` are the vertices where flow enters and leaves a component (the
    same vertex when the component has no limit; -1 for a row left out of the network). Arc
    ``a`` goes ``tail[a] -> head[a]`` with ``capacity[a]`` B/s; ``what[a]`` says what it models
    (link or device) and ``ref[a]`` which row (link row or node row); ``forward[a]`` is False
    for the ``dst -> src`` arc of a link.
    """

    num_vertices: int
    vin: np.ndarray
    vout: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    what: np.ndarray
    ref: np.ndarray
    forward: np.ndarray

    @property
    def symmetric(self) -> bool:
        """True when every link arc has a reverse twin of equal capacity (no simplex links).

        Then a max flow from X to Y equals one from Y to X.
        """
        is_link = self.what == _ARC_LINK
        return int((is_link & self.forward).sum()) == int((is_link & ~self.forward).sum())


@dataclass(frozen=True, slots=True)
class CutItem:
    """One saturated element of a minimum cut.

    ``element`` is ``"link"`` (``row`` is a link row; ``source``/``target`` the direction the
    flow crosses it) or ``"device"`` (``row`` is a node row whose own limit is saturated;
    ``source == target ==`` its id). ``bandwidth`` is that element's capacity in B/s in the
    direction crossed.
    """

    element: str
    row: int
    source: str
    target: str
    bandwidth: float
    type: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready form: ``{"from", "to", "bandwidth", "element", "type"}``."""
        out = {
            "from": self.source,
            "to": self.target,
            "bandwidth": self.bandwidth,
            "element": self.element,
        }
        if self.type:
            out["type"] = self.type
        return out


@dataclass(frozen=True)
class FlowResult:
    """Max flow from a set of sources to a set of sinks, with one minimum cut.

    Attributes
    ----------
    value : float
        Maximum total flow, B/s, in the direction sources -> sinks.
    resolution : float
        The unit capacities were expressed in (B/s); 0 for the NetworkX backend.
    cut : tuple of CutItem
        The links and devices of one minimum cut (the one closest to the sources), sorted.
    source_side : numpy bool array
        For each node row, whether its *out* vertex is on the source side of that cut.
    link_flow : numpy array (num_links, 2)
        Flow on each link at the max flow, column 0 ``src -> dst``, column 1 ``dst -> src``.
    device_flow : numpy array (num_nodes,)
        Flow through each limited device's own arc (0 for devices without a limit).
    rounded : bool
        True when capacities had to be rounded down to the unit: the true max flow then lies
        between ``value`` and ``cut_capacity``, at most ``resolution`` per cut element apart.
    """

    value: float
    resolution: float
    cut: tuple[CutItem, ...]
    source_side: np.ndarray
    link_flow: np.ndarray
    device_flow: np.ndarray
    rounded: bool = False

    @property
    def cut_capacity(self) -> float:
        """Sum of the cut elements' true capacities, B/s (equals :attr:`value` when exact)."""
        return float(math.fsum(c.bandwidth for c in self.cut))

    @property
    def exact(self) -> bool:
        """Whether :attr:`value` is exact (no capacity had to be rounded)."""
        return not self.rounded


def egress_limit(topology: Topology, rows: np.ndarray) -> np.ndarray:
    """Most a component can send (B/s): its bandwidth, and its read bandwidth for storage."""
    n = topology.nodes
    return np.minimum(n.bandwidth[rows], n.read_bandwidth[rows])


def ingress_limit(topology: Topology, rows: np.ndarray) -> np.ndarray:
    """Most a component can take in (B/s): its bandwidth, and its write bandwidth for storage."""
    n = topology.nodes
    return np.minimum(n.bandwidth[rows], n.write_bandwidth[rows])


def sorted_unique(values: np.ndarray, return_inverse: bool = False):
    """``np.unique`` by sorting (numpy's hash-based unique is slow on millions of values).

    >>> sorted_unique(np.array([3, 1, 3, 2]), return_inverse=True)
    (array([1, 2, 3]), array([2, 0, 2, 1]))
    """
    values = np.asarray(values)
    if not return_inverse:
        s = np.sort(values, kind="stable")
        return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s
    order = np.argsort(values, kind="stable")
    s = values[order]
    first = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, dtype=bool)
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return s[first], inverse


_NETWORKS: dict[int, tuple[Topology, FlowNetwork]] = {}


def flow_network(topology: Topology) -> FlowNetwork:
    """The flow network of ``topology`` (cached per topology object).

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("s", "switch", bandwidth=1e12)
    >>> flow_network(b.build()).num_vertices   # a limited device is split in two
    2
    """
    hit = _NETWORKS.get(id(topology))
    if hit is not None and hit[0] is topology:
        return hit[1]
    # A damaged copy (topodsl.failures) masks its original's network instead of building one.
    derive = getattr(topology, "derived_flow_network", None)
    net = derive() if derive is not None else build_network(topology)
    if len(_NETWORKS) > 8:
        _NETWORKS.clear()
    _NETWORKS[id(topology)] = (topology, net)
    return net


def build_network(topology: Topology, keep: np.ndarray | None = None) -> FlowNetwork:
    """The flow network of ``topology``, or of the rows where ``keep`` is True.

    Links with an end outside ``keep`` and self-loops are left out. Not cached.
    """
    n = topology.num_nodes
    bw = topology.nodes.bandwidth
    kept = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    rows = np.flatnonzero(kept)
    # Memory and storage end a data path: they are split like limited devices but get no arc
    # from in to out, so no flow passes through an HBM stack or a CXL expander to elsewhere.
    terminal = kept & np.isin(topology.role_codes, _TERMINAL_ROLES)
    limited = kept & np.isfinite(bw) & ~terminal
    lim_rows = np.flatnonzero(limited)
    split_rows = np.flatnonzero(limited | terminal)
    vin = np.full(n, -1, dtype=np.int64)
    vin[rows] = np.arange(len(rows))
    vout = vin.copy()
    vout[split_rows] = len(rows) + np.arange(len(split_rows))
    nv = len(rows) + len(split_rows)

    L = topology.links
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    use = kept[src] & kept[dst] & (src != dst)
    link_rows = np.flatnonzero(use)
    src, dst = src[link_rows], dst[link_rows]
    both = ~L.simplex[link_rows]
    cap = L.bandwidth[link_rows]
    n_f, n_b = len(link_rows), int(both.sum())
    return FlowNetwork(
        num_vertices=nv,
        vin=vin,
        vout=vout,
        tail=np.concatenate([vout[src], vout[dst[both]], vin[lim_rows]]),
        head=np.concatenate([vin[dst], vin[src[both]], vout[lim_rows]]),
        capacity=np.concatenate([cap, cap[both], bw[lim_rows]]).astype(np.float64),
        what=np.concatenate(
            [
                np.full(n_f, _ARC_LINK, np.int8),
                np.full(n_b, _ARC_LINK, np.int8),
                np.full(len(lim_rows), _ARC_DEVICE, np.int8),
            ]
        ),
        ref=np.concatenate([link_rows, link_rows[both], lim_rows]),
        forward=np.concatenate(
            [np.ones(n_f, bool), np.zeros(n_b, bool), np.ones(len(lim_rows), bool)]
        ),
    )


def prune_for_terminals(topology: Topology, terminals: np.ndarray, max_rounds: int = 64):
    """Rows that can matter to a flow between any two sets of ``terminals``.

    Drops components not connected to any terminal and, repeatedly, non-terminal dead ends
    (rows with links to at most one other row: HBM stacks, DIMMs, drives). Flow entering a dead
    end can only come back out the way it came, so no max flow or min cut between terminals
    changes. Returns a boolean mask over rows.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for name, kind in [("g0", "gpu"), ("g1", "gpu"), ("sw", "switch"), ("hbm", "hbm")]:
    ...     _ = b.add_node(name, kind)
    >>> for a, c in [("g0", "sw"), ("g1", "sw"), ("g0", "hbm")]:
    ...     _ = b.add_link(a, c, bandwidth=1e9)
    >>> prune_for_terminals(b.build(), [0, 1]).tolist()
    [True, True, True, False]
    """
    n = topology.num_nodes
    term = np.zeros(n, dtype=bool)
    term[np.asarray(terminals, dtype=np.int64)] = True
    src = topology.links.src.astype(np.int64)
    dst = topology.links.dst.astype(np.int64)
    ok = src != dst
    lo, hi = np.minimum(src[ok], dst[ok]), np.maximum(src[ok], dst[ok])
    pairs = sorted_unique(lo * n + hi)
    pa, pb = pairs // n, pairs % n
    graph = sp.csr_array((np.ones(len(pa), dtype=np.int8), (pa, pb)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    alive = np.isin(label, sorted_unique(label[term]))
    pair_alive = alive[pa] & alive[pb]
    for _ in range(max_rounds):
        deg = np.bincount(pa[pair_alive], minlength=n) + np.bincount(pb[pair_alive], minlength=n)
        dead = alive & ~term & (deg <= 1)
        if not dead.any():
            break
        alive &= ~dead
        pair_alive &= alive[pa] & alive[pb]
    return alive


# -- integer networks for the scipy backend ---------------------------------------------------


def _choose_unit(capacity: np.ndarray, bound: float) -> tuple[float, bool]:
    """Integer unit (B/s) for ``capacity`` so that ``bound`` fits the int32 budget, and whether
    every capacity is a whole number of units (the answer is then exact).

    The largest power of ten that divides every capacity, else their greatest common divisor
    when they are whole numbers of B/s (7.5 GB/s and 50 GB/s: 0.5 GB/s), else the smallest
    power of two that does, else the smallest power of two (never 1) that keeps ``bound`` in
    range (capacities are then rounded down).
    """
    finite = capacity[np.isfinite(capacity) & (capacity > 0)]
    need = bound / _BUDGET

    def divides(unit: float) -> bool:
        q = finite / unit
        r = np.round(q)
        # Whole numbers up to float rounding (about 1e-16 relative), not merely close ones.
        return bool(np.all((r >= 1) & (np.abs(q - r) <= 1e-6 + 1e-12 * q)))

    for exp in range(15, -1, -1):
        unit = 10.0**exp
        if unit < need:
            break
        if divides(unit):
            return unit, True
    whole = np.round(finite)
    if len(finite) and finite.max() < 2**62 and np.all(np.abs(finite - whole) <= 1e-6):
        g = float(np.gcd.reduce(whole.astype(np.int64)))
        if g >= need and divides(g):
            return g, True
    e = int(np.ceil(np.log2(need))) if need > 0 else -1
    if e >= 1 and divides(2.0**e):
        return float(2.0**e), True
    if e == 0:
        e = 1 if need > 0.5 else -1
    return float(2.0**e), False


class _IntNetwork:
    """A float capacity network as one int32 CSR matrix, parallel arcs merged.

    ``entry[a]`` is the CSR data position of arc ``a``. Capacities above ``clip`` B/s are
    clipped to just above it (such an arc is never saturated in a minimum cut).
    """

    def __init__(self, n: int, tail, head, capacity, clip: float, unit: float):
        self.n = n
        self.unit = unit
        keys = tail.astype(np.int64) * n + head.astype(np.int64)
        uniq, entry = sorted_unique(keys, return_inverse=True)
        merged = np.zeros(len(uniq))
        np.add.at(merged, entry, np.minimum(capacity, clip * 2))
        top = math.floor(clip / unit) + 1
        icap = np.where(merged > clip, top, np.minimum(np.floor(merged / unit + 1e-9), top))
        if top > INT_LIMIT or icap.max(initial=0) > INT_LIMIT:
            raise SolverError(
                f"capacities up to {capacity.max():.3g} B/s cannot be represented for the "
                "integer max-flow backend; this is a bug, please report it"
            )
        rows, cols = uniq // n, uniq % n
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.add.at(indptr, rows + 1, 1)
        indptr = np.cumsum(indptr)
        self.graph = sp.csr_array(
            (icap.astype(np.int32), cols.astype(np.int32), indptr.astype(np.int32)), shape=(n, n)
        )
        self.entry = entry
        self.rows = rows
        self.cols = cols

    def solve(self, S: int, T: int, with_flow: bool = False):
        """Max flow ``S -> T``: (value in units, flow per CSR entry or None, source side)."""
        res = maximum_flow(self.graph, S, T, method="dinic")
        F = res.flow
        F = F.tocsr() if hasattr(F, "tocsr") else sp.csr_array(F)
        # Residual capacities cap(u, v) - F(u, v); F is antisymmetric and its pattern holds the
        # reverse arcs, so this also gives the backward room where flow runs v -> u.
        R = sp.csr_array(self.graph - F)
        R.data[R.data < 0] = 0
        R.eliminate_zeros()
        reach = breadth_first_order(R, S, directed=True, return_predecessors=False)
        side = np.zeros(self.n, dtype=bool)
        side[reach] = True
        if side[T]:
            raise SolverError("the max-flow backend returned a flow that is not maximal")
        flow = None
        if with_flow:
            C = F.tocoo()
            fk = C.row.astype(np.int64) * self.n + C.col.astype(np.int64)
            order = np.argsort(fk, kind="stable")
            fk, fv = fk[order], np.asarray(C.data, dtype=np.int64)[order]
            ekeys = self.rows * self.n + self.cols
            pos = np.minimum(np.searchsorted(fk, ekeys), max(len(fk) - 1, 0))
            flow = np.zeros(len(ekeys), dtype=np.int64)
            if len(fk):
                hit = fk[pos] == ekeys
                flow[hit] = np.maximum(fv[pos[hit]], 0)
        return int(res.flow_value), flow, side


def max_flow(
    topology: Topology,
    sources: Sequence[int] | np.ndarray,
    sinks: Sequence[int] | np.ndarray,
    *,
    backend: str = "scipy",
    source_limit: np.ndarray | None = None,
    sink_limit: np.ndarray | None = None,
    link_capacity: np.ndarray | None = None,
) -> FlowResult:
    """Maximum flow from the rows ``sources`` to the rows ``sinks``, with a minimum cut.

    Parameters
    ----------
    topology : Topology
    sources, sinks : arrays of node rows; they must not overlap.
    backend : ``"scipy"`` (Dinic over CSR, default) or ``"networkx"`` (preflow-push, oracle).
    source_limit, sink_limit : optional per-row caps (B/s) on the super-source and super-sink
        arcs, replacing the rows' own egress / ingress limits (``inf`` = unlimited).
    link_capacity : optional per-link capacities (B/s) replacing ``links.bandwidth``, e.g. to
        ask "what if this link were faster".

    Returns
    -------
    FlowResult

    Raises
    ------
    SolverError
        Empty or overlapping selections, unknown backend, an unbounded flow, or capacities
        that cannot be represented closely enough in the backend's integers.

    Examples
    --------
    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> _ = b.add_node("gpu", "gpu"); _ = b.add_node("nic", "nic", bandwidth=50e9)
    >>> _ = b.add_node("leaf", "switch")
    >>> _ = b.add_link("gpu", "nic", bandwidth=63e9); _ = b.add_link("nic", "leaf", bandwidth=100e9)
    >>> r = max_flow(b.build(), [0], [2])
    >>> r.value / 1e9, r.cut[0].element, r.cut[0].source
    (50.0, 'device', 'nic')
    """
    sources = sorted_unique(np.asarray(sources, dtype=np.int64).ravel())
    sinks = sorted_unique(np.asarray(sinks, dtype=np.int64).ravel())
    if len(sources) == 0:
        raise SolverError("the source selection is empty")
    if len(sinks) == 0:
        raise SolverError("the sink selection is empty")
    overlap = np.intersect1d(sources, sinks)
    if len(overlap):
        raise SolverError(
            f"{len(overlap)} component(s) are both source and sink, e.g. "
            f"{topology.nodes.ids[int(overlap[0])]!r}"
        )
    net = flow_network(topology)
    cap = net.capacity
    if link_capacity is not None:
        cap = cap.copy()
        is_link = net.what == _ARC_LINK
        cap[is_link] = np.asarray(link_capacity, dtype=np.float64)[net.ref[is_link]]
    s_cap = egress_limit(topology, sources) if source_limit is None else np.asarray(source_limit)
    t_cap = ingress_limit(topology, sinks) if sink_limit is None else np.asarray(sink_limit)
    s_cap = np.broadcast_to(np.asarray(s_cap, dtype=np.float64), sources.shape)
    t_cap = np.broadcast_to(np.asarray(t_cap, dtype=np.float64), sinks.shape)
    S, T = net.num_vertices, net.num_vertices + 1
    tail = np.concatenate([net.tail, np.full(len(sources), S), net.vin[sinks]])
    head = np.concatenate([net.head, net.vout[sources], np.full(len(sinks), T)])
    capacity = np.concatenate([cap, s_cap, t_cap]).astype(np.float64)
    if np.any(capacity < 0) or np.any(np.isnan(capacity)):
        raise SolverError("negative or undefined capacity in the flow network")

    # Any cut is at most the sum of the finite capacities around S or around T; arcs above that
    # bound behave as infinite, so clip them there.
    out_of_s = _finite_bound(s_cap, net, cap, sources, outgoing=True)
    into_t = _finite_bound(t_cap, net, cap, sinks, outgoing=False)
    bound = min(out_of_s, into_t)
    if not np.isfinite(bound):
        raise SolverError("the flow is unbounded: no finite capacity separates sources and sinks")
    n_all = net.num_vertices + 2
    if backend == "networkx":
        used = np.minimum(capacity, 2 * bound + 1.0)
        flows, value = _solve_networkx(n_all, tail, head, used, S, T)
        resolution = 0.0
        exact_unit = True
        eps = 1e-9 * max(bound, 1.0)
        room = used - flows > eps
        back = flows > eps
        side = _reachable(n_all, tail, head, room, back, S)
    elif backend == "scipy":
        clip = max(bound, 1.0)
        unit, exact_unit = _choose_unit(capacity[capacity <= clip], clip)
        inet = _IntNetwork(n_all, tail, head, capacity, clip, unit)
        ivalue, entry_flow, side = inet.solve(S, T, with_flow=True)
        # Share each merged entry's flow among its parallel arcs, in proportion to capacity.
        arc_cap = np.minimum(capacity, 2 * clip)
        merged = np.bincount(inet.entry, weights=arc_cap, minlength=len(entry_flow))
        share = np.divide(
            arc_cap, merged[inet.entry], out=np.zeros(len(arc_cap)), where=merged[inet.entry] > 0
        )
        flows = entry_flow[inet.entry] * share * unit
        value = ivalue * unit
        resolution = unit
    else:
        raise SolverError(f"unknown max-flow backend {backend!r} (use 'scipy' or 'networkx')")

    result = _interpret(topology, net, tail, head, capacity, flows, value, resolution, side, S)
    if backend == "scipy" and not exact_unit:
        result = replace(result, rounded=True)
        gap = result.cut_capacity - result.value
        if gap > _MAX_ROUNDING * max(result.cut_capacity, 1.0):
            raise SolverError(
                f"capacities span too wide a range for the integer max-flow backend: the max "
                f"flow is between {result.value:.6g} and {result.cut_capacity:.6g} B/s; "
                "use backend='networkx' for this query"
            )
    return result


def _finite_bound(limit, net, cap, rows, outgoing: bool) -> float:
    """Upper bound on the flow out of (into) ``rows``: per row, its limit or its arcs' total."""
    verts = net.vout[rows] if outgoing else net.vin[rows]
    ends = net.tail if outgoing else net.head
    per_vertex = np.bincount(ends, weights=cap, minlength=net.num_vertices)
    arcs = per_vertex[verts]
    return float(np.minimum(limit, arcs).sum())


def _reachable(n, tail, head, room, back, S) -> np.ndarray:
    rt = np.concatenate([tail[room], head[back]])
    rh = np.concatenate([head[room], tail[back]])
    resid = sp.csr_array((np.ones(len(rt), dtype=np.int8), (rt, rh)), shape=(n, n))
    reach = breadth_first_order(resid, S, directed=True, return_predecessors=False)
    side = np.zeros(n, dtype=bool)
    side[reach] = True
    return side


def _solve_networkx(n, tail, head, cap, S, T):
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    caps: dict[tuple[int, int], float] = {}
    for u, v, c in zip(tail.tolist(), head.tolist(), cap.tolist(), strict=True):
        caps[(u, v)] = caps.get((u, v), 0.0) + c
    for (u, v), c in caps.items():
        g.add_edge(u, v, capacity=c)
    value, fd = nx.maximum_flow(g, S, T, flow_func=nx.algorithms.flow.preflow_push)
    arc_flow = np.zeros(len(tail))
    for a, (u, v, c) in enumerate(zip(tail.tolist(), head.tolist(), cap.tolist(), strict=True)):
        net = fd[u][v] - fd.get(v, {}).get(u, 0.0)
        total = caps[(u, v)]
        arc_flow[a] = max(net, 0.0) * (c / total if total > 0 else 0.0)
    return arc_flow, float(value)


def _cut_items(topology: Topology, net: FlowNetwork, arcs: np.ndarray, capacity) -> list[CutItem]:
    """CutItems for network arcs ``arcs`` (indices into the network's arc arrays)."""
    ids = topology.nodes.ids
    L = topology.links
    out: list[CutItem] = []
    for a in arcs.tolist():
        if net.what[a] == _ARC_DEVICE:
            row = int(net.ref[a])
            out.append(CutItem("device", row, ids[row], ids[row], float(capacity[a])))
        else:
            e = int(net.ref[a])
            s, d = int(L.src[e]), int(L.dst[e])
            if not net.forward[a]:
                s, d = d, s
            out.append(
                CutItem("link", e, ids[s], ids[d], float(capacity[a]), topology.link_type_of(e))
            )
    out.sort(key=lambda c: (c.element, c.source, c.target, c.row))
    return out


def _interpret(topology, net, tail, head, capacity, arc_flow, value, resolution, side, S):
    n_base = len(net.tail)
    # An arc of capacity 0 (a link switched off with link_capacity) limits nothing: not a cut item.
    crossing = np.flatnonzero(side[tail] & ~side[head] & (capacity > 0))
    inner = crossing[crossing < n_base]
    cut = _cut_items(topology, net, inner, capacity)
    ids = topology.nodes.ids
    ext = crossing[crossing >= n_base]
    if len(ext):
        # Super-source or super-sink arcs: the endpoint's own limit is the bottleneck. Map
        # their vertices to rows in one pass (a scan per arc is quadratic when 100,000 sinks
        # are in the cut).
        rows = _rows_of_vertices(net, np.where(tail[ext] == S, head[ext], tail[ext]))
        for a, row in zip(ext.tolist(), rows.tolist(), strict=True):
            cut.append(CutItem("device", row, ids[row], ids[row], float(capacity[a])))
    cut.sort(key=lambda c: (c.element, c.source, c.target, c.row))

    link_flow = np.zeros((topology.num_links, 2))
    base = arc_flow[:n_base]
    is_link = net.what == _ARC_LINK
    col = np.where(net.forward, 0, 1)
    np.add.at(link_flow, (net.ref[is_link], col[is_link]), base[is_link])
    device_flow = np.zeros(topology.num_nodes)
    is_dev = net.what == _ARC_DEVICE
    device_flow[net.ref[is_dev]] = base[is_dev]
    return FlowResult(
        value=float(value),
        resolution=resolution,
        cut=tuple(cut),
        source_side=side[net.vout],
        link_flow=link_flow,
        device_flow=device_flow,
    )


def _rows_of_vertices(net: FlowNetwork, verts: np.ndarray) -> np.ndarray:
    """The node row of each vertex (a row's in vertex or, for a split device, its out vertex)."""
    owner = np.full(net.num_vertices, -1, dtype=np.int64)
    rows = np.arange(len(net.vin))
    ok = net.vout >= 0
    owner[net.vout[ok]] = rows[ok]
    ok = net.vin >= 0
    owner[net.vin[ok]] = rows[ok]
    return owner[verts]


# -- repeated cuts between halves of one terminal set -----------------------------------------


@dataclass(frozen=True)
class TerminalCut:
    """A minimum cut separating terminals marked ``True`` (first half) from the rest.

    ``value`` is the cut's capacity measured with the true capacities (B/s); ``flow`` the max
    flow the integer backend found (equal when exact, never above ``value``). ``arcs`` are the
    network arcs crossing the cut, ``side`` marks the network vertices on the first half's side.
    """

    value: float
    flow: float
    arcs: np.ndarray
    side: np.ndarray


class TerminalCuts:
    """Many max-flow / min-cut queries between two halves of one fixed set of terminals.

    The network (optionally restricted to ``keep`` rows, see :func:`prune_for_terminals`) and
    its int32 CSR form are built once; a query only switches the super-source and super-sink
    arcs. Terminals send and receive without limit: their own device limits still cap flow that
    passes *through* them. Used by bisection; other solvers may reuse it.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for i in range(4):
    ...     _ = b.add_node(f"g{i}", "gpu")
    >>> for i in range(4):
    ...     _ = b.add_link(f"g{i}", f"g{(i + 1) % 4}", bandwidth=10e9)
    >>> tc = TerminalCuts(b.build(), [0, 1, 2, 3])
    >>> tc.cut(np.array([True, True, False, False])).value / 1e9
    20.0
    """

    def __init__(
        self,
        topology: Topology,
        terminals,
        keep: np.ndarray | None = None,
        group: np.ndarray | None = None,
    ):
        self.topology = topology
        self.terminals = np.asarray(terminals, dtype=np.int64)
        n_t = len(self.terminals)
        # Terminals may come in groups that always stay together (a GPU package and the
        # chiplets that carry its links); queries then choose sides per group.
        self.group = np.arange(n_t) if group is None else np.asarray(group, dtype=np.int64)
        self.net = net = build_network(topology, keep)
        if np.any(net.vin[self.terminals] < 0):
            raise SolverError("a terminal was left out of the network")
        cap = net.capacity
        out_cap = np.bincount(net.tail, weights=cap, minlength=net.num_vertices)
        in_cap = np.bincount(net.head, weights=cap, minlength=net.num_vertices)
        self.out_cap = out_cap[net.vout[self.terminals]]
        self.in_cap = in_cap[net.vin[self.terminals]]
        if not (np.all(np.isfinite(self.out_cap)) and np.all(np.isfinite(self.in_cap))):
            raise SolverError("a link with infinite bandwidth touches an endpoint")
        bound = max(min(float(self.out_cap.sum()), float(self.in_cap.sum())), 1.0)
        self.bound = bound
        self.S, self.T = net.num_vertices, net.num_vertices + 1
        tail = np.concatenate([net.tail, np.full(n_t, self.S), net.vin[self.terminals]])
        head = np.concatenate([net.head, net.vout[self.terminals], np.full(n_t, self.T)])
        capacity = np.concatenate([cap, np.zeros(2 * n_t)])
        self.unit, self.exact = _choose_unit(cap[cap <= bound], bound)
        self._int = _IntNetwork(net.num_vertices + 2, tail, head, capacity, bound, self.unit)
        base = len(net.tail)
        self._pos_s = self._int.entry[base : base + n_t]
        self._pos_t = self._int.entry[base + n_t :]
        # "Unlimited" for a terminal: one unit more than all its arcs, or than any cut, carry.
        top = math.floor(bound / self.unit) + 1
        self._big_s = np.minimum(np.floor(self.out_cap / self.unit + 1e-9) + 1, top)
        self._big_t = np.minimum(np.floor(self.in_cap / self.unit + 1e-9) + 1, top)
        self._big_s = self._big_s.astype(np.int64)
        self._big_t = self._big_t.astype(np.int64)
        self._tail, self._head = net.tail, net.head
        self.symmetric = net.symmetric

    def _switch(self, first: np.ndarray) -> None:
        per_terminal = np.asarray(first, dtype=bool)[self.group]
        data = self._int.graph.data
        data[self._pos_s] = np.where(per_terminal, self._big_s, 0)
        data[self._pos_t] = np.where(per_terminal, 0, self._big_t)

    def cut(self, first: np.ndarray) -> TerminalCut:
        """Min cut from the terminals (or groups) where ``first`` is True to the others."""
        self._switch(first)
        ivalue, _, side = self._int.solve(self.S, self.T)
        arcs = np.flatnonzero(side[self._tail] & ~side[self._head])
        value = float(math.fsum(self.net.capacity[arcs].tolist()))
        return TerminalCut(value, ivalue * self.unit, arcs, side[: self.net.num_vertices])

    def flow_value(self, first: np.ndarray) -> float:
        """Only the max flow (B/s) from the ``first`` terminals to the others: a lower bound on
        every cut between them, equal to the minimum cut when the unit is exact."""
        self._switch(first)
        res = maximum_flow(self._int.graph, self.S, self.T, method="dinic")
        return int(res.flow_value) * self.unit

    def cut_items(self, cut: TerminalCut) -> tuple[CutItem, ...]:
        """The links and devices of ``cut``, mapped back to the topology, sorted."""
        return tuple(_cut_items(self.topology, self.net, cut.arcs, self.net.capacity))
