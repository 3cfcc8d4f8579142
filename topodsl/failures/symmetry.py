"""Symmetric failure cases: one solve for every case that an automorphism maps onto another.

A cluster is made of copies: 1,280 identical servers, 8 GPUs per server wired alike. Failing
GPU link 3 of server 17 costs what failing it in server 912 costs, because a relabelling of the
components (an *automorphism*) maps one topology onto the other, carrying every selection of
the question onto itself. :class:`Symmetry` finds such relabellings and uses them to map each
failure case to a canonical one; cases with the same canonical form have the same figure.

What is proven
--------------
The relabellings used are *transpositions of sibling instances*: swapping the whole subtree of
``su0`` with that of ``su5`` (two instances of one definition with the same arguments, under the
same parent), row for row. A transposition is used only after it is verified on the topology
itself, not assumed from the source: the two subtrees have the same shape (relative ids, kinds,
containment), the same device attributes row for row (bandwidths, capacity, latency, ports,
``relay`` and every other attribute but ``meta``), every link touching either subtree maps to a
link with the same attributes (bandwidth, latency, lanes, type, one-way, half-duplex), every
selection of the question (the analysis's endpoints) is mapped onto itself, and the component
the question is asked in (an assertion's) is outside both. A verified transposition is an
automorphism of everything an analysis reads, so the true value of any figure the analysis
defines is the same for a failure case and for its image; bounds computed for the image are
bounds for the case. Transpositions inside an instance are verified in that instance; products
of verified transpositions are automorphisms too.

Nothing is assumed where verification fails (siblings wired differently, a topology read from
JSON whose subtrees are not contiguous rows): those cases are solved on their own. Analyses
whose question is not invariant under relabelling (a seeded random permutation of the
endpoints) declare so and get no reduction (``Analysis.symmetric``).

>>> from topodsl import loads
>>> t = loads('''link l { bandwidth = 1 GB/s }
... cluster c { switch sw
...   node n[3] { gpu g[2]; nic x; connect g[*] -- x via l }
...   connect n[*].x -- sw via l }''')
>>> s = Symmetry(t, [t.select("kind:gpu")])
>>> [t.nodes.ids[r] for r in s.canonical([t.index("c.n2.g1")], [])[0]]
['c.n0.g0']
>>> [t.nodes.ids[r] for r in s.canonical([t.index("c.n2.g1"), t.index("c.n0.g0")], [])[0]]
['c.n0.g0', 'c.n1.g0']
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..topology import Topology

__all__ = ["Symmetry"]

_INDEXED = re.compile(r"(.*?)(0|[1-9][0-9]*)")
# Reps tried per member of a group of siblings before it is taken as a class of its own.
_MAX_TRIES = 24
_ATTRS = ("kind", "bandwidth", "read_bandwidth", "write_bandwidth", "capacity", "latency", "ports")


class Symmetry:
    """Verified sibling transpositions of ``topology`` that keep each of ``selections`` (arrays
    of rows) and the row ``scope`` (if any) in place; :meth:`canonical` maps a failure case to
    its canonical form."""

    def __init__(
        self,
        topology: Topology,
        selections: Sequence[np.ndarray] = (),
        scope: int | None = None,
    ):
        t = self.t = topology
        n = t.num_nodes
        self.parent = t.nodes.parent.astype(np.int64)
        self.depth = t.depth.astype(np.int64)
        self.size, self.contiguous = _extents(t)
        self.fixed = []
        for rows in selections:
            m = np.zeros(n, dtype=bool)
            m[np.asarray(rows, dtype=np.int64)] = True
            self.fixed.append(m)
        self.scope = scope
        self.verified = 0
        self._groups, self._group_of, self._index_of = _sibling_groups(t)
        self._classes: dict[int, dict[int, int]] = {}
        self._attr = [getattr(t.nodes, a) for a in _ATTRS]
        self._incident = _incidence(t)
        L = t.links
        self._record = _link_records(t)
        lo = np.minimum(L.src, L.dst).astype(np.int64)
        hi = np.maximum(L.src, L.dst).astype(np.int64)
        s = L.simplex
        self._end_a = np.where(s, L.src, lo).astype(np.int64)
        self._end_b = np.where(s, L.dst, hi).astype(np.int64)
        self._lookup: dict[tuple, list[int]] | None = None
        # Plain lists for the per-case loop (numpy is slow on a handful of rows).
        self._lists = (self.depth.tolist(), self.parent.tolist(), self.size.tolist())
        self._ends = (self._end_a.tolist(), self._end_b.tolist())
        self._group_list = self._group_of.tolist()
        self._member_lists: dict[tuple[int, int], list[int]] = {}
        self._chains: dict[int, tuple[int, ...]] = {}
        self._record_list = [tuple(r) for r in self._record.tolist()]
        self._simplex = L.simplex.tolist()

    # -- verification -----------------------------------------------------------------------

    def swap(self, a: int, b: int, rows: np.ndarray) -> np.ndarray:
        """``rows`` with the subtrees of ``a`` and ``b`` exchanged row for row."""
        s = self.size[a]
        out = rows.copy()
        in_a = (rows >= a) & (rows < a + s)
        in_b = (rows >= b) & (rows < b + s)
        out[in_a] = rows[in_a] - a + b
        out[in_b] = rows[in_b] - b + a
        return out

    def verify(self, a: int, b: int) -> bool:
        """Whether exchanging the subtrees of sibling rows ``a`` and ``b`` is an automorphism of
        the topology that keeps the selections and the scope (see the module docstring)."""
        self.verified += 1
        t = self.t
        s = int(self.size[a])
        if s != self.size[b] or not (self.contiguous[a] and self.contiguous[b]):
            return False
        ra, rb = np.arange(a, a + s), np.arange(b, b + s)
        if self.scope is not None and (a <= self.scope < a + s or b <= self.scope < b + s):
            return False
        if not np.array_equal(self.parent[ra[1:]] - a, self.parent[rb[1:]] - b):
            return False
        for col in self._attr:
            if not np.array_equal(col[ra], col[rb]):
                return False
        for m in self.fixed:
            if not np.array_equal(m[ra], m[rb]):
                return False
        ids = t.nodes.ids
        la, lb = len(ids[a]), len(ids[b])
        if any(ids[x][la:] != ids[y][lb:] for x, y in zip(ra.tolist(), rb.tolist(), strict=True)):
            return False
        extra = t.nodes.extra
        if extra:
            for x, y in zip(ra.tolist(), rb.tolist(), strict=True):
                if _attrs(extra.get(x)) != _attrs(extra.get(y)):
                    return False
        ptr, inc = self._incident
        links = np.unique(np.concatenate([inc[ptr[a] : ptr[a + s]], inc[ptr[b] : ptr[b + s]]]))
        before = self._records(links, self._end_a[links], self._end_b[links])
        ea = self.swap(a, b, self._end_a[links])
        eb = self.swap(a, b, self._end_b[links])
        return np.array_equal(before, self._records(links, ea, eb))

    def _records(self, links: np.ndarray, ea: np.ndarray, eb: np.ndarray) -> np.ndarray:
        simplex = self.t.links.simplex[links]
        lo = np.where(simplex, ea, np.minimum(ea, eb))
        hi = np.where(simplex, eb, np.maximum(ea, eb))
        rec = np.column_stack([lo, hi, self._record[links]])
        return rec[np.lexsort(rec.T[::-1])]

    def classes(self, group: int) -> dict[int, int]:
        """The members of sibling group ``group`` mapped to the first member of their class:
        members joined by verified transpositions (built on first use)."""
        hit = self._classes.get(group)
        if hit is not None:
            return hit
        members = self._groups[group]
        rep_of: dict[int, int] = {}
        reps: list[int] = []
        for m in members:
            for r in reps[:_MAX_TRIES]:
                if self.verify(r, m):
                    rep_of[m] = r
                    break
            else:
                reps.append(m)
                rep_of[m] = m
        self._classes[group] = rep_of
        return rep_of

    # -- canonical forms --------------------------------------------------------------------

    def canonical(
        self, components: Sequence[int], links: Sequence[int]
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The canonical form of the failure of ``components`` and ``links`` (rows): sorted
        component rows and link rows of a case that verified transpositions map it onto.

        Level by level from the top, the instances the case involves in each class of
        symmetric siblings are moved, in index order, onto the first members of the class."""
        comp = [int(r) for r in components]
        links = [int(e) for e in links]
        ends_a, ends_b = self._ends
        rows = comp + [ends_a[e] for e in links] + [ends_b[e] for e in links]
        if not rows:
            return (), ()
        size = self._lists[2]
        chains = [self._chain(r) for r in rows]
        for d in range(max(len(c) for c in chains)):
            involved = sorted({c[d] for c in chains if len(c) > d})
            by_class: dict[tuple[int, int], list[int]] = {}
            for x in involved:
                g = self._group_list[x]
                if g >= 0:
                    by_class.setdefault((g, self.classes(g)[x]), []).append(x)
            moved = False
            for (g, rep), xs in sorted(by_class.items()):
                if len(xs) == 1 and xs[0] == rep:
                    continue
                # Targets are the first members of the class; xs ascending, so no target is an
                # instance still to be moved (each swap is a product of verified ones).
                members = self._members(g, rep)
                for target, x in zip(members, xs, strict=False):
                    if x != target:
                        s = size[x]
                        rows = [
                            r - x + target
                            if x <= r < x + s
                            else r - target + x
                            if target <= r < target + s
                            else r
                            for r in rows
                        ]
                        moved = True
            if moved:
                chains = [self._chain(r) for r in rows]
        nc, k = len(comp), len(links)
        new_links = [self._link_at(e, rows[nc + i], rows[nc + k + i]) for i, e in enumerate(links)]
        return tuple(sorted(rows[:nc])), tuple(sorted(new_links))

    def _chain(self, r: int) -> tuple[int, ...]:
        """The ancestors of row ``r`` from the top level down, ``r`` last."""
        hit = self._chains.get(r)
        if hit is None:
            p = self._lists[1][r]
            hit = self._chains[r] = (self._chain(p) if p >= 0 else ()) + (r,)
        return hit

    def _members(self, g: int, rep: int) -> list[int]:
        key = (g, rep)
        hit = self._member_lists.get(key)
        if hit is None:
            rep_of = self.classes(g)
            hit = self._member_lists[key] = [m for m in self._groups[g] if rep_of[m] == rep]
        return hit

    def _link_at(self, e: int, a: int, b: int) -> int:
        """The link joining ``a`` and ``b`` that corresponds to link ``e`` (same attributes,
        same rank among parallel twins)."""
        records = self._record_list
        if self._lookup is None:
            lookup: dict[tuple, list[int]] = {}
            ea, eb = self._ends
            for row in range(len(ea)):
                lookup.setdefault((ea[row], eb[row], records[row]), []).append(row)
            self._lookup = lookup
        if not self._simplex[e]:
            a, b = min(a, b), max(a, b)
        ea, eb = self._ends
        twins = self._lookup[(ea[e], eb[e], records[e])]
        return self._lookup[(a, b, records[e])][twins.index(e)]


