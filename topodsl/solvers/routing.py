"""Routed throughput: a traffic pattern over shortest-path ECMP, beside the max-flow ceiling.

The max flow is what perfect routing could carry. Real fabrics route each packet on a
shortest path and split traffic equally over the equal-cost next hops (ECMP), whether or not
that balances the load. :func:`routed_traffic` routes a :class:`~topodsl.patterns.Demand`
that way and reports what every flow gets when all run at once.

Model
-----
* **Where traffic may go** is the flow network of :mod:`topodsl.solvers.flow` under the
  forwarding model (``forwarding="hardware"`` by default): traffic passes only through
  components that forward (no transit through GPUs unless ``relay = true``, chiplets only
  inside their package, CXL switches host to device only), memory and storage only start or
  end it. A route is a path of arcs with capacity.
* **The fabric rule** (:mod:`topodsl.solvers.pathrules`): traffic between two members of one
  fabric domain (GPUs on one NVLink fabric) routes on the domain's arcs alone, as NVLink peer
  to peer does; it is never spread over the network or PCIe. Traffic between domains routes
  on the whole network (through no GPU).
* **Cost** of a path (``metric``): ``"hops"`` counts links; ``"latency"`` adds each link's
  latency and the latency of each component entered, rounded to the picosecond, and among
  paths of equal latency prefers fewer links (so that links of zero latency form no loops).
  Arcs inside a component (a device's own limit, a package's layers) cost nothing.
* **ECMP**: traffic to a sink is routed on the shortest paths to it; at every vertex it is
  split *equally* over the outgoing arcs that lie on a shortest path (each parallel link is
  its own next hop), whatever their capacities: per-hop equal split, as hashing does.
* **The rate.** Routes fix how one unit of a pair's traffic loads each link direction and
  device; the *uniform rate* ``r`` is the largest rate per unit of weight such that every
  capacity holds when every pair sends at once: per link direction its bandwidth (the two
  directions of a half-duplex link share one), per device its ``bandwidth`` (both layers of a
  package count against one limit), per source its egress limit and per sink its ingress
  limit. Pairs without a route make ``r`` 0.
* **Max-min fair rates** (``fair=True``): with the same routes, rates raised together until a
  capacity fills, the pairs through it frozen, and again (progressive filling).

The ceiling
-----------
:mod:`topodsl.solvers.concurrent` bounds the best any routing could do for the same demand
(the maximum concurrent flow): exactly by a linear program on small inputs, else by cuts. The
routed rate is always at most the ceiling; their ratio is the routing's efficiency.

>>> from topodsl import loads
>>> from topodsl.patterns import make_demand
>>> t = loads('''link l { bandwidth = 10 GB/s }
... cluster c { gpu g[2]; switch s[2]; connect g[*] -- s[*] via l }''')
>>> r = routed_traffic(t, make_demand(t, "all-to-all", t.select("kind:gpu")))
>>> r.rate / 1e9, r.throughput / 1e9      # two equal paths each way: 2 x 10 GB/s per flow
(20.0, 40.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ..errors import SolverError
from ..patterns import Demand
from ..topology import Topology
from .flow import (
    ARC_DEVICE,
    ARC_LINK,
    egress_limit,
    flow_network,
    ingress_limit,
    prune_for_terminals,
)
from .forwarding import forwarding_plan

__all__ = [
    "RoutingNetwork",
    "Load",
    "RoutedTraffic",
    "routed_traffic",
    "routing_network",
    "METRICS",
]

#: How a path's cost is counted (see the module docstring).
METRICS = ("hops", "latency")
# A path's latency cost, in picoseconds, scaled to leave room for the hop count.
_HOP_BITS = 12
# Destinations whose distances are computed at once (a dense block of that many rows).
_CHUNK = 32
# Largest pairs x routed arcs for the per-pair loads that max-min fairness needs.
FAIR_WORK_LIMIT = 20_000_000


@dataclass(frozen=True)
class RoutingNetwork:
    """The flow network as a routing graph, restricted to what can matter to the endpoints.

    Vertices are renumbered ``0..V-1``; ``arc`` maps each routing arc to its flow-network arc.
    ``cost`` is each arc's integer cost; ``group`` the capacity it draws on (a link direction,
    a half-duplex link, a device), ``group_cap`` that capacity (B/s, ``inf`` for none).
    ``vin``/``vout`` map node rows to vertices (-1 outside). The fabric rule: ``domain`` is
    the fabric domain of every node row that is a member of one (-1 else, None when the
    design has no domains), and ``fabric_reverse`` the reversed arcs inside the domains alone,
    the only ones traffic between two members of one domain may take.
    """

    topology: Topology
    forwarding: str
    metric: str
    num_vertices: int
    tail: np.ndarray
    head: np.ndarray
    cost: np.ndarray
    arc: np.ndarray
    group: np.ndarray
    group_cap: np.ndarray
    group_what: np.ndarray  # 0 link direction, 1 device
    group_ref: np.ndarray  # link row or node row
    group_forward: np.ndarray  # a link group's direction (True: src -> dst)
    vin: np.ndarray
    vout: np.ndarray
    zdepth: np.ndarray
    reverse: sp.csr_array = field(repr=False)
    domain: np.ndarray | None = field(default=None, repr=False)
    fabric_arc: np.ndarray | None = field(default=None, repr=False)
    fabric_reverse: sp.csr_array | None = field(default=None, repr=False)


def _network(topology: Topology, forwarding: str):
    return flow_network(topology, forwarding)


def routing_network(
    topology: Topology, endpoints: np.ndarray, metric: str = "hops", forwarding: str = "hardware"
) -> RoutingNetwork:
    """The routing graph of ``topology`` for traffic among ``endpoints`` (rows)."""
    if metric not in METRICS:
        raise SolverError(f"unknown routing metric {metric!r} (use {' or '.join(METRICS)})")
    _check_zero_weights()
    t = topology
    net = _network(t, forwarding)
    owner = _owner(net, t.num_nodes)
    keep_rows = prune_for_terminals(t, endpoints)
    ok = (net.capacity > 0) & keep_rows[owner[net.tail]] & keep_rows[owner[net.head]]
    arcs = np.flatnonzero(ok)
    used = np.zeros(net.num_vertices, dtype=bool)
    used[net.tail[arcs]] = True
    used[net.head[arcs]] = True
    rows = np.asarray(endpoints, dtype=np.int64)
    used[net.vin[rows]] = True
    used[net.vout[rows]] = True
    renumber = np.full(net.num_vertices, -1, dtype=np.int64)
    verts = np.flatnonzero(used)
    renumber[verts] = np.arange(len(verts))
    V = len(verts)
    tail, head = renumber[net.tail[arcs]], renumber[net.head[arcs]]
    what, ref = net.what[arcs], net.ref[arcs]
    is_link = what == ARC_LINK
    L = t.links
    # Cost of each arc.
    if metric == "hops":
        cost = is_link.astype(np.int64)
    else:
        lat = np.zeros(len(arcs))
        lat[is_link] = L.latency[ref[is_link]] + t.nodes.latency[owner[net.head[arcs[is_link]]]]
        ps = np.round(lat * 1e12).astype(np.int64)
        if np.any(ps >= 2 ** (62 - _HOP_BITS)):
            raise SolverError("a link latency is too large to route on (over an hour)")
        cost = np.where(is_link, (ps << _HOP_BITS) + 1, 0)
    # Capacity groups: a link direction (both directions of a half-duplex link are one), a
    # device (both layers or sides of it are one); arcs with no limit are in no group.
    half = np.zeros(len(arcs), dtype=bool)
    half[is_link] = L.half_duplex[ref[is_link]]
    fwd = net.forward[arcs] | half
    key = np.where(is_link, 2 * ref + np.where(fwd, 0, 1), 2 * t.num_links + ref)
    limited = np.isfinite(net.capacity[arcs]) & np.isin(what, [ARC_LINK, ARC_DEVICE])
    key = np.where(limited, key, -1)
    uniq, group = np.unique(key, return_inverse=True)
    group_cap = np.full(len(uniq), np.inf)
    np.minimum.at(group_cap, group, net.capacity[arcs])
    if len(uniq) and uniq[0] == -1:
        group_cap[0] = np.inf
    g_what = np.where(uniq >= 2 * t.num_links, 1, 0)
    g_ref = np.where(uniq >= 2 * t.num_links, uniq - 2 * t.num_links, uniq // 2)
    g_fwd = (uniq % 2) == 0
    zdepth = _zero_depth(V, tail, head, cost)
    reverse = _reversed(V, tail, head, cost)
    # The fabric rule: peer traffic of a fabric domain routes on the domain's arcs alone.
    plan = forwarding_plan(t, forwarding)
    domain = inside = fabric_reverse = None
    if plan.has_domains:
        domain = np.where(plan.member, plan.domain, -1)
        vdom = plan.domain[owner[verts]]
        inside = (vdom[tail] >= 0) & (vdom[tail] == vdom[head])
        fabric_reverse = _reversed(V, tail[inside], head[inside], cost[inside])
    vin = np.where(net.vin >= 0, renumber[np.maximum(net.vin, 0)], -1)
    vout = np.where(net.vout >= 0, renumber[np.maximum(net.vout, 0)], -1)
    return RoutingNetwork(
        t,
        forwarding,
        metric,
        V,
        tail,
        head,
        cost,
        arcs,
        group,
        group_cap,
        g_what,
        np.where(uniq >= 0, g_ref, -1),
        g_fwd,
        vin,
        vout,
        zdepth,
        reverse,
        domain,
        inside,
        fabric_reverse,
    )


def _reversed(V: int, tail: np.ndarray, head: np.ndarray, cost: np.ndarray) -> sp.csr_array:
    """Distances to a destination run backwards: a CSR of the reversed arcs, parallel arcs
    merged at their smallest cost (scipy would add them)."""
    order = np.lexsort((cost, tail, head))
    h, tl, c = head[order], tail[order], cost[order]
    first = np.r_[True, (h[1:] != h[:-1]) | (tl[1:] != tl[:-1])] if len(h) else np.zeros(0, bool)
    return sp.csr_array((c[first].astype(np.float64), (h[first], tl[first])), shape=(V, V))


def _owner(net, n: int) -> np.ndarray:
    owner = getattr(net, "owner", None)
    if owner is not None:
        return owner
    out = np.full(net.num_vertices, -1, dtype=np.int64)
    rows = np.arange(n)
    for v in (net.vin, net.vout):
        ok = v >= 0
        out[v[ok]] = rows[ok]
    return out


def _zero_depth(V: int, tail: np.ndarray, head: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Longest path along zero-cost arcs from every vertex (they are inside components and
    acyclic): traffic at equal distance is pushed in decreasing order of it."""
    z = np.flatnonzero(cost == 0)
    zt, zh = tail[z], head[z]
    depth = np.zeros(V, dtype=np.int64)
    for _ in range(V + 1):
        new = depth.copy()
        np.maximum.at(new, zt, depth[zh] + 1)
        if np.array_equal(new, depth):
            return depth
        depth = new
    raise SolverError("the routing graph has a loop of zero cost")  # pragma: no cover


