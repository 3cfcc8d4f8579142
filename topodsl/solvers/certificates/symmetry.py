"""Automorphisms of the certificate network, so that the hose routing routes one hub per orbit.

An *automorphism* σ of a :class:`~.network.CertificateNetwork` is a permutation of its vertices
that maps every arc ``u -> v`` to an arc ``σu -> σv`` of the same capacity, the endpoints onto
the endpoints and the hubs onto the hubs. The hose routing's gathers are defined from the
network alone (hop distances, capacities), so they commute with σ: the gather to hub ``σz``
loads arc ``σa`` as the gather to ``z`` loads ``a``. Let H be the group some verified
automorphisms generate. Summed over an H-orbit O of hubs, the gathers are

    Σ_{z ∈ O} g_z(a) = |O| · mean of g_{z₀} over the H-orbit of arc a      (any z₀ ∈ O),

since as σ runs over H, ``σ⁻¹a`` runs evenly over a's orbit and ``σz₀`` evenly over O. So one
routing per hub orbit gives the exact loads that routing hub by hub would: the same
certificate, the same bound, at a fraction of the work. Every generator is checked arc by arc
before it is used (:func:`verify`), so a wrong guess costs time, never soundness.

Generators come from two places, both cheap:

* **twins**: vertices with the same arcs in and out (same far ends, same capacities) and no
  arc between them, such as the hosts of one leaf switch or the cores of one fat-tree group;
  one permutation cycles every class of twins at once;
* **individualisation by distances**: to map a hub z₀ onto another hub z, give every vertex
  its hop distances from a few base points and their images (z₀ ↦ z first), adding base
  points until every class of equal distances is one vertex or a class of twins, and pair the
  classes. On a vertex-transitive network (a torus with equal links) this finds translations;
  elsewhere it may fail, and the hubs it could not join keep orbits of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, shortest_path

from .network import CertificateNetwork, csr

__all__ = ["Orbits", "hub_orbits", "verify"]

# Base points tried when individualising one map, and maps tried, per hub set.
_MAX_BASE_POINTS = 8
_MAX_MAPS = 8
_MAX_FAILURES = 3
# Searching stops after a map that leaves more than this share of the hub orbits.
_WORTHWHILE = 0.75
# Relative tolerance for equal capacities.
_SAME = 1e-12


@dataclass(frozen=True)
class Orbits:
    """Orbits of a group of verified automorphisms: ``hub_orbit[i]`` labels hub ``i`` (of the
    hub set, in its order), ``arc_orbit[a]`` labels arc ``a``; ``generators`` is how many
    permutations generate the group."""

    hub_orbit: np.ndarray
    arc_orbit: np.ndarray
    generators: int

    @property
    def num_hub_orbits(self) -> int:
        """Number of hub orbits (routings the hose certificate needs)."""
        return int(self.hub_orbit.max()) + 1 if len(self.hub_orbit) else 0

    def average(self, loads: np.ndarray) -> np.ndarray:
        """Each arc's load replaced by the mean over its orbit."""
        size = np.bincount(self.arc_orbit)
        mean = np.bincount(self.arc_orbit, weights=loads, minlength=len(size)) / size
        return mean[self.arc_orbit]


def _rank(*columns: np.ndarray) -> np.ndarray:
    """Dense ranks of the rows of ``columns`` (equal rows, equal ranks), by one lexsort."""
    order = np.argsort(columns[0]) if len(columns) == 1 else np.lexsort(columns[::-1])
    change = np.zeros(len(order), dtype=bool)
    for c in columns:
        s = c[order]
        change[1:] |= s[1:] != s[:-1]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.cumsum(change)
    return rank


def _keys(cn: CertificateNetwork) -> np.ndarray:
    return cn.tail * max(cn.num_vertices, 1) + cn.head