def _attrs(d) -> dict:
    if not d:
        return {}
    return {k: v for k, v in d.items() if k != "meta"}


def _extents(t: Topology) -> tuple[np.ndarray, np.ndarray]:
    """Subtree size of every row, and whether its subtree is the rows ``[r, r + size)``."""
    n = t.num_nodes
    parent = t.nodes.parent.astype(np.int64)
    depth = t.depth
    size = np.ones(n, dtype=np.int64)
    last = np.arange(n, dtype=np.int64)
    first = np.arange(n, dtype=np.int64)
    for d in range(int(depth.max()) if n else 0, 0, -1):
        rows = np.flatnonzero(depth == d)
        p = parent[rows]
        np.add.at(size, p, size[rows])
        np.maximum.at(last, p, last[rows])
        np.minimum.at(first, p, first[rows])
    contiguous = (first == np.arange(n)) & (last - first + 1 == size)
    return size, contiguous


def _sibling_groups(t: Topology):
    """Groups of sibling instances (same parent, same array name, same definition and
    arguments), members in index order; each row's group (-1: none) and index."""
    ids = t.nodes.ids
    parent = t.nodes.parent.tolist()
    template = t.nodes.template.tolist()
    kind = t.nodes.kind.tolist()
    key_of: dict[tuple, int] = {}
    members: list[list[tuple[int, int]]] = []
    group_of = np.full(t.num_nodes, -1, dtype=np.int64)
    index_of = np.full(t.num_nodes, -1, dtype=np.int64)
    for r, name in enumerate(ids):
        if template[r] < 0:
            continue
        m = _INDEXED.fullmatch(name.rpartition(".")[2])
        if m is None:
            continue
        key = (parent[r], m.group(1), template[r], kind[r])
        g = key_of.setdefault(key, len(members))
        if g == len(members):
            members.append([])
        members[g].append((int(m.group(2)), r))
        group_of[r] = g
        index_of[r] = int(m.group(2))
    groups = [[r for _, r in sorted(ms)] for ms in members]
    for ms in groups:
        if len(ms) < 2:
            group_of[ms] = -1
    return groups, group_of, index_of


def _incidence(t: Topology) -> tuple[np.ndarray, np.ndarray]:
    """Links at every row as CSR arrays ``(ptr, links)``, rows in order."""
    L = t.links
    ends = np.concatenate([L.src, L.dst]).astype(np.int64)
    link = np.concatenate([np.arange(len(L.src)), np.arange(len(L.src))])
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(t.num_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=t.num_nodes), out=ptr[1:])
    return ptr, link[order]


def _link_records(t: Topology) -> np.ndarray:
    """Per link, the attributes an automorphism must keep, as one float row each."""
    L = t.links
    return np.column_stack(
        [
            L.simplex.astype(np.float64),
            L.half_duplex.astype(np.float64),
            L.type.astype(np.float64),
            L.bandwidth,
            L.latency,
            L.lanes,
        ]
    )
