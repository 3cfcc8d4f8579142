"""The network the bisection certificates reason about, built from the flow core's arcs.

Every lower bound of a bisection is a flow certificate (see :mod:`topodsl.solvers.certificates`):
a flow that is feasible in the network the minimum cuts are measured on. So the certificates
read that network, :class:`~topodsl.solvers.flow.FlowNetwork`, and nothing else: whatever the
flow core says about which components carry transit (memory and storage never do; a device with
a limit is an in-arc-out pair; a package's chiplets carry traffic in two layers; a CXL switch has
a host side and a device side) is what they see, arc by arc. They never look at raw topology
links, which would let a two-headed CXL expander relay traffic between its hosts.

Three changes make the network easier to certify and keep every certificate sound:

* **Each endpoint becomes one vertex.** An endpoint (with everything inside it: a GPU package
  and its chiplets) is a source in one half and a sink in the other, so flow never needs to
  pass *through* it: a path that reaches an endpoint of the sending half can start there
  instead, and one that reaches an endpoint of the receiving half can end there. Merging the
  endpoint's terminal vertices into one vertex that relays freely therefore changes no minimum
  cut between halves. An arc leaves the merged vertex when its tail is *fed*: reached from the
  terminal's *out* vertex (where its traffic starts) over unlimited delivery arcs inside the
  terminal, as a package's inbound layer is from its native one; it enters the merged vertex
  when its head *drains*: reaches the terminal's *in* vertex (where its traffic ends) that way.
  Any other vertex of a terminal stays a vertex of its own (a device's limit, which then carries
  nothing). So both copies of a package's internal link between two endpoints land on one arc.
* **Vertices that cannot carry flow are dropped**: a vertex with no arc out or no arc in (the
  two halves of a memory device that is not an endpoint). Dropping arcs never makes a flow
  infeasible, so this too is safe.
* **A shared capacity is counted once.** Arcs that draw on one capacity (a *bundle*: the native
  and inbound copies of a link inside a package) landing on one arc count once. When they land
  on different arcs and the package holds endpoints of more than one group (so a split may
  put them in different halves, and both layers may carry traffic at once) the capacity is
  divided among those arcs (:attr:`CertificateNetwork.divided`). Elsewhere at most one layer of
  a package carries traffic between two halves (the native one when the package sends, the
  inbound one when it receives), and each copy keeps the full capacity.

Parallel arcs are merged, so every ordered pair of vertices has at most one arc.

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> from topodsl.solvers.flow import build_network
>>> b = TopologyBuilder()
>>> for name in ("g0", "g1"):
...     _ = b.add_node(name, "gpu")
>>> _ = b.add_node("exp", "cxl_memory")          # a two-headed expander
>>> for name in ("g0", "g1"):
...     _ = b.add_link(name, "exp", bandwidth=64e9)
>>> _ = b.add_link("g0", "g1", bandwidth=10e9)
>>> t = b.build()
>>> cn = certificate_network(build_network(t), np.array([0, 1]), np.array([0, 1]), 2)
>>> cn.num_vertices, cn.capacity.tolist()        # the expander relays nothing: dropped
(2, [10000000000.0, 10000000000.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..flow import _ARC_DELIVER, _ARC_DEVICE, _ARC_LINK, FlowNetwork, sorted_unique

__all__ = [
    "CertificateNetwork",
    "certificate_network",
    "flow_arc_mirrors",
    "mirror_arcs",
    "network_is_reversible",
    "verified_arc_mirrors",
    "row_transit",
    "Relaxation",
    "undirected_relaxation",
    "bfs_levels",
    "csr",
]

# Relative tolerance when comparing capacities summed in different orders.
_SAME = 1e-12


@dataclass(frozen=True)
class CertificateNetwork:
    """A flow network with one vertex per endpoint, for the lower-bound certificates.

    Vertices ``0 .. n - 1`` are the endpoints, in the order of the endpoint list; the others
    are the transit vertices of the flow network that can carry flow. Arc ``a`` goes
    ``tail[a] -> head[a]`` with ``capacity[a]`` B/s; there is at most one arc per ordered pair.
    ``vertex_in[row]`` / ``vertex_out[row]`` are where flow enters and leaves the component in
    row ``row`` (its endpoint's vertex for a component inside an endpoint; -1 when left out).
    ``mirror[v]`` is the vertex that plays ``v``'s part when every flow is run backwards (from
    :attr:`FlowNetwork.mirror`; an endpoint is its own; -1 when it has none). ``arc_mirror[a]``
    is the arc ``mirror(head) -> mirror(tail)`` of the same capacity, or None when some arc has
    no such mirror (see :func:`mirror_arcs`). ``divided`` is True when a shared capacity was
    divided among arcs (see the module docstring).
    """

    n: int
    num_vertices: int
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    vertex_in: np.ndarray
    vertex_out: np.ndarray
    mirror: np.ndarray
    arc_mirror: np.ndarray | None
    divided: bool = False

    @property
    def num_arcs(self) -> int:
        """Number of arcs."""
        return len(self.tail)


def certificate_network(
    net: FlowNetwork,
    terms: np.ndarray,
    group: np.ndarray,
    n: int,
    arc_mirrors: np.ndarray | None = None,
    package: np.ndarray | None = None,
) -> CertificateNetwork:
    """The certificate network of ``net`` for endpoints whose terminal rows are ``terms``.

    ``group[i]`` is the endpoint (0 .. n - 1) that terminal row ``terms[i]`` belongs to.
    ``arc_mirrors`` is :func:`verified_arc_mirrors` of ``net`` when already known.
    ``package[row]`` names the package of each row (any id, -1 for none; the forwarding plan's
    ``seal``); without it every shared capacity landing on several arcs is divided.
    """
    nv = net.num_vertices
    terms = np.asarray(terms, dtype=np.int64)
    group = np.asarray(group, dtype=np.int64)
    as_tail, as_head = _landings(net, terms, group, n)
    origin, t, h = _arcs_between_landings(net, as_tail, as_head)
    alive = _carriers(t, h, n, n + nv)
    # Compact: endpoints first, then the surviving transit vertices in flow-network order.
    num = int(alive.sum())
    new = np.full(n + nv, -1, dtype=np.int64)
    new[alive] = np.arange(num)
    t, h = new[t], new[h]
    if np.any(t < 0) or np.any(h < 0):
        live = (t >= 0) & (h >= 0)
        t, h, origin = t[live], h[live], origin[live]
    key, position, first_of = _merge_parallel(t * num + h)
    del t, h
    share, divided = _bundle_shares(net, origin, position, terms, group, package)
    merged = np.bincount(position, weights=share, minlength=len(key))
    del share

    def landing(vertices: np.ndarray, as_end: np.ndarray) -> np.ndarray:
        out = np.full(len(vertices), -1, dtype=np.int64)
        ok = vertices >= 0
        end = as_end[vertices[ok]]
        out[ok] = np.where(end >= 0, new[np.maximum(end, 0)], -1)
        return out

    v_in, v_out = landing(net.vin, as_head), landing(net.vout, as_tail)
    del as_tail, as_head
    v_in[terms], v_out[terms] = group, group
    mirror = _certificate_mirror(net, new, n, num)
    tail, head = key // max(num, 1), key % max(num, 1)
    del key
    # Each merged arc's mirror, first from the flow network's own pairing of arcs (a link's
    # two directions; a device's arc is its own), else by looking the mirror pair up.
    verified = arc_mirrors is not None
    twin = (arc_mirrors if verified else flow_arc_mirrors(net))[origin[first_of]]
    del first_of
    arc_of = np.full(len(net.tail), -1, dtype=np.int64)
    arc_of[origin] = position
    del origin, position
    guess = np.where(twin >= 0, arc_of[np.maximum(twin, 0)], -1)
    del arc_of, twin
    # Verified mirrors of the flow network stay mirrors here: an arc's tail is fed exactly when
    # its mirror's head drains, vertices die symmetrically, and mirrored bundles land on
    # mirrored arcs with the same share.
    if verified or _mirrors_ok(tail, head, merged, mirror, guess):
        arc_mirror = guess
    else:
        arc_mirror = _mirror_positions(tail, head, merged, mirror, num)
    return CertificateNetwork(
        n=n,
        num_vertices=num,
        tail=tail,
        head=head,
        capacity=merged,
        vertex_in=v_in,
        vertex_out=v_out,
        mirror=mirror,
        arc_mirror=arc_mirror,
        divided=divided,
    )


def _landings(net: FlowNetwork, terms: np.ndarray, group: np.ndarray, n: int):
    """Where an arc's tail (head) lands: its endpoint for a vertex of a terminal that is fed
    (drains), else the vertex itself shifted past the endpoints."""
    fed, drains = _fed_and_drained(net, terms)
    row_group = np.full(len(net.vin), -1, dtype=np.int64)
    row_group[terms] = group
    vertex_group = row_group[net.owner]
    del row_group
    as_tail = np.arange(net.num_vertices, dtype=np.int64) + n
    as_head = as_tail.copy()
    as_tail[fed] = vertex_group[fed]
    as_head[drains] = vertex_group[drains]
    return as_tail, as_head


def _fed_and_drained(net: FlowNetwork, terms: np.ndarray):
    """Vertices of terminal rows reached from the row's out vertex (fed) and reaching its in
    vertex (drained) over unlimited delivery arcs inside the row."""
    nv = net.num_vertices
    fed = np.zeros(nv, dtype=bool)
    drains = np.zeros(nv, dtype=bool)
    fed[net.vout[terms]] = True
    drains[net.vin[terms]] = True
    inside = np.flatnonzero(
        (net.what == _ARC_DELIVER)
        & np.isinf(net.capacity)
        & (net.owner[net.tail] == net.owner[net.head])
    )
    dt, dh = net.tail[inside], net.head[inside]
    # A row's delivery arcs form paths of at most two arcs (a CXL switch: its own sending
    # vertex to a side); a few rounds reach every vertex they can.
    for _ in range(4):
        grow_fed = fed[dt] & ~fed[dh]
        grow_drains = drains[dh] & ~drains[dt]
        if not (grow_fed.any() or grow_drains.any()):
            break
        fed[dh[grow_fed]] = True
        drains[dt[grow_drains]] = True
    return fed, drains


def _arcs_between_landings(net: FlowNetwork, as_tail: np.ndarray, as_head: np.ndarray):
    """The flow-network arcs kept (positive, between two different landings): their indices
    and their landed tails and heads."""
    t, h = as_tail[net.tail], as_head[net.head]
    use = (t >= 0) & (h >= 0) & (t != h) & (net.capacity > 0)
    if use.all():
        return np.arange(len(t), dtype=np.int64), t, h
    return np.flatnonzero(use), t[use], h[use]


def _bundle_shares(net, origin, position, terms, group, package):
    """Capacity each kept flow-network arc (``origin``, landing on merged arc ``position``)
    adds to its merged arc: a bundle counts once per merged arc, and is divided among the
    merged arcs it lands on when its package holds more than one endpoint group. Returns the
    shares and whether any capacity was divided."""
    share = net.capacity[origin].copy()
    if not net.shared:
        return share, False
    size = np.bincount(net.bundle)
    multi = np.flatnonzero(size[net.bundle[origin]] > 1)
    if len(multi) == 0:
        return share, False
    b = net.bundle[origin[multi]]
    pos = position[multi]
    # One share per (bundle, merged arc); the other copies landing there add nothing.
    pair = b * (int(position.max()) + 1) + pos
    uniq, inverse = sorted_unique(pair, return_inverse=True)
    first = np.full(len(uniq), len(multi), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(multi)))
    repeat = np.ones(len(multi), dtype=bool)
    repeat[first] = False
    share[multi[repeat]] = 0.0
    # Merged arcs per bundle; divide where the package may be split between the halves.
    _, bundle_of_pair = sorted_unique(uniq // (int(position.max()) + 1), return_inverse=True)
    k = np.bincount(bundle_of_pair)[bundle_of_pair]
    split = _splittable(net, origin[multi[first]], terms, group, package)
    divide = split & (k > 1)
    share[multi[first[divide]]] /= k[divide]
    return share, bool(divide.any())


def _splittable(net, arcs, terms, group, package) -> np.ndarray:
    """For each flow-network arc, whether the package of its tail row holds terminals of more
    than one endpoint group (True for every arc when ``package`` is unknown)."""
    if package is None:
        return np.ones(len(arcs), dtype=bool)
    package = np.asarray(package, dtype=np.int64)
    rows = len(net.vin)
    pk = package[terms]
    inside = pk >= 0
    lo = np.full(rows, np.iinfo(np.int64).max)
    hi = np.full(rows, -1)
    np.minimum.at(lo, pk[inside], group[inside])
    np.maximum.at(hi, pk[inside], group[inside])
    mixed = hi > lo
    p = package[net.owner[net.tail[arcs]]]
    return (p >= 0) & mixed[np.maximum(p, 0)]


def _certificate_mirror(net: FlowNetwork, new: np.ndarray, n: int, num: int) -> np.ndarray:
    """The mirror of every certificate-network vertex: an endpoint is its own; a transit
    vertex maps to its flow-network vertex's mirror, where that one survived."""
    mirror = np.full(num, -1, dtype=np.int64)
    mirror[:n] = np.arange(n)
    phi = _vertex_mirror(net)
    v = np.flatnonzero(new[n:] >= 0)
    image = phi[v]
    ok = image >= 0
    target = np.full(len(v), -1, dtype=np.int64)
    target[ok] = new[n + image[ok]]
    mirror[new[n + v]] = target
    return mirror


