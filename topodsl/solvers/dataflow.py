"""Data-path bottlenecks: how fast data moves between two sets of components, and what stops it.

:func:`data_flow` is the maximum flow from a set of sources to a set of sinks (B/s, in that
direction), the minimum cut that limits it (links and devices, named, each with its capacity and
share of the cut), how busy every link is at that flow and, given a size, the transfer time.
Direction matters: data read from a storage device is capped by its ``read_bandwidth``, data
written to one by its ``write_bandwidth``; every other device caps flow through it with its
``bandwidth``; links carry their bandwidth per direction.

A max flow lets some sources send more than others. When every source holds an equal share of
the data (a checkpoint: each GPU writes its own shard) or every sink needs an equal share (data
ingest: each GPU reads its own batches), the question is the *uniform* rate: the largest ``r``
such that every source can send ``r`` at the same time (or every sink receive it).
:func:`uniform_flow` finds it with Newton's method on the parametric max flow (each endpoint
capped at ``r``): a minimum cut at ``r`` has capacity ``c + k r`` (``c`` from links and devices,
``k`` endpoints capped), so ``c / (n - k)`` is the rate that cut allows; iterating converges to the
cut that limits the uniform rate. Its links and devices are the bottleneck, shared by the
``n - k`` endpoints behind it.

Scenarios from the storage-for-AI workflow wrap it: :func:`checkpoint_write` (GPUs to the SSD
tier), :func:`checkpoint_drain` (SSD tier to HDD tier), :func:`ingest` (storage to GPUs, a rate
per GPU) and :func:`cxl_spill` (GPUs to CXL memory and back).

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> _ = b.add_node("gpu", "gpu")
>>> _ = b.add_node("nic", "nic", bandwidth=50e9)          # 400 Gb/s line rate
>>> _ = b.add_node("ssd", "ssd", write_bandwidth=4e9, read_bandwidth=7e9)
>>> _ = b.add_link("gpu", "nic", bandwidth=63e9)          # PCIe Gen5 x16
>>> _ = b.add_link("nic", "ssd", bandwidth=50e9)
>>> r = data_flow(b.build(), "gpu", "ssd", size=2e12)
>>> r.throughput / 1e9, r.time, [(c.source, c.limit) for c in r.bottleneck]
(4.0, 500.0, [('ssd', 'write_bandwidth')])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import SolverError
from ..natural import natural_key
from ..topology import Topology
from .flow import (
    REL_TOL,
    CutItem,
    FlowResult,
    _max_flow,
    _Query,
    _relayed_through,
    egress_limit,
    ingress_limit,
)
from .forwarding import check_forwarding, forwarding_plan

__all__ = [
    "Bottleneck",
    "LinkUse",
    "DataFlowResult",
    "UniformFlowResult",
    "ScenarioLeg",
    "ScenarioResult",
    "SSD_TIER",
    "data_flow",
    "uniform_flow",
    "checkpoint_write",
    "checkpoint_drain",
    "ingest",
    "cxl_spill",
    "SCENARIOS",
]

Selection = str | Sequence[int] | np.ndarray


@dataclass(frozen=True, slots=True)
class Bottleneck:
    """One element of the cut that limits a flow.

    ``element`` is ``"link"`` (``source``/``target`` the direction data crosses it) or
    ``"device"`` (``source == target`` is the device). ``limit`` names what is saturated:
    ``"link"``, or the device's ``"bandwidth"``, ``"read_bandwidth"`` (a storage source) or
    ``"write_bandwidth"`` (a storage sink). ``bandwidth`` is its capacity in B/s in that
    direction and ``share`` its fraction of the cut's total.
    """

    element: str
    row: int
    source: str
    target: str
    bandwidth: float
    share: float
    limit: str
    type: str | None = None
    kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"from", "to", "bandwidth", "share", "element", "limit", ...}``."""
        out: dict[str, Any] = {
            "from": self.source,
            "to": self.target,
            "bandwidth": self.bandwidth,
            "share": self.share,
            "element": self.element,
            "limit": self.limit,
        }
        if self.type:
            out["type"] = self.type
        if self.kind:
            out["kind"] = self.kind
        return out


@dataclass(frozen=True, slots=True)
class LinkUse:
    """Traffic on one link direction (or one device) at the max flow.

    ``flow`` and ``bandwidth`` in B/s; ``utilisation`` is their ratio (for a half-duplex link,
    the two directions' flows together over the shared bandwidth).
    """

    element: str
    row: int
    source: str
    target: str
    flow: float
    bandwidth: float
    utilisation: float
    type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "from": self.source,
            "to": self.target,
            "flow": self.flow,
            "bandwidth": self.bandwidth,
            "utilisation": self.utilisation,
            "element": self.element,
        }
        if self.type:
            out["type"] = self.type
        return out


