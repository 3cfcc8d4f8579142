"""The additive domain certificate: a bound on the splits that separate a fabric domain.

Under the fabric rule (:mod:`topodsl.solvers.forwarding`) traffic between two endpoints of one
fabric domain D stays on D's *fabric arcs* (the flow-network arcs with both ends in D), and the
certificates that read the whole network (:mod:`.hose`, :mod:`.star`, ...) hold only for the
splits keeping every domain's endpoints on one side. A balanced split (A, B) that puts
endpoints of some domain on both sides carries, at once and on disjoint arcs:

* **a network part** N: the cross-domain pairs (a in A, b in B, not of one domain) routed on
  the arcs that are no domain's fabric arcs. The hose routing of :mod:`.hose`, run on the
  certificate network without fabric arcs and with every endpoint split into a source (arcs
  out only) and a sink (arcs in only), so that no path relays through an endpoint, proves a
  rate r: any demand in which every endpoint of A sends at most r and every endpoint of B
  receives at most r is routable there by paths that only start and end at endpoints (each
  pair's traffic goes to the hubs along its sender's gather routing and out along its
  receiver's scatter routing). The cross-domain pairs of a balanced split form a bipartite
  graph, complete between A and B minus the same-domain blocks, whose largest (fractional)
  matching is exactly ``min(floor(n/2), n - k_max)`` (:func:`cross_domain_matching`); scaled
  by r it is such a demand, so N >= r * min(floor(n/2), n - k_max).
* **a fabric part** F: the split separates the endpoints of some domain D into X (in A) and
  D minus X (in B); the max flow from X to D minus X on D's fabric arcs alone is at least the
  least max flow between two endpoints of D there (with e0 one endpoint of D, e0 and some
  endpoint of the other side are a pair inside the two sets; fewer sources and sinks never add
  flow), and equals it for the worst X (the cheapest e0-t cut separates D's endpoints).

Cross-domain paths use none of D's fabric arcs and same-domain ones nothing else, so both flows
fit together: every such split carries at least ``r * min(floor(n/2), n - k_max) + f_min``.

Examples
--------
>>> cross_domain_matching(16, 8)          # two boxes of 8 GPUs: all 8 pairs can cross
8
>>> cross_domain_matching(10, 7)          # a domain of 7 of 10 endpoints: only 3 others
3
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..flow import _choose_unit, _IntNetwork
from .network import CertificateNetwork, certificate_network

__all__ = [
    "DomainClass",
    "cross_domain_matching",
    "domain_classes",
    "fabric_arcs",
    "least_pair_flow",
    "network_part",
]


def cross_domain_matching(n: int, k_max: int) -> int:
    """Size of the largest matching of cross-domain pairs in every balanced split.

    The pairs are (a, b) with a in one half, b in the other and a, b not in one domain; the
    halves have ``n // 2`` and ``n - n // 2`` endpoints and the largest domain ``k_max``
    (a lone endpoint is a domain of 1). By the deficiency form of Hall's theorem the matching
    misses ``max over Y of |Y| - |N(Y)|`` endpoints of the smaller half A: a set Y meeting two
    domains has every endpoint of B as a neighbour, one inside domain D has B minus D. So it is
    ``min(|A|, |B|, |A| + |B| - |D|)`` minimised over D; a fractional matching is no larger
    (the bipartite matching polytope is integral).

    >>> cross_domain_matching(8, 8), cross_domain_matching(9, 1)
    (0, 4)
    """
    return max(0, min(n // 2, n - k_max))


def fabric_arcs(net, row_domain: np.ndarray, row_endpoint: np.ndarray) -> np.ndarray:
    """Per arc of the flow network ``net``: whether it is a fabric arc, both ends in one fabric
    domain (``row_domain`` per row, -1 for none) and not both inside one endpoint
    (``row_endpoint`` per row, -1 for none): the arcs peer traffic of a domain may use between
    its endpoints. Arcs inside an endpoint are left (the certificate network merges them)."""
    dt, dh = row_domain[net.owner[net.tail]], row_domain[net.owner[net.head]]
    et, eh = row_endpoint[net.owner[net.tail]], row_endpoint[net.owner[net.head]]
    return (dt >= 0) & (dt == dh) & ~((et >= 0) & (et == eh))


def network_part(
    net,
    drop: np.ndarray,
    terms: np.ndarray,
    group: np.ndarray,
    n: int,
    arc_mirrors: np.ndarray | None,
    package: np.ndarray | None,
) -> CertificateNetwork:
    """The certificate network of ``net`` without the arcs where ``drop`` is True (the fabric
    arcs, see :func:`fabric_arcs`), each endpoint split in two: vertex ``u`` (0 .. n - 1) keeps
    the arcs out of it, a new vertex ``num_vertices + u`` of the original takes the arcs into
    it (its mirror), so no path passes through an endpoint. Dropping arcs symmetrically keeps
    ``arc_mirrors`` valid."""
    cut = replace(net, capacity=np.where(drop, 0.0, net.capacity))
    cn = certificate_network(cut, terms, group, n, arc_mirrors, package=package)
    return split_endpoints(cn)


def split_endpoints(cn: CertificateNetwork) -> CertificateNetwork:
    """``cn`` with every endpoint split into a source and a sink (see :func:`network_part`).

    >>> tail, head = np.array([0, 2, 1, 2]), np.array([2, 1, 2, 0])
    >>> cn = CertificateNetwork(2, 3, tail, head, np.ones(4), np.arange(3), np.arange(3),
    ...                         np.arange(3), np.array([3, 2, 1, 0]))
    >>> s = split_endpoints(cn)
    >>> s.num_vertices, s.head.tolist(), s.mirror.tolist()
    (5, [2, 4, 2, 3], [3, 4, 2, 0, 1])
    """
    V, n = cn.num_vertices, cn.n
    head = np.where(cn.head < n, cn.head + V, cn.head)
    mirror = np.concatenate([cn.mirror, np.arange(n)])
    mirror[:n] = V + np.arange(n)
    vertex_in = np.where((cn.vertex_in >= 0) & (cn.vertex_in < n), cn.vertex_in + V, cn.vertex_in)
    return replace(cn, num_vertices=V + n, head=head, mirror=mirror, vertex_in=vertex_in)


@dataclass(frozen=True)
class DomainClass:
    """Fabric domains whose fabric networks are identical after relabelling (one is measured
    for all): ``domain`` the first one's label, ``count`` how many, ``endpoints`` its endpoints
    (positions into the endpoint list, ascending); ``tail``, ``head``, ``capacity`` its fabric
    arcs on local vertices, ``sources[i]`` / ``sinks[i]`` the local vertices where endpoint
    ``endpoints[i]``'s traffic starts and ends."""

    domain: int
    count: int
    endpoints: tuple[int, ...]
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    sources: tuple[np.ndarray, ...]
    sinks: tuple[np.ndarray, ...]

    @property
    def num_vertices(self) -> int:
        """Local vertices (the arcs' and the terminals')."""
        top = [self.tail.max(initial=-1), self.head.max(initial=-1)]
        top += [v.max(initial=-1) for v in (*self.sources, *self.sinks)]
        return int(max(top)) + 1