def _merge_parallel(keys: np.ndarray):
    """Sorted unique ``keys``, the position of each key among them, and the index of one key
    (the first in sorted order) behind each unique one. The order among equal keys does not
    matter, so an unstable sort serves."""
    order = np.argsort(keys, kind="quicksort")
    sk = keys[order]
    first = np.empty(len(sk), dtype=bool)
    if len(sk):
        first[0] = True
        np.not_equal(sk[1:], sk[:-1], out=first[1:])
    rank = np.cumsum(first) - 1
    position = np.empty(len(keys), dtype=np.int64)
    position[order] = rank
    del rank
    return sk[first], position, order[first]


def _carriers(t: np.ndarray, h: np.ndarray, n: int, size: int) -> np.ndarray:
    """Vertices that can carry flow between endpoints: the endpoints, and transit vertices with
    an arc in and an arc out (repeatedly, until stable)."""
    alive = np.zeros(size, dtype=bool)
    alive[t] = True
    alive[h] = True
    alive[:n] = True
    live = np.ones(len(t), dtype=bool)
    while True:
        out_deg = np.bincount(t[live], minlength=size)
        in_deg = np.bincount(h[live], minlength=size)
        dead = alive & ((out_deg == 0) | (in_deg == 0))
        dead[:n] = False
        if not dead.any():
            return alive
        alive &= ~dead
        live &= alive[t] & alive[h]