@dataclass(frozen=True)
class DataFlowResult:
    """The max flow between two selections and what limits it.

    Attributes
    ----------
    throughput : float
        Maximum total rate, B/s, from the sources to the sinks.
    resolution : float
        The integer unit of the max-flow backend (B/s); see :class:`FlowResult`.
    sources, sinks : numpy arrays of node rows.
    bottleneck : tuple of Bottleneck
        One minimum cut (the one closest to the sources), sorted by capacity, largest first.
    size : float or None
        Bytes to move, when given.
    time : float or None
        ``size / throughput`` in seconds (``inf`` when nothing flows), when a size is given.
    flow : FlowResult
        The raw result of the flow core (per-link flows, cut, source side, the bracket
        ``lower``/``upper`` and whether it is ``exact``).
    forwarding : the forwarding model (``"hardware"`` or ``"ideal"``).
    relay_gain : float
        B/s of the throughput that exist only because components relay traffic beyond the
        hardware defaults (``relay = true``, or GPUs with ``"ideal"``); 0 when it does not
        depend on relaying.
    relays : the components the flow relays through (ids; empty when ``relay_gain`` is 0).
    fabric : the fabric domains whose rule shaped the figure (traffic between their members
        kept on their fabric); empty when the rule did not apply.
    fabric_excluded : float
        B/s the fabric rule took away (PCIe peer to peer between NVLink-connected GPUs, for
        instance); 0 when nothing was excluded.
    """

    throughput: float
    resolution: float
    sources: np.ndarray
    sinks: np.ndarray
    bottleneck: tuple[Bottleneck, ...]
    size: float | None
    time: float | None
    flow: FlowResult = field(repr=False)
    topology: Topology = field(repr=False)
    forwarding: str = "hardware"
    relay_gain: float = 0.0
    relays: tuple[str, ...] = ()
    fabric: tuple[str, ...] = ()
    fabric_excluded: float = 0.0

    def usage(self, limit: int | None = None) -> tuple[LinkUse, ...]:
        """Every link direction and limited device carrying flow, busiest first.

        Sorted by utilisation, then flow (both descending), then link or device row, links
        before devices. ``limit`` keeps the first ``limit`` entries.
        """
        return _usage(self.topology, self.flow, limit)

    @property
    def usage_count(self) -> int:
        """How many link directions and devices carry flow."""
        f = self.flow
        return int(np.count_nonzero(f.link_flow > 0) + np.count_nonzero(f.device_flow > 0))


@dataclass(frozen=True)
class UniformFlowResult:
    """The largest rate every source can send (or every sink receive) at the same time.

    Attributes
    ----------
    even : ``"sources"`` or ``"sinks"``: which side moves equal shares.
    endpoints : how many sources (or sinks) share the rate.
    rate : B/s per endpoint; achievable (a flow giving every endpoint this rate exists).
    rate_bound : B/s per endpoint that no schedule can beat (the limiting cut's capacity over
        the endpoints behind it). Equal to ``rate``: every max flow is exact to float
        precision, so Newton's method stops at the optimum itself.
    total : ``endpoints * rate``, B/s.
    max_throughput : the unconstrained max flow (uneven shares allowed), B/s.
    behind : how many endpoints share the bottleneck.
    bottleneck : the links and devices of the limiting cut (shares of its capacity).
    flow : the flow at ``rate`` (per-link traffic).
    forwarding : the forwarding model.
    relay_gain : B/s per endpoint of ``rate`` that exist only because components relay
        traffic beyond the hardware defaults (0 when the rate does not depend on relaying).
    relays : the components the flow at ``rate`` relays through.
    """

    even: str
    endpoints: int
    rate: float
    rate_bound: float
    total: float
    max_throughput: float
    behind: int
    bottleneck: tuple[Bottleneck, ...]
    flow: DataFlowResult = field(repr=False)
    forwarding: str = "hardware"
    relay_gain: float = 0.0
    relays: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        """Whether :attr:`rate` is the optimum itself (no bracket)."""
        return self.rate == self.rate_bound