_ZERO_OK: list[bool] = []


def _check_zero_weights() -> None:
    """scipy's Dijkstra must take an explicit zero in a sparse matrix as an arc of cost 0
    (device arcs cost nothing); refuse to route if this scipy does not."""
    if not _ZERO_OK:
        g = sp.csr_array((np.array([0.0, 1.0]), (np.array([0, 1]), np.array([1, 2]))), (3, 3))
        _ZERO_OK.append(bool(np.array_equal(dijkstra(g, indices=0), [0.0, 0.0, 1.0])))
    if not _ZERO_OK[0]:  # pragma: no cover
        raise SolverError("this scipy's Dijkstra ignores zero-cost arcs; routing needs them")


# -- routing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    """A capacity and its load at the uniform rate: a link direction or a device (or an
    endpoint's own limit, ``element="endpoint"``). ``utilisation`` is load over capacity."""

    element: str
    row: int
    source: str
    target: str
    bandwidth: float
    load: float
    utilisation: float
    type: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready form (B/s)."""
        out = {
            "element": self.element,
            "from": self.source,
            "to": self.target,
            "bandwidth": self.bandwidth,
            "load": self.load,
            "utilisation": self.utilisation,
        }
        if self.type:
            out["type"] = self.type
        return out


@dataclass(frozen=True)
class RoutedTraffic:
    """A demand routed by ECMP.

    Attributes
    ----------
    demand : the pattern.
    metric, forwarding : how it was routed.
    rate : B/s per unit of weight (per flow, for the unweighted patterns) when every pair sends
        at once: the largest uniform rate before some capacity saturates.
    throughput : ``rate`` times the total weight (B/s).
    unrouted : pairs with no route under the forwarding model (then ``rate`` is 0).
    bottleneck : the capacities that saturate at ``rate``.
    busiest : the most loaded link directions and devices at ``rate``, fullest first.
    link_load, device_load : load per unit of rate on each link (columns ``src -> dst`` and
        ``dst -> src``) and through each device's own limit.
    fair : max-min fair rates per pair of :meth:`Demand.pairs` (B/s), when asked for.
    """

    demand: Demand
    metric: str
    forwarding: str
    rate: float
    throughput: float
    unrouted: int
    bottleneck: tuple[Load, ...]
    busiest: tuple[Load, ...]
    link_load: np.ndarray = field(repr=False)
    device_load: np.ndarray = field(repr=False)
    group_load: np.ndarray = field(repr=False)
    network: RoutingNetwork = field(repr=False)
    fair: np.ndarray | None = field(default=None, repr=False)


def routed_traffic(
    topology: Topology,
    demand: Demand,
    *,
    metric: str = "hops",
    forwarding: str = "hardware",
    fair: bool = False,
    busiest: int = 20,
) -> RoutedTraffic:
    """Route ``demand`` over ``topology`` with shortest-path ECMP (see the module docstring).

    Raises
    ------
    SolverError
        An unknown metric or forwarding model, or ``fair`` on a demand too large for
        per-pair routes.
    """
    rn = routing_network(topology, demand.endpoints, metric, forwarding)
    arc_load, unrouted = _route(rn, demand)
    group_load = np.bincount(rn.group, weights=arc_load, minlength=len(rn.group_cap))
    rate, bottleneck = _uniform_rate(rn, demand, group_load, unrouted)
    link_load = np.zeros((topology.num_links, 2))
    device_load = np.zeros(topology.num_nodes)
    lim = rn.group_what == 0
    ok = np.isfinite(rn.group_cap)
    sel = np.flatnonzero(lim & ok)
    # (A half-duplex link's one group, both directions together, shows in the first column.)
    np.add.at(
        link_load, (rn.group_ref[sel], np.where(rn.group_forward[sel], 0, 1)), group_load[sel]
    )
    sel = np.flatnonzero(~lim & ok)
    device_load[rn.group_ref[sel]] = group_load[sel]
    loads = _loads(rn, group_load, rate)
    fair_rates = _max_min_fair(rn, demand) if fair else None
    return RoutedTraffic(
        demand=demand,
        metric=metric,
        forwarding=forwarding,
        rate=rate,
        throughput=rate * demand.total_weight,
        unrouted=unrouted,
        bottleneck=bottleneck,
        busiest=loads[:busiest],
        link_load=link_load,
        device_load=device_load,
        group_load=group_load,
        network=rn,
        fair=fair_rates,
    )


def _destinations(rn: RoutingNetwork, demand: Demand, sinks: np.ndarray | None = None):
    """Chunks of sinks (endpoint indices) with their distance rows, and a function that gives
    the distance row a sender ``s`` (endpoint index) to the chunk's ``b``-th sink routes on:
    over the fabric domain's arcs alone when both are members of one domain, else the
    whole network's."""
    sinks = demand.sinks() if sinks is None else sinks
    E = demand.endpoints
    for lo in range(0, len(sinks), _CHUNK):
        chunk = sinks[lo : lo + _CHUNK]
        verts = rn.vin[E[chunk]]
        dist = dijkstra(rn.reverse, directed=True, indices=verts)
        fabric = None
        if rn.domain is not None and np.any(rn.domain[E[chunk]] >= 0):
            fabric = dijkstra(rn.fabric_reverse, directed=True, indices=verts)
        yield chunk, dist, fabric