# -- mirrors: reversing every flow ----------------------------------------------------------------


def mirror_arcs(cn: CertificateNetwork) -> np.ndarray | None:
    """For each arc ``p -> q``, the arc ``mirror(q) -> mirror(p)`` of equal capacity; None if
    some arc has none (the network is then not reversible).

    When every arc has its mirror, reversing a flow from A to B (each arc's flow moved to its
    mirror) gives a feasible flow from B to A of the same value: a link's two directions swap,
    a package's two layers swap, a CXL switch's two sides swap, and a device's own arc
    (in -> out) is its own mirror. Then the max flow and the minimum cut between two halves do
    not depend on which half sends.
    """
    return cn.arc_mirror


def flow_arc_mirrors(net: FlowNetwork) -> np.ndarray:
    """Each arc's mirror as the flow network pairs them: the other direction of its link, or
    the arc itself for a device's own arc; -1 for an arc with neither (a one-way link). Where
    a link has a copy in each layer of a package this picks one of them; see
    :func:`verified_arc_mirrors` for the exact pairing."""
    arcs = np.arange(len(net.tail), dtype=np.int64)
    out = np.full(len(arcs), -1, dtype=np.int64)
    link = net.what == _ARC_LINK
    size = int(net.ref[link].max()) + 1 if link.any() else 0
    for direction in (True, False):
        mine = link & (net.forward == direction)
        other = link & (net.forward != direction)
        at = np.full(size, -1, dtype=np.int64)
        at[net.ref[other]] = arcs[other]
        out[mine] = at[net.ref[mine]]
    device = net.what == _ARC_DEVICE
    out[device] = arcs[device]
    return out