def domain_classes(
    net,
    row_domain: np.ndarray,
    inside: np.ndarray,
    terms: np.ndarray,
    group: np.ndarray,
    term_domain: np.ndarray,
    domains: np.ndarray,
) -> list[DomainClass]:
    """The fabric networks of ``domains`` (labels with two or more endpoints), grouped into
    classes of identical ones. ``inside`` marks the arcs with both ends in one domain (the
    network the flow core measures a question inside one domain on); ``terms`` / ``group``
    are the terminal rows and their endpoints, ``term_domain`` each terminal's domain (-1
    for none). Two domains share a class when their arcs,
    capacities and terminals are equal once each domain's vertices are numbered in order,
    as the copies of one template are."""
    vdom = row_domain[net.owner]
    arc_domain = np.where(inside, vdom[net.tail], -1)
    order = np.argsort(arc_domain, kind="stable")
    starts = np.searchsorted(arc_domain[order], domains, side="left")
    ends = np.searchsorted(arc_domain[order], domains, side="right")
    # The terminals of each domain by one stable sort (ascending rows within a domain), not
    # one scan of every terminal per domain: that was quadratic, 300 CPU-s at a million GPUs.
    t_order = np.argsort(term_domain, kind="stable")
    t_sorted = term_domain[t_order]
    t_starts = np.searchsorted(t_sorted, domains, side="left").tolist()
    t_ends = np.searchsorted(t_sorted, domains, side="right").tolist()
    classes: dict[bytes, DomainClass] = {}
    for i, (d, s, e) in enumerate(
        zip(domains.tolist(), starts.tolist(), ends.tolist(), strict=True)
    ):
        arcs = order[s:e]
        mine = t_order[t_starts[i] : t_ends[i]]
        ends_of = np.unique(group[mine])
        src = [net.vout[terms[mine[group[mine] == g]]] for g in ends_of]
        snk = [net.vin[terms[mine[group[mine] == g]]] for g in ends_of]
        verts = np.unique(np.concatenate([net.tail[arcs], net.head[arcs], *src, *snk]))
        local = {
            "tail": np.searchsorted(verts, net.tail[arcs]),
            "head": np.searchsorted(verts, net.head[arcs]),
        }
        sources = tuple(np.searchsorted(verts, v) for v in src)
        sinks = tuple(np.searchsorted(verts, v) for v in snk)
        capacity = net.capacity[arcs]
        key = b"|".join(
            [local["tail"].tobytes(), local["head"].tobytes(), capacity.tobytes()]
            + [v.tobytes() + b"/" for v in (*sources, *sinks)]
        )
        found = classes.get(key)
        if found is not None:
            classes[key] = replace(found, count=found.count + 1)
            continue
        classes[key] = DomainClass(
            d, 1, tuple(ends_of.tolist()), local["tail"], local["head"], capacity, sources, sinks
        )
    return list(classes.values())


def least_pair_flow(cls: DomainClass, symmetric: bool) -> float:
    """The least max flow (B/s) between two endpoints of a domain of ``cls`` on its fabric
    arcs: from its first endpoint to each other one and back (only one way round when the
    network is reversible). By the module's argument it is the least fabric flow across any
    split of the domain's endpoints. Each flow is measured in whole units of the capacities,
    rounded down where they are not whole (a feasible flow: never above the truth)."""
    m = cls.num_vertices
    finite = cls.capacity[np.isfinite(cls.capacity)]
    bound = float(finite.sum()) + 1.0
    unit, _ = _choose_unit(finite, bound)
    best = math.inf
    k = len(cls.endpoints)
    pairs = [(0, j) for j in range(1, k)]
    if not symmetric:
        pairs += [(j, 0) for j in range(1, k)]
    for a, b in pairs:
        src, snk = cls.sources[a], cls.sinks[b]
        tail = np.concatenate([cls.tail, np.full(len(src), m), snk])
        head = np.concatenate([cls.head, src, np.full(len(snk), m + 1)])
        cap = np.concatenate([cls.capacity, np.full(len(src) + len(snk), np.inf)])
        value, _, _ = _IntNetwork(m + 2, tail, head, cap, bound, unit).solve(m, m + 1)
        best = min(best, value * unit)
    return best
