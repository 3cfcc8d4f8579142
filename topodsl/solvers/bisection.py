"""Bisection bandwidth: the cheapest cut that splits the endpoints into two equal halves.

Definition (see ``docs/solvers.md``): over the endpoint set E (default: every GPU), the
minimum, over splits of E into two halves whose sizes differ by at most one, of the total
capacity, in one direction, of the links (and device limits) that must be cut to separate the
halves. Every other component falls on whichever side is cheaper. Units: bytes per second, per
direction; the bidirectional figures are labelled as such.

Exact minimum bisection is NP-hard, so the solver reports two bounds and says which method
gave each:

* **upper bound** -- the cheapest of several candidate splits of the endpoints (half the
  containment hierarchy, the fabric generators' own structure, METIS partitions with several
  seeds, the spectral order), each measured *exactly* by a max flow between its two halves, so
  the value is a real cut whose links are reported;
* **lower bound** -- the best of several certificates, each valid for every balanced split:
  exhaustive search (small n), the closed form of a recognised fabric generator, a star bound
  for switches that reach most endpoints, a hose-routing flow through hub switches, and a
  spectral bound.

``exact`` is True only when the two bounds meet.

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> _ = b.add_node("sw", "nvswitch")
>>> for i in range(8):
...     _ = b.add_node(f"gpu{i}", "gpu")
...     _ = b.add_link(f"gpu{i}", "sw", bandwidth=450e9)
>>> r = bisection(b.build())
>>> r.lower_bound / 1e12, r.upper_bound / 1e12, r.exact     # 4 GPUs x 450 GB/s
(1.8, 1.8, True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from ..progress import Progress, report
from ..topology import Topology
from ..units import BANDWIDTH, format_quantity
from .flow import (
    _ARC_LINK,
    CutItem,
    TerminalCuts,
    max_flow,
    prune_for_terminals,
    sorted_unique,
)
from .forwarding import TRANSIT, forwarding_plan

__all__ = ["BisectionResult", "Bound", "bisection", "resolve_endpoints", "EXHAUSTIVE_LIMIT"]

#: Exhaustive search over every balanced split runs up to this many endpoints.
EXHAUSTIVE_LIMIT = 14
# Relative tolerance under which the bounds are taken to meet (float rounding only).
_TOL = 1e-9
# Work budgets (array elements touched) for the optional certificates.
_EXHAUSTIVE_WORK = 6e7
_HOSE_BUDGET = 3e8
_SPECTRAL_MAX_ENDPOINTS = 1500
_SPECTRAL_MAX_WORK = 2e7  # endpoints x other components (a dense block of that many floats)
_METIS_MAX_SEEDS_LARGE = 2


@dataclass(frozen=True, slots=True)
class Bound:
    """One bound tried: which method, its value (B/s, per direction), and a note."""

    method: str
    value: float
    note: str = ""

    def to_dict(self) -> dict:
        """JSON-ready form."""
        out = {"method": self.method, "value": self.value}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class BisectionResult:
    """Bisection bandwidth of a topology over a set of endpoints.

    Attributes
    ----------
    endpoints : int
        Number of endpoints bisected.
    lower_bound, upper_bound : float
        Bounds on the bisection bandwidth, B/s, **per direction**.
    exact : bool
        True only when the two bounds meet (then ``lower_bound == upper_bound``).
    cut : tuple of CutItem
        The links and devices cut by the witness split (their capacities sum to
        ``upper_bound``), crossing from the first half to the second.
    halves : (tuple of str, tuple of str)
        The witness split, as endpoint ids: the first half sends, the second receives.
    half_rows : (numpy array, numpy array)
        The same halves as node rows.
    lower_method, upper_method : str
        The method that gave each bound.
    bidirectional_lower_bound, bidirectional_upper_bound : float
        Both directions added together (B/s): twice the per-direction lower bound, and the
        witness's cut capacity from the first half to the second plus from the second to the
        first. Vendors' "aggregate" figures are usually both directions *and* all ports (total
        injection), which is neither.
    lower_bounds, upper_bounds : tuple of Bound
        Every certificate and every candidate split tried, best first.
    seconds : float
        Time taken.
    """

    endpoints: int
    lower_bound: float
    upper_bound: float
    exact: bool
    cut: tuple[CutItem, ...]
    halves: tuple[tuple[str, ...], tuple[str, ...]]
    half_rows: tuple[np.ndarray, np.ndarray]
    lower_method: str
    upper_method: str
    bidirectional_lower_bound: float
    bidirectional_upper_bound: float
    lower_bounds: tuple[Bound, ...] = ()
    upper_bounds: tuple[Bound, ...] = ()
    seconds: float = field(default=0.0, compare=False)

    @property
    def gap(self) -> float:
        """Upper over lower bound (1.0 when exact; ``inf`` when the lower bound is 0)."""
        if self.upper_bound == self.lower_bound:
            return 1.0
        return self.upper_bound / self.lower_bound if self.lower_bound > 0 else math.inf


def resolve_endpoints(topology: Topology, endpoints=None) -> np.ndarray:
    """Rows of the endpoints: every GPU by default, a selector string, or rows / ids.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("a", "gpu"); _ = b.add_node("b", "cpu")
    >>> resolve_endpoints(b.build()).tolist(), resolve_endpoints(b.build(), "kind:cpu").tolist()
    ([0], [1])
    """
    if endpoints is None:
        rows = topology.rows_of_kind("gpu")
        if len(rows) == 0:
            raise SolverError(
                "the topology has no gpu to bisect; choose the endpoints, e.g. --endpoints "
                "'kind:cpu' or a glob such as 'pod.node*.gpu*'"
            )
        return rows.astype(np.int64)
    if isinstance(endpoints, str):
        rows = topology.select(endpoints)
        if len(rows) == 0:
            raise SolverError(f"the endpoint selector {endpoints!r} matches no component")
        return rows.astype(np.int64)
    items = list(endpoints)
    if items and isinstance(items[0], str):
        rows = np.array([topology.index(s) for s in items], dtype=np.int64)
    else:
        rows = np.asarray(items, dtype=np.int64)
    if len(rows) == 0:
        raise SolverError("the endpoint selection is empty")
    if rows.min() < 0 or rows.max() >= topology.num_nodes:
        raise SolverError("an endpoint row is out of range")
    rows = sorted_unique(rows)
    return rows


def _endpoint_groups(topology: Topology, E: np.ndarray):
    """Which endpoint (position in E) each row belongs to, the flow terminals, their group,
    and each terminal's share of its group's traffic.

    A row belongs to its nearest endpoint ancestor-or-self (-1 for none). Terminals are the
    endpoint rows and every member with a link leaving its group; a terminal's share is its
    part of the group's outside-link capacity.
    """
    n = topology.num_nodes
    parent = topology.nodes.parent.astype(np.int64)
    owner = np.full(n, -1, dtype=np.int64)
    owner[E] = np.arange(len(E))
    direct = owner.copy()
    cur = parent.copy()
    pending = np.flatnonzero((owner < 0) & (cur >= 0))
    while len(pending):
        hit = direct[cur[pending]]
        found = hit >= 0
        owner[pending[found]] = hit[found]
        pending = pending[~found]
        cur[pending] = parent[cur[pending]]
        pending = pending[cur[pending] >= 0]
    L = topology.links
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    gs, gd = owner[src], owner[dst]
    leaving = gs != gd
    ext = np.zeros(n)
    m = leaving & (gs >= 0)
    np.add.at(ext, src[m], L.bandwidth[m])
    m = leaving & (gd >= 0)
    np.add.at(ext, dst[m], L.bandwidth[m])
    members = np.flatnonzero((owner >= 0) & (ext > 0))
    terms = sorted_unique(np.concatenate([E, members]))
    group = owner[terms]
    total = np.bincount(group, weights=ext[terms], minlength=len(E))
    share = np.divide(ext[terms], total[group], out=np.zeros(len(terms)), where=total[group] > 0)
    return owner, terms, group, share


def bisection(
    topology: Topology,
    endpoints: str | Sequence[int] | Sequence[str] | np.ndarray | None = None,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3),
    backend: str = "scipy",
    exhaustive_limit: int = EXHAUSTIVE_LIMIT,
    forwarding: str = "hardware",
    progress: Progress | None = None,
) -> BisectionResult:
    """Bisection bandwidth of ``topology`` over ``endpoints``, per direction, with bounds.

    Parameters
    ----------
    topology : Topology
    endpoints : None (every GPU), a selector string (``"kind:gpu"``, ``"pod.node*.gpu*"``),
        or node rows or ids.
    seeds : METIS seeds for the partitioner candidates (fewer are used on very large graphs).
    backend : ``"scipy"`` (default) or ``"networkx"`` (slow; measures each candidate split with
        NetworkX's preflow-push, for cross-checking).
    exhaustive_limit : up to this many endpoints every balanced split is tried (exact answer).
    forwarding : the forwarding model of the flow network, ``"hardware"`` (default) or
        ``"ideal"`` (see :mod:`topodsl.solvers.forwarding`).
    progress : a :data:`topodsl.progress.Progress` callback, told of each split measured
        (``"bisection: every balanced split"``, ``"bisection: candidate splits"``).

    Returns
    -------
    BisectionResult

    Raises
    ------
    SolverError
        No endpoints, an unknown backend, or capacities the flow backend cannot represent.

    Examples
    --------
    A ring of 6 GPUs: any bisection cuts two links.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for i in range(6):
    ...     _ = b.add_node(f"g{i}", "gpu")
    >>> for i in range(6):
    ...     _ = b.add_link(f"g{i}", f"g{(i + 1) % 6}", bandwidth=25e9)
    >>> r = bisection(b.build())
    >>> r.upper_bound / 1e9, r.exact, r.lower_method
    (50.0, True, 'exhaustive')
    >>> len(r.cut), r.bidirectional_upper_bound / 1e9
    (2, 100.0)
    """
    t0 = time.perf_counter()
    if backend not in ("scipy", "networkx"):
        raise SolverError(f"unknown max-flow backend {backend!r} (use 'scipy' or 'networkx')")
    E = resolve_endpoints(topology, endpoints)
    solver = _Bisector(topology, E, backend, forwarding)
    solver.progress = progress
    if len(E) == 1:
        return solver.trivial(t0)
    if len(E) <= exhaustive_limit and solver.small_enough_for_exhaustive():
        solver.exhaustive()
        return solver.result(t0)
    solver.cheap_certificates()
    solver.structural_candidates()
    if not solver.done():
        solver.hose_certificates()
    if not solver.done():
        solver.rail_candidate()
    if not solver.done():
        solver.partitioner_candidates(seeds)
    if not solver.done():
        solver.spectral()
    return solver.result(t0)


# -- the solver state ----------------------------------------------------------------------------


@dataclass
class _Witness:
    value: float
    first: np.ndarray  # bool over endpoints: the sending half
    cut: object
    method: str
    reverse: float  # cut capacity from the second half to the first


class _Bisector:
    progress: Progress | None = None

    def __init__(self, topology: Topology, E: np.ndarray, backend: str, forwarding: str):
        self.t = topology
        self.E = E
        self.n = len(E)
        self.lo = self.n // 2
        self.hi = self.n - self.lo
        self.backend = backend
        # Each endpoint is a group: its row and everything inside it (a GPU package with its
        # chiplets); the members with links leaving the group are the flow terminals.
        self.owner, self.terms, self.tgroup, self.share = _endpoint_groups(topology, E)
        self.keep = prune_for_terminals(topology, self.terms)
        # The rows an edge-cut certificate (star, spectral) may route through: the endpoints'
        # members and the components that forward traffic. Memory, storage, GPUs that are not
        # endpoints, chiplets of other packages and CXL switches (host <-> device only) carry no
        # transit a cut argument could count; leaving them out only removes paths (sound).
        klass = forwarding_plan(topology, forwarding).klass
        self.transit = klass == TRANSIT
        self.relays = self.keep & ((self.owner >= 0) | self.transit)
        self.tc = TerminalCuts(topology, self.terms, self.keep, self.tgroup, forwarding)
        self.net = self.tc.net
        self.symmetric = self.tc.symmetric
        self.best: _Witness | None = None
        self.lower = 0.0
        self.lower_method = "none"
        self.lowers: list[Bound] = []
        self.uppers: list[Bound] = []
        self._seen: set[bytes] = set()
        self._order: np.ndarray | None = None
        self._from_e: np.ndarray | None = None

    # -- bookkeeping ----------------------------------------------------------------------------

    def add_lower(self, method: str, value: float, note: str = "") -> None:
        value = max(0.0, float(value))
        self.lowers.append(Bound(method, value, note))
        if value > self.lower:
            self.lower, self.lower_method = value, method

    def done(self) -> bool:
        return self.best is not None and self.best.value <= self.lower * (1 + _TOL)

    def measure(self, first: np.ndarray) -> tuple[float, object]:
        """Exact min cut from the ``first`` endpoints to the others."""
        if self.backend == "networkx":
            r = max_flow(
                self.t,
                self.terms[first[self.tgroup]],
                self.terms[~first[self.tgroup]],
                backend="networkx",
                source_limit=np.inf,
                sink_limit=np.inf,
            )
            return r.cut_capacity, r
        c = self.tc.cut(first)
        return c.value, c

    def try_split(self, first: np.ndarray, method: str) -> float:
        """Measure a candidate split (both directions when the network is not symmetric)."""
        first = np.asarray(first, dtype=bool)
        key = np.packbits(first).tobytes()
        if key in self._seen:
            return math.inf
        self._seen.add(key)
        self._seen.add(np.packbits(~first).tobytes())
        value, cut = self.measure(first)
        back, back_cut = (value, None) if self.symmetric else self.measure(~first)
        if not self.symmetric and back < value:
            value, back, cut, first = back, value, back_cut, ~first
        self.uppers.append(Bound(method, value))
        report(self.progress, "bisection: candidate splits", len(self.uppers))
        if self.best is None or value < self.best.value:
            self.best = _Witness(value, first.copy(), cut, method, back)
        return value

    def split_by_order(self, order: np.ndarray) -> np.ndarray:
        """The first ``floor(n/2)`` endpoints of ``order`` (positions into E) as the first half."""
        first = np.zeros(self.n, dtype=bool)
        first[order[: self.lo]] = True
        return first

    # -- small cases ----------------------------------------------------------------------------

    def trivial(self, t0: float) -> BisectionResult:
        self.add_lower("single endpoint", 0.0)
        first = np.zeros(1, dtype=bool)
        self.best = _Witness(0.0, first, None, "single endpoint", 0.0)
        return self.result(t0)

    def small_enough_for_exhaustive(self) -> bool:
        n = self.n
        splits = (
            math.comb(n - 1, self.lo - 1)
            if self.symmetric and n % 2 == 0
            else math.comb(n, self.lo)
        )
        size = self.net.num_vertices + len(self.net.tail)
        return splits * size * (1 if self.symmetric else 2) <= _EXHAUSTIVE_WORK

    def exhaustive(self) -> None:
        n, lo = self.n, self.lo
        count = 0
        if self.symmetric and n % 2 == 0:
            subsets = ((0,) + c for c in combinations(range(1, n), lo - 1))
        else:
            subsets = combinations(range(n), lo)
        best_value = math.inf
        best_first = None
        splits = math.comb(n - 1, lo - 1) if self.symmetric and n % 2 == 0 else math.comb(n, lo)
        total = splits * (1 if self.symmetric else 2)  # max flows to measure
        for subset in subsets:
            first = np.zeros(n, dtype=bool)
            first[list(subset)] = True
            for f in (first,) if self.symmetric else (first, ~first):
                nx_ = self.backend == "networkx"
                v = self.measure(f)[0] if nx_ else self.tc.flow_value(f)
                count += 1
                report(self.progress, "bisection: every balanced split", count, total)
                if v < best_value:
                    best_value, best_first = v, f
        assert best_first is not None
        self.try_split(best_first, "exhaustive")
        # Each max flow is at most its split's cut, so the smallest is a valid lower bound.
        self.add_lower("exhaustive", best_value, f"all {count} balanced splits measured")

    # -- lower bounds: cheap certificates -------------------------------------------------------

    def cheap_certificates(self) -> None:
        for bound in _fabric_certificates(self.t, self.E, self.owner):
            self.add_lower(bound.method, bound.value, bound.note)
        value, note = _star_bound(self.t, self.net, self.owner, self.n, self.lo, self.transit)
        if value > 0:
            self.add_lower("star", value, note)

    # -- upper bounds: structural candidates ----------------------------------------------------

    def dfs_order(self) -> np.ndarray:
        """Endpoints in containment order (pods, then racks, then nodes...), as positions."""
        if self._order is None:
            self._order = _containment_order(self.t, self.E)
        return self._order

    def structural_candidates(self) -> None:
        order = self.dfs_order()
        self.try_split(self.split_by_order(order), "hierarchy")
        if self.done():
            return
        from ..fabrics import natural_split

        for info in self.t.fabrics:
            if len(info.hosts) < 2:
                continue
            try:
                labels = natural_split(info.generator, len(info.hosts), info.params)
            except (ValueError, KeyError):
                continue
            projected = _project_labels(self.t, self.E, info.hosts, labels)
            if projected is None:
                continue
            rank = np.empty(self.n, dtype=np.int64)
            rank[order] = np.arange(self.n)
            split = self.split_by_order(np.lexsort((rank, projected)))
            self.try_split(split, f"fabric {info.name} ({info.generator})")
            if self.done():
                return

    def rail_candidate(self) -> None:
        """Split every parent's endpoints in half (the first GPUs of each node on one side)."""
        order = self.dfs_order()
        position = _sibling_position(self.t, self.E)
        rank = np.empty(self.n, dtype=np.int64)
        rank[order] = np.arange(self.n)
        self.try_split(self.split_by_order(np.lexsort((rank, position))), "hierarchy (rails)")

    # -- lower bound: hose routing through hubs -------------------------------------------------

    def from_endpoints(self) -> np.ndarray:
        """Hop distance of every network vertex from the nearest endpoint."""
        if self._from_e is None:
            self._from_e = _bfs(
                _csr(self.net, reverse=False), self.net.vout[self.terms], self.net.num_vertices
            )
        return self._from_e

    def hose_certificates(self) -> None:
        sends = np.bincount(self.tgroup, weights=self.share, minlength=self.n)
        if np.any(sends <= 0):
            return  # an endpoint with no link out of itself: nothing to certify
        sets = list(_hub_sets(self.t, self.net, self.owner, self.keep, self.from_endpoints()))
        # First every hub set that one pass can route (cheap), then hub by hub, smallest first.
        slow = []
        for name, hubs in sets:
            rate = _hose_rate(
                self.net, self.terms, self.share, hubs, self.symmetric, self.from_endpoints(), False
            )
            if rate is None:
                slow.append((name, hubs))
                continue
            self._add_hose(rate, name, hubs)
            if self.done():
                return
        for name, hubs in sorted(slow, key=lambda x: len(x[1])):
            rate = _hose_rate(
                self.net, self.terms, self.share, hubs, self.symmetric, self.from_endpoints(), True
            )
            if rate is not None:
                self._add_hose(rate, name, hubs)
            if self.done():
                return

    def _add_hose(self, rate: float, name: str, hubs: np.ndarray) -> None:
        if rate > 0:
            self.add_lower(
                "hose",
                self.lo * rate,
                f"every endpoint can send and receive {format_quantity(rate, BANDWIDTH)} at once "
                "via "
                f"{len(hubs)} {name}",
            )

    # -- upper bound: graph partitioner ---------------------------------------------------------

    def partitioner_candidates(self, seeds: Sequence[int]) -> None:
        graph = _metis_graph(self.t, self.keep, self.E, self.owner)
        if graph is None:
            return
        seeds = list(seeds)
        if self.net.num_vertices > 200_000:
            seeds = seeds[:_METIS_MAX_SEEDS_LARGE]
        for seed in seeds:
            first = _metis_split(graph, seed, self.lo)
            if first is None:
                continue
            self.try_split(first, f"metis (seed {seed})")
            if self.done():
                return

    # -- spectral bound and order ---------------------------------------------------------------

    def spectral(self) -> None:
        others = int(self.relays.sum()) - self.n
        if self.n > _SPECTRAL_MAX_ENDPOINTS or self.n * others > _SPECTRAL_MAX_WORK:
            return
        got = _spectral(self.t, self.relays, self.E, self.owner)
        if got is None:
            return
        mu2, fiedler = got
        self.add_lower(
            "spectral",
            mu2 * self.lo * self.hi / self.n,
            f"second eigenvalue {format_quantity(mu2, BANDWIDTH)} of the Laplacian reduced to "
            "the endpoints",
        )
        if not self.done():
            self.try_split(self.split_by_order(np.argsort(fiedler, kind="stable")), "spectral")

    # -- the answer -----------------------------------------------------------------------------

    def result(self, t0: float) -> BisectionResult:
        w = self.best
        assert w is not None
        upper = w.value
        lower = self.lower
        if lower > upper * (1 + _TOL) + 1e-6:
            raise SolverError(
                f"bisection bounds contradict each other (lower {lower:.6g} > upper "
                f"{upper:.6g} B/s, from {self.lower_method} and {w.method}); this is a bug, "
                "please report it"
            )
        exact = upper <= lower * (1 + _TOL)
        if exact:
            lower = upper
        if w.cut is None:
            cut: tuple[CutItem, ...] = ()
        elif self.backend == "networkx":
            cut = tuple(w.cut.cut)
        else:
            cut = self.tc.cut_items(w.cut)
        first_rows = self.E[w.first]
        second_rows = self.E[~w.first]
        ids = self.t.nodes.ids
        return BisectionResult(
            endpoints=self.n,
            lower_bound=float(lower),
            upper_bound=float(upper),
            exact=bool(exact),
            cut=cut,
            halves=(tuple(ids[r] for r in first_rows), tuple(ids[r] for r in second_rows)),
            half_rows=(first_rows, second_rows),
            lower_method=self.lower_method if upper > 0 else "a cut of zero needs no proof",
            upper_method=w.method,
            bidirectional_lower_bound=2.0 * float(lower),
            bidirectional_upper_bound=float(upper + w.reverse),
            lower_bounds=tuple(sorted(self.lowers, key=lambda b: (-b.value, b.method))),
            upper_bounds=tuple(sorted(self.uppers, key=lambda b: (b.value, b.method))),
            seconds=time.perf_counter() - t0,
        )


# -- containment helpers -------------------------------------------------------------------------


def _ancestor_columns(topology: Topology, rows: np.ndarray) -> list[np.ndarray]:
    """For each depth d (0 = top), the ancestor of each row at that depth (or the row)."""
    parent = topology.nodes.parent
    chain = [rows]
    cur = rows
    while True:
        up = parent[cur]
        if not np.any(up >= 0):
            break
        cur = np.where(up >= 0, up, cur)
        chain.append(cur)
    # chain[k] is k levels up (clamped at the top); reverse so column 0 is the top.
    return chain[::-1]


def _containment_order(topology: Topology, E: np.ndarray) -> np.ndarray:
    """Positions of E sorted by their ancestor chain (pods, racks, nodes...), then by row."""
    cols = _ancestor_columns(topology, E)
    # np.lexsort sorts by the last key first.
    return np.lexsort((E, *cols[::-1])) if len(cols) > 1 else np.argsort(E, kind="stable")


def _sibling_position(topology: Topology, E: np.ndarray) -> np.ndarray:
    """Index of each endpoint among the endpoints sharing its parent, as a fraction."""
    parent = topology.nodes.parent[E].astype(np.int64)
    order = np.lexsort((E, parent))
    pos = np.empty(len(E))
    sp_ = parent[order]
    starts = np.r_[0, np.flatnonzero(sp_[1:] != sp_[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(E)])
    group_start = np.repeat(starts, sizes)
    group_size = np.repeat(sizes, sizes)
    pos[order] = (np.arange(len(E)) - group_start) / np.maximum(group_size, 1)
    return pos


def _project_labels(topology: Topology, E: np.ndarray, hosts: np.ndarray, labels: np.ndarray):
    """Carry 0/1 labels of fabric hosts to the endpoints: own label, else the mean label of
    directly linked hosts, else that of the nearest container holding labelled hosts."""
    n = topology.num_nodes
    hosts = np.asarray(hosts, dtype=np.int64)
    total = np.zeros(n)
    count = np.zeros(n)
    np.add.at(total, hosts, labels)
    np.add.at(count, hosts, 1.0)
    out = np.full(len(E), np.nan)
    own = count[E] > 0
    out[own] = total[E][own] / count[E][own]
    if np.all(own):
        return out
    # Linked hosts.
    L = topology.links
    is_host = count > 0
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    lt = np.zeros(n)
    lc = np.zeros(n)
    m = is_host[dst]
    np.add.at(lt, src[m], total[dst[m]] / count[dst[m]])
    np.add.at(lc, src[m], 1.0)
    m = is_host[src]
    np.add.at(lt, dst[m], total[src[m]] / count[src[m]])
    np.add.at(lc, dst[m], 1.0)
    linked = np.isnan(out) & (lc[E] > 0)
    out[linked] = lt[E][linked] / lc[E][linked]
    if not np.any(np.isnan(out)):
        return out
    # Containers: accumulate host labels upwards.
    parent = topology.nodes.parent
    up_t, up_c = total.copy(), count.copy()
    cur = hosts
    vals, cnts = total[hosts], count[hosts]
    while len(cur):
        par = parent[cur]
        ok = par >= 0
        cur, vals, cnts = par[ok], vals[ok], cnts[ok]
        np.add.at(up_t, cur, vals)
        np.add.at(up_c, cur, cnts)
    missing = np.flatnonzero(np.isnan(out))
    cur = E[missing].copy()
    for _ in range(64):
        if len(missing) == 0:
            break
        cur = parent[cur]
        ok = cur >= 0
        missing, cur = missing[ok], cur[ok]
        found = up_c[cur] > 0
        out[missing[found]] = up_t[cur[found]] / up_c[cur[found]]
        missing, cur = missing[~found], cur[~found]
    if np.all(np.isnan(out)):
        return None
    return np.where(np.isnan(out), 0.5, out)


# -- certificates ----------------------------------------------------------------------------


def _fabric_certificates(topology: Topology, E: np.ndarray, owner: np.ndarray) -> list[Bound]:
    """Closed-form bounds for fabrics that are exactly a generator's output."""
    from ..fabrics import GENERATORS, closed_form_bisection, plan_fabric

    out: list[Bound] = []
    E_set = np.sort(E)
    L = topology.links
    bw = topology.nodes.bandwidth
    for info in topology.fabrics:
        hosts = np.asarray(info.hosts, dtype=np.int64)
        H = len(hosts)
        if H < 2 or info.generator not in GENERATORS:
            continue
        args = {k: v for k, v in info.params.items() if k in GENERATORS[info.generator].args}
        try:
            plan = plan_fabric(info.generator, H, args)
        except ValueError:
            continue
        switches = np.asarray(info.switches, dtype=np.int64)
        links = np.asarray(info.links, dtype=np.int64)
        if len(switches) != plan.num_switches or len(links) != plan.num_links:
            continue
        space = np.concatenate([hosts, switches])
        n_all = topology.num_nodes
        pa, pb = space[plan.a], space[plan.b]
        want = np.minimum(pa, pb) * n_all + np.maximum(pa, pb)
        ls, ld = L.src[links].astype(np.int64), L.dst[links].astype(np.int64)
        have = np.minimum(ls, ld) * n_all + np.maximum(ls, ld)
        w_order, h_order = np.argsort(want, kind="stable"), np.argsort(have, kind="stable")
        if not np.array_equal(want[w_order], have[h_order]):
            continue
        if np.any(L.simplex[links]):
            continue
        role_of_link = np.empty(len(links), dtype=np.int64)
        role_of_link[h_order] = plan.role[w_order]
        link_bw = L.bandwidth[links]
        capacity = {}
        for r, name in enumerate(plan.roles):
            sel = role_of_link == r
            if np.any(sel):
                capacity[name] = float(link_bw[sel].min())
        cf = closed_form_bisection(info.generator, H, plan.params, capacity)
        if cf.lower <= 0:
            continue
        # Device limits: scale the certifying flow down where a fabric node could not pass it.
        through = np.zeros(n_all)
        np.add.at(through, ls, link_bw)
        np.add.at(through, ld, link_bw)
        nodes = sorted_unique(space)
        limited = np.isfinite(bw[nodes]) & (through[nodes] > 0)
        scale = 1.0
        if np.any(limited):
            scale = min(1.0, float(np.min(bw[nodes][limited] / through[nodes][limited])))
        label = f"fabric {info.name} ({info.generator})"
        if np.array_equal(np.sort(hosts), E_set):
            note = cf.method + (f", scaled by {scale:.6g} for device limits" if scale < 1 else "")
            out.append(Bound(label, cf.lower * scale, note))
            continue
        if len(E) != H or np.any(owner[hosts] >= 0):
            continue
        private = _private_links(topology, owner, len(E), hosts, set(links.tolist()))
        if private is None:
            continue
        factor = min(scale, private / cf.host_rate) if cf.host_rate > 0 else scale
        note = (
            f"{cf.method}; each endpoint reaches its own host over a private link of at "
            f"least {format_quantity(private, BANDWIDTH)}"
        )
        out.append(Bound(label, cf.lower * min(1.0, factor), note))
    return out


def _private_links(topology: Topology, owner, n_groups, hosts, fabric_links: set[int]):
    """Smallest capacity of a one-to-one pairing of endpoints with hosts by direct links that
    are not fabric links (from any member of the endpoint), or None when there is none."""
    L = topology.links
    n = topology.num_nodes
    is_h = np.zeros(n, dtype=bool)
    is_h[hosts] = True
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    e_src, e_dst = owner[src], owner[dst]
    cand = ((e_src >= 0) & is_h[dst]) | (is_h[src] & (e_dst >= 0))
    cand &= ~L.simplex
    rows = np.flatnonzero(cand)
    rows = np.array([r for r in rows.tolist() if r not in fabric_links], dtype=np.int64)
    if len(rows) == 0:
        return None
    from_e = e_src[rows] >= 0
    e = np.where(from_e, e_src[rows], e_dst[rows])
    h = np.where(from_e, dst[rows], src[rows])
    key = e * n + h
    uniq, inv = sorted_unique(key, return_inverse=True)
    cap = np.bincount(inv, weights=L.bandwidth[rows])
    pe, ph = uniq // n, uniq % n
    # Each endpoint's best host; the pairing must be one-to-one and cover every endpoint.
    order = np.lexsort((-cap, pe))
    first = np.r_[True, pe[order][1:] != pe[order][:-1]]
    pick = order[first]
    if len(pick) != n_groups or len(sorted_unique(ph[pick])) != n_groups:
        return None
    return float(cap[pick].min())


def _star_bound(
    topology: Topology, net, owner: np.ndarray, n: int, lo: int, transit: np.ndarray
) -> tuple[float, str]:
    """Sum over forwarding components (``transit``) linked to most endpoints of their cheapest
    balanced share (a pooled CXL expander linked to every GPU is no switch).

    A switch joined to endpoints by links (c_1 <= c_2 <= ...) is cut for at least the
    ``floor(n/2)`` smallest of those capacities (counting 0 for endpoints it does not reach)
    in every balanced split, or its own limit if smaller. The links of different switches are
    disjoint, so the shares add up.
    """
    nv = net.num_vertices
    vert_row = np.full(nv, -1, dtype=np.int64)
    rows = np.flatnonzero(net.vin >= 0)
    vert_row[net.vin[rows]] = rows
    vert_row[net.vout[rows]] = rows
    links = net.what == _ARC_LINK
    tg, hg = owner[vert_row[net.tail]], owner[vert_row[net.head]]
    # Arcs from a non-endpoint j to an endpoint (out) and from an endpoint to j (in).
    out_m = links & (tg < 0) & (hg >= 0)
    in_m = links & (tg >= 0) & (hg < 0)
    tr, hr = vert_row[net.tail], vert_row[net.head]
    pairs = sorted_unique(tr[out_m] * n + hg[out_m])
    reach = np.bincount(pairs // n, minlength=topology.num_nodes)
    candidates = np.flatnonzero((reach > n - lo) & transit)
    total = 0.0
    used = 0
    for j in candidates.tolist():
        shares = []
        for mask, own, other in ((out_m, tr, hg), (in_m, hr, tg)):
            sel = mask & (own == j)
            per_e = np.bincount(other[sel], weights=net.capacity[sel], minlength=n)
            shares.append(float(np.sort(per_e)[:lo].sum()))
        share = min(shares)
        if np.isfinite(topology.nodes.bandwidth[j]):
            share = min(share, float(topology.nodes.bandwidth[j]))
        if share > 0:
            total += share
            used += 1
    return total, f"{used} switch(es) linked to more than half of the endpoints"


def _hub_sets(topology: Topology, net, owner: np.ndarray, keep: np.ndarray, from_e: np.ndarray):
    """Candidate hub sets for the hose certificate, most promising first.

    For each hop distance from the endpoints, farthest first, the components there whose link
    capacity is at least half the largest at that distance (spines, cores, the switch chips of
    a rack...); then the top switch group of each fabric generator; last, the endpoints
    themselves (Valiant routing, good for rings and tori).
    """
    rows = np.flatnonzero(keep & (owner < 0) & (net.vin >= 0))
    sets: list[tuple[float, str, np.ndarray]] = []
    if len(rows):
        links = net.what == _ARC_LINK
        incident = np.bincount(
            net.head[links], weights=net.capacity[links], minlength=net.num_vertices
        )
        cap = incident[net.vin[rows]]
        dist = from_e[net.vin[rows]]
        for d in sorted_unique(dist[(dist > 0) & (cap > 0)]).tolist():
            at = dist == d
            top = at & (cap >= 0.5 * cap[at].max())
            sets.append((-d, f"switches {d} hops out", rows[top]))
    sets.sort(key=lambda x: x[0])
    ordered = [(name, hubs) for _, name, hubs in sets]
    from ..fabrics import GENERATORS

    for info in topology.fabrics:
        if info.generator in GENERATORS and GENERATORS[info.generator].creates_switches:
            sw = np.asarray(info.switches, dtype=np.int64)
            if len(sw) and np.all(keep[sw]):
                last = _last_group(info)
                if last is not None and len(last):
                    ordered.append((f"{info.name} top switches", last))
    heads = np.flatnonzero(owner >= 0)
    heads = heads[keep[heads]]
    ordered.append(("endpoints (Valiant routing)", heads))
    seen: set[bytes] = set()
    for name, hubs in ordered:
        key = np.sort(hubs).tobytes()
        if key in seen:
            continue
        seen.add(key)
        yield name, np.sort(hubs)


def _last_group(info) -> np.ndarray | None:
    from ..fabrics import GENERATORS, plan_fabric

    args = {k: v for k, v in info.params.items() if k in GENERATORS[info.generator].args}
    try:
        plan = plan_fabric(info.generator, len(info.hosts), args)
    except ValueError:
        return None
    if not plan.groups or plan.num_switches != len(info.switches):
        return None
    size = plan.groups[-1][1]
    return np.asarray(info.switches, dtype=np.int64)[-size:]


def _csr(net, reverse: bool, mask: np.ndarray | None = None) -> sp.csr_array:
    t, h = (net.head, net.tail) if reverse else (net.tail, net.head)
    keep = net.capacity > 0 if mask is None else mask & (net.capacity > 0)
    nv = net.num_vertices
    return sp.csr_array(
        (np.ones(int(keep.sum()), dtype=np.int8), (t[keep], h[keep])), shape=(nv, nv)
    )


def _bfs(graph: sp.csr_array, starts: np.ndarray, n: int) -> np.ndarray:
    """Hop distance from the nearest of ``starts`` (-1 when unreachable), level by level."""
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


def _hop_distances(graph: sp.csr_array, targets: np.ndarray, n: int):
    """Hop distances from each of ``targets`` (rows) to every vertex, -1 when unreachable;
    yielded in chunks so that memory stays bounded."""
    from scipy.sparse.csgraph import shortest_path

    chunk = max(1, int(2e7 // max(n, 1)))
    for start in range(0, len(targets), chunk):
        part = targets[start : start + chunk]
        D = shortest_path(graph, method="D", unweighted=True, indices=part)
        D = np.atleast_2d(D)
        D[~np.isfinite(D)] = -1
        yield from D.astype(np.int32)


def _gather(net, tail, head, cap, dist, src_v, amount) -> np.ndarray | None:
    """Arc loads when every vertex in ``src_v`` sends ``amount`` to the vertex at distance 0
    of ``dist`` along shortest paths, split at each vertex in proportion to capacity.

    Returns None when some sending vertex cannot reach the target.
    """
    nv = net.num_vertices
    if np.any(dist[src_v] < 0):
        return None
    dt, dh = dist[tail], dist[head]
    dag = (dh >= 0) & (dt == dh + 1) & (cap > 0)
    load, _ = _push_down_levels(tail, head, cap, dag, dt, src_v, amount, nv)
    return load


def _push_down_levels(tail, head, cap, dag, level_of, src_v, amount, nv):
    """Send ``amount`` from each of ``src_v`` down the arcs of ``dag``, level by level from the
    farthest (``level_of`` is each arc's tail distance), each vertex splitting what reaches it
    over its DAG arcs in proportion to capacity. Returns the arc loads and the flow that
    reached every vertex."""
    arcs = np.flatnonzero(dag)
    level = level_of[arcs]
    # Levels are small integers: a stable sort on int16 is a radix sort.
    small = np.int16 if len(level) == 0 or level.max() < 32_000 else np.int32
    order = np.argsort((-level).astype(small), kind="stable")
    arcs, level = arcs[order], level[order]
    out_cap = np.bincount(tail[arcs], weights=cap[arcs], minlength=nv)
    f = np.zeros(nv)
    np.add.at(f, src_v, amount)
    load = np.zeros(len(tail))
    bounds = np.flatnonzero(np.r_[True, level[1:] != level[:-1], True]) if len(arcs) else []
    for s, e in zip(bounds[:-1], bounds[1:], strict=True):
        a = arcs[s:e]
        ta = tail[a]
        x = f[ta] * cap[a] / out_cap[ta]
        load[a] = x
        f += np.bincount(head[a], weights=x, minlength=nv)
    return load, f


def _hose_rate(
    net, terms, share, hubs: np.ndarray, symmetric: bool, from_e: np.ndarray, slow: bool = True
) -> float | None:
    """Largest rate r such that every endpoint can send r and receive r at once through the
    hubs (two-phase routing, each endpoint's traffic spread over the hubs in fixed shares).

    Then any balanced split admits a flow of floor(n/2) * r between its halves. An endpoint's
    traffic leaves from its terminals in proportion to ``share``. A hub's share is the
    capacity of its links towards the endpoints (``from_e`` is the hop distance from the
    endpoints); equal shares when no hub has such links (the endpoints themselves). None when
    one pass cannot route all hubs and ``slow`` is False, or routing hub by hub would exceed
    the work budget.
    """
    tail, head, cap = net.tail, net.head, net.capacity
    links = net.what == _ARC_LINK
    hv = net.vin[hubs]
    toward = links & (from_e[tail] >= 0) & (from_e[tail] < from_e[head])
    incident = np.bincount(head[toward], weights=cap[toward], minlength=net.num_vertices)
    weight = incident[hv]
    if not np.all(weight > 0):
        weight = np.ones(len(hubs))
    weight = weight / weight.sum()
    G = np.zeros(len(tail))
    S = np.zeros(len(tail))
    sending = share > 0
    e_out, e_in, amount = net.vout[terms[sending]], net.vin[terms[sending]], share[sending]
    used = 0.0
    targets = net.vout[hubs]
    fast = _equidistant_gather(net, e_out, amount, targets, weight) if symmetric else None
    if fast is not None:
        return _rate_from_loads(net, fast, fast, symmetric=True)
    if not slow:
        return None
    if len(hubs) * (len(tail) + net.num_vertices) * (1 if symmetric else 2) > _HOSE_BUDGET:
        return None
    rev = _csr(net, reverse=True)
    back = _hop_distances(_csr(net, reverse=False), targets, net.num_vertices)
    for w, dist in zip(
        weight.tolist(), _hop_distances(rev, targets, net.num_vertices), strict=True
    ):
        g = _gather(net, tail, head, cap, dist, e_out, w * amount)
        if not symmetric:
            # Scatter from the hub = gather on the reversed network, arriving at in-vertices.
            s = _gather(net, head, tail, cap, next(back), e_in, w * amount)
            if g is None or s is None:
                continue
            S += s
        if g is None:
            continue
        G += g
        used += w
    if used <= 0:
        return 0.0
    return _rate_from_loads(net, G / used, S / used, symmetric)


def _rate_from_loads(net, G, S, symmetric: bool) -> float:
    """The rate the loads allow: per arc, what sending endpoints put on it (G) plus what
    receiving endpoints draw through it (S; the reverse arc's G when the network is
    symmetric); a device carries max(G, S) (an endpoint sends or receives, not both)."""
    links = net.what == _ARC_LINK
    if symmetric:
        twin = _twin_arcs(net)
        M = np.where(links, G + np.where(twin >= 0, G[np.maximum(twin, 0)], 0.0), G)
    else:
        M = G + S
    busy = M > 1e-15
    if not np.any(busy):
        return 0.0
    return float(np.min(net.capacity[busy] / M[busy]))


def _equidistant_gather(net, src_v, amount, targets, weight) -> np.ndarray | None:
    """All hubs' gathers in one pass, when that gives the same loads as one pass per hub.

    Let D be the hop distance to the nearest hub, and route all traffic down the DAG of
    D-shortest paths. If every vertex this flow reaches next to a hub is next to *every* hub,
    then by induction each reached vertex's distance to any one hub is D and its shortest-path
    arcs towards that hub are its DAG arcs; so each per-hub routing carries that hub's share of
    the same flow down to the last hop, which alone differs (into that hub). Returns the summed
    loads, or None when the condition fails (the caller then routes hub by hub).
    """
    tail, head, cap = net.tail, net.head, net.capacity
    nv = net.num_vertices
    is_hub = np.zeros(nv, dtype=bool)
    is_hub[targets] = True
    if np.any(is_hub[src_v]):
        return None
    D = _bfs(_csr(net, reverse=True), targets, nv)
    if np.any(D[src_v] < 0):
        return None
    hub_of = np.full(nv, -1, dtype=np.int64)
    hub_of[targets] = np.arange(len(targets))
    last = (cap > 0) & is_hub[head] & ~is_hub[tail] & (D[tail] == 1)
    pairs = sorted_unique(tail[last] * len(targets) + hub_of[head[last]])
    per_vertex = np.bincount(pairs // len(targets), minlength=nv)
    dt, dh = D[tail], D[head]
    inner = (cap > 0) & (dh >= 1) & (dt == dh + 1)
    load, f = _push_down_levels(tail, head, cap, inner, dt, src_v, amount, nv)
    # Every vertex the flow reaches next to a hub must be next to all of them.
    ring1 = np.flatnonzero((D == 1) & ~is_hub & (f > 0))
    if np.any(per_vertex[ring1] != len(targets)):
        return None
    # Last hop: a vertex sends each hub its share, over its arcs into that hub by capacity.
    a = np.flatnonzero(last)
    z = hub_of[head[a]]
    key = tail[a] * len(targets) + z
    uniq, inv = sorted_unique(key, return_inverse=True)
    into = np.bincount(inv, weights=cap[a])
    load[a] = f[tail[a]] * weight[z] * cap[a] / into[inv]
    return load


def _twin_arcs(net) -> np.ndarray:
    """For each link arc, the arc of the same link in the other direction (-1 if none)."""
    links = np.flatnonzero(net.what == _ARC_LINK)
    key = net.ref[links] * 2 + net.forward[links].astype(np.int64)
    order = np.argsort(key)
    sk = key[order]
    twin = np.full(len(net.tail), -1, dtype=np.int64)
    want = key ^ 1
    pos = np.minimum(np.searchsorted(sk, want), len(sk) - 1)
    hit = sk[pos] == want
    twin[links[hit]] = links[order[pos[hit]]]
    return twin


# -- partitioner -----------------------------------------------------------------------------


def _contracted_index(topology: Topology, keep: np.ndarray, E: np.ndarray, owner: np.ndarray):
    """Vertex of every kept row once each endpoint's members are merged into the endpoint;
    endpoints come first (vertex i is endpoint i). -1 for rows left out."""
    rows = np.flatnonzero(keep & (owner < 0))
    index = np.full(topology.num_nodes, -1, dtype=np.int64)
    index[rows] = len(E) + np.arange(len(rows))
    member = keep & (owner >= 0)
    index[member] = owner[member]
    index[E] = np.arange(len(E))
    return index, len(E) + len(rows)


def _contracted_edges(topology: Topology, keep, E, owner):
    index, nv = _contracted_index(topology, keep, E, owner)
    L = topology.links
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    m = keep[src] & keep[dst]
    src, dst = src[m], dst[m]
    w = np.where(L.simplex[m], 0.0, L.bandwidth[m])
    a, b = index[src], index[dst]
    ok = (a != b) & (w > 0)
    return a[ok], b[ok], w[ok], src[ok], dst[ok], nv


def _metis_graph(topology: Topology, keep: np.ndarray, E: np.ndarray, owner: np.ndarray):
    a, b, w, src, dst, nv = _contracted_edges(topology, keep, E, owner)
    # A device limit caps every link through it, for the partitioner's purposes.
    lim = topology.nodes.bandwidth
    w = np.minimum(w, np.minimum(lim[src], lim[dst]))
    if len(a) == 0:
        return None
    scale = min(1e5 / w.max(), 2**29 / w.sum())
    wi = np.maximum(1, np.round(w * scale)).astype(np.int64)
    adj = sp.coo_array((np.r_[wi, wi], (np.r_[a, b], np.r_[b, a])), shape=(nv, nv)).tocsr()
    adj.sum_duplicates()
    adj.sort_indices()
    vw = np.zeros(nv, dtype=np.int64)
    vw[: len(E)] = 1
    return adj, vw, np.arange(len(E))


def _metis_split(graph, seed: int, lo: int) -> np.ndarray | None:
    import pymetis

    adj, vw, e_index = graph
    try:
        part = pymetis.part_graph(
            2,
            pymetis.CSRAdjacency(adj.indptr.astype(np.int64), adj.indices.astype(np.int64)),
            vweights=vw,
            eweights=np.asarray(adj.data, dtype=np.int64),
            options=pymetis.Options(seed=int(seed)),
        ).vertex_part
    except Exception:  # METIS can refuse odd inputs; the other candidates still stand
        return None
    part = np.asarray(part, dtype=np.int64)
    side = part[e_index] == 0
    return _rebalance(adj, part, e_index, side, lo)


def _rebalance(adj, part, e_index, side, lo) -> np.ndarray:
    """Move the endpoints that gain most until the first side holds exactly ``lo``."""
    count = int(side.sum())
    if count == lo:
        return side
    ind = (part == 0).astype(np.float64)
    to0 = adj @ ind
    to1 = adj @ (1.0 - ind)
    w0, w1 = to0[e_index], to1[e_index]
    if count > lo:
        # Move from side 0 to side 1: prefer those pulled most towards side 1.
        cand = np.flatnonzero(side)
        gain = w1[cand] - w0[cand]
        move = cand[np.argsort(-gain, kind="stable")[: count - lo]]
        side = side.copy()
        side[move] = False
    else:
        cand = np.flatnonzero(~side)
        gain = w0[cand] - w1[cand]
        move = cand[np.argsort(-gain, kind="stable")[: lo - count]]
        side = side.copy()
        side[move] = True
    return side


# -- spectral --------------------------------------------------------------------------------


def _spectral(topology: Topology, keep: np.ndarray, E: np.ndarray, owner: np.ndarray):
    """Second eigenvalue of the Laplacian reduced (Schur complement) to the endpoints, with a
    Fiedler vector. Weights: capacity both directions share, relaxed at limited devices (see
    ``docs/solvers.md``); each endpoint's members merged into it."""
    from scipy.linalg import eigh
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import splu

    a, b, w, src, dst, nv = _contracted_edges(topology, keep, E, owner)
    # Relax device limits: scale a limited device's links so that cutting all of them costs at
    # most its limit (a member of an endpoint is never cut, so only non-members count).
    n_rows = topology.num_nodes
    strength = np.bincount(src, weights=w, minlength=n_rows) + np.bincount(
        dst, weights=w, minlength=n_rows
    )
    lim = topology.nodes.bandwidth
    ratio = np.ones(n_rows)
    finite = np.isfinite(lim) & (strength > 0) & (owner < 0)
    ratio[finite] = np.minimum(1.0, lim[finite] / strength[finite])
    w = w * np.minimum(ratio[src], ratio[dst])
    pos = w > 0
    a, b, w = a[pos], b[pos], w[pos]
    n = len(E)
    W = sp.coo_array((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(nv, nv)).tocsr()
    W.sum_duplicates()
    deg = np.asarray(W.sum(axis=1)).ravel()
    Lap = sp.csr_array(sp.diags_array(deg) - W)
    e_idx = np.arange(n)
    others = np.arange(n, nv)
    L_EE = Lap[e_idx][:, e_idx].toarray()
    if len(others):
        # Other components with no weighted path to an endpoint carry nothing: drop them.
        _, comp = connected_components(W, directed=False)
        live = np.isin(comp, sorted_unique(comp[e_idx]))
        others = others[live[others]]
    if len(others):
        L_NN = Lap[others][:, others].tocsc()
        L_NE = Lap[others][:, e_idx].toarray()
        try:
            lu = splu(L_NN)
        except RuntimeError:
            return None
        S = L_EE - L_NE.T @ lu.solve(L_NE)
    else:
        S = L_EE
    S = (S + S.T) / 2
    scale = float(np.abs(S).max()) or 1.0
    vals, vecs = eigh(S / scale)
    if len(vals) < 2:
        return None
    # Guard against rounding in the solve and the eigensolver (both backward stable: errors of
    # a few ulps of the largest entry).
    mu2 = max(0.0, float(vals[1]) * scale - 1e-12 * len(vals) * scale)
    return mu2, vecs[:, 1]