@dataclass(frozen=True)
class ScenarioLeg:
    """One direction of a scenario: who sends, who receives, at what rate, in how long.

    ``time`` (s) is ``size / uniform.total``: every endpoint moves an equal share; ``best_time``
    is ``size / uniform.max_throughput``, the floor if shares could be rebalanced.
    """

    label: str
    sources: str
    sinks: str
    uniform: UniformFlowResult
    time: float | None
    best_time: float | None


@dataclass(frozen=True)
class ScenarioResult:
    """A storage-for-AI question answered: its legs, each with a rate, a time and a bottleneck."""

    name: str
    description: str
    size: float | None
    legs: tuple[ScenarioLeg, ...]


# -- max flow between two selections -----------------------------------------------------------


def data_flow(
    topology: Topology,
    sources: Selection,
    sinks: Selection,
    *,
    size: float | None = None,
    backend: str = "scipy",
    forwarding: str = "hardware",
) -> DataFlowResult:
    """Max flow from ``sources`` to ``sinks``: throughput, bottleneck, link use, time.

    Parameters
    ----------
    topology : Topology
    sources, sinks : selector strings or node rows; they must not overlap.
    size : bytes to move (optional); gives :attr:`DataFlowResult.time`.
    backend : max-flow backend (``"scipy"`` or ``"networkx"``).
    forwarding : ``"hardware"`` (default) or ``"ideal"``; see
        :mod:`topodsl.solvers.forwarding`.

    Returns
    -------
    DataFlowResult

    Raises
    ------
    SolverError
        An empty, unknown or overlapping selection, a size that is not a positive number, or a
        flow with no finite bound.

    Examples
    --------
    Two paths add up: 50 + 30 GB/s, more than either alone.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for name in ("a", "x", "y", "b"):
    ...     _ = b.add_node(name, "switch")
    >>> _ = b.add_link("a", "x", bandwidth=50e9); _ = b.add_link("x", "b", bandwidth=50e9)
    >>> _ = b.add_link("a", "y", bandwidth=30e9); _ = b.add_link("y", "b", bandwidth=40e9)
    >>> data_flow(b.build(), "a", "b").throughput / 1e9
    80.0
    """
    size = _check_size(size)
    check_forwarding(forwarding)
    S = _as_rows(topology, sources, "source selection")
    T = _as_rows(topology, sinks, "sink selection")
    query = _Query.make(topology, S, T, None, None, None)
    r = _max_flow(query, backend, forwarding, relays=True)
    return _result(topology, r, S, T, size)


def _result(topology, r: FlowResult, S, T, size, skip: frozenset[int] = frozenset()):
    items = [c for c in r.cut if not (c.element == "device" and c.row in skip)]
    return DataFlowResult(
        throughput=float(r.value),
        resolution=float(r.resolution),
        sources=S,
        sinks=T,
        bottleneck=_bottleneck(topology, items, S, T),
        size=size,
        time=_time(size, r.value),
        flow=r,
        topology=topology,
        forwarding=r.forwarding,
        relay_gain=r.relay_gain,
        relays=r.relays,
        fabric=r.fabric,
        fabric_excluded=r.fabric_excluded,
    )


def _bottleneck(topology: Topology, items: Sequence[CutItem], S, T) -> tuple[Bottleneck, ...]:
    total = math.fsum(c.bandwidth for c in items)
    nodes = topology.nodes
    src_set, snk_set = set(S.tolist()), set(T.tolist())
    out = []
    for c in items:
        limit, kind = "link", None
        if c.element == "device":
            kind = topology.kind_of(c.row)
            bw = float(nodes.bandwidth[c.row])
            limit = "bandwidth"
            if c.row in src_set and c.bandwidth == nodes.read_bandwidth[c.row] and c.bandwidth < bw:
                limit = "read_bandwidth"
            if (
                c.row in snk_set
                and c.bandwidth == nodes.write_bandwidth[c.row]
                and c.bandwidth < bw
            ):
                limit = "write_bandwidth"
        share = c.bandwidth / total if total > 0 else 0.0
        out.append(
            Bottleneck(
                c.element, c.row, c.source, c.target, c.bandwidth, share, limit, c.type, kind
            )
        )
    out.sort(key=lambda b: (-b.bandwidth, b.element, natural_key(b.source),
                            natural_key(b.target), b.row))  # fmt: skip
    return tuple(out)


