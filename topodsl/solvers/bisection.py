"""Bisection bandwidth: the cheapest cut that splits the endpoints into two equal halves.

Definition (see ``docs/solvers.md``): over the endpoint set E (default: every GPU), the
minimum, over every split of E into two halves whose sizes differ by at most one and over both
directions (either half sending), of the total capacity, in that direction, of the links (and
device limits) that must be cut to separate the halves. Every other component falls on
whichever side is cheaper. Units: bytes per second, per direction; the bidirectional figures
are labelled as such.

Exact minimum bisection is NP-hard, so the solver reports two bounds and says which method
gave each:

* **upper bound** -- the cheapest of several candidate splits of the endpoints (half the
  containment hierarchy, the fabric generators' own structure, METIS partitions with several
  seeds, the spectral order; :mod:`topodsl.solvers.bisection_splits`), each measured *exactly*
  by a max flow between its two halves, so the value is a real cut whose links are reported;
* **lower bound** -- the best of several certificates, each valid for every balanced split
  (:mod:`topodsl.solvers.certificates`): exhaustive search (small n), the closed form of a
  recognised fabric generator, a star bound for components that reach most endpoints, a
  hose-routing flow through hub components, and a spectral bound. Past the hose routing's
  work budget it routes through a sample of the hubs instead, so a lower bound is never
  silently dropped. Every certificate reads the flow core's network, so it respects the flow
  core's forwarding model (what may relay traffic).

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

from ..errors import SolverError
from ..progress import Progress, report
from ..topology import Topology
from ..units import BANDWIDTH, format_quantity
from . import bisection_splits as splits
from .certificates import (
    HoseRouting,
    HubSet,
    bfs_levels,
    certificate_network,
    cross_domain_matching,
    csr,
    domain_classes,
    fabric_arcs,
    fabric_bounds,
    hose_rate,
    hub_work,
    least_pair_flow,
    mirror_arcs,
    network_is_reversible,
    network_part,
    row_transit,
    sample_hubs,
    spectral_bound,
    star_bound,
    undirected_relaxation,
    verified_arc_mirrors,
)
from .flow import (
    _ARC_LINK,
    CutItem,
    FlowResult,
    TerminalCuts,
    max_flow,
    prune_for_terminals,
    sorted_unique,
)
from .forwarding import SIDED, forwarding_plan

__all__ = [
    "BisectionResult",
    "Bound",
    "bisection",
    "resolve_endpoints",
    "EXHAUSTIVE_LIMIT",
]

#: Exhaustive search over every balanced split runs up to this many endpoints.
EXHAUSTIVE_LIMIT = 14
# Relative tolerance under which the bounds are taken to meet (float rounding only).
_TOL = 1e-9
# Work budgets (array elements touched) for the optional certificates.
_EXHAUSTIVE_WORK = 6e7
_HOSE_BUDGET = 3e8
_SAMPLED_HOSE_BUDGET = 6e7
_SPECTRAL_MAX_ENDPOINTS = 1500
_SPECTRAL_MAX_WORK = 2e7  # endpoints x other nodes (a dense block of that many floats)
_METIS_MAX_SEEDS_LARGE = 2
# The package certificate: packages of at most this many endpoints, at most this many splits
# keeping every package whole, and at most this many ways to separate one package's endpoints.
_PACKAGE_MAX_ENDPOINTS = 12
_PACKAGE_MAX_WHOLE_SPLITS = 2_000
_PACKAGE_MAX_SEPARATIONS = 2_000


@dataclass(frozen=True, slots=True)
class Bound:
    """One bound tried: which method, its value (B/s, per direction), and a note.

    For an upper bound, ``sending`` holds the node rows of the half that sends across the
    measured cut (the other endpoints receive); it is not part of the JSON form.
    """

    method: str
    value: float
    note: str = ""
    sending: np.ndarray | None = field(default=None, compare=False, repr=False)

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
        Bounds on the most both halves can send each other at once, both directions added
        (B/s): the upper bound is the witness's cuts both ways, a half-duplex link counted
        once; the lower bound is twice the per-direction lower bound when every link is full
        duplex (``bidirectional_lower_method`` says what it is otherwise). Vendors'
        "aggregate" figures are usually both directions *and* all ports (total injection),
        which is neither.
    lower_bounds, upper_bounds : tuple of Bound
        Every certificate and every candidate split tried, best first.
    seconds : float
        Time taken.
    bidirectional_lower_method : str
        How the bidirectional lower bound was obtained.
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
    bidirectional_lower_method: str = "2 x lower bound"

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
    """Which endpoint (position in E) each row belongs to, the flow terminals and their group.

    A row belongs to its nearest endpoint ancestor-or-self (-1 for none). Terminals are the
    endpoint rows and every member with a link leaving its group.
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
    members = sorted_unique(np.concatenate([src[leaving & (gs >= 0)], dst[leaving & (gd >= 0)]]))
    terms = sorted_unique(np.concatenate([E, members]))
    return owner, terms, owner[terms]


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
        No endpoints, an unknown backend or forwarding model, or capacities the flow backend
        cannot represent.

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
        solver.package_certificate()
    if not solver.done():
        solver.hose_certificates()
    if not solver.done():
        solver.rail_candidate()
    if not solver.done():
        solver.partitioner_candidates(seeds)
    if not solver.done():
        solver.spectral()
    if solver.lower <= 0 and not solver.done():
        solver.sampled_hose()
    return solver.result(t0)