def _vertex_mirror(net: FlowNetwork) -> np.ndarray:
    """Each flow-network vertex's mirror (:attr:`FlowNetwork.mirror`; for a network built
    without one, a component's in and out vertices swap)."""
    if net.mirror is not None:
        return net.mirror
    mirror = np.arange(net.num_vertices, dtype=np.int64)
    split = (net.vin >= 0) & (net.vout >= 0) & (net.vin != net.vout)
    mirror[net.vin[split]] = net.vout[split]
    mirror[net.vout[split]] = net.vin[split]
    return mirror


def verified_arc_mirrors(net: FlowNetwork) -> np.ndarray | None:
    """Each arc's mirror in ``net`` when the network is reversible, else None.

    Reversible means: with the vertex mirror φ (:attr:`FlowNetwork.mirror`), every component's
    *in* vertex is φ of its *out* vertex, and the arcs of positive capacity pair up, each arc
    ``u -> v`` with an arc ``φ(v) -> φ(u)`` of the same link, device or delivery and the same
    capacity, the pairing taking the arcs of one bundle to the arcs of one bundle. Then
    reversing a feasible flow from X to Y (each arc's flow moved to its mirror) is a feasible
    flow from Y to X: sources are fed at *out* vertices and sinks drained at *in* vertices,
    which swap; every capacity and every shared capacity is respected. So the max flow, and
    the linear program where two layers of a package compete, have the same value either way
    round. The pairing comes from the flow network's own (:func:`flow_arc_mirrors`), and,
    where that picks the wrong layer's copy of a link, from a lookup among the arcs of the
    same link. Arcs of capacity 0 are left out (-1).

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.flow import build_network
    >>> b = TopologyBuilder(); _ = b.add_node("p", "gpu"); _ = b.add_node("sw", "switch")
    >>> for c in ("a", "b"):
    ...     _ = b.add_node(f"p.{c}", "chiplet", parent="p")
    ...     _ = b.add_link(f"p.{c}", "sw", bandwidth=1e9)
    >>> _ = b.add_link("p.a", "p.b", bandwidth=1e12)
    >>> net = build_network(b.build())     # two layers inside the package
    >>> verified_arc_mirrors(net) is not None
    True
    """
    phi = _vertex_mirror(net)
    present = net.vin >= 0
    if np.any(phi[net.vin[present]] != net.vout[present]):
        return None
    live = net.capacity > 0
    guess = np.where(live, flow_arc_mirrors(net), -1)
    ok = ~live | _each_mirror_ok(net.tail, net.head, net.capacity, phi, guess)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        guess[bad] = _look_up_mirrors(net, phi, bad)
        if np.any(guess[bad] < 0):
            return None
    arcs = np.flatnonzero(live)
    if np.any(~live[guess[arcs]]) or np.any(guess[guess[arcs]] != arcs):
        return None
    if net.shared and not _bundles_map_to_bundles(net.bundle, guess, arcs):
        return None
    return guess


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal capacities, up to rounding (two infinite capacities are equal)."""
    with np.errstate(invalid="ignore"):
        return (a == b) | (np.abs(a - b) <= _SAME * np.maximum(np.maximum(a, b), 1.0))


def _each_mirror_ok(tail, head, capacity, mirror, guess) -> np.ndarray:
    """Per arc, whether ``guess[a]`` is ``mirror(head) -> mirror(tail)`` of equal capacity."""
    g = np.maximum(guess, 0)
    return (
        (guess >= 0)
        & (tail[g] == mirror[head])
        & (head[g] == mirror[tail])
        & _same(capacity[g], capacity)
    )


def _look_up_mirrors(net: FlowNetwork, phi: np.ndarray, arcs: np.ndarray) -> np.ndarray:
    """The mirror of each of ``arcs`` among the arcs of the same link, device or delivery
    (a handful each), or -1."""
    kind = net.ref.astype(np.int64) * 8 + net.what.astype(np.int64)
    live = np.flatnonzero(net.capacity > 0)
    order = live[np.argsort(kind[live], kind="stable")]
    sk = kind[order]
    lo = np.searchsorted(sk, kind[arcs], side="left")
    hi = np.searchsorted(sk, kind[arcs], side="right")
    found = np.full(len(arcs), -1, dtype=np.int64)
    want_t, want_h = phi[net.head[arcs]], phi[net.tail[arcs]]
    for offset in range(int((hi - lo).max(initial=0))):
        at = lo + offset
        open_ = (at < hi) & (found < 0)
        cand = order[np.minimum(at, len(order) - 1)]
        hit = (
            open_
            & (net.tail[cand] == want_t)
            & (net.head[cand] == want_h)
            & _same(net.capacity[cand], net.capacity[arcs])
        )
        found[hit] = cand[hit]
    return found


def _bundles_map_to_bundles(bundle: np.ndarray, guess: np.ndarray, arcs: np.ndarray) -> bool:
    """Whether the pairing takes every bundle's arcs into one bundle of the same size."""
    size = np.bincount(bundle)
    if np.any(size[bundle[guess[arcs]]] != size[bundle[arcs]]):
        return False
    multi = arcs[size[bundle[arcs]] > 1]
    order = multi[np.argsort(bundle[multi], kind="stable")]
    b, image = bundle[order], bundle[guess[order]]
    same_bundle = b[1:] == b[:-1]
    return bool(np.all(image[1:][same_bundle] == image[:-1][same_bundle]))