def _usage(topology: Topology, r: FlowResult, limit: int | None) -> tuple[LinkUse, ...]:
    L, nodes = topology.links, topology.nodes
    ids = nodes.ids
    lf = r.link_flow
    half = L.half_duplex
    # One entry per (link, direction) with flow; half-duplex links once, both directions added.
    e0 = np.flatnonzero((lf[:, 0] > 0) & ~half)
    e1 = np.flatnonzero((lf[:, 1] > 0) & ~half)
    eh = np.flatnonzero(((lf[:, 0] > 0) | (lf[:, 1] > 0)) & half)
    link_rows = np.concatenate([e0, e1, eh])
    direction = np.concatenate([np.zeros(len(e0)), np.ones(len(e1)), np.full(len(eh), 2)])
    flow = np.concatenate([lf[e0, 0], lf[e1, 1], lf[eh, 0] + lf[eh, 1]])
    bw = L.bandwidth[link_rows]
    dev = np.flatnonzero(r.device_flow > 0)
    rows = np.concatenate([link_rows, dev])
    kind = np.concatenate([np.zeros(len(link_rows)), np.ones(len(dev))])
    direction = np.concatenate([direction, np.zeros(len(dev))])
    flow = np.concatenate([flow, r.device_flow[dev]])
    bw = np.concatenate([bw, nodes.bandwidth[dev]])
    util = np.divide(flow, bw, out=np.zeros(len(flow)), where=bw > 0)
    order = np.lexsort((direction, rows, kind, -flow, -util))
    if limit is not None:
        order = order[: max(int(limit), 0)]
    out = []
    for i in order.tolist():
        row = int(rows[i])
        if kind[i] == 0:
            a, b = ids[L.src[row]], ids[L.dst[row]]
            if direction[i] == 1:
                a, b = b, a
            out.append(
                LinkUse(
                    "link",
                    row,
                    a,
                    b,
                    float(flow[i]),
                    float(bw[i]),
                    float(util[i]),
                    topology.link_type_of(row),
                )
            )
        else:
            out.append(
                LinkUse(
                    "device", row, ids[row], ids[row], float(flow[i]), float(bw[i]), float(util[i])
                )
            )
    return tuple(out)


# -- uniform rates -------------------------------------------------------------------------------


def uniform_flow(
    topology: Topology,
    sources: Selection,
    sinks: Selection,
    *,
    even: str = "sources",
    max_iterations: int = 64,
    forwarding: str = "hardware",
) -> UniformFlowResult:
    """The largest rate every source (``even="sources"``) or sink (``"sinks"``) gets at once.

    Parameters
    ----------
    topology : Topology
    sources, sinks : selector strings or node rows; they must not overlap.
    even : which side moves equal shares.
    max_iterations : cap on Newton steps (each is one max flow); it converges in a few.
    forwarding : ``"hardware"`` (default) or ``"ideal"``.

    Returns
    -------
    UniformFlowResult

    Raises
    ------
    SolverError
        Bad selections, or no convergence within ``max_iterations``.

    Examples
    --------
    Two GPUs write to one SSD each, but GPU b's SSD is behind a slow link: the max flow is
    4 + 1 GB/s, but with equal shares both must wait for the slow one: 2 x 1 GB/s.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for name in ("a", "b"):
    ...     _ = b.add_node(name, "gpu")
    ...     _ = b.add_node(name + ".ssd", "ssd", write_bandwidth=4e9)
    >>> _ = b.add_link("a", "a.ssd", bandwidth=8e9); _ = b.add_link("b", "b.ssd", bandwidth=1e9)
    >>> u = uniform_flow(b.build(), "kind:gpu", "kind:ssd")
    >>> u.max_throughput / 1e9, u.rate / 1e9, u.total / 1e9, u.behind
    (5.0, 1.0, 2.0, 1)
    >>> [(x.source, x.target, x.bandwidth / 1e9) for x in u.bottleneck]
    [('b', 'b.ssd', 1.0)]
    """
    if even not in ("sources", "sinks"):
        raise SolverError(f"even must be 'sources' or 'sinks', got {even!r}")
    check_forwarding(forwarding)
    S = _as_rows(topology, sources, "source selection")
    T = _as_rows(topology, sinks, "sink selection")
    u = _uniform(topology, S, T, even, max_iterations, forwarding, strict=False)
    plan = forwarding_plan(topology, forwarding)
    if not plan.beyond.any():
        return u
    base = _uniform(topology, S, T, even, max_iterations, "hardware", strict=True)
    gain = u.rate - base.rate
    if gain <= REL_TOL * max(u.rate, 1e-300):
        return replace(u, flow=replace(base.flow, forwarding=forwarding))
    relays = _relayed_through(topology, plan, u.flow.flow)
    return replace(u, relay_gain=float(gain), relays=relays)


