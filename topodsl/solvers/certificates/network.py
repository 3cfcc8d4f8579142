"""The network the bisection certificates reason about, built from the flow core's arcs.

Every lower bound of a bisection is a flow certificate (see :mod:`topodsl.solvers.certificates`):
a flow that is feasible in the network the minimum cuts are measured on. So the certificates
read that network, :class:`~topodsl.solvers.flow.FlowNetwork`, and nothing else: whatever the
flow core says about which components carry transit (memory and storage never do; a device with
a limit is an in-arc-out pair) is what they see, arc by arc. They never look at raw topology
links, which would let a two-headed CXL expander relay traffic between its hosts.

Two changes make the network easier to certify and keep every certificate sound:

* **Each endpoint becomes one vertex.** An endpoint (with everything inside it: a GPU package
  and its chiplets) is a source in one half and a sink in the other, so flow never needs to
  pass *through* it: a path that reaches an endpoint of the sending half can start there
  instead, and one that reaches an endpoint of the receiving half can end there. Merging the
  endpoint's terminal vertices into one vertex that relays freely therefore changes no minimum
  cut between halves. Only arcs that leave an endpoint from the vertex its traffic starts at
  (its *out* vertex) and enter it at the vertex its traffic ends at (its *in* vertex) are
  kept; any other arc at an endpoint is dropped, which can only lower a certificate.
* **Vertices that cannot carry flow are dropped**: a vertex with no arc out or no arc in (the
  two halves of a memory device that is not an endpoint), and dead ends whose arcs all lead to
  one neighbour. Dropping arcs never makes a flow infeasible, so this too is safe.

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

from ..flow import _ARC_DEVICE, _ARC_LINK, FlowNetwork, sorted_unique

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
    ``mirror[v]`` is the vertex that plays ``v``'s part when every flow is run backwards (the
    *out* vertex of a component for its *in* vertex and the other way round; -1 when it has
    none). ``arc_mirror[a]`` is the arc ``mirror(head) -> mirror(tail)`` of the same capacity,
    or None when some arc has no such mirror (see :func:`mirror_arcs`).
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
) -> CertificateNetwork:
    """The certificate network of ``net`` for endpoints whose terminal rows are ``terms``.

    ``group[i]`` is the endpoint (0 .. n - 1) that terminal row ``terms[i]`` belongs to.
    ``arc_mirrors`` is :func:`verified_arc_mirrors` of ``net`` when already known.
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
    merged = np.bincount(position, weights=net.capacity[origin], minlength=len(key))

    def landing(vertices: np.ndarray, as_end: np.ndarray) -> np.ndarray:
        out = np.full(len(vertices), -1, dtype=np.int64)
        ok = vertices >= 0
        end = as_end[vertices[ok]]
        out[ok] = np.where(end >= 0, new[np.maximum(end, 0)], -1)
        return out

    v_in, v_out = landing(net.vin, as_head), landing(net.vout, as_tail)
    v_in[terms], v_out[terms] = group, group
    mirror = np.arange(num, dtype=np.int64)
    split = (v_in >= 0) & (v_out >= 0) & (v_in != v_out)
    mirror[v_in[split]] = v_out[split]
    mirror[v_out[split]] = v_in[split]
    # A vertex whose partner was dropped has no mirror image.
    lone = (v_in >= 0) != (v_out >= 0)
    mirror[np.maximum(v_in, v_out)[lone]] = -1
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
    # Verified mirrors of the flow network stay mirrors here: endpoints merge, arcs drop and
    # vertices die symmetrically, and mirrored parallel arcs merge into mirrored totals.
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
    )


def _landings(net: FlowNetwork, terms: np.ndarray, group: np.ndarray, n: int):
    """Where an arc's tail (head) lands: its endpoint for an endpoint's out (in) vertex,
    nowhere (-1) for an endpoint's other vertex, else the vertex itself shifted past the
    endpoints."""
    vin, vout = net.vin[terms], net.vout[terms]
    as_tail = np.arange(net.num_vertices, dtype=np.int64) + n
    as_head = as_tail.copy()
    as_tail[vin] = -1
    as_tail[vout] = group  # after vin: an endpoint with a single vertex keeps its arcs out
    as_head[vout] = -1
    as_head[vin] = group
    return as_tail, as_head