def verify(
    cn: CertificateNetwork, sigma: np.ndarray, hubs: np.ndarray, *keep: np.ndarray
) -> np.ndarray | None:
    """The arc permutation of ``sigma`` when it is an automorphism of ``cn`` that keeps the
    endpoints, ``hubs`` and each set of vertices in ``keep``, else None."""
    nv, n = cn.num_vertices, cn.n
    if len(sigma) != nv or (nv and (sigma.min() < 0 or sigma.max() >= nv)):
        return None
    if nv and np.bincount(sigma, minlength=nv).max() != 1:
        return None
    if n and (sigma[:n].min() < 0 or sigma[:n].max() >= n):
        return None
    for group in (hubs, *keep):
        inside = np.zeros(nv, dtype=bool)
        inside[group] = True
        if np.any(~inside[sigma[group]]):
            return None
    key = _keys(cn)
    order = None if np.all(key[1:] > key[:-1]) else np.argsort(key, kind="stable")
    sk = key if order is None else key[order]
    want = sigma[cn.tail] * max(nv, 1) + sigma[cn.head]
    at = np.minimum(np.searchsorted(sk, want), len(sk) - 1)
    if np.any(sk[at] != want):
        return None
    image = at if order is None else order[at]
    a, b = cn.capacity, cn.capacity[image]
    with np.errstate(invalid="ignore"):
        same = (a == b) | (np.abs(a - b) <= _SAME * np.maximum(np.maximum(a, b), 1.0))
    return image if bool(np.all(same)) else None


def _colours(cn: CertificateNetwork, hubs: np.ndarray, keep) -> np.ndarray:
    """A colouring every automorphism keeps: endpoint or not, member of ``hubs`` and of each
    set in ``keep`` or not, degrees and capacities in and out."""
    nv = cn.num_vertices
    cap = np.where(np.isinf(cn.capacity), -1.0, cn.capacity)
    member = np.zeros(nv)
    for i, group in enumerate((hubs, *keep)):
        member[group] += 2.0**i
    cols = np.stack(
        [
            (np.arange(nv) < cn.n).astype(float),
            member,
            np.bincount(cn.tail, minlength=nv).astype(float),
            np.bincount(cn.head, minlength=nv).astype(float),
            np.bincount(cn.tail, weights=cap, minlength=nv),
            np.bincount(cn.head, weights=cap, minlength=nv),
        ]
    )
    return _rank(*cols)


def _twins(cn: CertificateNetwork, colour: np.ndarray) -> np.ndarray:
    """A label per vertex, equal for vertices that look like twins (the same arcs in and out,
    by a hash of far ends and capacities; checked later as a permutation)."""
    nv = cn.num_vertices
    rng = np.random.default_rng(12345)
    r_vertex = rng.random(nv) + 0.5
    _, cap_class = np.unique(cn.capacity, return_inverse=True)
    r_cap = rng.random(int(cap_class.max()) + 1 if len(cap_class) else 1) + 0.5
    # Arcs are sorted by (tail, head): equal neighbourhoods are summed in the same order.
    out_hash = np.bincount(cn.tail, weights=r_vertex[cn.head] * r_cap[cap_class], minlength=nv)
    order = np.argsort(cn.head, kind="stable")
    in_hash = np.bincount(
        cn.head[order], weights=(r_vertex[cn.tail] * r_cap[cap_class] * 1.7)[order], minlength=nv
    )
    return _rank(colour, out_hash, in_hash)


def _twin_cycle(twin: np.ndarray) -> np.ndarray:
    """One permutation cycling the members of every twin class."""
    order = np.argsort(twin, kind="stable")
    t = twin[order]
    start = np.r_[True, t[1:] != t[:-1]]
    nxt = np.roll(order, -1)
    # The last member of each class goes back to the first.
    last = np.r_[start[1:], True]
    first_of = order[np.maximum.accumulate(np.where(start, np.arange(len(t)), 0))]
    sigma = np.empty(len(twin), dtype=np.int64)
    sigma[order] = np.where(last, first_of, nxt)
    return sigma


def _distances(graph: sp.csr_array, source: int) -> np.ndarray:
    d = shortest_path(graph, method="D", unweighted=True, indices=[source])[0]
    d[~np.isfinite(d)] = -1
    return d.astype(np.int64)