def _peers(rn: RoutingNetwork, demand: Demand, srcs: np.ndarray, sink: int) -> np.ndarray:
    """Which senders ``srcs`` (endpoint indices) share ``sink``'s fabric domain."""
    if rn.domain is None:
        return np.zeros(len(srcs), dtype=bool)
    d = rn.domain[demand.endpoints]
    return (d[srcs] >= 0) & (d[srcs] == d[sink])


def _route(rn: RoutingNetwork, demand: Demand) -> tuple[np.ndarray, int]:
    """Load per unit rate on every routing arc, and the pairs with no route: the sinks'
    shortest-path trees are independent, so they are routed on every core in chunks and the
    loads added up (in chunk order: the same sum whatever the number of workers)."""
    from ..executor import map_cases

    sinks = demand.sinks()
    chunks = [sinks[lo : lo + 4 * _CHUNK] for lo in range(0, len(sinks), 4 * _CHUNK)]
    parts = map_cases(_route_sinks, (rn, demand), chunks)
    arc_load = np.zeros(len(rn.tail))
    unrouted = 0
    for load, missing in parts:
        arc_load += load
        unrouted += missing
    return arc_load, unrouted


def _route_sinks(state: tuple[RoutingNetwork, Demand], sinks: np.ndarray):
    rn, demand = state
    arc_load = np.zeros(len(rn.tail))
    unrouted = 0
    src_vert = rn.vout[demand.endpoints]
    for chunk, dist, fabric in _destinations(rn, demand, sinks):
        for b, t in enumerate(chunk.tolist()):
            srcs, w = demand.senders_to(t)
            peer = _peers(rn, demand, srcs, t)
            for d, mine in ((dist[b], ~peer), (None if fabric is None else fabric[b], peer)):
                if not mine.any():
                    continue
                far = ~np.isfinite(d[src_vert[srcs]]) & mine
                unrouted += int(far.sum())
                go = mine & ~far
                if not go.any():
                    continue
                inject = np.zeros(rn.num_vertices)
                np.add.at(inject, src_vert[srcs[go]], w[go])
                arcs, share = _push(rn, d, inject)
                arc_load += np.bincount(arcs, weights=share, minlength=len(arc_load))
    return arc_load, unrouted