def network_is_reversible(net: FlowNetwork) -> bool:
    """Whether ``net`` is reversible (see :func:`verified_arc_mirrors`); then a min cut between
    two sets of terminals (fed at their out vertices, drained at their in vertices) is the
    same either way round. Without shared capacities, parallel arcs the flow network does not
    pair may also balance out (their totals per vertex pair are compared).

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.flow import build_network
    >>> b = TopologyBuilder(); _ = b.add_node("a", "gpu"); _ = b.add_node("b", "gpu")
    >>> _ = b.add_link("a", "b", bandwidth=1e9, simplex=True)
    >>> network_is_reversible(build_network(b.build()))
    False
    """
    if verified_arc_mirrors(net) is not None:
        return True
    if net.shared:
        return False
    nv = net.num_vertices
    live = net.capacity > 0
    key, inverse = sorted_unique(net.tail[live] * nv + net.head[live], return_inverse=True)
    total = np.bincount(inverse, weights=net.capacity[live], minlength=len(key))
    pair_tail, pair_head = key // max(nv, 1), key % max(nv, 1)
    mirror = _vertex_mirror(net)
    present = net.vin >= 0
    if np.any(mirror[net.vin[present]] != net.vout[present]):
        return False
    return _mirror_positions(pair_tail, pair_head, total, mirror, nv) is not None