class _Mapper:
    """Search for automorphisms by individualisation: base points on side A (shared by every
    search) and their images on side B."""

    def __init__(self, cn: CertificateNetwork, hubs: np.ndarray, keep, colour, twin) -> None:
        self.cn, self.hubs, self.keep = cn, hubs, keep
        # Float CSR once, so that each shortest-path call does not convert it again.
        self.graph = sp.csr_matrix(csr(cn), dtype=np.float64)
        self.colour, self.twin = colour, twin
        self.base: list[int] = []
        self.base_dist: list[np.ndarray] = []
        self.exhausted = False
        nv = cn.num_vertices
        self.has_out = np.bincount(cn.tail, minlength=nv) > 0
        self.has_in = np.bincount(cn.head, minlength=nv) > 0
        # Arcs are sorted by tail; segment starts of the vertices that have arcs.
        self.out_start = np.searchsorted(cn.tail, np.flatnonzero(self.has_out))
        by_head = np.argsort(cn.head, kind="stable")
        self.in_start = np.searchsorted(cn.head[by_head], np.flatnonzero(self.has_in))
        self.tail_by_head = cn.tail[by_head]

    def refine(self, cls_a: np.ndarray, cls_b: np.ndarray, rounds: int = 3):
        """Split classes by the multiset of their neighbours' classes (colour refinement, by
        random hashes summed with wrap-around), on both sides at once, for a few rounds or
        until stable. A hash collision only merges classes, which the check of the final
        permutation catches."""
        nv = self.cn.num_vertices
        rng = np.random.default_rng(7)
        count = int(max(cls_a.max(), cls_b.max())) + 1
        for _ in range(rounds):
            r = rng.integers(1, 2**62, size=count, dtype=np.int64)
            keys = []
            for cls in (cls_a, cls_b):
                h = cls * np.int64(0x9E3779B97F4A7C15 - 2**64)
                if len(self.out_start):
                    h[self.has_out] += np.add.reduceat(r[cls[self.cn.head]], self.out_start)
                if len(self.in_start):
                    part = np.add.reduceat(r[cls[self.tail_by_head]], self.in_start)
                    h[self.has_in] += part * np.int64(0x632BE59BD9B4E019)
                keys.append(h)
            inv = _rank(np.concatenate(keys))
            new = int(inv.max()) + 1
            cls_a, cls_b = inv[:nv], inv[nv:]
            if new == count:
                break
            count = new
        return cls_a, cls_b

    def start_at(self, z0: int) -> None:
        """Make ``z0`` the first base point."""
        if not self.base or self.base[0] != z0:
            self.base, self.base_dist = [z0], [_distances(self.graph, z0)]

    @staticmethod
    def pair(cls_a: np.ndarray, cls_b: np.ndarray) -> np.ndarray:
        """The permutation pairing each class's members on side A with its members on side B
        in index order."""
        oa = np.argsort(cls_a, kind="stable")  # stable: index order within a class
        ob = np.argsort(cls_b, kind="stable")
        sigma = np.empty(len(cls_a), dtype=np.int64)
        sigma[oa] = ob
        return sigma

    def map(self, z0: int, z: int) -> tuple[np.ndarray, np.ndarray] | None:
        """An automorphism taking ``z0`` to ``z`` (vertex and arc permutations), or None.

        When classes are still open, pairing them in index order is tried first: files that
        number their parts alike (pods, ranks of a torus) often make that an automorphism
        already, which the check tells, and base points with their searches are saved."""
        nv = self.cn.num_vertices
        self.start_at(z0)
        cls_a = self.colour.copy()
        cls_b = self.colour.copy()
        images: list[int] = [z]
        k = 0
        while True:
            db = _distances(self.graph, images[k])
            da = self.base_dist[k]
            inv = _rank(np.concatenate([cls_a, cls_b]) * (nv + 2) + np.concatenate([da, db]))
            cls_a, cls_b = self.refine(inv[:nv], inv[nv:])
            inv = np.concatenate([cls_a, cls_b])
            count_a = np.bincount(cls_a, minlength=int(inv.max()) + 1)
            if np.any(count_a != np.bincount(cls_b, minlength=len(count_a))):
                return None
            # A class is settled when it is one vertex or all twins (on both sides).
            size = count_a[cls_a]
            tw_lo = np.full(len(count_a), np.iinfo(np.int64).max)
            tw_hi = np.full(len(count_a), -1)
            for side in (cls_a, cls_b):
                np.minimum.at(tw_lo, side, self.twin)
                np.maximum.at(tw_hi, side, self.twin)
            open_ = (size > 1) & (tw_lo[cls_a] != tw_hi[cls_a])
            sigma = self.pair(cls_a, cls_b)
            image = verify(self.cn, sigma, self.hubs, *self.keep)
            if image is not None:
                return sigma, image
            if not open_.any():
                return None
            k += 1
            if k >= _MAX_BASE_POINTS:
                self.exhausted = True  # symmetry too rich for a few base points: stop trying
                return None
            # Next base point: the first vertex of the largest open class (it splits the most),
            # kept from an earlier search while it is still open.
            if not (k < len(self.base) and open_[self.base[k]]):
                pick = int(np.flatnonzero(open_ & (size == size[open_].max()))[0])
                del self.base[k:], self.base_dist[k:]
                self.base.append(pick)
                self.base_dist.append(_distances(self.graph, pick))
            # Its image: the first vertex of its class on side B.
            images.append(int(np.flatnonzero(cls_b == cls_a[self.base[k]])[0]))