# -- the solver state ----------------------------------------------------------------------------


@dataclass
class _Witness:
    value: float
    first: np.ndarray  # bool over endpoints: the sending half
    cut: object
    method: str


class _Bisector:
    progress: Progress | None = None

    def __init__(self, topology: Topology, E: np.ndarray, backend: str, forwarding: str):
        self.t = topology
        self.E = E
        self.n = len(E)
        self.lo = self.n // 2
        self.hi = self.n - self.lo
        self.backend = backend
        self.forwarding = forwarding
        # Each endpoint is a group: its row and everything inside it (a GPU package with its
        # chiplets); the members with links leaving the group are the flow terminals.
        self.owner, self.terms, self.tgroup = _endpoint_groups(topology, E)
        self.keep = prune_for_terminals(topology, self.terms, forwarding=forwarding)
        self.tc = TerminalCuts(topology, self.terms, self.keep, self.tgroup, forwarding)
        self.net = self.tc.net
        plan = forwarding_plan(topology, forwarding)
        # Reversible: every cut is as cheap either way round, so one orientation suffices.
        mirrors = verified_arc_mirrors(self.net)
        self.symmetric = mirrors is not None or network_is_reversible(self.net)
        # CXL binding is a rule on whole paths: the network admits paths it forbids (through a
        # co-attached socket's port). Certificates read the network without the arcs that join
        # a gated CPU's CXL port to anything but itself, on which every path obeys it; splits
        # are measured by the flow core, which applies it.
        through = self.net.through
        self._cxl_bound = through is not None and bool(through.any())
        cert_net = _without_arcs(self.net, through) if self._cxl_bound else self.net
        self.cn = certificate_network(
            cert_net, self.terms, self.tgroup, self.n, mirrors, package=plan.seal
        )
        self._through: tuple[float, str] | None = None
        self._through_network: tuple[np.ndarray, int, float, str] | None = None
        self._whole_possible = True
        self._plan, self._mirrors = plan, mirrors
        self.mirror = mirror_arcs(self.cn) if self.symmetric else None
        self._shared_packages = _shared_packages(self.net, plan.seal, self.terms, self.tgroup)
        # A CXL switch that is not an endpoint can turn traffic round through a host (device ->
        # switch -> CPU -> switch -> device), using the CPU's link both ways in one direction
        # of the exchange.
        sided = (plan.klass == SIDED) & self.keep
        sided[self.terms] = False
        self._hairpins = bool(sided.any())
        self.best: _Witness | None = None
        self.lower = 0.0
        self.lower_method = "no certificate"
        self.lowers: list[Bound] = []
        self.uppers: list[Bound] = []
        self._seen: set[bytes] = set()
        self._order: np.ndarray | None = None
        self._from_e: np.ndarray | None = None
        self._relaxation = None
        self._over_budget: list[HubSet] = []

    # -- bookkeeping ----------------------------------------------------------------------------

    def add_lower(self, method: str, value: float, note: str = "", whole: bool = True) -> None:
        """Record a lower bound. Unless ``whole`` is False (a bound measured split by split
        under the path rules), it was proven on a network that lets peer traffic of a fabric
        domain leave the domain and come back, which holds for the splits keeping every
        domain's endpoints on one side; the splits separating a domain's endpoints are
        bounded apart (:meth:`through_domains`), and the bound is the smaller of the two
        (named ``"<method> / domains split"`` when the second is the smaller)."""
        value = max(0.0, float(value))
        if whole and self.tc._fabric is not None:
            through, through_note = self.through_domains(value)
            if not self._whole_possible:
                # Every balanced split runs through a domain: the whole-domain bound is void.
                method, value = "domains split", through
                note = f"no balanced split keeps every fabric domain whole; {through_note}"
                if any(b.method == method for b in self.lowers):
                    return
            elif through < value:
                kept = format_quantity(value, BANDWIDTH)
                note = f"{note}; {kept} for splits keeping every fabric domain whole"
                method, value = f"{method} / domains split", through
            note = f"{note}; {through_note}" if note else through_note
        self.lowers.append(Bound(method, value, note))
        if value > self.lower:
            self.lower, self.lower_method = value, method

    def done(self) -> bool:
        return self.best is not None and self.best.value <= self.lower * (1 + _TOL)

    def through_domains(self, needed: float = math.inf) -> tuple[float, str]:
        """The additive domain certificate (:mod:`topodsl.solvers.certificates.domains`): a
        lower bound on every balanced split that puts endpoints of one fabric domain on both
        sides, ``r * min(floor(n/2), n - k_max) + f_min``: the hose rate r of the network
        without fabric arcs (no relaying through endpoints) times the cross-domain matching,
        plus the least fabric flow between two endpoints of a domain. The network share is
        computed once; the fabric share (a max flow per class of domains) only when the
        network share alone is below ``needed``, the whole-domain bound it is to cap (the
        fabric share only adds, so the certificate is then at least ``needed`` already)."""
        if self._through_network is None:
            f = self.tc._fabric
            width = np.int64(self.n + 1)
            pairs = sorted_unique(
                f.domain.astype(np.int64) * width + self.tgroup[f.terminals].astype(np.int64)
            )
            domains, sizes = np.unique(pairs // width, return_counts=True)
            self._whole_possible = _sizes_reach(sizes.tolist(), self.n - int(sizes.sum()), self.lo)
            matched = cross_domain_matching(self.n, int(sizes.max()))
            rate, hubs = self.network_rate() if matched else (0.0, "")
            self._through_network = (domains, matched, rate, hubs)
        domains, matched, rate, hubs = self._through_network
        how = (
            f"{format_quantity(rate, BANDWIDTH)} per endpoint via {hubs} (network, no fabric "
            f"arcs) x {matched} cross-domain pairs"
            if rate > 0
            else "no network share proven"
        )
        network = rate * matched
        if self._through is None and network >= needed and self._whole_possible:
            note = (
                f"splits separating a fabric domain's endpoints carry at least "
                f"{format_quantity(network, BANDWIDTH)}: {how} (their fabric share, on "
                f"{len(domains)} domains, comes on top)"
            )
            return network, note
        if self._through is None:
            f_min, classes = self.fabric_floor(domains)
            value = network + f_min if f_min < math.inf else math.inf
            note = (
                f"splits separating a fabric domain's endpoints carry at least "
                f"{format_quantity(value, BANDWIDTH)}: {how}, + "
                f"{format_quantity(f_min, BANDWIDTH)} on one domain's fabric "
                f"({len(domains)} domains, {classes} distinct)"
            )
            self._through = (value, note)
        return self._through

    def fabric_floor(self, domains: np.ndarray) -> tuple[float, int]:
        """The least max flow between two endpoints of one of ``domains`` on its fabric arcs
        (B/s), and how many distinct domain networks were measured. Identical domains (the
        copies of one template) are measured once. Where a package holds several endpoints
        whose layers compete (the linear program decides) or the backend is NetworkX, the
        flow core measures each pair, else a max flow on the domain's own few arcs."""
        net, plan = self.net, self._plan
        vdom = plan.domain[net.owner]
        inside = (vdom[net.tail] >= 0) & (vdom[net.tail] == vdom[net.head])
        term_domain = np.where(plan.member[self.terms], plan.domain[self.terms], -1)
        classes = domain_classes(
            net, plan.domain, inside, self.terms, self.tgroup, term_domain, domains
        )
        fast = self._shared_packages is None and self.backend == "scipy"
        floor = math.inf
        for c in classes:
            if fast:
                floor = min(floor, least_pair_flow(c, self.symmetric))
                continue
            ends = np.arange(self.n)
            first, others = c.endpoints[0], c.endpoints[1:]
            for other in others:
                pairs = ((first, other),) if self.symmetric else ((first, other), (other, first))
                for a, b in pairs:
                    floor = min(floor, _feasible(self._flow(ends == a, ends == b)))
        return floor, len(classes)

    def network_rate(self) -> tuple[float, str]:
        """The hose rate (B/s) every endpoint can send and receive at once over the network
        without fabric arcs, no path relaying through an endpoint, and the hubs that gave it
        (:func:`~topodsl.solvers.certificates.domains.network_part`): the best over the hub
        sets that one pass can route, else hub by hub within the hose budget."""
        drop = fabric_arcs(self.net, self._plan.domain, self.owner)
        if self._cxl_bound:
            drop |= self.net.through
        cn = network_part(
            self.net, drop, self.terms, self.tgroup, self.n, self._mirrors, self._plan.seal
        )
        n = self.n
        receivers = np.arange(n) + (cn.num_vertices - n)
        rows = np.flatnonzero((self.owner < 0) & self.keep)
        rows = rows[(cn.vertex_in[rows] >= n) & (cn.vertex_out[rows] >= n)]
        from_e = bfs_levels(csr(cn), np.arange(n))
        mirror = mirror_arcs(cn) if self.symmetric else None
        sets = [h for h in _hub_sets(self.t, cn, rows, from_e) if np.all(h.vout >= n)]
        best, name = 0.0, ""
        for slow in (False, True):
            for hubs in sets:
                routing = hose_rate(
                    cn, hubs, mirror, from_e, slow, _HOSE_BUDGET, receivers=receivers
                )
                if routing is not None and routing.rate > best:
                    best, name = routing.rate, f"{len(hubs)} {hubs.name}"
            if best > 0:
                break
        return best, name

    def rules_bind(self, first: np.ndarray) -> bool:
        """Whether the split is one the repeated cuts cannot measure exactly: through a
        package whose layers compete, mixing a fabric domain, or under CXL binding."""
        return (
            self.backend == "networkx"
            or self._cxl_bound
            or len(self.tc._mixed(first)) > 0
            or self.splits_a_package(first)
        )

    def splits_a_package(self, first: np.ndarray) -> bool:
        """Whether the split puts endpoints of one package with shared capacities in both
        halves: then both layers of the package may carry traffic at once, and the max flow
        of the layered network (which counts each layer's copy of a link in full) is only an
        upper bound on the hardware figure."""
        if self._shared_packages is None:
            return False
        label, position = self._shared_packages
        sending = np.bincount(label, weights=first[self.tgroup[position]])
        total = np.bincount(label)
        return bool(np.any((sending > 0) & (sending < total)))

    def _flow(self, first: np.ndarray, second: np.ndarray | None = None):
        """The max flow from the ``first`` endpoints to the ``second`` ones (by default every
        other) by the flow core itself, which applies the path rules (the linear program
        where two layers of a package compete)."""
        second = ~first if second is None else second
        return max_flow(
            self.t,
            self.terms[first[self.tgroup]],
            self.terms[second[self.tgroup]],
            backend=self.backend,
            source_limit=np.inf,
            sink_limit=np.inf,
            forwarding=self.forwarding,
        )

    def measure(self, first: np.ndarray) -> tuple[float, object]:
        """Min cut from the ``first`` endpoints to the others (exact; for a split through a
        package whose layers compete, the linear program's optimum: an upper bound on that
        split's figure, equal to it to the solver's tolerance)."""
        if self.rules_bind(first):
            r = self._flow(first)
            return (r.upper if math.isfinite(r.upper) else r.cut_capacity), r
        c = self.tc.cut(first)
        return c.value, c

    def flow_value(self, first: np.ndarray) -> float:
        """A feasible flow's value from the ``first`` endpoints to the others (B/s): at most
        the split's figure, equal to it when the integer unit is exact."""
        if self.rules_bind(first):
            return _feasible(self._flow(first))
        return self.tc.flow_value(first)

    def try_split(self, first: np.ndarray, method: str) -> float:
        """Measure a candidate split (both directions when the network is not reversible)."""
        first = np.asarray(first, dtype=bool)
        key = np.packbits(first).tobytes()
        if key in self._seen:
            return math.inf
        self._seen.add(key)
        self._seen.add(np.packbits(~first).tobytes())
        value, cut = self.measure(first)
        if not self.symmetric:
            back, back_cut = self.measure(~first)
            if back < value:
                value, cut, first = back, back_cut, ~first
        self.uppers.append(Bound(method, value, sending=self.E[first]))
        report(self.progress, "bisection: candidate splits", len(self.uppers))
        if self.best is None or value < self.best.value:
            self.best = _Witness(value, first.copy(), cut, method)
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
        self.best = _Witness(0.0, first, None, "single endpoint")
        return self.result(t0)

    def small_enough_for_exhaustive(self) -> bool:
        n = self.n
        splits_ = (
            math.comb(n - 1, self.lo - 1)
            if self.symmetric and n % 2 == 0
            else math.comb(n, self.lo)
        )
        size = self.net.num_vertices + len(self.net.tail)
        return splits_ * size * (1 if self.symmetric else 2) <= _EXHAUSTIVE_WORK

    def exhaustive(self) -> None:
        """Every balanced split, each way round unless the network is reversible."""
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
                v = self.flow_value(f)
                count += 1
                report(self.progress, "bisection: every balanced split", count, total)
                if v < best_value:
                    best_value, best_first = v, f
        assert best_first is not None
        self.try_split(best_first, "exhaustive")
        # Each max flow is at most its split's cut, so the smallest is a valid lower bound.
        self.add_lower(
            "exhaustive", best_value, f"all {count} balanced splits measured", whole=False
        )

    # -- lower bound: packages whole or separated ----------------------------------------------

    def package_certificate(self) -> None:
        """A bound for endpoints that share a package (the I/O dies of an MI300X).

        Every balanced split either keeps each such package whole or separates the endpoints
        of at least one. Over the splits that keep packages whole the exact figure is the
        least max flow among them (no package has endpoints on both sides, so one max flow
        measures each exactly); a split that separates the endpoints of package P into X and
        the rest carries at least the max flow from X to the rest of P alone (fewer sources
        and sinks never add flow), measured by the flow core for every such X. The bisection
        is at least the smaller of the two minima.
        """
        found = self._packages_with_endpoints()
        if found is None:
            return
        cluster, members = found
        whole = list(self._whole_splits(cluster))
        separations = sum(2 ** len(m) - 2 for m in members) // (2 if self.symmetric else 1)
        if len(whole) > _PACKAGE_MAX_WHOLE_SPLITS or separations > _PACKAGE_MAX_SEPARATIONS:
            return
        best_value, best_first = math.inf, None
        for first in whole:
            v = self.flow_value(first)
            if v < best_value:
                best_value, best_first = v, first
        if best_first is not None:
            self.try_split(best_first, "packages whole")
        apart = math.inf
        for m in members:
            for x in self._separations(len(m)):
                send = np.zeros(self.n, dtype=bool)
                send[m[x]] = True
                take = np.zeros(self.n, dtype=bool)
                take[m[~x]] = True
                apart = min(apart, _feasible(self._flow(send, take)))
        note = (
            f"all {len(whole)} balanced splits keeping the {len(members)} packages with several "
            f"endpoints whole measured; separating a package's endpoints carries at least "
            f"{format_quantity(apart, BANDWIDTH)} ({separations} ways measured)"
        )
        self.add_lower("packages whole or separated", min(best_value, apart), note, whole=False)

    def _packages_with_endpoints(self):
        """Per endpoint, its cluster (a package holding several endpoints, or the endpoint
        alone), and the endpoints of each package with several; None when there is none or
        one is too large."""
        package = forwarding_plan(self.t, self.forwarding).seal[self.E]
        key = np.where(package >= 0, package, -1 - np.arange(self.n))
        _, cluster = sorted_unique(key, return_inverse=True)
        size = np.bincount(cluster)
        if size.max() < 2 or size.max() > _PACKAGE_MAX_ENDPOINTS:
            return None
        members = [np.flatnonzero(cluster == c) for c in np.flatnonzero(size >= 2)]
        return cluster, members

    def _whole_splits(self, cluster: np.ndarray):
        """The sending halves (bool over endpoints) of the balanced splits that keep every
        cluster whole, each way round unless the network is reversible."""
        weight = np.bincount(cluster).tolist()
        sizes = {self.lo} if self.symmetric else {self.lo, self.hi}
        # With a reversible network and an even count, fixing the first cluster's side halves
        # the work, as in the exhaustive search.
        fixed = self.symmetric and self.n % 2 == 0
        for size in sorted(sizes):
            for chosen in _subsets_of_weight(weight, size, include_first=fixed):
                yield np.isin(cluster, chosen)

    def _separations(self, k: int):
        """The sending sides (bool over k endpoints) of every way to separate k endpoints
        (each pair once when the network is reversible)."""
        for bits in range(1, 2**k - 1):
            x = (bits >> np.arange(k)) & 1 == 1
            if self.symmetric and not x[0]:
                continue
            yield x

    # -- lower bounds: cheap certificates -------------------------------------------------------

    def transit_rows(self) -> np.ndarray:
        """Rows that are not endpoints or inside one and are in the certificate network."""
        rows = np.flatnonzero((self.owner < 0) & self.keep)
        return rows[(self.cn.vertex_in[rows] >= self.n) & (self.cn.vertex_out[rows] >= self.n)]

    def cheap_certificates(self) -> None:
        if self.t.fabrics:
            transit = row_transit(self.net)
            for method, value, note in fabric_bounds(self.t, self.E, self.owner, self.net, transit):
                self.add_lower(method, value, note)
        value, used = star_bound(self.cn, self.transit_rows())
        if value > 0:
            self.add_lower("star", value, f"{used} component(s) linked to most endpoints")

    # -- upper bounds: structural candidates ----------------------------------------------------

    def dfs_order(self) -> np.ndarray:
        """Endpoints in containment order (pods, then racks, then nodes...), as positions."""
        if self._order is None:
            self._order = splits.containment_order(self.t, self.E)
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
            projected = splits.project_labels(self.t, self.E, info.hosts, labels)
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
        position = splits.sibling_position(self.t, self.E)
        rank = np.empty(self.n, dtype=np.int64)
        rank[order] = np.arange(self.n)
        self.try_split(self.split_by_order(np.lexsort((rank, position))), "hierarchy (rails)")

    # -- lower bound: hose routing through hubs -------------------------------------------------

    def from_endpoints(self) -> np.ndarray:
        """Hop distance of every certificate-network vertex from the nearest endpoint."""
        if self._from_e is None:
            self._from_e = bfs_levels(csr(self.cn), np.arange(self.n))
        return self._from_e

    def hose_rate(self, hubs: HubSet, slow: bool, max_work: float | None = None):
        budget = _HOSE_BUDGET if max_work is None else max_work
        return hose_rate(self.cn, hubs, self.mirror, self.from_endpoints(), slow, budget)

    def hose_certificates(self) -> None:
        sets = list(_hub_sets(self.t, self.cn, self.transit_rows(), self.from_endpoints()))
        # First every hub set that one pass can route (cheap), then hub by hub, smallest first.
        slow = []
        for hubs in sets:
            routing = self.hose_rate(hubs, slow=False)
            if routing is None:
                slow.append(hubs)
                continue
            self._add_hose("hose", routing, hubs)
            if self.done():
                return
        over = []
        for hubs in sorted(slow, key=len):
            routing = self.hose_rate(hubs, slow=True)
            if routing is None:
                over.append(hubs)
                continue
            self._add_hose("hose", routing, hubs)
            if self.done():
                return
        self._over_budget = [h for h in sets if any(h is o for o in over)]

    def sampled_hose(self) -> None:
        """When no certificate gave a positive bound because the hose routing's hub sets were
        over budget: route through a sample of each such set instead (any hub set proves a
        bound), farthest tier first, until one is positive."""
        for hubs in self._over_budget:
            per_hub = hub_work(self.cn, hubs, self.mirror is not None) / len(hubs)
            sample = sample_hubs(hubs, max(1, int(_SAMPLED_HOSE_BUDGET // max(per_hub, 1.0))))
            routing = self.hose_rate(sample, slow=True, max_work=math.inf)
            assert routing is not None  # no budget, no one-pass requirement
            self._add_hose("hose (sampled hubs)", routing, sample)
            if self.lower > 0:
                return

    def _add_hose(self, method: str, routing: HoseRouting, hubs: HubSet) -> None:
        rate = routing.rate
        if rate > 0:
            self.add_lower(
                method,
                self.lo * rate,
                f"every endpoint can send and receive {format_quantity(rate, BANDWIDTH)} at once "
                f"via {len(hubs)} {hubs.name}",
            )
        if routing.all_pairs:
            pair = format_quantity(routing.all_pairs, BANDWIDTH)
            self.add_lower(
                "uniform",
                self.lo * self.hi * routing.all_pairs,
                f"every ordered pair of endpoints can exchange {pair} at once (shortest paths)",
            )

    # -- upper bound: graph partitioner ---------------------------------------------------------

    def relaxation(self):
        if self._relaxation is None:
            self._relaxation = undirected_relaxation(self.cn)
        return self._relaxation

    def partitioner_candidates(self, seeds: Sequence[int]) -> None:
        graph = splits.metis_graph(self.relaxation(), self.n)
        if graph is None:
            return
        seeds = list(seeds)
        if self.net.num_vertices > 200_000:
            seeds = seeds[:_METIS_MAX_SEEDS_LARGE]
        for seed in seeds:
            first = splits.metis_split(graph, seed, self.lo)
            if first is None:
                continue
            self.try_split(first, f"metis (seed {seed})")
            if self.done():
                return

    # -- spectral bound and order ---------------------------------------------------------------

    def spectral(self) -> None:
        rel = self.relaxation()
        others = rel.num_nodes - self.n
        if self.n > _SPECTRAL_MAX_ENDPOINTS or self.n * others > _SPECTRAL_MAX_WORK:
            return
        got = spectral_bound(rel, self.n)
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

    def cut_items(self, cut) -> tuple[CutItem, ...]:
        if cut is None:
            return ()
        if isinstance(cut, FlowResult):
            return tuple(cut.cut)
        return self.tc.cut_items(cut)

    def bidirectional_upper(self, w: _Witness, cut: tuple[CutItem, ...]) -> float:
        """The witness cut in both directions, a half-duplex link counted once: no exchange
        between the halves can send more (see ``docs/solvers.md``)."""
        if w.cut is None:
            return 0.0
        if isinstance(w.cut, FlowResult) and w.cut.linear_program:
            # A linear program's optimum is no cut to count links in: each direction is at
            # most its own optimum.
            back = w.value if self.symmetric else self.measure(~w.first)[0]
            return w.value + back
        half = self.t.links.half_duplex
        if self.symmetric:
            # The reverse cut mirrors this one: each half-duplex link in it is in both.
            shared = sum(c.bandwidth for c in cut if c.element == "link" and half[c.row])
            return 2.0 * w.value - shared
        back = self.cut_items(self.measure(~w.first)[1])
        links: dict[tuple, float] = {}
        devices = 0.0
        for c in (*cut, *back):
            if c.element != "link":
                devices += c.bandwidth
            elif half[c.row]:
                links[(c.row,)] = c.bandwidth
            else:
                links[(c.row, c.source, c.target)] = c.bandwidth
        return devices + math.fsum(links.values())

    def bidirectional_lower(self, lower: float) -> tuple[float, str]:
        """A lower bound on the exchange both ways, from the per-direction ``lower``.

        Reversing a flow from A to B gives one from B to A on the mirror arcs; together they
        fit when every link is full duplex and the flow uses no link both ways. A max flow
        can always be chosen so (opposite flows on a link cancel) except where the two
        directions of a link meet different vertices of a component that is not an endpoint:
        a CXL switch turning traffic round through a host, or the two layers of a package
        whose endpoints the split separates (then the certificate network divides the
        package's capacities, see ``CertificateNetwork.divided``); there the exchange is
        only bounded by one way. Without the one-way links (capacity S) and with half-duplex
        links at half capacity (H in all), every cut loses at most S + H / 2, so both ways
        carry at least 2 (lower - S) - H; and one way alone carries ``lower``.
        """
        if self._hairpins or self.cn.divided:
            return lower, "lower bound (one way only: traffic may turn round inside a component)"
        net, L = self.net, self.t.links
        link = np.flatnonzero(net.what == _ARC_LINK)
        simplex = np.zeros(len(net.tail), dtype=bool)
        simplex[link[L.simplex[net.ref[link]]]] = True
        one_way = float(net.capacity[simplex].sum())
        rows = sorted_unique(net.ref[link[L.half_duplex[net.ref[link]]]])
        half = float(L.bandwidth[rows].sum())
        if one_way == 0 and half == 0:
            if self.symmetric:
                return 2.0 * lower, "2 x lower bound"
            return lower, "lower bound (one way only)"
        if network_is_reversible(_without_arcs(net, simplex)):
            both = 2.0 * (lower - one_way) - half
            if both > lower:
                return both, "2 x lower bound, less one-way and half-duplex capacity"
        return lower, "lower bound (one way only: half-duplex or one-way links)"

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
        cut = self.cut_items(w.cut)
        both_lower, both_how = self.bidirectional_lower(lower)
        both_upper = max(self.bidirectional_upper(w, cut), both_lower)
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
            bidirectional_lower_bound=float(both_lower),
            bidirectional_upper_bound=float(both_upper),
            lower_bounds=tuple(sorted(self.lowers, key=lambda b: (-b.value, b.method))),
            upper_bounds=tuple(sorted(self.uppers, key=lambda b: (b.value, b.method))),
            seconds=time.perf_counter() - t0,
            bidirectional_lower_method=both_how,
        )


def _feasible(r: FlowResult) -> float:
    """The value of a feasible flow in ``r`` (B/s): at most the true max flow."""
    return r.lower if math.isfinite(r.lower) else r.value


def _shared_packages(net, package: np.ndarray, terms: np.ndarray, group: np.ndarray):
    """The terminals (positions into ``terms``) in packages that have shared capacities and
    hold endpoints of more than one group, with a dense label per package; None when no
    split can separate the endpoints of such a package."""
    if not net.shared:
        return None
    size = np.bincount(net.bundle)
    rows = net.owner[net.tail[size[net.bundle] > 1]]
    shared = sorted_unique(package[rows][package[rows] >= 0])
    pk = package[terms]
    position = np.flatnonzero(np.isin(pk, shared))
    if len(position) == 0:
        return None
    labels, label = sorted_unique(pk[position], return_inverse=True)
    lo = np.full(len(labels), np.iinfo(np.int64).max)
    hi = np.full(len(labels), -1)
    np.minimum.at(lo, label, group[position])
    np.maximum.at(hi, label, group[position])
    mixed = (hi > lo)[label]
    if not mixed.any():
        return None
    _, label = sorted_unique(label[mixed], return_inverse=True)
    return label, position[mixed]


def _sizes_reach(sizes: list[int], singles: int, total: int) -> bool:
    """Whether some of the groups of these ``sizes``, with up to ``singles`` lone items, hold
    exactly ``total`` items (a balanced split keeping every fabric domain whole exists).

    >>> _sizes_reach([7], 3, 5), _sizes_reach([4, 4], 1, 4), _sizes_reach([4, 4], 1, 5)
    (False, True, True)
    """
    reach = 1  # bit x set: some groups hold x items in all
    for k in sizes:
        reach |= reach << k
    window = (1 << (total + 1)) - 1  # sums 0 .. total
    low = max(0, total - singles)
    return bool((reach & window) >> low)


def _without_arcs(net, drop: np.ndarray):
    """``net`` with the arcs where ``drop`` is True removed (capacity 0)."""
    from dataclasses import replace

    return replace(net, capacity=np.where(drop, 0.0, net.capacity))


def _subsets_of_weight(weight: list[int], total: int, include_first: bool = False):
    """Index lists of the subsets of items with these weights that add up to ``total`` (those
    holding item 0 only, with ``include_first``), in lexicographic order.

    >>> list(_subsets_of_weight([2, 1, 1, 2], 3))
    [[0, 1], [0, 2], [1, 3], [2, 3]]
    """
    suffix = np.cumsum(weight[::-1])[::-1].tolist() + [0]

    def extend(start: int, left: int, chosen: list[int]):
        if left == 0:
            yield list(chosen)
            return
        for i in range(start, len(weight)):
            if suffix[i] < left:
                return
            if weight[i] <= left:
                chosen.append(i)
                yield from extend(i + 1, left - weight[i], chosen)
                chosen.pop()
            if include_first and not chosen:
                return

    yield from extend(0, total, [])


# -- hub sets for the hose certificate -------------------------------------------------------------


def _hub_sets(topology: Topology, cn, rows: np.ndarray, from_e: np.ndarray):
    """Candidate hub sets for the hose certificate, most promising first.

    For each hop distance from the endpoints, farthest first, the transit components ``rows``
    there whose capacity in is at least half the largest at that distance (spines, cores, the
    switch chips of a rack...); then the top switch group of each fabric generator; last, the
    endpoints themselves (Valiant routing, good for rings and tori).
    """
    n = cn.n
    out: list[HubSet] = []
    if len(rows):
        incident = np.bincount(cn.head, weights=cn.capacity, minlength=cn.num_vertices)
        vin, vout = cn.vertex_in[rows], cn.vertex_out[rows]
        cap = incident[vin]
        dist = from_e[vin]
        for d in sorted_unique(dist[(dist > 0) & (cap > 0)]).tolist()[::-1]:
            at = dist == d
            top = at & (cap >= 0.5 * cap[at].max())
            out.append(HubSet(f"switches {d} hops out", vin[top], vout[top]))
    from ..fabrics import GENERATORS

    for info in topology.fabrics:
        if info.generator in GENERATORS and GENERATORS[info.generator].creates_switches:
            last = _last_group(info)
            if last is None or len(last) == 0:
                continue
            vin, vout = cn.vertex_in[last], cn.vertex_out[last]
            if np.all(vin >= n) and np.all(vout >= n):
                out.append(HubSet(f"{info.name} top switches", vin, vout))
    everyone = np.arange(n)
    out.append(HubSet("endpoints (Valiant routing)", everyone, everyone))
    seen: set[bytes] = set()
    for hubs in out:
        order = np.argsort(hubs.vout, kind="stable")
        key = hubs.vout[order].tobytes()
        if key in seen:
            continue
        seen.add(key)
        yield HubSet(hubs.name, hubs.vin[order], hubs.vout[order])


def _last_group(info) -> np.ndarray | None:
    """The rows of a fabric generator's top switch tier (None when its plan has no tiers)."""
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