def _uniform(topology, S, T, even, max_iterations, forwarding, strict) -> UniformFlowResult:
    """Newton's method on the parametric max flow (see :func:`uniform_flow`)."""
    ends = S if even == "sources" else T
    own = egress_limit(topology, S) if even == "sources" else ingress_limit(topology, T)
    n = len(ends)

    def flow(limit: np.ndarray | None) -> FlowResult:
        lim = (limit, None) if even == "sources" else (None, limit)
        query = _Query.make(topology, S, T, lim[0], lim[1], None)
        return _max_flow(query, "scipy", forwarding, relays=False, strict=strict)

    free = flow(None)
    F = float(free.value)
    hi = F / n  # no uniform rate beats the max flow shared equally
    determining, det_rate, capped_n = free, math.nan, 0
    for _ in range(max_iterations):
        rate = hi
        r = flow(np.minimum(own, rate))
        if rate <= 0 or r.value >= n * rate * (1 - 1e-12):
            lo, final = max(rate, 0.0), r
            break
        # A cut at this rate costs c + k * rate (k endpoints capped at the rate): it allows
        # every endpoint at most c / (n - k).
        k = _count_capped(r, ends, own, rate)
        new = max(r.upper - k * rate, 0.0) / (n - k) if k < n else rate
        if not new < hi:
            raise SolverError(
                "the uniform rate did not converge (capacities too uneven to resolve)"
            )
        determining, det_rate, capped_n, hi = r, rate, k, new
    else:
        raise SolverError(f"the uniform rate did not converge in {max_iterations} max flows")
    skip = frozenset(
        c.row for c in determining.cut if _is_capped(c, ends, own) and c.bandwidth == det_rate
    )
    return UniformFlowResult(
        even=even,
        endpoints=n,
        rate=lo,
        rate_bound=max(hi, lo),
        total=n * lo,
        max_throughput=F,
        behind=n - capped_n,
        bottleneck=_result(topology, determining, S, T, None, skip).bottleneck,
        flow=_result(topology, final, S, T, None),
        forwarding=forwarding,
    )


def _is_capped(c: CutItem, ends: np.ndarray, own: np.ndarray) -> bool:
    """Whether cut item ``c`` is an endpoint's trial cap (below the endpoint's own limit)."""
    if c.element != "device":
        return False
    p = int(np.searchsorted(ends, c.row))
    return p < len(ends) and ends[p] == c.row and c.bandwidth < own[p]


def _count_capped(r: FlowResult, ends: np.ndarray, own: np.ndarray, rate: float) -> int:
    """Endpoints whose trial cap ``rate`` is in the cut of ``r``. (An endpoint's own device
    arc has its bandwidth, at least its own limit, above the cap: never confused.)"""
    return sum(1 for c in r.cut if c.bandwidth == rate and _is_capped(c, ends, own))


# -- scenarios -----------------------------------------------------------------------------------


#: The SSD tier: the SSDs of storage servers. Node-local NVMe (in a GPU server) is not a
#: checkpoint's durable target; name it (``kind:ssd``) to measure writing there.
SSD_TIER = "kind:ssd & in:storage_node"


def checkpoint_write(
    topology: Topology,
    size: float,
    sources: Selection = "kind:gpu",
    sinks: Selection = SSD_TIER,
    *,
    forwarding: str = "hardware",
) -> ScenarioResult:
    """Time to write a checkpoint of ``size`` bytes (all GPUs together, equal shards) to the
    SSD tier (by default the SSDs of storage nodes, :data:`SSD_TIER`).

    Every GPU writes ``size / n`` at the uniform rate; SSD ``write_bandwidth`` applies.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("st", "storage_node")
    >>> _ = b.add_node("g", "gpu"); _ = b.add_node("st.s", "ssd", parent="st", write_bandwidth=4e9)
    >>> _ = b.add_link("g", "st.s", bandwidth=15.8e9)
    >>> leg = checkpoint_write(b.build(), 80e9).legs[0]
    >>> leg.time, leg.uniform.bottleneck[0].limit
    (20.0, 'write_bandwidth')
    """
    size = _require_size(size)
    leg = _leg(topology, "write", sources, sinks, "sources", size, forwarding)
    return ScenarioResult("checkpoint", "checkpoint write: GPUs -> SSD tier", size, (leg,))


