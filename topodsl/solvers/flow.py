"""The flow core every solver shares: a topology as a directed capacity network, max flow, min cut.

Modelling
---------
* Each direction of a link is an arc with the link's bandwidth (B/s, per direction). A simplex
  link gives one arc. (For a single commodity, a half-duplex link of capacity c and a full-duplex
  one are the same network: opposite flows cancel.)
* A device with a finite ``bandwidth`` is split into an *in* and an *out* vertex joined by one
  arc of that capacity, so the limit bounds every flow through it. Devices without a limit are
  not split, which keeps the network small.
* The forwarding model (:mod:`topodsl.solvers.forwarding`, ``forwarding="hardware"`` by
  default) decides where flow may pass *through* a component:

  - memory and storage (``endpoint``) get an *in* and an *out* vertex with no arc between
    them: data starts or ends there, never passes through an HBM stack, a DIMM, a CXL expander
    or an SSD;
  - a component that forwards (``transit``) is one vertex, or two joined by its limit;
  - a CXL switch (``sided``) gets a host-side vertex, where host-side links arrive and from
    which device-side links leave, and a device-side vertex the other way round (each split
    by the switch's limit): host to host and device to device have no path through it. Two
    more vertices let the switch itself send to and receive from both sides;
  - a component inside a package that does not forward (``sealed``: a GPU, its chiplets) gets
    two *layers*: a *native* layer for traffic that starts inside the package and an
    *inbound* layer for traffic that entered it from outside. External links arrive in the
    inbound layer and leave from the native layer; links inside the package have a copy in
    each layer (a link to a memory only the one it needs); a *delivery* arc of unlimited
    capacity lets native traffic drop into the inbound layer (to end inside the package), never
    the other way. So traffic entering the package can end anywhere inside it but never leaves.
    Without internal links this is an *in* and an *out* vertex with no arc between them, as
    for memory.

* A super-source feeds every source row on its *out* vertex with the row's egress limit
  (``min(bandwidth, read_bandwidth)``: reading a storage device is capped by its read speed) and
  every sink row drains into a super-sink from its *in* vertex with the ingress limit
  (``min(bandwidth, write_bandwidth)``: writing is capped by its write speed).

Two layers of one package share their links' and devices' capacities: arcs that draw on one
physical capacity have the same :attr:`FlowNetwork.bundle`. A max flow on the network treats
each copy as its own capacity, so it is an upper bound (a *relaxation*); it is the exact answer
whenever its flow keeps every bundle within its capacity, which always holds when no package
holds both a source and a sink of the query (then one layer of it carries nothing). Otherwise
:func:`max_flow` solves the linear program with the bundles as constraints (HiGHS through
:func:`scipy.optimize.linprog`), exact to the solver's tolerance.

Backends and exact figures
--------------------------
``"scipy"`` (default) is ``scipy.sparse.csgraph.maximum_flow`` with Dinic's algorithm over CSR
arrays: 90-260x faster than NetworkX here. It needs int32 capacities and answers wrongly, without
a word, when they do not fit (an int64 graph gives a flow of 0; sums past 2**31 wrap). So
capacities are expressed in an integer *unit* of B/s, parallel arcs are merged and clipped in
64-bit before the cast, and every arc above the largest possible cut is clipped to just above it
(it can never be in a minimum cut). The unit is the largest power of ten (else the greatest
common divisor, else a power of two) that divides every capacity while the largest cut fits in
2**30 units: then one max flow is exact. Otherwise capacities are rounded down to a power-of-two
unit and the answer is refined in *phases*: each phase solves the residual network of the flow
so far, with a unit 2**30 times finer than the gap left (between the flow found and the true
capacity of the best cut found, re-measured with the true capacities). A few phases close the
gap to the last bits of a float; :attr:`FlowResult.lower` is the flow found,
:attr:`FlowResult.upper` the real cut, and :attr:`FlowResult.exact` says they agree to
:data:`REL_TOL`. Then :attr:`FlowResult.value` is the cut's capacity (a sum of real link and
device capacities); otherwise it is the flow found and the truth lies in the bracket.

``"networkx"`` (preflow-push, floats) is the oracle the tests compare against.

Relaying
--------
With ``relay = true`` components or ``forwarding="ideal"``, flow may pass through components
that do not forward under the hardware defaults (GPUs, chiplets, CXL switches host to host).
:attr:`FlowResult.relay_gain` is how much of the value (B/s) exists only because of that (the
value minus the max flow under the strict hardware defaults); :attr:`FlowResult.relays` names
the components the reported flow relays through. Both are 0 and empty when the figure does not
depend on relaying.

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> for name in ("a", "b", "c"):
...     _ = b.add_node(name, "switch")
>>> _ = b.add_link("a", "b", bandwidth=100e9)
>>> _ = b.add_link("a", "c", bandwidth=50e9)
>>> _ = b.add_link("c", "b", bandwidth=20e9)
>>> r = max_flow(b.build(), [0], [1])
>>> r.value / 1e9
120.0
>>> sorted((c.source, c.target) for c in r.cut)
[('a', 'b'), ('c', 'b')]

A GPU does not relay between its links; with ``forwarding="ideal"`` it does, and says so:

>>> b = TopologyBuilder()
>>> for name in ("a", "g", "c"):
...     _ = b.add_node(name, "gpu" if name == "g" else "switch")
>>> _ = b.add_link("a", "g", bandwidth=50e9); _ = b.add_link("g", "c", bandwidth=50e9)
>>> max_flow(b.build(), [0], [2]).value
0.0
>>> r = max_flow(b.build(), [0], [2], forwarding="ideal")
>>> r.value / 1e9, r.relay_gain / 1e9, r.relays
(50.0, 50.0, ('g',))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components, maximum_flow

from ..errors import SolverError
from ..natural import natural_key
from ..topology import Topology
from ..units import REL_TOL
from .forwarding import (
    ENDPOINT,
    GATED,
    SEALED,
    SIDED,
    TRANSIT,
    ForwardingPlan,
    check_forwarding,
    domain_name,
    forwarding_plan,
)
from .pathrules import automaton, restrictions, rules_for, states_of

__all__ = [
    "FlowNetwork",
    "FlowResult",
    "CutItem",
    "TerminalCuts",
    "flow_network",
    "build_network",
    "max_flow",
    "egress_limit",
    "ingress_limit",
    "prune_for_terminals",
    "mirror_vertices",
    "sorted_unique",
    "figures_agree",
    "INT_LIMIT",
    "REL_TOL",
]

INT_LIMIT = 2**31 - 1
# Keep headroom below the int32 limit: Dinic adds flows, and the answer is summed in int32 too.
_BUDGET = 2**30
# Refinement phases at most (each one max flow on the residual network); two or three close
# the gap to float precision, where they stop.
_MAX_PHASES = 6
_FLOAT_GAP = 1e-14
# Largest network (arcs) solved as a linear program when two layers of a package compete.
_LP_ARC_LIMIT = 400_000

ARC_LINK, ARC_DEVICE, ARC_SOURCE, ARC_SINK, ARC_DELIVER = 0, 1, 2, 3, 4
_ARC_LINK, _ARC_DEVICE, _ARC_SOURCE, _ARC_SINK, _ARC_DELIVER = (
    ARC_LINK,
    ARC_DEVICE,
    ARC_SOURCE,
    ARC_SINK,
    ARC_DELIVER,
)


def figures_agree(a: float, b: float) -> bool:
    """Whether two figures are equal to :data:`REL_TOL` (relative to the larger).

    >>> figures_agree(400e9, 400e9 * (1 - 1e-12)), figures_agree(999.96e9, 1e12)
    (True, False)
    """
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


@dataclass(frozen=True)
class FlowNetwork:
    """A topology as arcs between vertices; built once per topology and model, reused per query.

    ``vin[row]``/``vout[row]`` are the vertices where flow enters and leaves a component: where
    a sink drains and a source is fed (-1 for a row left out of the network). Arc ``a`` goes
    ``tail[a] -> head[a]`` with ``capacity[a]`` B/s; ``what[a]`` says what it models
    (:data:`ARC_LINK`, :data:`ARC_DEVICE`, or :data:`ARC_DELIVER`: an unlimited arc inside one
    component, by which traffic native to a package drops into its inbound layer, or between a
    CXL switch's own sending or receiving vertex and its two sides) and ``ref[a]`` which row
    (link row or node row); ``forward[a]`` is False for the ``dst -> src`` arc of a link.
    ``owner[v]`` is the node row of vertex ``v`` (the vertices of a row are consecutive, rows
    in order). Arcs with the same ``bundle`` draw on one physical capacity (the two layers of
    a package's internal link, or of a limited device): a feasible flow keeps their sum within
    ``capacity``; ``shared`` says whether any two arcs do. ``forwarding`` is the model it was
    built for. ``mirror[v]`` is the vertex that plays ``v``'s part when every arc is reversed
    (see :func:`mirror_vertices`; -1 where the builder knows none). ``through[a]`` marks the
    arcs inside a gated CPU that carry traffic between its port to a CXL domain and anything
    but the CPU itself, what never forwards on it and a CXL port: without them every path
    obeys the CXL binding rule (see :func:`max_flow`).
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
    owner: np.ndarray
    bundle: np.ndarray
    forwarding: str = "hardware"
    shared: bool = False
    mirror: np.ndarray | None = None
    through: np.ndarray | None = None

    @property
    def symmetric(self) -> bool:
        """True when every link arc has a reverse twin of equal capacity (no simplex links).

        Then a max flow from X to Y equals one from Y to X (the forwarding model is symmetric:
        reversing every arc swaps a package's two layers and a CXL switch's two sides).
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
        Maximum total flow, B/s, in the direction sources -> sinks: the capacity of the cut
        when :attr:`exact`, else the flow found (:attr:`lower`).
    resolution : float
        The finest integer unit the scipy backend used (B/s); 0 for the NetworkX backend and
        the linear program.
    cut : tuple of CutItem
        The links and devices of one minimum cut (the one closest to the sources), sorted. For
        a linear program: the elements whose capacity limits its optimum.
    source_side : numpy bool array
        For each node row, whether its *out* vertex is on the source side of that cut.
    link_flow : numpy array (num_links, 2)
        Flow on each link at the max flow, column 0 ``src -> dst``, column 1 ``dst -> src``.
    device_flow : numpy array (num_nodes,)
        Flow through each limited device's own arc (0 for devices without a limit).
    sink_flow : numpy array (num_nodes,)
        Flow each sink receives at the max flow (0 for other rows).
    lower, upper : float
        The max flow lies in ``[lower, upper]``: ``lower`` is a feasible flow, ``upper`` the
        capacity of a real cut (for a linear program, its optimum within the solver's
        tolerance).
    forwarding : the forwarding model (``"hardware"`` or ``"ideal"``).
    relay_gain : float
        B/s of :attr:`value` that exist only because components relay traffic that the strict
        hardware defaults would not pass (``relay = true``, or GPUs and CXL switches with
        ``"ideal"``); 0 when the figure does not depend on relaying.
    relays : tuple of str
        The components the reported flow relays through (empty when ``relay_gain`` is 0).
    linear_program : bool
        True when two layers of a package competed for a capacity, or sources and sinks of
        one fabric domain were mixed with others, and the value comes from a linear program
        rather than a max flow.
    fabric : tuple of str
        The fabric domains whose rule shaped the figure (their names, see
        :func:`~topodsl.solvers.forwarding.domain_name`): those holding both a source and a
        sink, whose traffic between each other stays on their fabric. Empty when the rule did
        not apply.
    fabric_excluded : float
        B/s the fabric rule took away: the max flow with paths leaving a domain's fabric
        counted too, minus :attr:`value` (PCIe peer to peer between NVLink-connected GPUs, for
        instance). Measured for :func:`max_flow` and data-path flows; 0 when nothing was
        excluded.
    """

    value: float
    resolution: float
    cut: tuple[CutItem, ...]
    source_side: np.ndarray
    link_flow: np.ndarray
    device_flow: np.ndarray
    sink_flow: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    lower: float = math.nan
    upper: float = math.nan
    forwarding: str = "hardware"
    relay_gain: float = 0.0
    relays: tuple[str, ...] = ()
    linear_program: bool = False
    fabric: tuple[str, ...] = ()
    fabric_excluded: float = 0.0

    @property
    def cut_capacity(self) -> float:
        """Sum of the cut elements' true capacities, B/s (equals :attr:`value` when exact)."""
        return float(math.fsum(c.bandwidth for c in self.cut))

    @property
    def exact(self) -> bool:
        """Whether the flow found and the cut agree to :data:`REL_TOL`."""
        return self.upper - self.lower <= REL_TOL * abs(self.upper)

    @property
    def rounded(self) -> bool:
        """True when :attr:`value` is only bracketed (see :attr:`lower`, :attr:`upper`)."""
        return not self.exact


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


_NETWORKS: dict[tuple[int, str, bool], tuple[Topology, FlowNetwork]] = {}


def flow_network(
    topology: Topology, forwarding: str = "hardware", *, strict: bool = False
) -> FlowNetwork:
    """The flow network of ``topology`` under ``forwarding`` (cached per topology object).

    ``strict=True`` ignores ``relay`` attributes (the hardware defaults alone).

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("s", "switch", bandwidth=1e12)
    >>> flow_network(b.build()).num_vertices   # a limited device is split in two
    2
    """
    key = (id(topology), forwarding, strict)
    hit = _NETWORKS.get(key)
    if hit is not None and hit[0] is topology:
        return hit[1]
    # A damaged copy (topodsl.failures) masks its original's network instead of building one.
    derive = getattr(topology, "derived_flow_network", None)
    if derive is not None:
        net = derive(forwarding, strict=strict)
    else:
        net = build_network(topology, forwarding=forwarding, strict=strict)
    if len(_NETWORKS) > 8:
        _NETWORKS.clear()
    _NETWORKS[key] = (topology, net)
    return net


def build_network(
    topology: Topology,
    keep: np.ndarray | None = None,
    forwarding: str = "hardware",
    *,
    strict: bool = False,
) -> FlowNetwork:
    """The flow network of ``topology``, or of the rows where ``keep`` is True, under a
    forwarding model (see the module docstring and :mod:`topodsl.solvers.forwarding`).

    Links with an end outside ``keep`` and self-loops are left out. Not cached.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("g", "gpu")
    >>> _ = b.add_node("g.hbm", "hbm", parent="g"); _ = b.add_node("sw", "switch")
    >>> _ = b.add_link("g", "g.hbm", bandwidth=1e12); _ = b.add_link("g", "sw", bandwidth=1e11)
    >>> net = build_network(b.build())
    >>> net.num_vertices, net.owner.tolist()     # GPU: inbound 0, native 1; HBM: in 2, out 3
    (5, [0, 0, 1, 1, 2])
    >>> [(int(t), int(h)) for t, h in zip(net.tail, net.head)]
    [(0, 2), (1, 4), (3, 1), (4, 0), (1, 0)]

    The HBM written from the inbound layer, the switch reached from the native layer, the HBM
    read into the native layer, the switch arriving in the inbound layer, and the delivery arc
    native -> inbound: no path leads from the switch back to it through the GPU.
    """
    check_forwarding(forwarding)
    plan = forwarding_plan(topology, forwarding, strict=strict)
    return _Builder(topology, plan, keep).network()


class _Builder:
    """Vertices and arcs of the flow network for one forwarding plan."""

    def __init__(self, topology: Topology, plan: ForwardingPlan, keep: np.ndarray | None):
        self.t = topology
        self.plan = plan
        n = self.n = topology.num_nodes
        self.kept = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
        L = topology.links
        src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
        use = self.kept[src] & self.kept[dst] & (src != dst)
        self.link_rows = np.flatnonzero(use)
        self.src, self.dst = src[self.link_rows], dst[self.link_rows]
        self.both = ~L.simplex[self.link_rows]
        self.cap = L.bandwidth[self.link_rows].astype(np.float64)
        self.host = plan.host_end[self.link_rows]
        self.port = plan.port[self.link_rows]

    def network(self) -> FlowNetwork:
        t, plan, n = self.t, self.plan, self.n
        klass = np.where(self.kept, plan.klass, 255)
        bw = t.nodes.bandwidth
        limited = np.isfinite(bw) & np.isin(klass, [TRANSIT, SIDED, SEALED, GATED])
        # Directions of links: tail row, head row, link index, forward or backward.
        d_tail = np.concatenate([self.src, self.dst[self.both]])
        d_head = np.concatenate([self.dst, self.src[self.both]])
        d_link = np.concatenate([np.arange(len(self.src)), np.flatnonzero(self.both)])
        d_fwd = np.concatenate([np.ones(len(self.src), bool), np.zeros(int(self.both.sum()), bool)])
        seal = plan.seal
        s_tail = seal[d_tail]
        internal = (s_tail >= 0) & (s_tail == seal[d_head])
        del s_tail
        ct, ch = klass[d_tail], klass[d_head]
        # Sealed rows with internal links: native arrivals (from inside) and inbound departures.
        nat = internal & (ch == SEALED)
        inb = internal & (ct == SEALED)
        nat_in = np.zeros(n, dtype=bool)
        nat_in[d_head[nat]] = True
        inb_out = np.zeros(n, dtype=bool)
        inb_out[d_tail[inb]] = True

        # Vertex slots per row: a_in, a_out (the only side, the host side or the inbound
        # layer), b_in, b_out (the device side or the native layer).
        # A CXL switch also has a vertex from which it sends to both sides and one where it
        # receives from both, for when it is a source or a sink itself.
        sided = klass == SIDED
        present = np.zeros((n, 6), dtype=bool)
        present[:, 0] = self.kept
        two = np.isin(klass, [ENDPOINT]) | (limited & (klass == TRANSIT))
        present[:, 1] = two | (limited & sided) | (limited & (klass == SEALED) & inb_out)
        present[:, 2] = (limited & sided) | (limited & (klass == SEALED) & nat_in)
        present[:, 3] = np.isin(klass, [SIDED, SEALED])
        present[:, 4] = present[:, 5] = sided
        # A gated CPU (see _gadget): slot 0 takes the links from what forwards; five more
        # vertices, then an arrival and a departure vertex per port.
        gated = klass == GATED
        port_row = plan.port_row
        live_port = self.kept[port_row] if len(port_row) else np.zeros(0, bool)
        ports_of = np.bincount(port_row[live_port], minlength=n) if len(port_row) else 0
        extra = np.where(gated, len(_GADGET) + 2 * ports_of, 0)
        count = present.sum(axis=1) + extra
        start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(count, out=start[1:])
        slot = np.full((n, 6), -1, dtype=np.int64)
        at = start[:-1].copy()
        for k in range(6):
            slot[present[:, k], k] = at[present[:, k]]
            at += present[:, k]
        gadget = {name: at + i for i, name in enumerate(_GADGET)}  # valid on gated rows
        a_in = slot[:, 0]
        gadget["in"] = a_in
        a_out = np.where(present[:, 1], slot[:, 1], np.where(limited & (klass == SEALED), -1, a_in))
        a_out = np.where(gated, gadget["out"], a_out)
        b_out = slot[:, 3]
        b_in = np.where(present[:, 2], slot[:, 2], np.where(limited, -1, b_out))
        vin = np.where(sided, slot[:, 5], np.where(gated, gadget["sink"], a_in))
        vout = np.where(sided, slot[:, 4], np.where(klass == SEALED, b_out, a_out))
        vout = np.where(gated, gadget["source"], vout)
        owner = np.repeat(np.arange(n), count)
        # Port p of a gated row: arrival vertex p_in[p], departure vertex p_out[p].
        p_in = np.full(len(port_row), -1, dtype=np.int64)
        p_out = np.full(len(port_row), -1, dtype=np.int64)
        if live_port.any():
            idx = np.flatnonzero(live_port)
            rank = np.arange(len(idx)) - np.searchsorted(port_row[idx], port_row[idx])
            p_in[idx] = gadget["out"][port_row[idx]] + len(_GADGET) - 3 + 2 * rank
            p_out[idx] = p_in[idx] + 1

        tails, heads, caps, whats, refs, fwds, bundles = [], [], [], [], [], [], []

        def add(tl, hd, cap, what, ref, fwd, bundle):
            tails.append(tl)
            heads.append(hd)
            caps.append(np.asarray(cap, dtype=np.float64))
            whats.append(np.broadcast_to(np.asarray(what, np.int8), (len(tl),)))
            refs.append(ref)
            fwds.append(np.asarray(fwd, dtype=bool))
            bundles.append(bundle)

        # Links. Where each direction leaves its tail and enters its head, outside a package
        # or across its boundary: a row's one side, a sealed row's native layer (leaving) and
        # inbound layer (entering); a CXL switch's side depends on the far end.
        depart = np.where(klass == SEALED, b_out, a_out)
        tl = depart[d_tail]
        hd = a_in[d_head]
        at = np.flatnonzero(ct == SIDED)
        if len(at):
            host = self.host[d_link[at], np.where(d_fwd[at], 1, 0)]  # the head is host side
            tl[at] = np.where(host, b_out[d_tail[at]], a_out[d_tail[at]])
        at = np.flatnonzero(ch == SIDED)
        if len(at):
            host = self.host[d_link[at], np.where(d_fwd[at], 0, 1)]  # the tail is host side
            hd[at] = np.where(host, a_in[d_head[at]], b_in[d_head[at]])
        # At a gated CPU a link of a port leaves from the port's departure vertex and arrives at
        # its arrival vertex; a link to a component that never forwards (its DIMMs, a GPU on
        # it) leaves from and arrives at vertices of their own.
        if len(port_row):
            pt = self.port[d_link, np.where(d_fwd, 0, 1)]  # the port at the tail
            ph = self.port[d_link, np.where(d_fwd, 1, 0)]  # the port at the head
            quiet = np.isin(klass, [ENDPOINT, SEALED]) & ~_bound_cpus(plan, n)
            at = np.flatnonzero((ct == GATED) & (pt < 0) & quiet[d_head])
            tl[at] = gadget["quiet_out"][d_tail[at]]
            at = np.flatnonzero((ch == GATED) & (ph < 0) & quiet[d_tail])
            hd[at] = gadget["quiet_in"][d_head[at]]
            at = np.flatnonzero(pt >= 0)
            tl[at] = p_out[pt[at]]
            at = np.flatnonzero(ph >= 0)
            hd[at] = p_in[ph[at]]
        # Inside a sealed package: a native copy into every sealed row, an inbound copy out of
        # every sealed row (memory inside has the one copy it needs). Every direction has its
        # arc (the native copy where there are two); the inbound copies between two sealed
        # rows come after.
        at = np.flatnonzero(nat)
        hd[at] = b_in[d_head[at]]
        at = np.flatnonzero(inb & ~nat)
        tl[at] = a_out[d_tail[at]]
        link_bundle = np.concatenate(
            [2 * np.arange(len(self.src)), 2 * np.flatnonzero(self.both) + 1]
        )
        add(tl, hd, self.cap[d_link], _ARC_LINK, self.link_rows[d_link], d_fwd, link_bundle)
        at = np.flatnonzero(nat & inb)
        e = d_link[at]
        add(a_out[d_tail[at]], a_in[d_head[at]], self.cap[e], _ARC_LINK, self.link_rows[e],
            d_fwd[at], link_bundle[at])  # fmt: skip

        # Device limits: one arc per side or layer present, all of one row in one bundle.
        dev_base = 2 * max(len(self.src), 1)
        for lo, hi in ((a_in, a_out), (b_in, b_out)):
            rows = np.flatnonzero(limited & (lo >= 0) & (hi >= 0) & (lo != hi) & ~gated)
            one = np.ones(len(rows), bool)
            add(lo[rows], hi[rows], bw[rows], _ARC_DEVICE, rows, one, dev_base + rows)
        # Delivery: native traffic may drop into the inbound layer, at each side of the limit.
        deliver_base = dev_base + n
        sealed_int = (klass == SEALED) & (nat_in | inb_out)
        for lo, hi, where in ((b_in, a_in, sealed_int), (b_out, a_out, sealed_int & limited)):
            rows = np.flatnonzero(where & (lo >= 0) & (hi >= 0))
            inf, one, solo = (
                np.full(len(rows), np.inf),
                np.ones(len(rows), bool),
                np.full(len(rows), -1),
            )
            add(lo[rows], hi[rows], inf, _ARC_DELIVER, rows, one, solo)

        rows = np.flatnonzero(sided)
        inf, one, solo = (
            np.full(len(rows), np.inf),
            np.ones(len(rows), bool),
            np.full(len(rows), -1),
        )
        for tl, hd in ((vout, a_out), (vout, b_out), (a_in, vin), (b_in, vin)):
            add(tl[rows], hd[rows], inf, _ARC_DELIVER, rows, one, solo)

        through_at = len(tails)
        if len(port_row):
            gt, gh, gr, through = _gadget(gated & self.kept, gadget, port_row, live_port,
                                          plan.port_cxl, plan.forbid, p_in, p_out)  # fmt: skip
            # Its limit bounds what passes through it; what it sends or takes in itself is
            # bounded on the super-source's and super-sink's arcs, as for any component.
            own = (gt == gadget["source"][gr]) | (gh == gadget["sink"][gr])
            lim = limited[gr] & ~own
            cap = np.where(lim, bw[gr], np.inf)
            add(gt, gh, cap, np.where(lim, _ARC_DEVICE, _ARC_DELIVER), gr, np.ones(len(gr), bool),
                np.where(lim, dev_base + gr, -1))  # fmt: skip
        through_arcs = np.zeros(sum(len(x) for x in tails), dtype=bool)
        if len(port_row):
            first = sum(len(x) for x in tails[:through_at])
            through_arcs[first : first + len(through)] = through

        tail = np.concatenate(tails).astype(np.int64, copy=False)
        bundle = np.concatenate(bundles).astype(np.int64, copy=False)
        solo = bundle < 0
        bundle[solo] = deliver_base + np.arange(int(solo.sum()))
        # Shared capacities: a link inside a sealed package (a copy per layer) or a limited
        # device with an arc on each of its sides or layers.
        shared = bool(
            (nat & inb).any()
            or (limited & (a_in != a_out) & (b_in != b_out) & (a_out >= 0) & (b_in >= 0)).any()
            or (limited & gated & self.kept).any()
        )
        nv = int(start[-1])
        mirror = mirror_vertices(present, slot, nv)
        # A gated CPU's ports have no mirror the builder knows: never taken to be reversible.
        mirror[a_in[gated & self.kept]] = -1
        vin = np.where(self.kept, vin, -1)
        vout = np.where(self.kept, vout, -1)
        return FlowNetwork(
            num_vertices=nv,
            vin=vin.astype(np.int64),
            vout=vout.astype(np.int64),
            tail=tail,
            head=np.concatenate(heads).astype(np.int64, copy=False),
            capacity=np.concatenate(caps),
            what=np.concatenate(whats),
            ref=np.concatenate(refs).astype(np.int64, copy=False),
            forward=np.concatenate(fwds),
            owner=owner,
            bundle=bundle,
            forwarding=plan.mode,
            shared=shared,
            mirror=mirror,
            through=through_arcs,
        )


def mirror_vertices(present: np.ndarray, slot: np.ndarray, num_vertices: int) -> np.ndarray:
    """Each vertex's mirror: the vertex that plays its part when every arc is reversed.

    ``present``/``slot`` are the builder's vertex slots per row (columns: ``a_in``, ``a_out``,
    ``b_in``, ``b_out``, and a CXL switch's own sending and receiving vertices). Reversing
    every arc turns a flow from X to Y into one from Y to X when each vertex is replaced by
    its mirror:

    * one vertex: itself; an *in* and an *out* vertex (memory, a device split by its limit):
      each other's;
    * a sealed row: its inbound and native layers swap (external links arrive in the inbound
      layer and leave from the native one, so the reverse of an arrival is a departure; the
      inbound copy of an internal link is the reverse of the other direction's native copy;
      the delivery arc native -> inbound is its own reverse): ``a_in`` <-> ``b_out`` and, with
      a limit, ``a_out`` <-> ``b_in``;
    * a CXL switch: its host and device sides swap in the same way (host-side links arrive at
      ``a_in`` and leave from ``b_out``), and its sending and receiving vertices.

    A vertex the rules above do not cover is -1, and a network with one is never taken to be
    reversible. This is only the vertex map: whether every arc has its reversed twin (same
    capacity, same bundle structure) is checked arc by arc by
    :func:`topodsl.solvers.certificates.network.verified_arc_mirrors`.

    >>> present = np.array([[True, True, False, False, False, False]])
    >>> mirror_vertices(present, np.array([[0, 1, -1, -1, -1, -1]]), 2).tolist()
    [1, 0]
    """
    mirror = np.full(num_vertices, -1, dtype=np.int64)
    layered = present[:, 3]
    single = present[:, 0] & ~present[:, 1] & ~layered
    mirror[slot[single, 0]] = slot[single, 0]
    for rows, i, j in ((~layered, 0, 1), (layered, 0, 3), (layered, 1, 2), (layered, 4, 5)):
        both = rows & present[:, i] & present[:, j]
        mirror[slot[both, i]] = slot[both, j]
        mirror[slot[both, j]] = slot[both, i]
    return mirror


def _one_domain(topology: Topology, rows: np.ndarray, forwarding: str) -> int | None:
    """The fabric domain every one of ``rows`` belongs to, if there is one."""
    fabric = _fabric_of(topology, forwarding)
    if fabric is None or len(rows) == 0:
        return None
    domain, member = fabric
    d = int(domain[rows[0]])
    ok = d >= 0 and bool(np.all(member[rows])) and bool(np.all(domain[rows] == d))
    return d if ok else None


# The vertices of a gated CPU after its slot 0 (where links from what forwards arrive): its own
# source, where links from what never forwards arrive, its own sink, where links to what
# forwards leave, where links to what never forwards leave; then its ports.
_GADGET = ("source", "quiet_in", "sink", "out", "quiet_out")


def _bound_cpus(plan: ForwardingPlan, n: int) -> np.ndarray:
    """Rows of the CPUs the CXL binding rule applies to."""
    out = np.zeros(n, dtype=bool)
    for rows in plan.cxl_cpus:
        out[rows] = True
    return out


def _gadget(rows, v, port_row, live, port_cxl, forbid, p_in, p_out):
    """The inside of every gated CPU (``rows``; ``v`` its vertices by name, ``p_in``/``p_out``
    its ports'): an arc from every place traffic arrives to every place it leaves, but its own
    source to its own sink and the forbidden pairs of ports. Every unit of flow passing
    through the CPU crosses exactly one of the arcs that neither start at its source nor end
    at its sink, so its limit is one bundle over those.

    Returns tails, heads, the CPU of each arc, and which arcs carry traffic between a CXL port
    and anything but the CPU itself, what never forwards on it and a CXL port (*through*
    arcs: a network without them obeys the binding rule on every path)."""
    r = np.flatnonzero(rows)
    fixed_in = [("source", False), ("in", True), ("quiet_in", False)]
    fixed_out = [("sink", False), ("out", True), ("quiet_out", False)]
    where = v
    tails, heads, owner, through = [], [], [], []
    for a, _ in fixed_in:
        for b, _ in fixed_out:
            if (a, b) == ("source", "sink"):
                continue
            tails.append(where[a][r])
            heads.append(where[b][r])
            owner.append(r)
            through.append(np.zeros(len(r), bool))
    lp = np.flatnonzero(live)
    rows_p = port_row[lp]
    for a, wide in fixed_in:  # into a port from inside the CPU
        tails.append(where[a][rows_p])
        heads.append(p_out[lp])
        owner.append(rows_p)
        through.append(port_cxl[lp] & wide)
    for b, wide in fixed_out:  # from a port into the CPU
        tails.append(p_in[lp])
        heads.append(where[b][rows_p])
        owner.append(rows_p)
        through.append(port_cxl[lp] & wide)
    pa, pb = _port_pairs(port_row, forbid, live)
    tails.append(p_in[pa])
    heads.append(p_out[pb])
    owner.append(port_row[pa])
    through.append(port_cxl[pa] != port_cxl[pb])
    return (
        np.concatenate(tails),
        np.concatenate(heads),
        np.concatenate(owner),
        np.concatenate(through),
    )


def _port_pairs(port_row: np.ndarray, forbid: np.ndarray, live: np.ndarray):
    """Every ordered pair of ports (arrival, departure) of one gated CPU it forwards between:
    all pairs of its ports (a port to itself too: a device back to its own CXL domain, through
    the host) but the forbidden ones."""
    idx = np.flatnonzero(live)
    row = port_row[idx]
    first = np.searchsorted(row, row)
    size = np.searchsorted(row, row, side="right") - first
    pa = np.repeat(idx, size)
    pb = idx[_ranges_of(first, first + size)]
    if len(forbid):
        bad = np.concatenate([forbid[:, 0] * len(port_row) + forbid[:, 1],
                              forbid[:, 1] * len(port_row) + forbid[:, 0]])  # fmt: skip
        ok = ~np.isin(pa * len(port_row) + pb, bad)
        pa, pb = pa[ok], pb[ok]
    return pa, pb


def _ranges_of(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(starts[i], ends[i])`` for all i."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return offsets + np.arange(total)


def prune_for_terminals(
    topology: Topology,
    terminals: np.ndarray,
    max_rounds: int = 64,
    forwarding: str = "hardware",
):
    """Rows that can matter to a flow between any two sets of ``terminals``.

    Drops components not connected to any terminal and, repeatedly, non-terminal dead ends
    (rows with links to at most one other row: HBM stacks, DIMMs, drives). Flow entering a dead
    end can only come back out the way it came, into the vertex it left (a cycle, which no max
    flow needs), so no max flow or min cut between terminals changes. A row linked to a CXL
    switch (``sided`` under ``forwarding``) is never a dead end: the switch's host and device
    sides are different vertices, so a CPU hanging off the switch alone can turn traffic
    round (device -> switch -> CPU -> switch -> device, a peer transfer through the host's
    root port). Under the fabric rule (``forwarding="hardware"``), when every terminal belongs
    to one fabric domain, only that domain's rows can carry traffic between them: the rest is
    dropped too. Returns a boolean mask over rows.

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
    terminals = np.asarray(terminals, dtype=np.int64)
    term = np.zeros(n, dtype=bool)
    term[terminals] = True
    src = topology.links.src.astype(np.int64)
    dst = topology.links.dst.astype(np.int64)
    ok = src != dst
    d = _one_domain(topology, terminals, forwarding)
    if d is not None:
        inside = forwarding_plan(topology, forwarding).domain == d
        ok &= inside[src] & inside[dst]
    lo, hi = np.minimum(src[ok], dst[ok]), np.maximum(src[ok], dst[ok])
    pairs = sorted_unique(lo * n + hi)
    pa, pb = pairs // n, pairs % n
    graph = sp.csr_array((np.ones(len(pa), dtype=np.int8), (pa, pb)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    alive = np.isin(label, sorted_unique(label[term]))
    if d is not None:
        alive &= inside
    pair_alive = alive[pa] & alive[pb]
    anchored = term.copy()
    sided = forwarding_plan(topology, forwarding).klass == SIDED
    if sided.any():
        anchored[pa[sided[pb]]] = True
        anchored[pb[sided[pa]]] = True
    for _ in range(max_rounds):
        deg = np.bincount(pa[pair_alive], minlength=n) + np.bincount(pb[pair_alive], minlength=n)
        dead = alive & ~anchored & (deg <= 1)
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
    power of two that keeps ``bound`` in range (capacities are then rounded down unless it
    happens to divide them).
    """
    # The distinct capacities decide it (a few dozen, even among millions of arcs).
    finite = sorted_unique(capacity[np.isfinite(capacity) & (capacity > 0)])
    need = bound / _BUDGET

    def divides(unit: float) -> bool:
        q = finite / unit
        r = np.round(q)
        # Whole numbers up to float rounding (about 1e-16 relative), not merely close ones.
        return bool(np.all((r >= 1) & (np.abs(q - r) <= 1e-6 + 1e-12 * q)))

    for exp in range(15, -13, -1):
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
    unit = float(2.0 ** math.ceil(math.log2(need))) if need > 0 else 1.0
    return unit, divides(unit)


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
    forwarding: str = "hardware",
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
    forwarding : ``"hardware"`` (default) or ``"ideal"``; see
        :mod:`topodsl.solvers.forwarding`.

    Returns
    -------
    FlowResult

    Raises
    ------
    SolverError
        Empty or overlapping selections, an unknown backend or forwarding model, or an
        unbounded flow.

    Examples
    --------
    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> _ = b.add_node("gpu", "gpu"); _ = b.add_node("nic", "nic", bandwidth=50e9)
    >>> _ = b.add_node("leaf", "switch")
    >>> _ = b.add_link("gpu", "nic", bandwidth=63e9); _ = b.add_link("nic", "leaf", bandwidth=100e9)
    >>> r = max_flow(b.build(), [0], [2])
    >>> r.value / 1e9, r.cut[0].element, r.cut[0].source, r.exact
    (50.0, 'device', 'nic', True)
    """
    query = _Query.make(topology, sources, sinks, source_limit, sink_limit, link_capacity)
    return _max_flow(query, backend, forwarding, relays=True)


@dataclass(frozen=True)
class _Query:
    """One max-flow question, independent of the network it is asked on."""

    topology: Topology
    sources: np.ndarray
    sinks: np.ndarray
    source_limit: np.ndarray | None
    sink_limit: np.ndarray | None
    link_capacity: np.ndarray | None
    # Fabric domains per row (domain, member), when they come from a larger topology than the
    # one asked about (a reach scope); None: the topology's own.
    fabric: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def make(
        cls, topology, sources, sinks, source_limit, sink_limit, link_capacity, fabric=None
    ) -> _Query:
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
        s_cap = egress_limit(topology, sources) if source_limit is None else source_limit
        t_cap = ingress_limit(topology, sinks) if sink_limit is None else sink_limit
        s_cap = np.broadcast_to(np.asarray(s_cap, dtype=np.float64), sources.shape)
        t_cap = np.broadcast_to(np.asarray(t_cap, dtype=np.float64), sinks.shape)
        lc = None if link_capacity is None else np.asarray(link_capacity, dtype=np.float64)
        return cls(topology, sources, sinks, s_cap, t_cap, lc, fabric)


def _max_flow(
    query: _Query, backend: str, forwarding: str, relays: bool, strict: bool = False
) -> FlowResult:
    """The max flow of ``query`` under ``forwarding`` (``strict``: ignoring ``relay``); with
    ``relays``, also how much of it depends on relaying (one more max flow under the strict
    hardware defaults, only when some component forwards beyond them)."""
    if backend not in ("scipy", "networkx"):
        raise SolverError(f"unknown max-flow backend {backend!r} (use 'scipy' or 'networkx')")
    check_forwarding(forwarding)
    t = query.topology
    # The fabric domains are those of the model asked about, also for the strict comparison:
    # relaying is measured against the same domains, the fabric rule on its own.
    fabric = query.fabric if query.fabric is not None else _fabric_of(t, forwarding)
    net = flow_network(t, forwarding, strict=strict)
    own = forwarding_plan(t, forwarding, strict=strict)
    result = _solve_fabric(query, net, backend, fabric, measure_excluded=relays, plan=own)
    if not relays or strict:
        return result
    plan = forwarding_plan(t, forwarding)
    if not plan.beyond.any():
        return result
    base = forwarding_plan(t, "hardware", strict=True)
    strict = _solve_fabric(
        query, flow_network(t, "hardware", strict=True), backend, fabric, plan=base
    )
    gain = result.value - strict.value
    if gain <= REL_TOL * max(abs(result.value), 1.0):
        # The figure holds without relaying: report the strict flow (it is a max flow here too)
        # with this model's cut.
        return replace(
            result,
            link_flow=strict.link_flow,
            device_flow=strict.device_flow,
            sink_flow=strict.sink_flow,
        )
    return replace(result, relay_gain=float(gain), relays=_relayed_through(t, plan, result))


def _fabric_of(t: Topology, forwarding: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The fabric domains of ``t`` under ``forwarding`` (None when there are none)."""
    plan = forwarding_plan(t, forwarding)
    return (plan.domain, plan.member) if plan.has_domains else None


def _solve_fabric(
    query: _Query,
    net: FlowNetwork,
    backend: str,
    fabric: tuple[np.ndarray, np.ndarray] | None,
    measure_excluded: bool = False,
    plan: ForwardingPlan | None = None,
) -> FlowResult:
    """The max flow of ``query`` on ``net`` (built from ``plan``) under the path rules: the
    fabric rule (``fabric`` the domains per row, None for none) and the CXL binding rule (see
    :mod:`topodsl.solvers.pathrules`).

    * no rule can bind: one max flow on ``net``;
    * every source and sink belongs to one fabric domain: one max flow on that domain's arcs;
    * otherwise the max flow on ``net`` is an upper bound (``net`` admits every path the rules
      allow) and one on a restriction of it a lower bound (every path it admits obeys them).
      When they meet the figure is exact; else a linear program over the product of the
      network and the rules' automaton gives it, or, past :data:`_LP_ARC_LIMIT` variables,
      the bracket between the two.
    """
    t = query.topology
    plan = forwarding_plan(t, net.forwarding) if plan is None else plan
    rules = rules_for(t, plan, fabric, query.sources, query.sinks)
    if not rules.active:
        return _solve(query, net, backend)
    names = _domain_names(t, fabric, rules.fabric) if len(rules.fabric) else ()
    vdom = None if fabric is None else fabric[0][net.owner]
    if rules.inside is not None:
        inside = (vdom[net.tail] == rules.inside) & (vdom[net.head] == rules.inside)
        r = replace(_solve(query, _sub_network(net, inside), backend), fabric=names)
        if not measure_excluded:
            return r
        free = _solve_fabric(query, net, backend, None, plan=plan)
        return replace(r, fabric_excluded=_excess(free.value, r.value))

    ceiling = _solve(query, net, backend)
    masks = restrictions(rules, plan, t, net.owner, net.tail, net.head, net.through, vdom)
    low = max((_solve(query, _sub_network(net, k), backend) for k in masks), key=_lower)
    if ceiling.upper - low.lower <= REL_TOL * abs(ceiling.upper):
        # A flow that obeys the rules reaches a cut of the network that admits them all.
        r = replace(
            low,
            value=ceiling.upper,
            upper=ceiling.upper,
            cut=ceiling.cut,
            source_side=ceiling.source_side,
        )
    else:
        r = _solve_rules_lp(query, net, plan, fabric, rules, low, ceiling)
    if not len(rules.fabric):
        return r
    free = ceiling if not rules.cxl else _solve_fabric(query, net, backend, None, plan=plan)
    return replace(r, fabric=names, fabric_excluded=_excess(free.value, r.value))


def _lower(r: FlowResult) -> float:
    return r.lower


def _solve_rules_lp(query, net, plan, fabric, rules, low: FlowResult, ceiling: FlowResult):
    """The exact max flow under the path rules as a linear program over the product of the
    network and the rules' automaton; on a network too large for it, the bracket between the
    restricted flow ``low`` and the unrestricted cut ``ceiling``."""
    a = _arcs(query, net)
    q = states_of(rules, plan)
    if len(a.tail) * q > _LP_ARC_LIMIT:
        return replace(
            low,
            value=low.lower,
            upper=ceiling.upper,
            cut=ceiling.cut,
            source_side=ceiling.source_side,
        )
    is_link = np.concatenate([net.what == _ARC_LINK, np.zeros(len(a.tail) - len(net.tail), bool)])
    delta = automaton(
        rules,
        plan,
        fabric,
        (a.tail, a.head, is_link),
        net.owner,
        net.num_vertices,
        query.sources,
        query.sinks,
    )
    return _linear_program(
        query.topology, net, a.tail, a.head, a.capacity, a.S, a.T, a.bound, delta
    )


def _excess(ceiling: float, value: float) -> float:
    gap = ceiling - value
    return float(gap) if gap > REL_TOL * max(abs(ceiling), 1.0) else 0.0


def _domain_names(t: Topology, fabric, domains: np.ndarray) -> tuple[str, ...]:
    """Names of fabric domains (the smallest component holding each one's accelerators)."""
    return tuple(sorted(domain_name(t, fabric[0], fabric[1], int(d)) for d in domains.tolist()))


def _sub_network(net: FlowNetwork, keep: np.ndarray) -> FlowNetwork:
    """``net`` with only the arcs where ``keep`` is True (the vertices all stay)."""
    return replace(
        net,
        tail=net.tail[keep],
        head=net.head[keep],
        capacity=net.capacity[keep],
        what=net.what[keep],
        ref=net.ref[keep],
        forward=net.forward[keep],
        bundle=net.bundle[keep],
        through=None if net.through is None else net.through[keep],
    )


@dataclass(frozen=True)
class _Arcs:
    """The arcs of one question on a network: the network's, then one from the super-source
    ``S`` to each source, then one from each sink to the super-sink ``T``."""

    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    cap: np.ndarray  # the network's own arcs' capacities (link_capacity applied)
    S: int
    T: int
    bound: float  # no cut is larger


def _arcs(query: _Query, net: FlowNetwork) -> _Arcs:
    sources, sinks = query.sources, query.sinks
    cap = net.capacity
    if query.link_capacity is not None:
        cap = cap.copy()
        is_link = net.what == _ARC_LINK
        cap[is_link] = query.link_capacity[net.ref[is_link]]
    s_cap, t_cap = query.source_limit, query.sink_limit
    S, T = net.num_vertices, net.num_vertices + 1
    tail = np.concatenate([net.tail, np.full(len(sources), S), net.vin[sinks]])
    head = np.concatenate([net.head, net.vout[sources], np.full(len(sinks), T)])
    capacity = np.concatenate([cap, s_cap, t_cap]).astype(np.float64)
    if np.any(capacity < 0) or np.any(np.isnan(capacity)):
        raise SolverError("negative or undefined capacity in the flow network")
    if np.any(net.vin[sinks] < 0) or np.any(net.vout[sources] < 0):
        raise SolverError("a source or sink was left out of the network")

    # Any cut is at most the capacity of the links around S or around T; arcs above that bound
    # behave as infinite, so clip them there.
    bound = min(
        _side_bound(net, cap, sources, s_cap, True), _side_bound(net, cap, sinks, t_cap, False)
    )
    if not np.isfinite(bound):
        raise SolverError("the flow is unbounded: no finite capacity separates sources and sinks")
    return _Arcs(tail, head, capacity, cap, S, T, bound)


def _solve(query: _Query, net: FlowNetwork, backend: str) -> FlowResult:
    t = query.topology
    a = _arcs(query, net)
    tail, head, capacity, cap, S, T, bound = (
        a.tail, a.head, a.capacity, a.cap, a.S, a.T, a.bound
    )  # fmt: skip
    n_all = net.num_vertices + 2
    if backend == "networkx":
        used = np.minimum(capacity, 2 * bound + 1.0)
        flows, lower = _solve_networkx(n_all, tail, head, used, S, T)
        eps = 1e-9 * max(bound, 1e-300)
        side = _reachable(n_all, tail, head, used - flows > eps, flows > eps, S)
        resolution = 0.0
    else:
        flows, lower, side, resolution = _solve_phases(n_all, tail, head, capacity, S, T, bound)
    crossing = side[tail] & ~side[head] & (capacity > 0)
    upper = float(math.fsum(capacity[crossing].tolist()))
    if net.shared and _overloads_a_bundle(net, flows[: len(net.tail)], cap):
        return _solve_lp(t, net, tail, head, capacity, cap, flows, S, T, bound)
    result = _interpret(t, net, tail, head, capacity, flows, side, S)
    exact = upper - lower <= REL_TOL * upper
    return replace(
        result,
        value=upper if exact else float(lower),
        resolution=resolution,
        lower=min(float(lower), upper),
        upper=upper,
        forwarding=net.forwarding,
    )


def _side_bound(net: FlowNetwork, cap, rows, limit, outgoing: bool) -> float:
    """Upper bound on the flow out of (into) ``rows``: per row, its limit or the capacity of
    the links leaving (entering) it."""
    own_t, own_h = net.owner[net.tail], net.owner[net.head]
    m = (net.what == _ARC_LINK) & (own_t != own_h)
    ends = own_t[m] if outgoing else own_h[m]
    per_row = np.bincount(ends, weights=cap[m], minlength=len(net.vin))
    return float(math.fsum(np.minimum(limit, per_row[rows]).tolist()))


def _solve_phases(n_all, tail, head, capacity, S, T, bound):
    """Max flow in integer phases: returns (flow per arc, value found, source side of the best
    cut, finest unit). Phase 0 solves the network in a unit that fits the bound; each later
    phase solves the residual network in a unit 2**30 times finer than the gap left between the
    flow found and the best cut's true capacity, until they agree or the unit was exact."""
    m = len(tail)
    flows = np.zeros(m)
    parts: list[float] = []
    best_upper, best_side, resolution = math.inf, None, 0.0
    if bound <= 0:
        side = _reachable(n_all, tail, head, capacity > 0, np.zeros(m, bool), S)
        return flows, 0.0, side, 1.0  # nothing can flow: exact in any unit
    r_tail, r_head = np.concatenate([tail, head]), np.concatenate([head, tail])
    budget = bound
    for phase in range(_MAX_PHASES):
        if phase == 0:
            rt, rh, rc = tail, head, capacity
        else:
            rt, rh = r_tail, r_head
            rc = np.concatenate([np.maximum(capacity - flows, 0.0), flows])
        unit, exact_unit = _choose_unit(rc[rc <= budget], budget)
        inet = _IntNetwork(n_all, rt, rh, rc, budget, unit)
        ivalue, entry_flow, side = inet.solve(S, T, with_flow=True)
        # Share each merged entry's flow among its parallel arcs, in proportion to capacity.
        arc_cap = np.minimum(rc, 2 * budget)
        merged = np.bincount(inet.entry, weights=arc_cap, minlength=len(entry_flow))
        share = np.divide(
            arc_cap, merged[inet.entry], out=np.zeros(len(arc_cap)), where=merged[inet.entry] > 0
        )
        f = entry_flow[inet.entry] * share * unit
        flows = f if phase == 0 else np.clip(flows + f[:m] - f[m:], 0.0, capacity)
        parts.append(ivalue * unit)
        resolution = unit
        crossing = side[tail] & ~side[head] & (capacity > 0)
        upper = float(math.fsum(capacity[crossing].tolist()))
        if upper < best_upper:
            best_upper, best_side = upper, side
        lower = math.fsum(parts)
        gap = best_upper - lower
        if exact_unit or gap <= _FLOAT_GAP * best_upper:
            break
        budget = gap
    return flows, math.fsum(parts), best_side, resolution


def _overloads_a_bundle(net: FlowNetwork, flows: np.ndarray, cap: np.ndarray) -> bool:
    """Whether arcs sharing one capacity carry more than it, together."""
    total = np.bincount(net.bundle, weights=flows, minlength=int(net.bundle.max()) + 1)
    limit = np.zeros(len(total))
    limit[net.bundle] = cap
    return bool(np.any(total > limit * (1 + REL_TOL) + 1e-300))


def _solve_lp(t, net, tail, head, capacity, cap, flows, S, T, bound) -> FlowResult:
    """The max flow when the two layers of a package compete for a capacity: a linear
    program with one constraint per shared capacity (HiGHS), or, on a network too large for
    it, the bracket between the relaxed flow scaled down to feasibility and the relaxation."""
    m, n_base = len(tail), len(net.tail)
    bundle = np.concatenate([net.bundle, int(net.bundle.max()) + 1 + np.arange(m - n_base)])
    limit = np.zeros(int(bundle.max()) + 1)
    limit[bundle] = np.minimum(capacity, 2 * bound)
    into_t = head == T
    relaxed = float(flows[into_t].sum())
    if m > _LP_ARC_LIMIT:
        load = np.bincount(bundle, weights=flows, minlength=len(limit))
        scale = float(np.min(np.divide(limit, load, out=np.ones(len(limit)), where=load > 0)))
        scaled = flows * min(scale, 1.0)
        side = _reachable(t.num_nodes, tail, head, np.zeros(m, bool), np.zeros(m, bool), S)
        r = _interpret(t, net, tail, head, capacity, scaled, side, S)
        lower = relaxed * min(scale, 1.0)
        return replace(
            r,
            value=lower,
            lower=lower,
            upper=relaxed,
            forwarding=net.forwarding,
            linear_program=True,
        )
    return _linear_program(t, net, tail, head, capacity, S, T, bound)


def _linear_program(t, net, tail, head, capacity, S, T, bound, delta=None) -> FlowResult:
    """The max flow as a linear program (HiGHS), exact to the solver's tolerance: one
    constraint per shared capacity, and, with ``delta`` (see
    :func:`~topodsl.solvers.pathrules.automaton`), one flow variable per state and arc, the
    states following the path rules: a unit in state ``s`` entering arc ``a`` leaves it in
    state ``delta[s, a]``, and not at all where that is -1."""
    from scipy.optimize import linprog

    m, n_base = len(tail), len(net.tail)
    bundle = np.concatenate(
        [net.bundle, int(net.bundle.max(initial=-1)) + 1 + np.arange(m - n_base)]
    )
    limit = np.zeros(int(bundle.max()) + 1)
    limit[bundle] = np.minimum(capacity, 2 * bound)
    size = np.bincount(bundle)
    unit = max(bound, 1e-300)
    nv = net.num_vertices
    inner = (tail < nv) | (head < nv)
    if delta is None:
        delta = np.zeros((1, m), dtype=np.int64)
    q = delta.shape[0]
    # One variable per allowed (state, arc); its arc is arc[var].
    state, arc = np.nonzero(delta >= 0)
    after = delta[state, arc]
    n_var = len(arc)
    # Conservation of every state at every vertex but S and T.
    t_real, h_real = tail[arc] < nv, head[arc] < nv
    rows = np.concatenate(
        [state[t_real] * nv + tail[arc][t_real], after[h_real] * nv + head[arc][h_real]]
    )
    cols = np.concatenate([np.flatnonzero(t_real), np.flatnonzero(h_real)])
    vals = np.concatenate([-np.ones(int(t_real.sum())), np.ones(int(h_real.sum()))])
    A_eq = sp.csr_array((vals, (rows, cols)), shape=(q * nv, n_var))
    # Capacities: every state of an arc together, and every arc of a bundle together. With a
    # single state an arc's own capacity is the variable's bound.
    one = size[bundle] == 1
    shared = np.flatnonzero(~one) if q == 1 else np.arange(m)
    ub_rows, inv = sorted_unique(bundle[shared], return_inverse=True)
    var_row = np.full(m, -1, dtype=np.int64)
    var_row[shared] = inv
    hit = var_row[arc] >= 0
    A_ub = sp.csr_array(
        (np.ones(int(hit.sum())), (var_row[arc][hit], np.flatnonzero(hit))),
        shape=(len(ub_rows), n_var),
    )
    b_ub = limit[ub_rows] / unit
    bounds = np.column_stack([np.zeros(n_var), np.minimum(capacity[arc], 2 * bound) / unit])
    c = -(tail[arc] == S).astype(np.float64)
    res = linprog(
        c,
        A_ub=A_ub if len(ub_rows) else None,
        b_ub=b_ub if len(ub_rows) else None,
        A_eq=A_eq,
        b_eq=np.zeros(q * nv),
        bounds=bounds,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status != 0:  # pragma: no cover - HiGHS solves every such program
        raise SolverError(f"the linear program of the forwarding model failed: {res.message}")
    y = np.clip(res.x, 0.0, None) * unit
    x = np.bincount(arc, weights=y, minlength=m)
    value = float(-res.fun * unit)
    # The elements that limit the optimum: capacities with a shadow price, on the shared row
    # or on a copy's own bound (the solver may put it on either when one layer carries it
    # all), each listed once (both layers' copies of a link are one element).
    hot = np.zeros(len(limit), dtype=bool)
    if len(ub_rows):
        hot[ub_rows[np.abs(res.ineqlin.marginals) > 1e-9]] = True
    hot[bundle[arc[np.abs(res.upper.marginals) > 1e-9]]] = True
    representative = np.full(len(limit), -1)
    np.maximum.at(representative, bundle, np.arange(m))
    binding = np.zeros(m, dtype=bool)
    binding[representative[hot]] = True
    load = np.bincount(bundle, weights=x, minlength=len(limit))
    room = load[bundle] < limit[bundle] * (1 - 1e-9)
    side = _reachable(nv + 2, tail, head, room & inner | (head == T) & room, x > 1e-12 * unit, S)
    r = _interpret(t, net, tail, head, capacity, x, side, S, cut_arcs=np.flatnonzero(binding))
    # When the limiting elements add up to the optimum (to the solver's tolerance), the figure
    # is their capacity: a sum of real link and device capacities, not the solver's float.
    if figures_agree(r.cut_capacity, value):
        value = r.cut_capacity
    return replace(
        r, value=value, lower=value, upper=value, forwarding=net.forwarding, linear_program=True
    )


def _relayed_through(t: Topology, plan: ForwardingPlan, r: FlowResult) -> tuple[str, ...]:
    """Components the flow of ``r`` relays through: a package (or lone component) forwarding
    beyond the hardware defaults that takes in over its external links more than ends inside
    it; a CXL switch passing more from one side than it sends to the other."""
    strict = forwarding_plan(t, "hardware", strict=True)
    n = t.num_nodes
    group = np.where(strict.klass == SEALED, strict.seal, np.arange(n))
    L = t.links
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    lf = r.link_flow
    gs, gd = group[src], group[dst]
    crossing = gs != gd
    relayed = np.zeros(n)
    np.add.at(relayed, gd[crossing], lf[crossing, 0])
    np.add.at(relayed, gs[crossing], lf[crossing, 1])
    relayed -= np.bincount(group, weights=r.sink_flow, minlength=n)
    sided = np.flatnonzero(strict.klass == SIDED)
    if len(sided):
        arrive = np.zeros((n, 2))  # from the host side, from the device side
        leave = np.zeros((n, 2))  # to the host side, to the device side
        for near, arr, dep, host in (
            (dst, lf[:, 0], lf[:, 1], strict.host_end[:, 0]),
            (src, lf[:, 1], lf[:, 0], strict.host_end[:, 1]),
        ):
            side = np.where(host, 0, 1)
            np.add.at(arrive, (near, side), arr)
            np.add.at(leave, (near, side), dep)
        relayed[sided] = np.maximum(arrive[sided, 0] - leave[sided, 1], 0) + np.maximum(
            arrive[sided, 1] - leave[sided, 0], 0
        )
    for c, amount in _forbidden_turns(strict, lf, src, dst, r.sink_flow).items():
        relayed[c] = amount
    hit = sorted_unique(group[np.flatnonzero(plan.beyond)])
    hit = hit[relayed[hit] > 1e-6 * max(float(r.value), 1e-300)]
    return tuple(sorted((t.nodes.ids[int(g)] for g in hit), key=natural_key))


def _forbidden_turns(strict: ForwardingPlan, lf, src, dst, sink_flow) -> dict[int, float]:
    """For every gated CPU of the strict plan, the least flow the link flows ``lf`` must send
    across a pair of its ports it does not forward between: what arrives at a port beyond
    what the ports it may go to, its other links and its own sink take."""
    out: dict[int, float] = {}
    if not len(strict.port_row):
        return out
    k = len(strict.port_row)
    arrive, leave = np.zeros(k), np.zeros(k)
    free_leave: dict[int, float] = {}
    for end, (near, into, away) in enumerate(
        ((src, lf[:, 1], lf[:, 0]), (dst, lf[:, 0], lf[:, 1]))
    ):
        p = strict.port[:, end]
        at = p >= 0
        np.add.at(arrive, p[at], into[at])
        np.add.at(leave, p[at], away[at])
        gated = np.isin(near, strict.port_row) & ~at
        for c, x in zip(near[gated].tolist(), away[gated].tolist(), strict=True):
            free_leave[c] = free_leave.get(c, 0.0) + x
    bad = {(int(a), int(b)) for a, b in strict.forbid.tolist()}
    bad |= {(b, a) for a, b in bad}
    for c in sorted_unique(strict.port_row).tolist():
        mine = np.flatnonzero(strict.port_row == c).tolist()
        total = 0.0
        for p in mine:
            allowed = sum(leave[q] for q in mine if (p, q) not in bad)
            spare = allowed + free_leave.get(c, 0.0) + float(sink_flow[c])
            total += max(arrive[p] - spare, 0.0)
        out[c] = total
    return out


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
        elif net.what[a] == _ARC_LINK:
            e = int(net.ref[a])
            s, d = int(L.src[e]), int(L.dst[e])
            if not net.forward[a]:
                s, d = d, s
            out.append(
                CutItem("link", e, ids[s], ids[d], float(capacity[a]), topology.link_type_of(e))
            )
    out.sort(key=lambda c: (c.element, natural_key(c.source), natural_key(c.target), c.row))
    return out


def _interpret(topology, net, tail, head, capacity, arc_flow, side, S, cut_arcs=None):
    n_base = len(net.tail)
    if cut_arcs is None:
        # An arc of capacity 0 (a link switched off with link_capacity) limits nothing.
        cut_arcs = np.flatnonzero(side[tail] & ~side[head] & (capacity > 0))
    inner = cut_arcs[cut_arcs < n_base]
    cut = _cut_items(topology, net, inner, capacity)
    ids = topology.nodes.ids
    ext = cut_arcs[cut_arcs >= n_base]
    if len(ext):
        # Super-source or super-sink arcs: the endpoint's own limit is the bottleneck.
        rows = net.owner[np.where(tail[ext] == S, head[ext], tail[ext])]
        for a, row in zip(ext.tolist(), rows.tolist(), strict=True):
            cut.append(CutItem("device", row, ids[row], ids[row], float(capacity[a])))
    cut.sort(key=lambda c: (c.element, natural_key(c.source), natural_key(c.target), c.row))

    link_flow = np.zeros((topology.num_links, 2))
    base = arc_flow[:n_base]
    is_link = net.what == _ARC_LINK
    col = np.where(net.forward, 0, 1)
    np.add.at(link_flow, (net.ref[is_link], col[is_link]), base[is_link])
    device_flow = np.zeros(topology.num_nodes)
    is_dev = net.what == _ARC_DEVICE
    np.add.at(device_flow, net.ref[is_dev], base[is_dev])
    into_t = np.flatnonzero(head == S + 1)
    sink_flow = np.zeros(topology.num_nodes)
    np.add.at(sink_flow, net.owner[tail[into_t]], arc_flow[into_t])
    return FlowResult(
        value=float(sink_flow.sum()),
        resolution=0.0,
        cut=tuple(cut),
        source_side=side[net.vout],
        link_flow=link_flow,
        device_flow=device_flow,
        sink_flow=sink_flow,
    )


# -- repeated cuts between halves of one terminal set -----------------------------------------


@dataclass(frozen=True)
class _TerminalFabric:
    """Fabric domains of the terminals that may be mixed by a split: ``terminals`` (positions
    into the terminal list) and their ``domain``; per network arc, the domain whose vertices it
    enters (``entering``) or leaves (``leaving``) from outside, -1 for none."""

    terminals: np.ndarray
    domain: np.ndarray
    entering: np.ndarray
    leaving: np.ndarray


def _terminal_fabric(topology: Topology, net: FlowNetwork, terminals: np.ndarray, forwarding):
    """The network for repeated cuts between ``terminals`` under the fabric rule, and what a
    split needs to know about the domains it may mix (None when no split mixes any)."""
    fabric = _fabric_of(topology, forwarding)
    if fabric is None:
        return net, None
    domain, member = fabric
    td = np.where(member[terminals], domain[terminals], -1)
    vdom = domain[net.owner]
    dt, dh = vdom[net.tail], vdom[net.head]
    if len(td) and td[0] >= 0 and np.all(td == td[0]):
        return _sub_network(net, (dt == td[0]) & (dh == td[0])), None
    counts = np.bincount(td[td >= 0], minlength=1)
    shared = np.flatnonzero(counts > 1)
    if not len(shared):
        return net, None
    where = np.flatnonzero(np.isin(td, shared))
    crossing = dt != dh
    entering = np.where(crossing & np.isin(dh, shared), dh, -1)
    leaving = np.where(crossing & np.isin(dt, shared), dt, -1)
    return net, _TerminalFabric(where, td[where], entering, leaving)


@dataclass(frozen=True)
class TerminalCut:
    """A minimum cut separating terminals marked ``True`` (first half) from the rest.

    ``value`` is the cut's capacity measured with the true capacities (B/s); ``flow`` the max
    flow the integer backend found (equal when exact, never above ``value``). ``arcs`` are the
    network arcs crossing the cut, ``side`` marks the network vertices on the first half's side.
    ``fabric`` is True when a fabric domain has terminals on both sides: then the cut is one
    of the network without the fabric rule, a real cut under it too (an upper bound on the
    split's figure) but not necessarily a minimum one.
    """

    value: float
    flow: float
    arcs: np.ndarray
    side: np.ndarray
    fabric: bool = False


class TerminalCuts:
    """Many max-flow / min-cut queries between two halves of one fixed set of terminals.

    The network (optionally restricted to ``keep`` rows, see :func:`prune_for_terminals`; under
    the ``forwarding`` model) and its int32 CSR form are built once; a query only switches the
    super-source and super-sink arcs. Terminals send and receive without limit: their own device
    limits still cap flow that passes *through* them. Used by bisection; other solvers may reuse it.

    The fabric rule (:func:`max_flow`): when every terminal belongs to one fabric domain, the
    network is that domain's arcs alone and every cut is exact under the rule. Otherwise a split
    that puts terminals of one domain on both sides is *mixed*: :meth:`cut` gives a real cut of
    the unrestricted network (an upper bound) and :meth:`flow_value` a flow that obeys the rule
    (the better of two max flows, one without the arcs entering the mixed domains, one without
    those leaving them: a lower bound).

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
        forwarding: str = "hardware",
    ):
        self.topology = topology
        self.terminals = np.asarray(terminals, dtype=np.int64)
        n_t = len(self.terminals)
        # Terminals may come in groups that always stay together (a GPU package and the
        # chiplets that carry its links); queries then choose sides per group.
        self.group = np.arange(n_t) if group is None else np.asarray(group, dtype=np.int64)
        if keep is not None:
            # Whatever the caller pruned, keep every row this model can route through.
            keep = np.asarray(keep, dtype=bool) | prune_for_terminals(
                topology, self.terminals, forwarding=forwarding
            )
        net = build_network(topology, keep, forwarding)
        net, self._fabric = _terminal_fabric(topology, net, self.terminals, forwarding)
        self.net = net
        if np.any(net.vin[self.terminals] < 0):
            raise SolverError("a terminal was left out of the network")
        cap = net.capacity
        # What a terminal can send or take in: the links leaving or entering its vertices.
        own_t, own_h = net.owner[net.tail], net.owner[net.head]
        m = (net.what == _ARC_LINK) & (own_t != own_h)
        n = topology.num_nodes
        self.out_cap = np.bincount(own_t[m], weights=cap[m], minlength=n)[self.terminals]
        self.in_cap = np.bincount(own_h[m], weights=cap[m], minlength=n)[self.terminals]
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
        mixed = len(self._mixed(first)) > 0
        return TerminalCut(value, ivalue * self.unit, arcs, side[: self.net.num_vertices], mixed)

    def flow_value(self, first: np.ndarray) -> float:
        """Only the max flow (B/s) from the ``first`` terminals to the others: a lower bound on
        every cut between them, equal to the minimum cut when the unit is exact. For a mixed
        split (see the class), a flow that obeys the fabric rule: a lower bound still."""
        self._switch(first)
        mixed = self._mixed(first)
        if not len(mixed):
            res = maximum_flow(self._int.graph, self.S, self.T, method="dinic")
            return int(res.flow_value) * self.unit
        data = self._int.graph.data
        best = 0
        for arc_domain in (self._fabric.entering, self._fabric.leaving):
            pos = self._int.entry[np.flatnonzero(np.isin(arc_domain, mixed))]
            saved = data[pos].copy()
            data[pos] = 0
            res = maximum_flow(self._int.graph, self.S, self.T, method="dinic")
            best = max(best, int(res.flow_value))
            data[pos] = saved
        return best * self.unit

    def _mixed(self, first: np.ndarray) -> np.ndarray:
        """The fabric domains with terminals on both sides of the split ``first``."""
        f = self._fabric
        if f is None:
            return np.zeros(0, dtype=np.int64)
        side = np.asarray(first, dtype=bool)[self.group][f.terminals]
        a, b = f.domain[side], f.domain[~side]
        return np.intersect1d(a, b) if len(a) and len(b) else np.zeros(0, dtype=np.int64)

    def cut_items(self, cut: TerminalCut) -> tuple[CutItem, ...]:
        """The links and devices of ``cut``, mapped back to the topology, sorted."""
        return tuple(_cut_items(self.topology, self.net, cut.arcs, self.net.capacity))