def _push(rn: RoutingNetwork, d: np.ndarray, inject: np.ndarray):
    """Push ``inject`` (per vertex) down the shortest-path arcs to the destination of ``d``,
    splitting equally at every vertex; the arcs used and the traffic on each."""
    tail, head = rn.tail, rn.head
    dt = d[tail]
    tight = np.isfinite(dt) & (rn.cost + d[head] == dt)
    ta = np.flatnonzero(tight)
    tt, hh = tail[ta], head[ta]
    fan = np.bincount(tt, minlength=rn.num_vertices)
    # Vertices in decreasing distance; at equal distance, zero-cost arcs inside components
    # in decreasing depth, so every vertex is pushed after all its inflow has arrived.
    key = d[tt] * (int(rn.zdepth.max()) + 1) + rn.zdepth[tt]
    order = np.argsort(-key, kind="stable")
    ta, tt, hh, key = ta[order], tt[order], hh[order], key[order]
    cuts = np.flatnonzero(key[1:] != key[:-1]) + 1
    bounds = np.concatenate([[0], cuts, [len(ta)]])
    x = inject.copy()
    share = np.zeros(len(ta))
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        seg = tt[lo:hi]
        s = x[seg] / fan[seg]
        share[lo:hi] = s
        np.add.at(x, hh[lo:hi], s)
    busy = share > 0
    return ta[busy], share[busy]


