"""Memory reach: which memory a compute element can reach, how far away, how fast, how much.

For every selected compute element (GPU, chiplet, CPU) :func:`memory_reach` lists every memory
element (HBM, DRAM, CXL memory; SSD and HDD too with ``storage=True``) it can reach, with:

``latency`` (s)
    The lowest-latency path from the element to the memory: the sum of the latencies of the
    links on the path plus the ``latency`` attribute of every component the path enters, the
    memory's own access latency included and the element's own latency not. A switch, NIC or
    peer GPU in the middle counts its latency once.
``bandwidth`` (B/s, in the data's direction)
    With ``direction="read"`` (the default) the maximum flow *from the memory to the element*,
    honouring every device limit on the way: the memory's own bandwidth (or a storage device's
    read bandwidth), link bandwidths, switch and NIC limits, and the element's own bandwidth.
    ``direction="write"`` is the flow from the element to the memory (a storage device's write
    bandwidth applies). On full-duplex links with symmetric device limits the two are equal.

    The flow is taken inside the *scope*: the smallest component (in the containment tree)
    that holds both the element and the memory and connects them; the whole topology when none
    does. So a GPU's own HBM is measured inside the GPU, a peer's HBM and host DRAM inside the
    server, a sibling die's HBM inside the package, memory in another server across the whole
    topology. Paths that leave the scope and come back (out through one NIC, a switch, and in
    through another NIC) are not counted; every path inside it that the forwarding model
    allows is, as in any max flow. The memory of an element's own fabric domain (a peer's HBM
    over NVLink) is reached over that domain's fabric only, for latency too, with the domains
    of the whole topology (a scope may hold only part of one).
``capacity`` (bytes), ``hops`` and ``tier``
    ``hops`` counts the links of the lowest-latency path (the fewest among equally fast paths).
    The tier is one of :data:`TIERS`, decided from the containment tree (see :func:`tier_of`).

Memory and storage devices are endpoints: a path never passes *through* another memory or
storage device, neither for latency nor for bandwidth.

Aggregates: :attr:`ReachResult.tiers` holds, per element and tier, the count, the capacity, the
nearest latency and the bandwidth to the whole tier at once (one max flow from all of the tier's
memories together, inside the scope of all of them, not the sum of the single flows);
:meth:`ReachResult.capacity_within` and :func:`capacity_staircase` give capacity against
latency. With a budget, tiers cover only the memories within it.

How it scales
-------------
Identical servers are identical. The element's reach is first searched inside its parent
component (say its server) with :func:`scipy.sparse.csgraph.dijkstra` limited by the latency
budget. The answer cannot depend on anything outside when every link leaving the component is
too far: the way to the exit, plus the exit link, plus the shortest way from there to any
memory at all (one backwards search from every memory) exceeds the budget. Then it is computed
once for every group of elements that sit at the same place in components with the same
structural fingerprint (kinds, attributes, internal links, the links crossing the boundary and
the kinds above, hashed with BLAKE2b), checked against each copy's own exits, and copied.
Otherwise the next enclosing component is tried, up to the whole topology, where each element
is searched on its own.

Bandwidth scopes never reach past that component, so they are copied too. Flows are shared
where that is exact: a memory linked only to one component ``x`` (an HBM stack to its GPU,
DRAM to its CPU) gets ``min(what its own links and limit carry, flow between x and the
element)``, the flow for ``x`` serving every memory behind it; and a flow's minimum cut proves
the same value for another source on its source side that can pass the element that much (or
another element on its sink side), because max flows obey ``f(a, c) >= min(f(a, b), f(b, c))``.

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> _ = b.add_node("g", "gpu", bandwidth=3e12)
>>> for k in range(2):
...     _ = b.add_node(f"g.hbm{k}", "hbm", parent="g", capacity=16e9, bandwidth=2e12,
...                    latency=1e-7)
...     _ = b.add_link("g", f"g.hbm{k}", bandwidth=2e12, latency=2e-8)
>>> r = memory_reach(b.build())
>>> [(r.names[m], TIERS[t], float(lat), float(bw)) for m, t, lat, bw
...  in zip(r.memory, r.tier, r.latency, r.bandwidth)]
[('g.hbm0', 'local', 1.2e-07, 2000000000000.0), ('g.hbm1', 'local', 1.2e-07, 2000000000000.0)]
>>> float(r.tiers.bandwidth[0])     # both stacks at once, capped by the GPU's own 3 TB/s
3000000000000.0
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from ..errors import SolverError
from ..kinds import KIND_CODE, ROLES
from ..progress import Progress, report
from ..topology import LinkTable, NodeTable, Topology
from .flow import (
    ARC_LINK,
    REL_TOL,
    FlowResult,
    _max_flow,
    _Query,
    build_network,
    egress_limit,
    ingress_limit,
)
from .flow import (
    _ranges_of as _ranges,
)
from .forwarding import TRANSIT, check_forwarding, forwarding_plan, relay_attribute

__all__ = [
    "TIERS",
    "MEMORY_KINDS",
    "STORAGE_KINDS",
    "ReachResult",
    "TierTable",
    "StairStep",
    "memory_reach",
    "capacity_staircase",
    "tier_of",
    "MAX_ROWS",
]

#: Tier labels, nearest first. See :func:`tier_of`.
TIERS: tuple[str, ...] = ("local", "same-package", "peer", "host", "cxl", "storage", "remote")
_LOCAL, _PKG, _PEER, _HOST, _CXL, _STORAGE, _REMOTE = range(len(TIERS))

MEMORY_KINDS: tuple[str, ...] = ("hbm", "dram", "cxl_memory")
STORAGE_KINDS: tuple[str, ...] = ("ssd", "hdd")

#: Most (element, memory) rows one call may produce; beyond it a narrower query is asked for.
MAX_ROWS = 20_000_000
# Work (components + links summed over the max flows run) above which the whole-topology
# fallback is refused with advice, so that a huge query fails fast instead of running for hours.
_FLOW_WORK_LIMIT = 5e7
# Work (components + links summed over whole-topology searches) with the same purpose.
_SEARCH_WORK_LIMIT = 3e9
# Latency sums of different paths are compared with this relative tolerance.
_REL = 1e-12
_BUDGET_REL = 1e-9

_NODE_KINDS = np.array([KIND_CODE["node"], KIND_CODE["storage_node"]])
_ROLE_MEMORY, _ROLE_STORAGE = ROLES.index("memory"), ROLES.index("storage")
_ROLE_COMPUTE, _ROLE_CONTAINER = ROLES.index("compute"), ROLES.index("container")


@dataclass(frozen=True)
class TierTable:
    """Per element and tier: what the element reaches in that tier, all together.

    All arrays have one entry per (element, tier) pair present, sorted by element row then by
    tier (nearest first). ``capacity`` in bytes, ``latency`` (the nearest memory's) in s,
    ``bandwidth`` in B/s: one max flow between the element and every memory of the tier at once.
    """

    source: np.ndarray
    tier: np.ndarray
    count: np.ndarray
    capacity: np.ndarray
    latency: np.ndarray
    bandwidth: np.ndarray
    relayed: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.relayed is None:
            object.__setattr__(self, "relayed", np.zeros(len(self.source), dtype=bool))

    def __len__(self) -> int:
        return len(self.source)


@dataclass(frozen=True, slots=True)
class StairStep:
    """One step of the capacity-versus-latency staircase: ``capacity`` bytes within ``latency``."""

    latency: float
    capacity: float


@dataclass(frozen=True)
class ReachResult:
    """What each selected compute element reaches. One row per (element, memory) pair.

    Row arrays (``source`` and ``memory`` are node rows; name them with :attr:`names`) are
    sorted by element row, then latency, then memory row. Units: ``latency`` s, ``bandwidth``
    B/s in the data's direction (see ``direction``), ``capacity`` bytes. ``kind`` indexes
    :data:`topodsl.kinds.KINDS`, ``tier`` indexes :data:`TIERS`.

    ``within`` is the latency budget (``inf`` without one); ``computed`` the number of distinct
    reach computations made (the rest were copied from identical components).
    """

    names: Sequence[str] = field(repr=False)
    direction: str
    within: float
    storage: bool
    sources: np.ndarray
    source: np.ndarray
    memory: np.ndarray
    kind: np.ndarray
    tier: np.ndarray
    latency: np.ndarray
    bandwidth: np.ndarray
    capacity: np.ndarray
    hops: np.ndarray
    tiers: TierTable
    computed: int = 0
    forwarding: str = "hardware"
    relayed: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.relayed is None:
            object.__setattr__(self, "relayed", np.zeros(len(self.source), dtype=bool))

    def __len__(self) -> int:
        return len(self.source)

    def rows_of(self, source: int) -> slice:
        """The slice of rows that belong to element row ``source``."""
        lo = int(np.searchsorted(self.source, source, side="left"))
        hi = int(np.searchsorted(self.source, source, side="right"))
        return slice(lo, hi)

    def capacity_within(self, latency: float) -> np.ndarray:
        """Bytes each element (in :attr:`sources` order) reaches within ``latency`` seconds.

        >>> from topodsl.topology import TopologyBuilder
        >>> b = TopologyBuilder(); _ = b.add_node("c", "cpu")
        >>> _ = b.add_node("d", "dram", capacity=64e9, latency=1e-7, bandwidth=1e11)
        >>> _ = b.add_link("c", "d", bandwidth=1e11)
        >>> r = memory_reach(b.build())
        >>> r.capacity_within(1e-7).tolist(), r.capacity_within(5e-8).tolist()
        ([64000000000.0], [0.0])
        """
        pos = np.searchsorted(self.sources, self.source)
        ok = self.latency <= latency * (1 + _BUDGET_REL)
        out = np.bincount(pos[ok], weights=self.capacity[ok], minlength=len(self.sources))
        return out.astype(np.float64)

    def staircase(self, source: int | None = None) -> tuple[StairStep, ...]:
        """See :func:`capacity_staircase`."""
        return capacity_staircase(self, source)


def capacity_staircase(result: ReachResult, source: int | None = None) -> tuple[StairStep, ...]:
    """Capacity reachable against latency for one element: one step per distinct latency.

    Step ``i`` says that ``capacity`` bytes (cumulative) are reachable within ``latency``
    seconds. ``source`` is the element's row; it may be left out when only one was selected.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("c", "cpu")
    >>> _ = b.add_node("near", "dram", capacity=64e9, latency=1e-7)
    >>> _ = b.add_node("far", "cxl_memory", capacity=256e9, latency=2.5e-7)
    >>> _ = b.add_link("c", "near", bandwidth=1e11); _ = b.add_link("c", "far", bandwidth=6.3e10)
    >>> [(s.latency, s.capacity) for s in capacity_staircase(memory_reach(b.build()))]
    [(1e-07, 64000000000.0), (2.5e-07, 320000000000.0)]
    """
    if source is None:
        if len(result.sources) != 1:
            raise SolverError(
                f"the reach result covers {len(result.sources)} elements; name one for its "
                "staircase"
            )
        source = int(result.sources[0])
    sl = result.rows_of(int(source))
    lat = result.latency[sl]
    cap = np.cumsum(result.capacity[sl])
    if len(lat) == 0:
        return ()
    last = np.flatnonzero(np.append(lat[1:] != lat[:-1], True))
    return tuple(StairStep(float(lat[i]), float(cap[i])) for i in last)


def tier_of(topology: Topology, element: int, memory: int) -> str:
    """The tier of ``memory`` as seen from compute element ``element`` (both node rows).

    Rules, first match wins:

    1. ``local``: the memory is inside the element (a descendant), linked to it directly, or
       belongs to the die the element sits on (the memory's nearest compute ancestor is the
       element's: an MI300X XCD and the HBM stacks of its own I/O die).
    2. ``same-package``: both sit in the same outermost compute component (an XCD and the HBM
       of a sibling I/O die in one GPU package).
    3. ``cxl``: the memory is ``cxl_memory`` in the element's server, in no server at all,
       or in a server without any compute element (a pooled memory box).
    4. ``remote``: the memory belongs to another server (``node`` or ``storage_node``) than the
       element, or to one when the element has none.
    5. by kind, in the same server: ``hbm`` is ``peer`` (another element's HBM), ``dram`` is
       ``host``, ``ssd``/``hdd`` is ``storage``.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("n", "node")
    >>> for g in range(2):
    ...     _ = b.add_node(f"n.g{g}", "gpu", parent="n")
    ...     _ = b.add_node(f"n.g{g}.h", "hbm", parent=f"n.g{g}")
    >>> t = b.build()
    >>> g0 = t.index("n.g0")
    >>> tier_of(t, g0, t.index("n.g0.h")), tier_of(t, g0, t.index("n.g1.h"))
    ('local', 'peer')
    """
    info = _Structure(topology, storage=True)
    code = info.tiers(np.array([element]), np.array([memory]))[0]
    return TIERS[int(code)]


def memory_reach(
    topology: Topology,
    sources: str | Sequence[int] | np.ndarray = "role:compute",
    *,
    within: float | None = None,
    storage: bool = False,
    direction: str = "read",
    forwarding: str = "hardware",
    progress: Progress | None = None,
) -> ReachResult:
    """Every memory each selected compute element reaches, with latency, bandwidth and tier.

    Parameters
    ----------
    topology : Topology
    sources : selector string or node rows of compute elements (gpu, chiplet, cpu).
    within : latency budget in seconds; only memories at most this far are listed (inclusive,
        to one part in a billion). ``None`` lists everything reachable.
    storage : also list SSDs and HDDs (tier ``storage`` in the same server, else ``remote``).
    direction : ``"read"`` (memory to element, the default) or ``"write"``.
    forwarding : ``"hardware"`` (default) or ``"ideal"``: which components traffic may pass
        through, for latency paths and bandwidths alike (:mod:`topodsl.solvers.forwarding`).
    progress : a :data:`topodsl.progress.Progress` callback, told how many elements are done
        (``"reach: elements"``).

    Returns
    -------
    ReachResult

    Raises
    ------
    SolverError
        A selection that is empty or holds non-compute components, a bad budget or direction,
        or a query so large it would produce more than :data:`MAX_ROWS` rows or search the
        whole of a very large topology from many elements (give ``within``).

    Examples
    --------
    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> _ = b.add_node("c", "cpu"); _ = b.add_node("sw", "cxl_switch", latency=7e-8)
    >>> _ = b.add_node("m", "cxl_memory", capacity=256e9, latency=1.7e-7, bandwidth=1e11)
    >>> _ = b.add_link("c", "sw", bandwidth=63e9); _ = b.add_link("sw", "m", bandwidth=63e9)
    >>> r = memory_reach(b.build())
    >>> TIERS[r.tier[0]], float(r.latency[0]), float(r.bandwidth[0]), int(r.hops[0])
    ('cxl', 2.4e-07, 63000000000.0, 2)
    """
    if direction not in ("read", "write"):
        raise SolverError(f"unknown direction {direction!r} (use 'read' or 'write')")
    budget = np.inf if within is None else float(within)
    if not budget >= 0:
        raise SolverError(f"the latency budget must be zero or more, got {within!r}")
    rows = _as_rows(topology, sources, "element selection")
    role = topology.role_codes[rows]
    bad = np.flatnonzero(role != _ROLE_COMPUTE)
    if len(bad):
        r = int(rows[bad[0]])
        raise SolverError(
            f"memory reach starts from compute elements (gpu, chiplet, cpu); "
            f"{topology.nodes.ids[r]!r} is a {topology.kind_of(r)}",
        )
    check_forwarding(forwarding)
    result = _ReachSolver(topology, budget, storage, direction, forwarding).run(
        rows, progress, "reach: elements"
    )
    if not forwarding_plan(topology, forwarding).beyond.any():
        return result
    # Relaying is measured against the strict hardware defaults with the same fabric domains
    # (none for the ideal ceiling), as for max_flow.
    base = _ReachSolver(
        topology, budget, storage, direction, "hardware", strict=True, fabric_of=forwarding
    ).run(rows, progress, "reach: elements, without relaying")
    return _mark_relayed(result, base)


def _mark_relayed(result: ReachResult, base: ReachResult) -> ReachResult:
    """Flag the rows and tiers of ``result`` that are nearer or faster than under the strict
    hardware defaults (``base``), or missing there: their figures depend on relaying."""
    n = len(result.names)

    def better(keys, bw, lat, b_keys, b_bw, b_lat) -> np.ndarray:
        order = np.argsort(b_keys)
        pos = np.minimum(np.searchsorted(b_keys[order], keys), max(len(b_keys) - 1, 0))
        if len(b_keys) == 0:
            return np.ones(len(keys), dtype=bool)
        j = order[pos]
        found = b_keys[j] == keys
        faster = bw > b_bw[j] * (1 + REL_TOL) + 1e-300
        nearer = lat < b_lat[j] * (1 - 1e-12)
        return ~found | faster | nearer

    rows = better(
        result.source * n + result.memory,
        result.bandwidth,
        result.latency,
        base.source * n + base.memory,
        base.bandwidth,
        base.latency,
    )
    t, bt = result.tiers, base.tiers
    k = len(TIERS)
    tiers = better(
        t.source * k + t.tier,
        t.bandwidth,
        t.latency,
        bt.source * k + bt.tier,
        bt.bandwidth,
        bt.latency,
    )
    # A tier also depends on relaying when it holds memories only relaying reaches.
    b_pos = {int(key): i for i, key in enumerate((bt.source * k + bt.tier).tolist())}
    for i, key in enumerate((t.source * k + t.tier).tolist()):
        j = b_pos.get(int(key))
        if j is not None and int(bt.count[j]) < int(t.count[i]):
            tiers[i] = True
    return replace(result, relayed=rows, tiers=replace(t, relayed=tiers))


# -- selections ------------------------------------------------------------------------------------


def _as_rows(topology: Topology, sel: Any, what: str) -> np.ndarray:
    if isinstance(sel, str):
        rows = topology.select(sel)
        if len(rows) == 0:
            raise SolverError(f"the {what} {sel!r} matches no component")
        return rows
    rows = np.unique(np.asarray(sel, dtype=np.int64))
    if len(rows) == 0:
        raise SolverError(f"the {what} is empty")
    if rows[0] < 0 or rows[-1] >= topology.num_nodes:
        raise SolverError(f"the {what} holds a row outside the topology")
    return rows


# -- structure: containment, tiers, latency arcs ----------------------------------------------


class _Structure:
    """Per-topology arrays the reach needs: containment facts and the latency arcs."""

    def __init__(
        self,
        topology: Topology,
        storage: bool,
        forwarding: str = "hardware",
        strict: bool = False,
        fabric_of: str | None = None,
    ):
        self.t = topology
        n = self.n = topology.num_nodes
        nodes = topology.nodes
        self.parent = nodes.parent.astype(np.int64)
        self.kind = nodes.kind
        role = topology.role_codes
        kinds = MEMORY_KINDS + (STORAGE_KINDS if storage else ())
        self.target = np.isin(self.kind, [KIND_CODE[k] for k in kinds])
        # Memory and storage are endpoints only; containers carry nothing.
        self.endpoint_only = np.isin(role, [_ROLE_MEMORY, _ROLE_STORAGE])

        # Containment facts, one pass per level.
        self.depth = topology.depth.astype(np.int64)
        is_compute = role == _ROLE_COMPUTE
        is_node = np.isin(self.kind, _NODE_KINDS)
        self.package = np.where(is_compute, np.arange(n), -1)  # outermost compute, self incl.
        self.die = np.full(n, -1, dtype=np.int64)  # nearest compute strictly above
        self.server = np.full(n, -1, dtype=np.int64)  # nearest node/storage_node above
        cur = self.parent.copy()
        while True:
            live = np.flatnonzero(cur >= 0)
            if len(live) == 0:
                break
            a = cur[live]
            comp = is_compute[a]
            self.package[live[comp]] = a[comp]
            first_die = comp & (self.die[live] < 0)
            self.die[live[first_die]] = a[first_die]
            first = is_node[a] & (self.server[live] < 0)
            self.server[live[first]] = a[first]
            cur[live] = self.parent[a]
        self.has_children = np.zeros(n, dtype=bool)
        self.has_children[self.parent[self.parent >= 0]] = True
        # Servers holding no compute element are memory boxes (a CXL pool), not hosts.
        self.server_computes = np.zeros(n, dtype=bool)
        held = self.server[is_compute]
        self.server_computes[held[held >= 0]] = True

        # Latency arcs over the vertices of the flow network, so that a path obeys the
        # forwarding model (it never passes through a GPU, enters a package and leaves it, or
        # goes host to host through a CXL switch): a link arc u -> v costs the link's latency
        # plus v's own latency; the arcs inside a component (its limit, a package's delivery
        # from one layer to the other) cost nothing. Vertices are numbered row by row.
        # Built here, not cached: of the network only the vertices of each row are kept.
        net = build_network(topology, forwarding=forwarding, strict=strict)
        self.plan = forwarding_plan(topology, forwarding, strict=strict)
        # Fabric domains are those of the model itself, also for the strict comparison (see
        # max_flow): per row, and per vertex for the fabric-only latency paths.
        fab = forwarding_plan(topology, fabric_of or forwarding)
        self.domain, self.member = fab.domain, fab.member
        self.vdomain = fab.domain[net.owner]
        self.nv = net.num_vertices
        self.vptr = np.searchsorted(net.owner, np.arange(n + 1))
        self.vin, self.vout = net.vin, net.vout
        L = topology.links
        lat = nodes.latency
        ok = L.bandwidth > 0
        src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
        use = net.capacity > 0
        tail, head = net.tail[use], net.head[use]
        is_link = net.what[use] == ARC_LINK
        w = np.zeros(len(tail))
        w[is_link] = L.latency[net.ref[use][is_link]] + lat[net.owner[head[is_link]]]
        hop = is_link.astype(np.float64)
        order = np.lexsort((w, head, tail))
        tail, head, w, hop = tail[order], head[order], w[order], hop[order]
        first = np.ones(len(tail), dtype=bool)
        first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        self.a_tail, self.a_head, self.a_w = tail[first], head[first], w[first]
        self.a_hop = hop[first]
        self.a_ptr = np.searchsorted(self.a_tail, np.arange(self.nv + 1))
        # Rows with a relay attribute, for the scopes' own topologies.
        self.relay_rows = np.flatnonzero(relay_attribute(topology) >= 0)

        # Memories linked to exactly one other component (the "gateway"), and what the memory
        # side of that attachment can carry each way.
        t_src, t_dst = self.target[src] & ok, self.target[dst] & ok
        m = np.concatenate([src[t_src], dst[t_dst]])
        other = np.concatenate([dst[t_src], src[t_dst]])
        bw = np.concatenate([L.bandwidth[t_src], L.bandwidth[t_dst]])
        simplex = np.concatenate([L.simplex[t_src], L.simplex[t_dst]])
        m_is_src = np.concatenate([np.ones(t_src.sum(), bool), np.zeros(t_dst.sum(), bool)])
        lo = np.full(n, np.iinfo(np.int64).max)
        hi = np.full(n, -1)
        np.minimum.at(lo, m, other)
        np.maximum.at(hi, m, other)
        self.gateway = np.where((hi >= 0) & (lo == hi), hi, -1)
        out_cap = np.zeros(n)  # memory -> gateway, B/s
        in_cap = np.zeros(n)  # gateway -> memory, B/s
        np.add.at(out_cap, m[~simplex | m_is_src], bw[~simplex | m_is_src])
        np.add.at(in_cap, m[~simplex | ~m_is_src], bw[~simplex | ~m_is_src])
        self.leaf_read = np.minimum(out_cap, egress_limit(topology, np.arange(n)))
        self.leaf_write = np.minimum(in_cap, ingress_limit(topology, np.arange(n)))
        # Directly linked (element, memory) pairs, as sorted keys.
        self.linked = np.unique(np.concatenate([other * n + m, m * n + other]))

    # ---- containment ---------------------------------------------------------------------

    def is_descendant(self, m: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Whether each ``m[i]`` lies strictly inside ``s[i]``."""
        hit = np.zeros(len(m), dtype=bool)
        cur = self.parent[m]
        while True:
            live = cur >= 0
            if not live.any():
                return hit
            hit |= live & (cur == s)
            cur = np.where(live, self.parent[np.maximum(cur, 0)], -1)

    def tiers(self, s: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Tier codes (see :func:`tier_of`) of memories ``m`` seen from elements ``s``."""
        s = np.asarray(s, dtype=np.int64)
        m = np.asarray(m, dtype=np.int64)
        keys = s * self.n + m
        pos = np.minimum(np.searchsorted(self.linked, keys), max(len(self.linked) - 1, 0))
        linked = (self.linked[pos] == keys) if len(self.linked) else np.zeros(len(m), bool)
        die_s, die_m = self.die[s], self.die[m]
        local = linked | self.is_descendant(m, s) | ((die_m >= 0) & (die_m == die_s))
        pkg_s, pkg_m = self.package[s], self.package[m]
        same_pkg = (pkg_s >= 0) & (pkg_s == pkg_m)
        node_s, node_m = self.server[s], self.server[m]
        kind = self.kind[m]
        pool = (node_m < 0) | ~self.server_computes[np.maximum(node_m, 0)]
        cxl = (kind == KIND_CODE["cxl_memory"]) & ((node_m == node_s) | pool)
        remote = node_m != node_s
        by_kind = np.full(len(m), _STORAGE, dtype=np.uint8)
        by_kind[kind == KIND_CODE["hbm"]] = _PEER
        by_kind[kind == KIND_CODE["dram"]] = _HOST
        by_kind[kind == KIND_CODE["cxl_memory"]] = _CXL
        out = np.where(remote, _REMOTE, by_kind)
        out = np.where(cxl, _CXL, out)
        out = np.where(same_pkg, _PKG, out)
        out = np.where(local, _LOCAL, out)
        return out.astype(np.uint8)

    def subtree(self, root: int) -> np.ndarray:
        """Rows of ``root`` and everything inside it, ascending."""
        if root < 0:
            return np.arange(self.n)
        d = int(self.depth[root])
        cand = np.flatnonzero(self.depth >= d)
        a = cand.copy()
        while True:
            up = self.depth[a] > d
            if not up.any():
                break
            a[up] = self.parent[a[up]]
        return cand[a == root]

    def ancestors(self, row: int) -> list[int]:
        """``row`` and its ancestors, innermost first."""
        out = [row]
        while self.parent[out[-1]] >= 0:
            out.append(int(self.parent[out[-1]]))
        return out


# -- local search graphs ------------------------------------------------------------------------


@dataclass
class _Context:
    """The latency arcs inside one component (between its rows' vertices, numbered locally)
    and those leaving it (``exit_head`` is a global vertex)."""

    rows: np.ndarray
    vertices: np.ndarray
    csr: sp.csr_array
    arc_tail: np.ndarray
    arc_head: np.ndarray
    arc_w: np.ndarray
    arc_hop: np.ndarray
    exit_tail: np.ndarray
    exit_w: np.ndarray
    exit_head: np.ndarray


@dataclass
class _Scope:
    """A component's subtree as a topology of its own, for local max flows (root -1: all)."""

    root: int
    rows: np.ndarray
    topo: Topology
    blocked: np.ndarray
    lsrc: np.ndarray
    ldst: np.ndarray
    bandwidth: np.ndarray

    _labels: np.ndarray | None = None

    def local(self, rows: np.ndarray | int) -> np.ndarray:
        return np.searchsorted(self.rows, rows)

    def labels(self) -> np.ndarray:
        """Connected components over links that can carry data (a necessary condition for
        any flow; links between two memories or storage devices are left out)."""
        if self._labels is None:
            n = len(self.rows)
            ok = (self.bandwidth > 0) & ~(self.blocked[self.lsrc] & self.blocked[self.ldst])
            g = sp.csr_array(
                (np.ones(int(ok.sum()), dtype=np.int8), (self.lsrc[ok], self.ldst[ok])),
                shape=(n, n),
            )
            self._labels = connected_components(g, directed=False)[1]
        return self._labels


# -- the solver ---------------------------------------------------------------------------------


@dataclass
class _Part:
    """The reach of one representative element, in its context's local row numbers."""

    ranks: np.ndarray
    latency: np.ndarray
    hops: np.ndarray
    tier: np.ndarray
    bandwidth: np.ndarray
    t_tier: np.ndarray
    t_count: np.ndarray
    t_latency: np.ndarray
    t_bandwidth: np.ndarray
    dist: np.ndarray | None = None  # over the context's rows; kept when exits_near
    exits_near: bool = False


class _ReachSolver:
    def __init__(
        self,
        topology: Topology,
        budget: float,
        storage: bool,
        direction: str,
        forwarding: str,
        strict: bool = False,
        fabric_of: str | None = None,
    ):
        self.t = topology
        self.forwarding = forwarding
        self.strict = strict
        self.s = _Structure(topology, storage, forwarding, strict, fabric_of)
        self.groups: dict[int, np.ndarray] = {}
        self.budget = budget
        self.limit = budget * (1 + _BUDGET_REL) if np.isfinite(budget) else np.inf
        self.storage = storage
        self.read = direction == "read"
        self.direction = direction
        self.contexts: dict[int, _Context] = {}
        self.fabric_csr: dict[tuple[int, int], tuple[np.ndarray, sp.csr_array]] = {}
        self.scopes: dict[int, _Scope] = {}
        self.pair_value: dict[tuple[int, int], float] = {}
        self.pair_cut: dict[tuple[int, int], tuple] = {}
        self.first: dict[tuple, int] = {}
        self.intra: dict[tuple[int, int], tuple[float, int]] = {}
        self.intra_shape: dict[tuple[bytes, int, int], float] = {}
        self.shape_value: dict[tuple, float] = {}
        self.lca: dict[tuple[int, int], int] = {}
        self.shapes: dict[int, tuple[bytes, np.ndarray] | None] = {}
        self.joint_cuts: dict[bytes, list] = {}
        self.chains: dict[int, tuple[list[int], dict[int, int]]] = {}
        self.flow_work = 0.0
        self.computed = 0
        self.nearest: np.ndarray | None = None

    def members(self, s: int) -> np.ndarray:
        """The rows that act for element ``s``: itself and every component inside it that
        is not memory or storage (a GPU package and its chiplets), as bisection takes an
        endpoint with its members. Ascending."""
        hit = self.groups.get(s)
        if hit is None:
            S = self.s
            sub = S.subtree(s) if S.has_children[s] else np.array([s])
            keep = ~S.endpoint_only[sub] & (self.t.role_codes[sub] != _ROLE_CONTAINER)
            hit = self.groups[s] = sub[keep]
        return hit

    def single(self, s: int) -> bool:
        """Whether element ``s`` acts alone (it holds no other component that carries flow)."""
        return len(self.members(s)) == 1

    # ---- driver ----------------------------------------------------------------------------

    def run(
        self, rows: np.ndarray, progress: Progress | None = None, stage: str = ""
    ) -> ReachResult:
        S = self.s
        pieces: list[tuple[np.ndarray, np.ndarray, _Part]] = []  # (sources, memory rows, part)
        total = 0
        done = 0  # elements finished, for progress
        pending = rows
        ctx = S.parent[rows]
        whole: list[np.ndarray] = []
        while len(pending):
            top = ctx < 0
            if top.any():
                whole.append(pending[top])
                pending, ctx = pending[~top], ctx[~top]
            if not len(pending):
                break
            groups, members, start, root_of, rank = self._group(pending, ctx)
            failed: list[np.ndarray] = []
            for idx in groups:
                i0 = int(idx[0])
                j0 = int(root_of[i0])
                D = members[start[j0] : start[j0 + 1]]
                part = self._solve_in(int(pending[i0]), int(ctx[i0]), D)
                if part is None:
                    failed.append(idx)
                    continue
                if part.exits_near and len(idx) > 1:
                    ok = self._members_stay_inside(part, members, start, root_of[idx])
                    if not ok.all():
                        failed.append(idx[~ok])
                        idx = idx[ok]
                roots_j = root_of[idx]
                mem = members[start[roots_j][:, None] + part.ranks[None, :]]
                total += mem.size
                self._check_rows(total)
                pieces.append((pending[idx], mem, part))
                done += len(idx)
                report(progress, stage, done, len(rows))
            if failed:
                f = np.sort(np.concatenate(failed))
                pending, ctx = pending[f], S.parent[ctx[f]]
            else:
                break
        if whole:
            everything = np.sort(np.concatenate(whole))
            n_arcs = len(S.a_tail)
            if len(everything) * (S.nv + n_arcs) > _SEARCH_WORK_LIMIT and len(everything) > 1:
                raise SolverError(
                    f"the reach of {len(everything)} elements leaves every component around them"
                    f" and would search the whole topology ({S.n} components) once per element;"
                    " give a latency budget (--within) that keeps it inside the servers, or "
                    "select fewer elements (--from)"
                )
            all_rows = np.arange(S.n)
            for s in everything.tolist():
                part = self._solve_in(s, -1, all_rows)
                assert part is not None
                total += len(part.ranks)
                self._check_rows(total)
                pieces.append((np.array([s]), part.ranks[None, :], part))
                done += 1
                report(progress, stage, done, len(rows))
        return self._assemble(rows, pieces)

    def _check_rows(self, total: int) -> None:
        if total > MAX_ROWS:
            raise SolverError(
                f"memory reach would list more than {MAX_ROWS:,} (element, memory) pairs; give a"
                " latency budget (--within) or select fewer elements (--from)"
            )

    def _assemble(self, rows, pieces) -> ReachResult:
        t = self.t
        src_parts, mem_parts, lat, bw, hops, tier = [], [], [], [], [], []
        ts, tt, tc, tcap, tl, tb = [], [], [], [], [], []
        cap_all = t.nodes.capacity
        for sources, mem, p in pieces:
            m, k = mem.shape
            src_parts.append(np.repeat(sources, k))
            mem_parts.append(mem.ravel())
            lat.append(np.tile(p.latency, m))
            bw.append(np.tile(p.bandwidth, m))
            hops.append(np.tile(p.hops, m))
            tier.append(np.tile(p.tier, m))
            nt = len(p.t_tier)
            ts.append(np.repeat(sources, nt))
            tt.append(np.tile(p.t_tier, m))
            tc.append(np.tile(p.t_count, m))
            tl.append(np.tile(p.t_latency, m))
            tb.append(np.tile(p.t_bandwidth, m))
            # Capacity per tier: sum over the rows of that tier (identical across copies).
            per = np.zeros((nt,))
            if nt:
                code_pos = np.searchsorted(p.t_tier, p.tier)
                np.add.at(per, code_pos, cap_all[mem[0]])
            tcap.append(np.tile(per, m))

        def cat(parts, dtype):
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        source = cat(src_parts, np.int64)
        memory = cat(mem_parts, np.int64)
        latency = cat(lat, np.float64)
        order = np.lexsort((memory, latency, source))
        source, memory, latency = source[order], memory[order], latency[order]
        t_source = cat(ts, np.int64)
        t_tier = cat(tt, np.uint8)
        t_order = np.lexsort((t_tier, t_source))
        tiers = TierTable(
            source=t_source[t_order],
            tier=t_tier[t_order],
            count=cat(tc, np.int64)[t_order],
            capacity=cat(tcap, np.float64)[t_order],
            latency=cat(tl, np.float64)[t_order],
            bandwidth=cat(tb, np.float64)[t_order],
        )
        return ReachResult(
            names=t.nodes.ids,
            direction=self.direction,
            within=self.budget,
            storage=self.storage,
            sources=rows,
            source=source,
            memory=memory,
            kind=t.nodes.kind[memory],
            tier=cat(tier, np.uint8)[order],
            latency=latency,
            bandwidth=cat(bw, np.float64)[order],
            capacity=cap_all[memory],
            hops=cat(hops, np.int32)[order],
            tiers=tiers,
            computed=self.computed,
            forwarding=self.forwarding,
        )

    # ---- grouping identical contexts -------------------------------------------------------

    def _group(self, pending: np.ndarray, ctx: np.ndarray):
        """Group elements whose contexts are identical and who sit at the same place in them.

        Returns the groups (arrays of indices into ``pending``, each ascending, groups ordered
        by their first element), the contexts' members (sorted rows, context by context), the
        start offset of each context in it, each element's context number and its rank there.
        """
        S = self.s
        roots, root_of = np.unique(ctx, return_inverse=True)
        members, mroot, digests = self._fingerprints(roots)
        start = np.searchsorted(mroot, np.arange(len(roots) + 1))
        keys = root_of.astype(np.int64) * S.n + pending
        mkeys = mroot.astype(np.int64) * S.n + members
        rank = np.searchsorted(mkeys, keys) - start[root_of]
        table: dict[tuple[bytes, int], list[int]] = {}
        dig = [digests[j] for j in root_of.tolist()]
        for i, (d, r) in enumerate(zip(dig, rank.tolist(), strict=True)):
            table.setdefault((d, r), []).append(i)
        groups = [np.array(v, dtype=np.int64) for v in table.values()]
        return groups, members, start, root_of, rank

    def _fingerprints(self, roots: np.ndarray):
        """Members of each root's subtree and a structural digest per root.

        Two roots with equal digests have subtrees that match row for row in ascending order:
        same kinds, attributes, forwarding classes, parent structure, internal links, links
        crossing the boundary (with the latency and kind of what they reach outside, their
        sides at a CXL switch and whether they lie inside a package) and the same kinds above.
        """
        S, t = self.s, self.t
        nodes, L = t.nodes, t.links
        n = S.n
        rdepth = S.depth[roots]
        all_m, all_r = [], []
        digests: list[bytes] = [b""] * len(roots)
        src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
        node_cols = np.column_stack(
            [
                nodes.kind.astype(np.float64),
                nodes.bandwidth,
                nodes.read_bandwidth,
                nodes.write_bandwidth,
                nodes.capacity,
                nodes.latency,
                nodes.ports.astype(np.float64),
                # How each row forwards (its class, its own relay attribute).
                S.plan.klass.astype(np.float64),
                relay_attribute(t).astype(np.float64),
            ]
        )
        # Per link: its sides at a CXL switch, and whether it lies inside a sealed package.
        seal = S.plan.seal
        inner_pkg = (seal[src] >= 0) & (seal[src] == seal[dst])
        link_cols = np.column_stack(
            [
                L.bandwidth,
                L.latency,
                L.simplex.astype(float),
                L.half_duplex.astype(float),
                S.plan.host_end[:, 0].astype(float),
                S.plan.host_end[:, 1].astype(float),
                inner_pkg.astype(float),
            ]
        )
        for d in np.unique(rdepth).tolist():
            sel = np.flatnonzero(rdepth == d)
            R = roots[sel]
            rmap = np.full(n, -1, dtype=np.int64)
            rmap[R] = sel
            cand = np.flatnonzero(S.depth >= d)
            a = cand.copy()
            while True:
                up = S.depth[a] > d
                if not up.any():
                    break
                a[up] = S.parent[a[up]]
            lab = rmap[a]
            keep = lab >= 0
            rows_d, lab_d = cand[keep], lab[keep]
            o = np.argsort(lab_d, kind="stable")
            rows_d, lab_d = rows_d[o], lab_d[o]
            all_m.append(rows_d)
            all_r.append(lab_d)

            # Local ranks and labels.
            labn = np.full(n, -1, dtype=np.int64)
            labn[rows_d] = lab_d
            first = np.searchsorted(lab_d, sel)
            rk = np.full(n, -1, dtype=np.int64)
            rk[rows_d] = np.arange(len(rows_d)) - first[np.searchsorted(sel, lab_d)]
            par = S.parent[rows_d]
            safe = np.maximum(par, 0)
            prank = np.where((par >= 0) & (labn[safe] == lab_d), rk[safe], -1)
            # Which rows share a fabric domain: per row the rank of the domain's first row in
            # the subtree (-1 outside every domain), and whether it is an accelerator's.
            dom = S.domain[rows_d]
            same = np.full(len(rows_d), -1, dtype=np.int64)
            have = np.flatnonzero(dom >= 0)
            if len(have):
                keys = lab_d[have] * (int(dom.max()) + 1) + dom[have]
                _, first_at, inv = np.unique(keys, return_index=True, return_inverse=True)
                same[have] = rk[rows_d[have[first_at[inv]]]]
            row_feat = np.column_stack(
                [
                    prank.astype(np.float64),
                    node_cols[rows_d],
                    same.astype(np.float64),
                    S.member[rows_d].astype(np.float64),
                ]
            )
            gates = self._gate_digests(labn, rk)

            ls, ld = labn[src], labn[dst]
            inner = (ls >= 0) & (ls == ld)
            f_in = np.column_stack([rk[src][inner], rk[dst][inner], link_cols[inner]]).astype(
                np.float64
            )
            k_in = ls[inner]
            b1 = (ls >= 0) & (ls != ld)
            b2 = (ld >= 0) & (ls != ld)
            lat = nodes.latency
            kind = nodes.kind.astype(np.float64)
            f_b = np.concatenate(
                [
                    np.column_stack(
                        [
                            rk[src][b1],
                            np.zeros(b1.sum()),
                            link_cols[b1],
                            lat[dst][b1],
                            kind[dst][b1],
                        ]
                    ),
                    np.column_stack(
                        [rk[dst][b2], np.ones(b2.sum()), link_cols[b2], lat[src][b2], kind[src][b2]]
                    ),
                ]
            )
            k_b = np.concatenate([ls[b1], ld[b2]])
            f_in, k_in = _sorted_rows(f_in, k_in)
            f_b, k_b = _sorted_rows(f_b, k_b)

            # What is above each root: the kinds of its ancestors, and its definition.
            chain = np.full((len(R), d + 1), -1, dtype=np.int64)
            cur = R.copy()
            for level in range(d + 1):
                chain[:, level] = np.where(cur >= 0, nodes.kind[np.maximum(cur, 0)], -1)
                cur = np.where(cur >= 0, S.parent[np.maximum(cur, 0)], -1)
            templ = nodes.template[R]

            r_start = np.searchsorted(lab_d, sel)
            r_end = np.searchsorted(lab_d, sel, side="right")
            i_start = np.searchsorted(k_in, sel)
            i_end = np.searchsorted(k_in, sel, side="right")
            b_start = np.searchsorted(k_b, sel)
            b_end = np.searchsorted(k_b, sel, side="right")
            for j in range(len(sel)):
                h = hashlib.blake2b(digest_size=16)
                h.update(int(templ[j]).to_bytes(8, "little", signed=True))
                h.update(chain[j].tobytes())
                h.update(row_feat[r_start[j] : r_end[j]].tobytes())
                h.update(b"|")
                h.update(f_in[i_start[j] : i_end[j]].tobytes())
                h.update(b"|")
                h.update(f_b[b_start[j] : b_end[j]].tobytes())
                h.update(gates.get(int(sel[j]), b""))
                digests[int(sel[j])] = h.digest()
        members = np.concatenate(all_m)
        mroot = np.concatenate(all_r)
        o = np.lexsort((members, mroot))
        return members[o], mroot[o], digests

    def _gate_digests(self, labn, rk) -> dict[int, bytes]:
        """Per root (label) of a fingerprint pass: the ports of its gated CPUs and the pairs
        they do not forward between, each port told by what its links reach (a row's rank in
        the subtree, or the kind of a row outside it)."""
        plan = self.s.plan
        if not len(plan.port_row):
            return {}
        L = self.t.links
        kind = self.t.nodes.kind
        out: dict[int, list] = {}
        src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
        far_of: dict[int, list] = {}
        for end, far in ((0, dst), (1, src)):
            for e in np.flatnonzero(plan.port[:, end] >= 0).tolist():
                f = int(far[e])
                near = int(src[e] if end == 0 else dst[e])
                inside = labn[f] >= 0 and labn[f] == labn[near]
                far_of.setdefault(int(plan.port[e, end]), []).append(
                    int(rk[f]) if inside else -2 - int(kind[f])
                )
        desc = {p: tuple(sorted(v)) for p, v in far_of.items()}
        for p, q in plan.forbid.tolist():
            c = int(plan.port_row[p])
            lab = int(labn[c])
            if lab < 0:
                continue
            pair = tuple(sorted((desc.get(p, ()), desc.get(q, ()))))
            out.setdefault(lab, []).append((int(rk[c]), pair))
        return {lab: repr(sorted(v)).encode() for lab, v in out.items()}

    # ---- one element in one context --------------------------------------------------------

    def _context(self, root: int, D: np.ndarray) -> _Context:
        hit = self.contexts.get(root)
        if hit is not None:
            return hit
        S = self.s
        P = _ranges(S.vptr[D], S.vptr[D + 1])  # the rows' vertices, ascending
        starts, ends = S.a_ptr[P], S.a_ptr[P + 1]
        arcs = _ranges(starts, ends)
        tails = np.repeat(np.arange(len(P)), ends - starts)
        heads_g = S.a_head[arcs]
        pos = np.minimum(np.searchsorted(P, heads_g), len(P) - 1)
        inside = P[pos] == heads_g
        w = S.a_w[arcs]
        t_in, h_in, w_in = tails[inside], pos[inside], w[inside]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(t_in, minlength=len(P)))])
        csr = sp.csr_array((w_in, h_in, indptr), shape=(len(P), len(P)))
        c = _Context(
            D,
            P,
            csr,
            t_in,
            h_in,
            w_in,
            S.a_hop[arcs][inside],
            tails[~inside],
            w[~inside],
            heads_g[~inside],
        )
        if len(self.contexts) > 64:
            self.contexts.clear()
        self.contexts[root] = c
        return c

    def _solve_in(self, s: int, root: int, D: np.ndarray) -> _Part | None:
        """The reach of ``s`` computed inside ``root`` (rows ``D``); None if it leaves it."""
        S = self.s
        c = self._context(root, D)
        ls = np.searchsorted(c.vertices, S.vout[self.members(s)])
        dist = dijkstra(c.csr, indices=ls, limit=self.limit, min_only=True)
        exits_near = False
        if len(c.exit_tail):
            # A path that leaves the context is at least as long as the way to its exit, plus
            # the exit arc, plus the shortest way from there to any memory at all. If that
            # exceeds the budget for every exit, nothing outside can change the answer.
            de = dist[c.exit_tail] + c.exit_w
            near = np.isfinite(de) & (de <= self.limit)
            if near.any():
                onward = self._to_nearest_target()[c.exit_head[near]]
                if np.any(de[near] + onward <= self.limit):
                    return None
                exits_near = True
        # A memory is reached where data written to it arrives: its in vertex.
        at = np.searchsorted(c.vertices, S.vin[D])
        hops_to = self._hops(c, ls, dist)
        # The memory of the element's own fabric domain is reached over its fabric only.
        d = int(S.domain[s]) if S.member[s] else -1
        if d >= 0 and np.any(S.member[D] & (S.domain[D] == d) & S.target[D]):
            ok, csr = self._fabric_arcs(root, c, d)
            dist_f = dijkstra(csr, indices=ls, limit=self.limit, min_only=True)
            hops_f = self._hops(c, ls, dist_f, ok)
            mine = S.member[D] & (S.domain[D] == d)
            reach = np.where(mine, dist_f[at], dist[at])
            hop_all = np.where(mine, hops_f[at], hops_to[at])
        else:
            reach, hop_all = dist[at], hops_to[at]
        ranks = np.flatnonzero(np.isfinite(reach) & S.target[D])
        latency = reach[ranks]
        hops = hop_all[ranks]
        mem = D[ranks]
        far = S.server[mem]
        far = np.unique(far[far != S.server[s]])
        if len(far):
            # Memory in other servers needs flows over the component holding them all, about
            # one per server at best: refuse at once rather than after hours.
            estimate = (len(far) + 1) * (len(D) + len(c.arc_tail) / 2)
            if self.flow_work + estimate > _FLOW_WORK_LIMIT:
                raise SolverError(
                    f"the reach of {self.t.nodes.ids[s]!r} spans {len(far)} other servers of a "
                    f"{S.n:,}-component topology, each needing max flows over all of it; give a "
                    "latency budget (--within) or use a smaller topology"
                )
        src = np.full(len(mem), s)
        tier = S.tiers(src, mem)
        try:
            bw = self._bandwidths(s, mem, root)
        except _LeavesContext:
            return None
        t_tier = np.unique(tier)
        t_count = np.zeros(len(t_tier), dtype=np.int64)
        t_lat = np.zeros(len(t_tier))
        t_bw = np.zeros(len(t_tier))
        for i, code in enumerate(t_tier.tolist()):
            sel = tier == code
            t_count[i] = int(sel.sum())
            t_lat[i] = float(latency[sel].min())
            try:
                t_bw[i] = self._joint(s, mem[sel], bw[sel], root)
            except _LeavesContext:
                return None
        self.computed += 1
        return _Part(
            ranks,
            latency,
            hops.astype(np.int32),
            tier,
            bw,
            t_tier,
            t_count,
            t_lat,
            t_bw,
            dist if exits_near else None,
            exits_near,
        )

    def _hops(self, c: _Context, ls, dist, ok: np.ndarray | None = None) -> np.ndarray:
        """Per context vertex: the fewest links over the arcs that lie on some lowest-latency
        path (from the element's vertices ``ls``; only the arcs where ``ok`` when given)."""
        t, h, w, hop = c.arc_tail, c.arc_head, c.arc_w, c.arc_hop
        if ok is not None:
            t, h, w, hop = t[ok], h[ok], w[ok], hop[ok]
        dt, dh = dist[t], dist[h]
        tight = np.isfinite(dt) & (dt + w <= dh + _REL * np.abs(dh))
        g = sp.csr_array(
            (hop[tight], (t[tight], h[tight])), shape=(len(c.vertices), len(c.vertices))
        )
        return dijkstra(g, indices=ls, min_only=True)

    def _fabric_arcs(self, root: int, c: _Context, d: int):
        """Which of the context's latency arcs join two vertices of fabric domain ``d``, and
        those arcs as a graph."""
        key = (root, d)
        hit = self.fabric_csr.get(key)
        if hit is None:
            vd = self.s.vdomain[c.vertices]
            ok = (vd[c.arc_tail] == d) & (vd[c.arc_head] == d)
            n = len(c.vertices)
            csr = sp.csr_array((c.arc_w[ok], (c.arc_tail[ok], c.arc_head[ok])), shape=(n, n))
            if len(self.fabric_csr) > 64:
                self.fabric_csr.clear()
            hit = self.fabric_csr[key] = (ok, csr)
        return hit

    def _to_nearest_target(self) -> np.ndarray:
        """Latency from every vertex to the nearest memory (searched backwards from all
        memories at once, up to the budget)."""
        if self.nearest is None:
            S = self.s
            n = S.nv
            rev = sp.csr_array((S.a_w, (S.a_head, S.a_tail)), shape=(n, n))
            targets = S.vin[np.flatnonzero(S.target)]
            if len(targets) == 0:
                self.nearest = np.full(n, np.inf)
            else:
                self.nearest = dijkstra(rev, indices=targets, min_only=True, limit=self.limit)
        return self.nearest

    def _members_stay_inside(self, part: _Part, members, start, roots) -> np.ndarray:
        """For each copy of a context (``roots``), whether no exit from it leads to a memory
        within the budget, given the representative's distances (the same in every copy)."""
        S = self.s
        lo, hi = start[roots], start[roots + 1]
        rows = members[_ranges(lo, hi)]
        # The copies' vertices, row by row as in the representative's context.
        per_row = S.vptr[rows + 1] - S.vptr[rows]
        verts = _ranges(S.vptr[rows], S.vptr[rows + 1])
        counts = np.bincount(
            np.repeat(np.repeat(np.arange(len(roots)), hi - lo), per_row), minlength=len(roots)
        )
        which = np.repeat(np.arange(len(roots)), counts)
        rank = _ranges(np.zeros(len(roots), dtype=np.int64), counts)
        label = np.full(S.nv, -1, dtype=np.int64)
        label[verts] = which
        a0, a1 = S.a_ptr[verts], S.a_ptr[verts + 1]
        arcs = _ranges(a0, a1)
        tail_i = np.repeat(np.arange(len(verts)), a1 - a0)
        head = S.a_head[arcs]
        leaving = label[head] != which[tail_i]
        arcs, tail_i, head = arcs[leaving], tail_i[leaving], head[leaving]
        d = part.dist[rank[tail_i]] + S.a_w[arcs] + self._to_nearest_target()[head]
        bad = np.zeros(len(roots), dtype=bool)
        bad[which[tail_i[d <= self.limit]]] = True
        return ~bad

    # ---- bandwidths ------------------------------------------------------------------------
    #
    # Every bandwidth is a max flow inside the smallest component that holds both ends and
    # connects them (see the module docstring). Flows are the expensive part, so they are
    # shared where that is provably exact:
    #
    # * a memory whose links all go to one component x (an HBM stack and its GPU) gets
    #   min(what its own links and limit carry, flow between x and the element), and the
    #   flow for x serves every memory behind x;
    # * a computed flow's minimum cut (X on the source side) proves the same value for
    #   another source x on the source side of X (the cut separates it too: no more) that can
    #   pass at least that value to the first source (max flows obey
    #   f(x, s) >= min(f(x, y), f(y, s)): no less); likewise for another element on the sink
    #   side that the first element can pass that value to. Only the choice of which earlier
    #   flow to try is a guess.

    def _bandwidths(self, s: int, mem: np.ndarray, ctx: int) -> np.ndarray:
        S = self.s
        gw = S.gateway[mem]
        side = (S.leaf_read if self.read else S.leaf_write)[mem]
        bw = np.zeros(len(mem))
        if self.single(s):
            own = gw == s
            limit = ingress_limit if self.read else egress_limit
            bw[own] = np.minimum(side[own], limit(self.t, np.array([s]))[0])
            alone = gw < 0
        else:
            # A package's own memory hangs off one of its chiplets: one flow each.
            own = np.isin(gw, self.members(s))
            alone = (gw < 0) | own
        for i in np.flatnonzero(alone).tolist():
            bw[i] = self._scoped(mem[i : i + 1], s, ctx)[0]
        via = (gw >= 0) & ~own & (side > 0)
        via &= ~S.endpoint_only[np.maximum(gw, 0)]
        if via.any():
            G, inv = np.unique(gw[via], return_inverse=True)
            vals = np.array([self._pair(g, s, ctx) for g in G.tolist()])
            bw[via] = np.minimum(side[via], vals[inv])
        return bw

    def _joint(self, s: int, mems: np.ndarray, single: np.ndarray, ctx: int) -> float:
        """Flow between all of ``mems`` at once and ``s``."""
        if len(mems) == 1:
            return float(single[0])
        key = mems.tobytes()
        root = self._scope_root(mems, s)
        skey = self._shape_key(root, mems, s)
        if skey is not None and skey in self.shape_value:
            return self.shape_value[skey]
        if self.read and self.single(s):
            for s1, r1, value, sc, side, cutdev in self.joint_cuts.get(key, ()):
                if (
                    r1 == root
                    and self._forwards(s1)
                    and self._forwards(s)
                    and self._on_sink_side(sc, side, cutdev, s)
                    and self._intra(s1, s, root) >= value * (1 - _REL)
                ):
                    return value
        value, sc, r = self._scoped(mems, s, ctx)
        if skey is not None and value > 0 and sc.root == root:
            self.shape_value[skey] = value
        if self.read and value > 0 and sc.root == root and self.single(s):
            entries = self.joint_cuts.setdefault(key, [])
            if len(entries) < 4:
                entries.append((s, root, value, sc, r.source_side, _cut_devices(r, len(sc.rows))))
        return value

    def _chain(self, row: int) -> tuple[list[int], dict[int, int]]:
        hit = self.chains.get(row)
        if hit is None:
            chain = self.s.ancestors(row)
            hit = self.chains[row] = (chain, {r: i for i, r in enumerate(chain)})
        return hit

    def _lca_index(self, far: np.ndarray, s: int) -> int:
        """Index in ``s``'s chain of the smallest component holding ``s`` and all of ``far``
        (the chain's length when there is none)."""
        chain, depth_of = self._chain(s)
        scope_i = 0
        parent = self.s.parent
        for f in far.tolist():
            a = f
            while a >= 0 and a not in depth_of:
                a = int(parent[a])
            if a < 0:
                return len(chain)
            scope_i = max(scope_i, depth_of[a])
        return scope_i

    def _scope_root(self, far: np.ndarray, s: int) -> int:
        chain, depth_of = self._chain(s)
        if len(far) == 1 and int(far[0]) not in depth_of:
            # Components with one parent share their smallest common ancestor with s.
            key = (int(self.s.parent[far[0]]), s)
            lca = self.lca.get(key)
            if lca is None:
                lca = self.lca[key] = self._lca_index(far, s)
        else:
            lca = self._lca_index(far, s)
        i = self._connected_from(chain, lca, far, s)
        return chain[i] if i < len(chain) else -1

    def _scoped(self, far: np.ndarray, s: int, ctx: int, widen: bool = True):
        """Max flow between ``far`` and ``s`` inside the smallest component holding both.

        Components in which they are not even connected are skipped; if nothing flows in the
        first one where they are, the next enclosing component is tried, up to the whole
        topology. Returns ``(value, scope, FlowResult)``. Raises :class:`_LeavesContext` when
        the answer would need a component larger than ``ctx`` (then the reach is not a
        property of ``ctx`` alone).
        """
        chain, depth_of = self._chain(s)
        limit_i = depth_of[ctx] if ctx >= 0 else len(chain)
        scope_i = self._connected_from(chain, self._lca_index(far, s), far, s)
        while True:
            if scope_i > limit_i:
                raise _LeavesContext
            root = chain[scope_i] if scope_i < len(chain) else -1
            sc = self._scope(root)
            r = self._flow_in(sc, far, s)
            if r.value > 0 or root < 0 or not widen:
                return r.value, sc, r
            scope_i = self._connected_from(chain, scope_i + 1, far, s)

    def _connected_from(self, chain: list[int], scope_i: int, far: np.ndarray, s: int) -> int:
        """The first index from ``scope_i`` on whose component connects ``far`` with ``s``."""
        mine = self.members(s)
        while scope_i < len(chain):
            sc = self._scope(chain[scope_i])
            labels = sc.labels()
            if np.any(np.isin(labels[sc.local(far)], labels[sc.local(mine)])):
                return scope_i
            scope_i += 1
        return scope_i

    def _pair(self, x: int, s: int, ctx: int) -> float:
        """Flow between component ``x`` (a memory's gateway) and element ``s``, shared."""
        key = (x, s)
        hit = self.pair_value.get(key)
        if hit is not None:
            return hit
        S = self.s
        root = self._scope_root(np.array([x]), s)
        kx, ks = int(S.kind[x]), int(S.kind[s])
        keys = (
            ("source", s, int(S.server[x]), kx, root),  # an earlier source in x's server
            ("source", s, -2, kx, root),  # the first source of its kind tried with s
            ("sink", x, int(S.server[s]), ks, root),  # an earlier element in s's server
            ("sink", x, -2, ks, root),  # the first element of its kind tried with x
        )
        skey = self._shape_key(root, np.array([x]), s)
        if skey is not None and skey in self.shape_value:
            value = self.shape_value[skey]
            self._record(key, value, None, keys)
            return value
        if self.read:
            got = self._certified(x, s, root, keys)
            if got is not None:
                return got
        value, sc, r = self._scoped(np.array([x]), s, ctx)
        cut = None
        if value > 0 and sc.root == root:
            if skey is not None:
                self.shape_value[skey] = value
            if self.read:
                cut = (sc, r.source_side, _cut_devices(r, len(sc.rows)))
        self._record(key, value, cut, keys)
        return value

    def _shape_key(self, root: int, far: np.ndarray, s: int) -> tuple | None:
        """A key under which a flow inside ``root`` between ``far`` and ``s`` is the same for
        every component with ``root``'s fingerprint (None if ``root`` has no twin)."""
        shape = self._shape(root)
        if shape is None:
            return None
        digest, rows = shape
        return (digest, np.searchsorted(rows, far).tobytes(), int(np.searchsorted(rows, s)))

    def _record(self, key, value, cut, keys) -> None:
        self.pair_value[key] = value
        if cut is not None:
            self.pair_cut[key] = cut
            for k in keys:
                self.first.setdefault(k, key[0] if k[0] == "source" else key[1])

    def _forwards(self, row: int) -> bool:
        """Whether flow may pass through ``row`` between any two of its links: only then does
        ``f(a, c) >= min(f(a, row), f(row, c))`` hold, on which the shared flows rest."""
        return bool(self.s.plan.klass[row] == TRANSIT)

    def _certified(self, x: int, s: int, root: int, keys) -> float | None:
        if not self.single(s):
            return None
        for k in keys[:2]:
            x1 = self.first.get(k)
            if x1 is None or x1 == x or not self._forwards(x1):
                continue
            value = self.pair_value[(x1, s)]
            sc, side, _ = cut = self.pair_cut[(x1, s)]
            if side[int(sc.local(x))] and self._intra(x, x1, root) >= value * (1 - _REL):
                self._record((x, s), value, cut, keys)
                return value
        for k in keys[2:]:
            s1 = self.first.get(k)
            if s1 is None or s1 == s or not (self._forwards(s1) and self._forwards(s)):
                continue
            value = self.pair_value[(x, s1)]
            sc, side, cutdev = cut = self.pair_cut[(x, s1)]
            if self._on_sink_side(sc, side, cutdev, s) and self._intra(s1, s, root) >= value * (
                1 - _REL
            ):
                self._record((x, s), value, cut, keys)
                return value
        return None

    @staticmethod
    def _on_sink_side(sc: _Scope, side: np.ndarray, cutdev: np.ndarray, row: int) -> bool:
        """Whether a component that was no endpoint of a flow enters on the cut's sink side:
        its out vertex is there and its own limit is not cut (else its in vertex is not)."""
        i = int(sc.local(row))
        return not side[i] and not cutdev[i]

    def _intra(self, a: int, b: int, within: int) -> float:
        """Flow from ``a`` to ``b`` in the smallest component that holds and connects both,
        or 0 when that component is not inside ``within`` (-1: the whole topology). It is a
        lower bound on the flow between them in ``within``."""
        key = (a, b)
        hit = self.intra.get(key)
        if hit is None:
            root = self._scope_root(np.array([a]), b)
            # The flow depends on the scope's subtree alone: identical subtrees (the same
            # fingerprint) give it for the same places in them.
            shape = self._shape(root)
            skey = None
            if shape is not None:
                digest, rows = shape
                skey = (digest, int(np.searchsorted(rows, a)), int(np.searchsorted(rows, b)))
            value = self.intra_shape.get(skey) if skey is not None else None
            if value is None:
                value = self._scoped(np.array([a]), b, -1, widen=False)[0]
                if skey is not None:
                    self.intra_shape[skey] = value
            hit = self.intra[key] = (value, root)
        value, root = hit
        if within < 0:
            return value
        if root >= 0 and (root == within or within in self._chain(root)[1]):
            return value
        return 0.0

    def _shape(self, root: int) -> tuple[bytes, np.ndarray] | None:
        """Fingerprint and rows of ``root``'s subtree, computed in one pass for every
        component at its depth made from the same definition (None if it has no such peer)."""
        if root < 0:
            return None
        if root in self.shapes:
            return self.shapes[root]
        S, nodes = self.s, self.t.nodes
        peers = np.flatnonzero(
            (S.depth == S.depth[root])
            & (S.kind == S.kind[root])
            & (nodes.template == nodes.template[root])
        )
        if len(peers) < 2 or nodes.template[root] < 0:
            self.shapes[root] = None
            return None
        members, mroot, digests = self._fingerprints(peers)
        start = np.searchsorted(mroot, np.arange(len(peers) + 1))
        for j, r in enumerate(peers.tolist()):
            self.shapes[r] = (digests[j], members[start[j] : start[j + 1]])
        return self.shapes[root]

    def _scope(self, root: int) -> _Scope:
        hit = self.scopes.get(root)
        if hit is not None:
            return hit
        S, t = self.s, self.t
        L = t.links
        if root < 0:
            sc = _Scope(
                root,
                np.arange(S.n),
                t,
                S.endpoint_only,
                L.src.astype(np.int64),
                L.dst.astype(np.int64),
                L.bandwidth,
            )
        else:
            sc = _scope_of(t, S, root, S.subtree(root))
        if len(self.scopes) > 256:
            self.scopes.clear()
        self.scopes[root] = sc
        return sc

    def _flow_in(self, sc: _Scope, far: np.ndarray, s: int) -> FlowResult:
        self.flow_work += len(sc.rows) + len(sc.lsrc)
        if self.flow_work > _FLOW_WORK_LIMIT:
            raise SolverError(
                "memory reach needs too many max flows over large parts of this topology; give "
                "a latency budget (--within) or select fewer elements (--from)"
            )
        fl = sc.local(far)
        sl = sc.local(self.members(s))
        is_end = np.zeros(len(sc.rows), dtype=bool)
        is_end[fl] = True
        is_end[sl] = True
        blk = sc.blocked & ~is_end
        cap = np.where(blk[sc.lsrc] | blk[sc.ldst], 0.0, sc.bandwidth)
        a, b = (fl, sl) if self.read else (sl, fl)
        # The fabric domains of the whole topology: a domain may reach past the scope (a tray's
        # GPUs joined by NVLink switches outside it), and paths leaving it still do not count.
        S = self.s
        fabric = (S.domain[sc.rows], S.member[sc.rows])
        query = _Query.make(sc.topo, a, b, None, None, cap, fabric)
        # Whether a figure depends on relaying is decided once for the whole reach.
        return _max_flow(query, "scipy", self.forwarding, relays=False, strict=self.strict)


class _LeavesContext(Exception):
    """A bandwidth needs components outside the context the reach is being computed in."""


def _cut_devices(r: FlowResult, n: int) -> np.ndarray:
    """Rows whose own limit (or endpoint limit) is in the minimum cut of ``r``."""
    out = np.zeros(n, dtype=bool)
    out[[c.row for c in r.cut if c.element == "device"]] = True
    return out


def _sorted_rows(f: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort feature rows by (key, every column) so that equal multisets give equal bytes."""
    if len(f) == 0:
        return np.ascontiguousarray(f), key
    cols = [f[:, i] for i in range(f.shape[1] - 1, -1, -1)] + [key]
    o = np.lexsort(cols)
    return np.ascontiguousarray(f[o]), key[o]


def _scope_of(t: Topology, S: _Structure, root: int, rows: np.ndarray) -> _Scope:
    """Slice ``t`` to ``rows`` (ascending) and note which rows have links leaving the slice."""
    nodes, L = t.nodes, t.links
    n = len(rows)
    inside = np.zeros(S.n, dtype=bool)
    inside[rows] = True
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    keep = inside[src] & inside[dst]
    loc = np.full(S.n, -1, dtype=np.int64)
    loc[rows] = np.arange(n)
    parent = nodes.parent[rows].astype(np.int64)
    parent = np.where(parent >= 0, loc[np.maximum(parent, 0)], -1)
    relay = S.relay_rows[inside[S.relay_rows]]
    sub_nodes = NodeTable(
        ids=[nodes.ids[i] for i in rows.tolist()],
        kind=nodes.kind[rows],
        parent=parent.astype(np.int32),
        bandwidth=nodes.bandwidth[rows],
        read_bandwidth=nodes.read_bandwidth[rows],
        write_bandwidth=nodes.write_bandwidth[rows],
        capacity=nodes.capacity[rows],
        latency=nodes.latency[rows],
        ports=nodes.ports[rows],
        origin=nodes.origin[rows],
        template=nodes.template[rows],
        extra={int(loc[r]): {"relay": nodes.extra[r]["relay"]} for r in relay.tolist()},
    )
    lsrc, ldst = loc[src[keep]], loc[dst[keep]]
    sub_links = LinkTable(
        src=lsrc.astype(np.int32),
        dst=ldst.astype(np.int32),
        bandwidth=L.bandwidth[keep],
        latency=L.latency[keep],
        lanes=L.lanes[keep],
        type=L.type[keep],
        simplex=L.simplex[keep],
        half_duplex=L.half_duplex[keep],
        origin=L.origin[keep],
    )
    topo = Topology(
        nodes=sub_nodes,
        links=sub_links,
        link_type_names=t.link_type_names,
        source=t.source,
    )
    return _Scope(root, rows, topo, S.endpoint_only[rows], lsrc, ldst, L.bandwidth[keep])