def _mirrors_ok(tail, head, capacity, mirror, guess) -> bool:
    """Whether ``guess[a]`` is a mirror of every arc ``a``: ``mirror(head) -> mirror(tail)``
    with the same capacity."""
    if np.any(guess < 0) or np.any(mirror[tail] < 0) or np.any(mirror[head] < 0):
        return False
    return bool(np.all(_each_mirror_ok(tail, head, capacity, mirror, guess)))


def _mirror_positions(tail, head, capacity, mirror, num) -> np.ndarray | None:
    """Position of each arc's mirror among arcs sorted by ``tail * num + head`` with one arc
    per pair, or None when one is missing or differs in capacity."""
    if len(tail) == 0:
        return np.zeros(0, dtype=np.int64)
    if np.any(mirror[tail] < 0) or np.any(mirror[head] < 0):
        return None
    key = tail * num + head
    want = mirror[head] * num + mirror[tail]
    order = np.argsort(want, kind="quicksort")  # sorted queries: a cache-friendly search
    pos = np.empty(len(want), dtype=np.int64)
    pos[order] = np.minimum(np.searchsorted(key, want[order]), len(key) - 1)
    hit = key[pos] == want
    same = _same(capacity[pos], capacity)
    if not np.all(hit & same):
        return None
    return pos