def _uniform_rate(rn: RoutingNetwork, demand: Demand, group_load: np.ndarray, unrouted: int):
    t = rn.topology
    E = demand.endpoints
    out_w, in_w = demand.out_weight(), demand.in_weight()
    with np.errstate(divide="ignore", invalid="ignore"):
        per_group = np.where(group_load > 0, rn.group_cap / group_load, np.inf)
        per_src = np.where(out_w > 0, egress_limit(t, E) / out_w, np.inf)
        per_dst = np.where(in_w > 0, ingress_limit(t, E) / in_w, np.inf)
    rate = float(
        min(per_group.min(initial=np.inf), per_src.min(initial=np.inf), per_dst.min(initial=np.inf))
    )
    if unrouted:
        return 0.0, ()
    if not math.isfinite(rate):
        raise SolverError("the routed rate is unbounded: no capacity limits this traffic")
    tol = 1e-9 * rate
    out: list[Load] = []
    for g in np.flatnonzero(per_group <= rate + tol).tolist():
        out.append(_group_load(rn, g, group_load[g], rate))
    ids = t.nodes.ids
    for label, per, w, lim in (
        ("egress", per_src, out_w, egress_limit(t, E)),
        ("ingress", per_dst, in_w, ingress_limit(t, E)),
    ):
        for i in np.flatnonzero(per <= rate + tol).tolist():
            row = int(E[i])
            out.append(
                Load("endpoint", row, ids[row], label, float(lim[i]), float(w[i] * rate), 1.0)
            )
    return rate, tuple(out)