def _arcs_between_landings(net: FlowNetwork, as_tail: np.ndarray, as_head: np.ndarray):
    """The flow-network arcs kept (positive, between two different landings): their indices
    and their landed tails and heads."""
    t, h = as_tail[net.tail], as_head[net.head]
    use = (t >= 0) & (h >= 0) & (t != h) & (net.capacity > 0)
    if use.all():
        return np.arange(len(t), dtype=np.int64), t, h
    return np.flatnonzero(use), t[use], h[use]


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


def mirror_arcs(cn: CertificateNetwork) -> np.ndarray | None:
    """For each arc ``p -> q``, the arc ``mirror(q) -> mirror(p)`` of equal capacity; None if
    some arc has none (the network is then not reversible).

    When every arc has its mirror, reversing a flow from A to B (each arc's flow moved to its
    mirror) gives a feasible flow from B to A of the same value: a link's two directions swap,
    and a device's own arc (in -> out) is its own mirror. Then the max flow and the minimum cut
    between two halves do not depend on which half sends.
    """
    return cn.arc_mirror


def flow_arc_mirrors(net: FlowNetwork) -> np.ndarray:
    """Each arc's mirror as the flow network pairs them: the other direction of its link, or
    the arc itself for a device's own arc; -1 for an arc with neither (a one-way link)."""
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
    """Each flow-network vertex's mirror: a component's in and out vertices swap."""
    mirror = np.arange(net.num_vertices, dtype=np.int64)
    split = (net.vin >= 0) & (net.vout >= 0) & (net.vin != net.vout)
    mirror[net.vin[split]] = net.vout[split]
    mirror[net.vout[split]] = net.vin[split]
    return mirror


def verified_arc_mirrors(net: FlowNetwork) -> np.ndarray | None:
    """:func:`flow_arc_mirrors` of ``net`` when every arc's is a true mirror (the other
    direction of its link at the same capacity, or a device's own arc), else None."""
    guess = flow_arc_mirrors(net)
    if _mirrors_ok(net.tail, net.head, net.capacity, _vertex_mirror(net), guess):
        return guess
    return None


def network_is_reversible(net: FlowNetwork) -> bool:
    """Whether every arc of ``net`` has a mirror (see :func:`mirror_arcs`), each component's
    in and out vertices mirroring each other; then a min cut between two sets of terminals
    (fed at their out vertices, drained at their in vertices) is the same either way round.

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.flow import build_network
    >>> b = TopologyBuilder(); _ = b.add_node("a", "gpu"); _ = b.add_node("b", "gpu")
    >>> _ = b.add_link("a", "b", bandwidth=1e9, simplex=True)
    >>> network_is_reversible(build_network(b.build()))
    False
    """
    if verified_arc_mirrors(net) is not None:
        return True
    # Parallel arcs or arcs the flow network does not pair: compare totals per vertex pair.
    nv = net.num_vertices
    live = net.capacity > 0
    key, inverse = sorted_unique(net.tail[live] * nv + net.head[live], return_inverse=True)
    total = np.bincount(inverse, weights=net.capacity[live], minlength=len(key))
    pair_tail, pair_head = key // max(nv, 1), key % max(nv, 1)
    mirror = _vertex_mirror(net)
    return _mirror_positions(pair_tail, pair_head, total, mirror, nv) is not None


def _mirrors_ok(tail, head, capacity, mirror, guess) -> bool:
    """Whether ``guess[a]`` is a mirror of every arc ``a``: ``mirror(head) -> mirror(tail)``
    with the same capacity."""
    if np.any(guess < 0) or np.any(mirror[tail] < 0) or np.any(mirror[head] < 0):
        return False
    return bool(
        np.all(tail[guess] == mirror[head])
        and np.all(head[guess] == mirror[tail])
        and np.all(np.abs(capacity[guess] - capacity) <= _SAME * np.maximum(capacity, 1.0))
    )


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
    same = np.abs(capacity[pos] - capacity) <= _SAME * np.maximum(capacity, 1.0)
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