def hub_orbits(
    cn: CertificateNetwork, hubs: np.ndarray, max_work: float = np.inf, keep: tuple = ()
) -> Orbits | None:
    """Orbits of the hubs (vertices ``hubs``, distinct) and of the arcs under automorphisms
    found by :mod:`this module's <topodsl.solvers.certificates.symmetry>` two means, each
    verified to keep the endpoints, the hubs and every set of vertices in ``keep`` (where
    traffic ends, when that is not the endpoints). None when no automorphism other than the
    identity was found.

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.flow import build_network
    >>> from topodsl.solvers.certificates.network import certificate_network
    >>> b = TopologyBuilder()
    >>> for i in range(6):
    ...     _ = b.add_node(f"g{i}", "gpu")
    >>> for i in range(6):
    ...     _ = b.add_link(f"g{i}", f"g{(i + 1) % 6}", bandwidth=25e9)
    >>> t = b.build()
    >>> cn = certificate_network(build_network(t), np.arange(6), np.arange(6), 6)
    >>> o = hub_orbits(cn, np.arange(6))
    >>> o.num_hub_orbits, len(set(o.arc_orbit.tolist()))    # a ring: one orbit of each
    (1, 1)
    """
    nv, na = cn.num_vertices, cn.num_arcs
    hubs = np.asarray(hubs, dtype=np.int64)
    keep = tuple(np.asarray(k, dtype=np.int64) for k in keep)
    colour = _colours(cn, hubs, keep)
    twin = _twins(cn, colour)
    perms: list[np.ndarray] = []
    arc_perms: list[np.ndarray] = []
    if len(np.unique(twin)) < nv:
        sigma = _twin_cycle(twin)
        image = verify(cn, sigma, hubs, *keep)
        if image is not None:
            perms.append(sigma)
            arc_perms.append(image)
        else:
            twin = np.arange(nv)  # the hash grouped non-twins: trust no twin class
    where = np.full(nv, -1, dtype=np.int64)
    where[hubs] = np.arange(len(hubs))

    def orbits_of(size: int, maps: list[np.ndarray]) -> np.ndarray:
        if not maps:
            return np.arange(size)
        # Row i lists i's image under each map: built as CSR directly (no sort of COO).
        g = sp.csr_array(
            (
                np.ones(size * len(maps), dtype=np.int8),
                np.stack(maps, axis=1).ravel(),
                np.arange(0, size * len(maps) + 1, len(maps)),
            ),
            shape=(size, size),
        )
        return connected_components(g, directed=True, connection="weak")[1]

    # Every generator maps hubs to hubs (checked), so hub orbits need only the hubs' images.
    def hub_orbits_now() -> np.ndarray:
        return orbits_of(len(hubs), [where[p[hubs]] for p in perms])

    hub_label = hub_orbits_now()
    mapper = _Mapper(cn, hubs, keep, colour, twin)
    work, tries, failures = 0.0, 0, 0
    while tries < _MAX_MAPS and work <= max_work:
        label = hub_label
        if len(np.unique(label)) <= 1:
            break
        z0 = int(hubs[0])
        mapper.start_at(z0)
        d = mapper.base_dist[0][hubs]
        # Hubs outside z0's orbit, nearest first (a greedy individualisation may fail for
        # one and work for the next).
        outside = np.flatnonzero((label != label[0]) & (d >= 0))
        found = False
        for i in outside[np.argsort(d[outside], kind="stable")]:
            if tries >= _MAX_MAPS or work > max_work:
                break
            tries += 1
            found_map = mapper.map(z0, int(hubs[i]))
            work += (len(mapper.base) + 1) * (na + nv)
            if found_map is None:
                failures += 1
                if failures >= _MAX_FAILURES or mapper.exhausted:
                    break
            else:
                sigma, image = found_map
                perms.append(sigma)
                arc_perms.append(image)
                hub_label = hub_orbits_now()
                found = True
                break
        # A search costs several routings' work: go on only while maps pay for themselves
        # (a torus's translations divide the orbits; a fat tree's swaps join two at a time).
        before, after = len(np.unique(label)), len(np.unique(hub_label))
        if not found or after > _WORTHWHILE * before:
            break
    if not perms:
        return None
    _, hub_orbit = np.unique(hub_label, return_inverse=True)
    _, arc_orbit = np.unique(orbits_of(na, arc_perms), return_inverse=True)
    return Orbits(hub_orbit.ravel(), arc_orbit.ravel(), len(perms))