def _group_load(rn: RoutingNetwork, g: int, load: float, rate: float) -> Load:
    t = rn.topology
    ids = t.nodes.ids
    cap = float(rn.group_cap[g])
    ref = int(rn.group_ref[g])
    if rn.group_what[g] == 1:
        return Load("device", ref, ids[ref], ids[ref], cap, load * rate, load * rate / cap)
    L = t.links
    s, d = int(L.src[ref]), int(L.dst[ref])
    if not rn.group_forward[g]:
        s, d = d, s
    elem = "link" if not L.half_duplex[ref] else "half-duplex link"
    return Load(elem, ref, ids[s], ids[d], cap, load * rate, load * rate / cap, t.link_type_of(ref))


def _loads(rn: RoutingNetwork, group_load: np.ndarray, rate: float) -> tuple[Load, ...]:
    """Every loaded capacity at ``rate``, fullest first (ties by id)."""
    ok = np.flatnonzero(np.isfinite(rn.group_cap) & (group_load > 0))
    util = group_load[ok] / rn.group_cap[ok]
    order = np.lexsort((ok, -util))
    return tuple(_group_load(rn, int(g), group_load[g], rate) for g in ok[order][:1000])


# -- max-min fairness ---------------------------------------------------------------------------


def _pair_loads(rn: RoutingNetwork, demand: Demand) -> tuple[sp.csr_array, np.ndarray]:
    """Loads per unit rate of every pair of :meth:`Demand.pairs` on the capacity groups, as a
    (groups x pairs) matrix, and which pairs have a route."""
    pairs = demand.pairs()
    src_vert = rn.vout[demand.endpoints]
    cols, rows, vals = [], [], []
    index = {(int(s), int(t)): p for p, (s, t) in enumerate(pairs.tolist())}
    work = 0
    for chunk, dist, fabric in _destinations(rn, demand):
        for b, t in enumerate(chunk.tolist()):
            srcs, _ = demand.senders_to(t)
            peer = _peers(rn, demand, srcs, t)
            for s, on_fabric in zip(srcs.tolist(), peer.tolist(), strict=True):
                d = fabric[b] if on_fabric else dist[b]
                inject = np.zeros(rn.num_vertices)
                if not np.isfinite(d[src_vert[s]]):
                    continue
                inject[src_vert[s]] = 1.0
                arcs, share = _push(rn, d, inject)
                g = rn.group[arcs]
                work += len(arcs)
                if work > FAIR_WORK_LIMIT:
                    raise SolverError(
                        f"max-min fair rates need per-pair routes; {demand.num_pairs:,} pairs "
                        "are too many here",
                    )
                rows.append(g)
                cols.append(np.full(len(g), index[(s, t)]))
                vals.append(share)
    G = len(rn.group_cap)
    routed = np.zeros(len(pairs), dtype=bool)
    if not rows:
        return sp.csr_array((G, len(pairs))), routed
    c = np.concatenate(cols)
    routed[c] = True
    m = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), c)), shape=(G, len(pairs)))
    m.sum_duplicates()
    return m, routed


def _max_min_fair(rn: RoutingNetwork, demand: Demand) -> np.ndarray:
    """Max-min fair rates of the pairs on fixed ECMP routes (progressive filling), B/s."""
    t = rn.topology
    pairs = demand.pairs()
    w = demand.weights()
    P = len(pairs)
    A, routed = _pair_loads(rn, demand)
    # Arcs without a limit are in a group of infinite capacity: it never fills.
    # The endpoints' own limits are capacities too: egress per source, ingress per sink.
    E = demand.endpoints
    n = demand.n
    ends = sp.csr_array(
        (
            np.concatenate([np.ones(P), np.ones(P)]),
            (np.concatenate([pairs[:, 0], n + pairs[:, 1]]), np.concatenate([np.arange(P)] * 2)),
        ),
        shape=(2 * n, P),
    )
    M = sp.vstack([A, ends]).tocsr()
    cap = np.concatenate([rn.group_cap, egress_limit(t, E), ingress_limit(t, E)])
    active = routed.copy()
    rate = np.zeros(P)
    MT = M.T.tocsr()
    for _ in range(M.shape[0] + 1):
        if not active.any():
            break
        grow = M @ (active * w)
        used = M @ rate
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(grow > 0, (cap - used) / grow, np.inf)
        step = float(room.min())
        if not math.isfinite(step):
            raise SolverError("a pair's rate is unbounded: no capacity limits it")
        rate[active] += step * w[active]
        full = (grow > 0) & (room <= step * (1 + 1e-9) + 1e-300)
        frozen = np.asarray(MT[:, np.flatnonzero(full)].sum(axis=1)).ravel() > 0
        active &= ~frozen
    return rate  # pairs without a route get nothing