def row_transit(net: FlowNetwork) -> np.ndarray:
    """How much flow each row can pass from its links to its links, in the flow network.

    ``inf`` for a component that is one vertex, its own arc's capacity for a device that is an
    in-arc-out pair (the in vertex's only arc out goes to the out vertex, which has no other
    arc in), 0 otherwise: memory and storage, and any structure a certificate that needs a
    plain relay should not assume (-1 rows are left out of the network: 0).
    """
    rows = len(net.vin)
    out = np.zeros(rows)
    present = net.vin >= 0
    single = present & (net.vin == net.vout)
    out[single] = np.inf
    split_rows = np.flatnonzero(present & (net.vin != net.vout))
    if len(split_rows) == 0:
        return out
    nv = net.num_vertices
    row_of_in = np.full(nv, -1, dtype=np.int64)
    row_of_in[net.vin[split_rows]] = split_rows
    r = row_of_in[net.tail]
    own = (r >= 0) & (net.head == net.vout[np.maximum(r, 0)]) & (net.capacity > 0)
    cap = np.bincount(r[own], weights=net.capacity[own], minlength=rows)
    n_own = np.bincount(r[own], minlength=rows)
    live = net.capacity > 0
    out_deg = np.bincount(net.tail[live], minlength=nv)
    in_deg = np.bincount(net.head[live], minlength=nv)
    vi, vo = net.vin[split_rows], net.vout[split_rows]
    plain = (n_own[split_rows] > 0) & (out_deg[vi] == n_own[split_rows])
    plain &= in_deg[vo] == n_own[split_rows]
    out[split_rows[plain]] = cap[split_rows[plain]]
    return out


# -- an undirected relaxation, for the spectral bound and the partitioner ----------------------


@dataclass(frozen=True)
class Relaxation:
    """An undirected graph whose cuts never exceed the certificate network's directed cuts.

    Nodes ``0 .. n - 1`` are the endpoints. Each transit device whose in vertex has a single arc
    out, to its out vertex (a device limit), is one node with that ``limit``; every other
    vertex is a node of its own (limit ``inf``). Between two nodes ``a`` and ``b``,
    ``forward`` is the capacity from ``a``'s out side to ``b``'s in side and ``backward`` the
    other way; edges are listed once (``a < b``).
    """

    num_nodes: int
    a: np.ndarray
    b: np.ndarray
    forward: np.ndarray
    backward: np.ndarray
    limit: np.ndarray

    def weights(self, symmetric: bool = True) -> np.ndarray:
        """Edge weights with device limits relaxed.

        ``symmetric``: the capacity both directions share, ``min(forward, backward)`` (what
        the spectral bound may use); otherwise their mean (a partitioner's guide). Each edge at
        a limited node is scaled by ``min(1, limit / sum of that node's weights)``, taking the
        smaller factor of its two ends, so cutting all of a device's edges costs at most its
        limit.
        """
        w = (
            np.minimum(self.forward, self.backward)
            if symmetric
            else ((self.forward + self.backward) / 2)
        )
        unlimited = np.isinf(w)
        if unlimited.any():
            # An unlimited edge (a delivery arc inside a component) weighs as much as every
            # other edge together: never worth cutting, and finite, so the Laplacian stays
            # finite (a smaller weight only weakens a lower bound).
            w = np.where(unlimited, max(float(w[~unlimited].sum()), 1.0), w)
        strength = np.bincount(self.a, weights=w, minlength=self.num_nodes)
        strength += np.bincount(self.b, weights=w, minlength=self.num_nodes)
        ratio = np.ones(self.num_nodes)
        finite = np.isfinite(self.limit) & (strength > 0)
        ratio[finite] = np.minimum(1.0, self.limit[finite] / strength[finite])
        return w * np.minimum(ratio[self.a], ratio[self.b])