def checkpoint_drain(
    topology: Topology,
    size: float,
    sources: Selection = SSD_TIER,
    sinks: Selection = "kind:hdd",
    *,
    forwarding: str = "hardware",
) -> ScenarioResult:
    """Time to drain ``size`` bytes spread evenly over the SSD tier to the HDD tier.

    SSD ``read_bandwidth`` and HDD ``write_bandwidth`` apply.
    """
    size = _require_size(size)
    leg = _leg(topology, "drain", sources, sinks, "sources", size, forwarding)
    return ScenarioResult("drain", "checkpoint drain: SSD tier -> HDD tier", size, (leg,))


def ingest(
    topology: Topology,
    sources: Selection = "role:storage",
    sinks: Selection = "kind:gpu",
    size: float | None = None,
    *,
    forwarding: str = "hardware",
) -> ScenarioResult:
    """Training-data ingest: the rate every GPU can read from storage at the same time.

    ``size`` (optional) is a data set read once by all GPUs together (an epoch), in equal shares.
    By default every storage device is read, node-local NVMe caches included.
    """
    size = _check_size(size)
    leg = _leg(topology, "ingest", sources, sinks, "sinks", size, forwarding)
    return ScenarioResult("ingest", "training-data ingest: storage -> GPUs", size, (leg,))


def cxl_spill(
    topology: Topology,
    size: float | None = None,
    gpus: Selection = "kind:gpu",
    memory: Selection = "kind:cxl_memory",
    *,
    forwarding: str = "hardware",
) -> ScenarioResult:
    """Spilling to CXL memory and fetching it back: both directions, equal shares per GPU.

    ``size`` (optional) is the total spilled by all GPUs together.
    """
    size = _check_size(size)
    spill = _leg(topology, "spill", gpus, memory, "sources", size, forwarding)
    fetch = _leg(topology, "fetch", memory, gpus, "sinks", size, forwarding)
    return ScenarioResult("spill", "CXL spill: GPUs <-> CXL memory", size, (spill, fetch))


#: Scenario name -> (function, default sources, default sinks), for the CLI and the language.
SCENARIOS: dict[str, tuple[Any, str, str]] = {
    "checkpoint": (checkpoint_write, "kind:gpu", SSD_TIER),
    "drain": (checkpoint_drain, SSD_TIER, "kind:hdd"),
    "ingest": (ingest, "role:storage", "kind:gpu"),
    "spill": (cxl_spill, "kind:gpu", "kind:cxl_memory"),
}


def _leg(topology, label, sources, sinks, even, size, forwarding) -> ScenarioLeg:
    for sel in (sources, sinks):
        if isinstance(sel, str) and sel == SSD_TIER and len(topology.select(sel)) == 0:
            raise SolverError(
                f"the SSD tier ({SSD_TIER}) is empty: this topology has no SSD in a storage "
                "node; to use node-local drives, name them (e.g. kind:ssd)"
            )
    u = uniform_flow(topology, sources, sinks, even=even, forwarding=forwarding)
    return ScenarioLeg(
        label=label,
        sources=_describe(sources),
        sinks=_describe(sinks),
        uniform=u,
        time=_time(size, u.total),
        best_time=_time(size, u.max_throughput),
    )


# -- helpers ------------------------------------------------------------------------------------


def _describe(sel: Selection) -> str:
    if isinstance(sel, str):
        return sel
    return f"{len(np.atleast_1d(sel))} rows"


def _time(size: float | None, rate: float) -> float | None:
    if size is None:
        return None
    return size / rate if rate > 0 else math.inf


def _check_size(size: float | None) -> float | None:
    if size is None:
        return None
    try:
        value = float(size)
    except (TypeError, ValueError):
        raise SolverError(f"the size must be a number of bytes, got {size!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise SolverError(f"the size must be a positive number of bytes, got {size!r}")
    return value


def _require_size(size: float | None) -> float:
    value = _check_size(size)
    if value is None:
        raise SolverError("this scenario needs a size (bytes to move)")
    return value


def _as_rows(topology: Topology, sel: Selection, what: str) -> np.ndarray:
    if isinstance(sel, str):
        rows = topology.select(sel)
        if len(rows) == 0:
            raise SolverError(f"the {what} {sel!r} matches no component")
        return rows
    rows = np.unique(np.asarray(sel, dtype=np.int64).ravel())
    if len(rows) == 0:
        raise SolverError(f"the {what} is empty")
    if rows[0] < 0 or rows[-1] >= topology.num_nodes:
        raise SolverError(f"the {what} holds a row outside the topology")
    return rows
