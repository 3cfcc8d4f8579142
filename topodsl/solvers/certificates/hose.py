"""The hose certificate: every endpoint sends and receives at rate r through a set of hubs.

Choose hubs Z with shares w_z > 0 summing to 1. Route one unit from every endpoint u to the
hubs, w_z to hub z along shortest paths in the certificate network, split at each vertex in
proportion to arc capacity (u's *gather* loads g_u); route one unit from the hubs to every
endpoint v the same way (v's *scatter* loads s_v). With

    M(a) = Σ over endpoints x of max(g_x(a), s_x(a)),   r = min over arcs a of capacity(a) / M(a),

every balanced split admits a flow of ⌊n/2⌋ · r from one half to the other: match each
endpoint of the smaller half to one of the other and send r between them in two phases (to
the hubs along the sender's gather routing, then out along the receiver's scatter routing);
each endpoint is a sender or a receiver, never both, so an arc carries at most r · M(a).

Hubs are transit components (traffic reaches a hub at its out vertex, after its own limit) or
endpoints (Valiant routing; relaying through an endpoint is free in the certificate network).
When the network is reversible (every arc has a mirror, see
:func:`~topodsl.solvers.certificates.network.mirror_arcs`) the scatter routing is the mirror
of the gather routing, minus the hub's own arc, so only gathers are routed:
M(a) <= G(a) + G(mirror a), or G(a) for an arc that is its own mirror (a device's limit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..flow import sorted_unique
from .network import CertificateNetwork, bfs_levels, csr
from .symmetry import hub_orbits

__all__ = ["HubSet", "HoseRouting", "hose_rate", "hub_work", "sample_hubs"]


@dataclass(frozen=True)
class HubSet:
    """Hubs for the hose certificate: where traffic enters each hub (``vin``) and where it
    leaves (``vout``), as certificate-network vertices, and a name for reports."""

    name: str
    vin: np.ndarray
    vout: np.ndarray

    def __len__(self) -> int:
        return len(self.vout)


@dataclass(frozen=True, slots=True)
class HoseRouting:
    """What a hose routing proves.

    ``rate`` is r: every endpoint can send and receive r at once (B/s), so a balanced split
    carries ⌊n/2⌋ · r. ``all_pairs`` is set when the hubs were every endpoint with equal
    shares, all reached: then the gathers are a routing of one unit between every ordered pair
    of endpoints (divided by n), and ``all_pairs`` is the λ at which every pair can exchange at
    once; a split (A, B) then carries λ · |A| · |B| >= λ · ⌊n/2⌋ · ⌈n/2⌉, which beats the hose
    bound by (n + 1) / n when n is odd.
    """

    rate: float
    all_pairs: float | None = None


def hub_work(cn: CertificateNetwork, hubs: HubSet, reversible: bool) -> float:
    """Array elements touched routing hub by hub (the cost the solver budgets)."""
    return len(hubs) * (cn.num_arcs + cn.num_vertices) * (1 if reversible else 2)


def sample_hubs(hubs: HubSet, k: int) -> HubSet:
    """``k`` of the hubs, spread by a fixed pseudo-random choice (the same every run)."""
    if k >= len(hubs):
        return hubs
    pick = np.sort(np.random.default_rng(0).choice(len(hubs), size=max(k, 1), replace=False))
    name = f"sampled from {len(hubs)} {hubs.name}"
    return HubSet(name, hubs.vin[pick], hubs.vout[pick])


def hose_rate(
    cn: CertificateNetwork,
    hubs: HubSet,
    mirror: np.ndarray | None,
    from_endpoints: np.ndarray,
    slow: bool = True,
    max_work: float = np.inf,
    receivers: np.ndarray | None = None,
) -> HoseRouting | None:
    """Largest rate r every endpoint can send and receive at once through ``hubs``.

    ``mirror`` is :func:`mirror_arcs` of ``cn`` (None when not reversible);
    ``from_endpoints`` the hop distance of every vertex from the nearest endpoint. A hub's
    share is the capacity of its arcs from closer to the endpoints (equal shares when no hub
    has any: the endpoints themselves). Returns None when one pass cannot route all hubs and
    ``slow`` is False, or routing hub by hub would touch more than ``max_work`` elements.
    ``receivers`` are the vertices where endpoint 0 .. n - 1 takes traffic in (by default the
    same vertices; an endpoint split into a source and a sink, see
    :func:`~topodsl.solvers.certificates.domains.split_endpoints`, has its own).
    """
    tail, head, cap = cn.tail, cn.head, cn.capacity
    nv = cn.num_vertices
    toward = (from_endpoints[tail] >= 0) & (from_endpoints[tail] < from_endpoints[head])
    incident = np.bincount(head[toward], weights=cap[toward], minlength=nv)
    weight = incident[hubs.vin]
    if not np.all(weight > 0):
        weight = np.ones(len(hubs))
    weight = weight / weight.sum()
    senders = np.arange(cn.n)
    receivers = senders if receivers is None else receivers
    amount = np.ones(cn.n)
    targets = hubs.vout
    if mirror is not None:
        fast = _equidistant_gather(cn, senders, amount, targets, weight)
        if fast is not None:
            return HoseRouting(_rate_from_loads(cn, fast, None, mirror))
    if not slow:
        return None
    # One routing per orbit of hubs under the network's automorphisms (see .symmetry): the
    # loads summed over an orbit are its size times the orbit-averaged loads of one member.
    keep = () if receivers is senders else (receivers,)
    orbits = hub_orbits(cn, targets, max_work, keep) if len(hubs) > 1 else None
    if orbits is not None and not _constant_on(weight, orbits.hub_orbit):
        orbits = None
    if orbits is None:
        reps, mass = np.arange(len(hubs)), weight
    else:
        reps = np.unique(orbits.hub_orbit, return_index=True)[1]
        mass = np.bincount(orbits.hub_orbit, weights=weight)
    per_hub = (cn.num_arcs + cn.num_vertices) * (1 if mirror is not None else 2)
    if len(reps) * per_hub > max_work:
        return None
    G = np.zeros(cn.num_arcs)
    S = np.zeros(cn.num_arcs)
    used = 0.0
    forward, backward = csr(cn), csr(cn, reverse=True)
    back = _hop_distances(forward, targets[reps]) if mirror is None else None
    for w, dist in zip(mass.tolist(), _hop_distances(backward, targets[reps]), strict=True):
        g = _gather(cn, tail, head, dist, senders, w * amount)
        if mirror is None:
            # Scatter from the hub = gather on the reversed network.
            s = _gather(cn, head, tail, next(back), receivers, w * amount)
            if g is None or s is None:
                continue
            S += s
        if g is None:
            continue  # a hub some endpoint cannot reach: the others still form a hub set
        G += g
        used += w
    if orbits is not None:
        G, S = orbits.average(G), orbits.average(S)
    if used <= 0:
        return HoseRouting(0.0)
    rate = _rate_from_loads(cn, G / used, None if mirror is not None else S / used, mirror)
    every_endpoint = len(hubs) == cn.n and np.array_equal(np.sort(targets), senders)
    if not (every_endpoint and used >= 1 - 1e-12 and np.allclose(weight, 1.0 / cn.n)):
        return HoseRouting(rate)
    busy = G > 1e-15
    pairs = float(np.min(cap[busy] / (cn.n * G[busy]))) if np.any(busy) else 0.0
    return HoseRouting(rate, pairs)


def _constant_on(values: np.ndarray, label: np.ndarray) -> bool:
    """Whether ``values`` are equal (up to rounding) within each class of ``label``."""
    lo = np.full(int(label.max()) + 1, np.inf)
    hi = np.full(len(lo), -np.inf)
    np.minimum.at(lo, label, values)
    np.maximum.at(hi, label, values)
    return bool(np.all(hi - lo <= 1e-12 * np.maximum(np.abs(hi), 1e-300)))


def _rate_from_loads(cn: CertificateNetwork, G, S, mirror) -> float:
    """The rate the loads allow. With ``mirror``: M(a) = G(a) + G(mirror a), or G(a) for an arc
    that is its own mirror; otherwise M = G + S (a bound on Σ max(g, s))."""
    if mirror is not None:
        own = mirror == np.arange(cn.num_arcs)
        M = np.where(own, G, G + G[mirror])
    else:
        M = G + S
    busy = M > 1e-15
    if not np.any(busy):
        return 0.0
    return float(np.min(cn.capacity[busy] / M[busy]))


def _hop_distances(graph, targets: np.ndarray):
    """Hop distances from each of ``targets`` to every vertex (-1 when unreachable), yielded
    in chunks so that memory stays bounded."""
    from scipy.sparse.csgraph import shortest_path

    n = graph.shape[0]
    chunk = max(1, int(2e7 // max(n, 1)))
    for start in range(0, len(targets), chunk):
        part = targets[start : start + chunk]
        D = np.atleast_2d(shortest_path(graph, method="D", unweighted=True, indices=part))
        D[~np.isfinite(D)] = -1
        yield from D.astype(np.int32)


def _gather(cn, tail, head, dist, senders, amount) -> np.ndarray | None:
    """Arc loads when every vertex in ``senders`` sends ``amount`` to the vertex at distance 0
    of ``dist`` along shortest paths, split at each vertex in proportion to capacity; None
    when some sender cannot reach it."""
    if np.any(dist[senders] < 0):
        return None
    dt, dh = dist[tail], dist[head]
    dag = (dh >= 0) & (dt == dh + 1)
    load, _ = _push_down_levels(tail, head, cn.capacity, dag, dt, senders, amount, cn.num_vertices)
    return load


def _push_down_levels(tail, head, cap, dag, level_of, senders, amount, nv):
    """Send ``amount`` from each of ``senders`` down the arcs of ``dag``, level by level from
    the farthest (``level_of`` is each arc's tail distance), each vertex splitting what reaches
    it over its DAG arcs in proportion to capacity (an unlimited arc takes it all). Returns the
    arc loads and the flow that reached every vertex."""
    arcs = np.flatnonzero(dag)
    level = level_of[arcs]
    # Levels are small integers: a stable sort on int16 is a radix sort.
    small = np.int16 if len(level) == 0 or level.max() < 32_000 else np.int32
    order = np.argsort((-level).astype(small), kind="stable")
    arcs, level = arcs[order], level[order]
    # An unlimited arc (a package's delivery from its native to its inbound layer) takes all
    # of its vertex's flow, shared equally with the vertex's other unlimited arcs.
    unlimited = np.isinf(cap[arcs])
    weight = np.where(unlimited, 1.0, cap[arcs])
    if unlimited.any():
        weight[~unlimited & np.isin(tail[arcs], tail[arcs][unlimited])] = 0.0
    out_cap = np.bincount(tail[arcs], weights=weight, minlength=nv)
    denominator = out_cap[tail[arcs]]
    share = np.zeros(len(tail))
    share[arcs] = weight / np.where(denominator > 0, denominator, 1.0)
    del weight, denominator
    f = np.zeros(nv)
    np.add.at(f, senders, amount)
    load = np.zeros(len(tail))
    bounds = np.flatnonzero(np.r_[True, level[1:] != level[:-1], True]) if len(arcs) else []
    for s, e in zip(bounds[:-1], bounds[1:], strict=True):
        a = arcs[s:e]
        ta = tail[a]
        x = f[ta] * share[a]
        load[a] = x
        f += np.bincount(head[a], weights=x, minlength=nv)
    return load, f


def _equidistant_gather(cn, senders, amount, targets, weight) -> np.ndarray | None:
    """All hubs' gathers in one pass, when that gives the same loads as one pass per hub.

    Let D be the hop distance to the nearest hub, and route all traffic down the DAG of
    D-shortest paths. If every vertex this flow reaches next to a hub is next to *every* hub,
    then by induction each reached vertex's distance to any one hub is D and its shortest-path
    arcs towards that hub are its DAG arcs; so each per-hub routing carries that hub's share of
    the same flow down to the last hop, which alone differs (into that hub). Returns the summed
    loads, or None when the condition fails (the caller then routes hub by hub).
    """
    tail, head, cap = cn.tail, cn.head, cn.capacity
    nv = cn.num_vertices
    is_hub = np.zeros(nv, dtype=bool)
    is_hub[targets] = True
    if np.any(is_hub[senders]):
        return None
    D = bfs_levels(csr(cn, reverse=True), targets)
    if np.any(D[senders] < 0):
        return None
    hub_of = np.full(nv, -1, dtype=np.int64)
    hub_of[targets] = np.arange(len(targets))
    last = is_hub[head] & ~is_hub[tail] & (D[tail] == 1)
    pairs = sorted_unique(tail[last] * len(targets) + hub_of[head[last]])
    per_vertex = np.bincount(pairs // len(targets), minlength=nv)
    dt, dh = D[tail], D[head]
    inner = (dh >= 1) & (dt == dh + 1)
    load, f = _push_down_levels(tail, head, cap, inner, dt, senders, amount, nv)
    # Every vertex the flow reaches next to a hub must be next to all of them.
    ring1 = np.flatnonzero((D == 1) & ~is_hub & (f > 0))
    if np.any(per_vertex[ring1] != len(targets)):
        return None
    # Last hop: a vertex sends each hub its share, over its arc into that hub.
    a = np.flatnonzero(last)
    z = hub_of[head[a]]
    load[a] = f[tail[a]] * weight[z]
    return load