def undirected_relaxation(cn: CertificateNetwork) -> Relaxation:
    """The :class:`Relaxation` of ``cn`` (see ``docs/solvers.md``, spectral bound)."""
    nv = cn.num_vertices
    out_deg = np.bincount(cn.tail, minlength=nv)
    in_deg = np.bincount(cn.head, minlength=nv)
    # A device arc p -> q: p and q mirror each other, p's only arc out is this one and q's only
    # arc in is this one. Cutting between p and q costs the arc; p and q become one node.
    device = (
        (cn.tail >= cn.n)
        & (cn.mirror[cn.tail] == cn.head)
        & (out_deg[cn.tail] == 1)
        & (in_deg[cn.head] == 1)
    )
    node = np.arange(nv, dtype=np.int64)
    node[cn.head[device]] = cn.tail[device]
    used = sorted_unique(node)
    compact = np.full(nv, -1, dtype=np.int64)
    compact[used] = np.arange(len(used))
    node = compact[node]
    limit = np.full(len(used), np.inf)
    limit[node[cn.tail[device]]] = cn.capacity[device]
    a, b, c = node[cn.tail[~device]], node[cn.head[~device]], cn.capacity[~device]
    a, b, c = a[a != b], b[a != b], c[a != b]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    size = len(used)
    key, inverse = sorted_unique(lo * size + hi, return_inverse=True)
    fwd = np.bincount(inverse, weights=np.where(a < b, c, 0.0), minlength=len(key))
    bwd = np.bincount(inverse, weights=np.where(a < b, 0.0, c), minlength=len(key))
    return Relaxation(size, key // size, key % size, fwd, bwd, limit)


# -- graph helpers ---------------------------------------------------------------------------------


def csr(net, reverse: bool = False) -> sp.csr_array:
    """The arcs of ``net`` (anything with ``tail``, ``head``, ``capacity``, ``num_vertices``)
    of positive capacity as a 0/1 CSR adjacency, reversed if asked."""
    t, h = (net.head, net.tail) if reverse else (net.tail, net.head)
    keep = net.capacity > 0
    nv = net.num_vertices
    return sp.csr_array(
        (np.ones(int(keep.sum()), dtype=np.int8), (t[keep], h[keep])), shape=(nv, nv)
    )


def bfs_levels(graph: sp.csr_array, starts: np.ndarray) -> np.ndarray:
    """Hop distance from the nearest of ``starts`` (-1 when unreachable), level by level."""
    n = graph.shape[0]
    indptr, indices = graph.indptr.astype(np.int64), graph.indices.astype(np.int64)
    dist = np.full(n, -1, dtype=np.int64)
    frontier = sorted_unique(np.asarray(starts, dtype=np.int64))
    dist[frontier] = 0
    d = 0
    while len(frontier):
        d += 1
        begin, end = indptr[frontier], indptr[frontier + 1]
        counts = end - begin
        total = int(counts.sum())
        if total == 0:
            break
        offs = np.repeat(begin - np.cumsum(counts) + counts, counts) + np.arange(total)
        nb = indices[offs]
        nb = nb[dist[nb] < 0]
        dist[nb] = d
        frontier = sorted_unique(nb)
    return dist
