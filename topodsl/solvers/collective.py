"""Collectives on placed groups: proven lower bounds from cuts, alpha-beta estimates on links.

A collective runs on one or more *groups* of members (GPUs) at once, every group the same
operation on ``size`` bytes (NCCL's convention: the buffer of an all-reduce, the output of an
all-gather, the input of each member of a reduce-scatter, each member's send buffer of an
all-to-all, the message of each send/recv between consecutive members). ``docs/workloads.md``
states the model with the proofs; in short:

Lower bound (a proof)
    The time is at least the largest of these, each a valid bound on its own:

    * **injection and reception**: member ``i`` must send (receive) at least ``D`` bytes and
      can send at most ``out_i`` (receive ``in_i``) B/s, the max flow from it to the rest of its
      group (from the rest to it); ``D`` is ``S`` for an all-reduce (the others need the sum of
      its input; it needs theirs), ``(n-1) S / n`` for what an all-gather member receives, a
      reduce-scatter member sends and an all-to-all member sends and receives, ``S / n`` for what
      an all-gather member sends and a reduce-scatter member receives;
    * **members-only reduction** (all-reduce and reduce-scatter, unless switches reduce in the
      network): every byte of the result is combined at members, so the members together
      receive at least ``2 (n-1) S`` bytes for an all-reduce (one-way gossip needs ``2n - 2``
      messages per element) and ``(n-1) S`` for a reduce-scatter, through ``sum(in_i)``;
    * **cuts**: for a split of the members into ``X`` and ``Y`` (``k`` and ``n - k`` of them),
      what ``Y`` must learn from ``X`` crosses every cut between them: ``S`` for an all-reduce,
      ``k S / n`` for an all-gather, ``(n - k) S / n`` for a reduce-scatter, ``k (n - k) S / n``
      for an all-to-all, ``S`` per consecutive pair split for a send/recv; summed over every
      group that runs at once, over the capacity of a real cut (from the flow core, honouring
      the forwarding model and the path rules: a group inside one fabric domain counts its
      fabric alone). The splits tried: each group's first half of ranks against the
      second, the same over all groups together, and the bisection solver's cut of all members.

Estimates (labelled as such)
    Alpha-beta models of ring, bidirectional ring, double binary tree, hierarchical (reduce-
    scatter in each server, all-reduce across servers, all-gather in each server), direct and
    send/recv algorithms on the actual links. Each step's transfers are routed over the
    shortest paths between their members in the flow network (so GPUs never relay unless the
    model lets them; a transfer between two GPUs of one fabric domain on the domain's arcs
    alone, as the fabric rule says), split as a max flow on those paths would split them; all
    transfers of a step, in every group, run at once, and the step takes the largest
    bytes-over-capacity of any link or limited device (its bottleneck). Its latency is the
    largest, over the step's transfers, of the links' latency plus the latency of every
    component entered on the way.
    ``overhead`` adds a fixed time per step (software). The best algorithm's time is the
    estimate; its bandwidth term alone is reported too.

NCCL reports ``algbw = size / time`` and ``busbw = algbw * factor``, ``factor = 2 (n-1) / n``
for an all-reduce and ``(n-1) / n`` for an all-gather, a reduce-scatter and an all-to-all, 1
for a send/recv: the bus bandwidth is what each member's link carries, comparable across ``n``.

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder(); _ = b.add_node("sw", "switch")
>>> for i in range(4):
...     _ = b.add_node(f"g{i}", "gpu"); _ = b.add_link(f"g{i}", "sw", bandwidth=100e9)
>>> r = collective(b.build(), [[1, 2, 3, 4]], "allreduce", 1e9)
>>> r.lower_bound, r.best.algorithm, r.best.bandwidth        # 2 (n-1) / n x S / B
(0.015, 'ring', 0.015)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra, shortest_path

from ..errors import SolverError
from ..topology import Topology
from .flow import (
    _ARC_DEVICE,
    _ARC_LINK,
    CutItem,
    TerminalCuts,
    flow_network,
    max_flow,
    prune_for_terminals,
)
from .forwarding import forwarding_plan

__all__ = [
    "OPS",
    "ALGORITHMS",
    "Certificate",
    "Load",
    "Estimate",
    "CollectiveResult",
    "Transfer",
    "Phase",
    "collective",
    "bus_factor",
    "transfers",
    "traffic_matrix",
    "flow_upper",
    "DIRECT_LIMIT",
    "MAX_WORK",
    "check_work",
]

#: Collective operations.
OPS: tuple[str, ...] = ("allreduce", "allgather", "reducescatter", "alltoall", "sendrecv")
#: Algorithms estimated, and the operations each applies to.
ALGORITHMS: dict[str, tuple[str, ...]] = {
    "ring": ("allreduce", "allgather", "reducescatter"),
    "bidirectional_ring": ("allreduce", "allgather", "reducescatter"),
    "tree": ("allreduce",),
    "hierarchical": ("allreduce",),
    "direct": ("allgather", "reducescatter", "alltoall"),
    "pipeline": ("sendrecv",),
}
#: The direct (all pairs at once) algorithm is estimated for groups up to this size.
DIRECT_LIMIT = 64
#: Most work one collective may ask for: members times the components and links of the
#: design (a member costs a max flow and a few path searches there). 1,024 members on 34,000
#: elements take about 8 CPU seconds (benchmarks/bench_workloads.py); the limit is 25 times that.
MAX_WORK = 1e9
# Paths up to these many arcs (inside a server) are found by searches limited to them.
_NEAR = (4.0, 12.0)
# Bytes of whole-network hop distances a router keeps for the next paths.
_SEARCH_BYTES = 64 * 2**20


def flow_upper(r) -> float:
    """An upper bound (B/s) on a max flow: ``FlowResult.upper``, the capacity of a real cut
    (or a linear program's optimum), whatever the integer backend had to round."""
    return float(r.upper)


def bus_factor(op: str, n: int) -> float:
    """NCCL's bus-bandwidth factor: ``busbw = algbw * bus_factor(op, n)``.

    >>> bus_factor("allreduce", 8), bus_factor("allgather", 8), bus_factor("sendrecv", 2)
    (1.75, 0.875, 1.0)
    """
    if op == "sendrecv" or n < 2:
        return 1.0
    return 2.0 * (n - 1) / n if op == "allreduce" else (n - 1) / n


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Certificate:
    """One proven lower bound: at least ``bytes`` must cross something that carries at most
    ``bandwidth`` B/s, so the collective takes at least ``time`` seconds. ``kind`` is
    ``injection``, ``reception``, ``members`` (members-only reduction) or ``cut``; ``what``
    says it in words; ``cut`` lists the links and devices of a cut bound; ``group`` is the
    group it is about (``None``: several)."""

    kind: str
    time: float
    bytes: float
    bandwidth: float
    what: str
    cut: tuple[CutItem, ...] = ()
    group: int | None = None


@dataclass(frozen=True, slots=True)
class Load:
    """Traffic an estimate puts on one link direction or limited device over one step:
    ``bytes`` against ``capacity`` B/s, so the step takes at least ``time`` there. For a device,
    ``direction`` names the links its traffic enters by (its limit is per direction)."""

    element: str
    row: int
    source: str
    target: str
    bytes: float
    capacity: float
    direction: str = ""
    type: str | None = None

    @property
    def time(self) -> float:
        """Seconds this element needs for its bytes."""
        return self.bytes / self.capacity if self.capacity > 0 else math.inf

    def cut_item(self) -> CutItem:
        """The element as an item of a limiting cut (what assertion reports list)."""
        return CutItem(self.element, self.row, self.source, self.target, self.capacity, self.type)


@dataclass(frozen=True)
class Estimate:
    """The alpha-beta estimate of one algorithm: ``steps`` steps in ``phases`` (name, steps,
    bytes per transfer), the latency term and the bandwidth term (s), and the bottleneck of
    its slowest phase (busiest element first)."""

    algorithm: str
    steps: int
    latency: float
    bandwidth: float
    phases: tuple[tuple[str, int, float], ...]
    bottleneck: tuple[Load, ...]

    @property
    def time(self) -> float:
        """The estimate: latency and bandwidth terms added."""
        return self.latency + self.bandwidth


@dataclass(frozen=True)
class CollectiveResult:
    """A collective on groups that run at once: its proven lower bound and its estimates.

    Attributes
    ----------
    op, size : the operation and its size in bytes (NCCL's convention, see the module).
    groups : node rows of each group's members, in rank order.
    network_reduction : whether switches were allowed to reduce (then the members-only
        bounds do not apply).
    lower_bound : seconds no algorithm can beat (the largest certificate).
    certificates : the bounds evaluated, largest first.
    estimates : one per algorithm that applies, fastest first; ``skipped`` says which were
        not estimated and why.
    slowest : index of the group the lower bound comes from (``None`` for a joint cut).
    """

    op: str
    size: float
    groups: tuple[np.ndarray, ...]
    network_reduction: bool
    lower_bound: float
    certificates: tuple[Certificate, ...]
    estimates: tuple[Estimate, ...]
    skipped: tuple[str, ...]
    slowest: int | None
    overhead: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def members(self) -> int:
        """Members of the largest group."""
        return max((len(g) for g in self.groups), default=0)

    @property
    def best(self) -> Estimate | None:
        """The fastest estimate."""
        return self.estimates[0] if self.estimates else None

    def algbw(self, time: float) -> float:
        """NCCL's algorithm bandwidth for a time: ``size / time`` (B/s)."""
        return self.size / time if time > 0 else math.inf

    def busbw(self, time: float) -> float:
        """NCCL's bus bandwidth for a time (B/s)."""
        return self.algbw(time) * bus_factor(self.op, self.members)


# -- transfers of each algorithm --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transfer:
    """``bytes`` from member row ``src`` to member row ``dst`` within one step."""

    src: int
    dst: int
    bytes: float


@dataclass(frozen=True)
class Phase:
    """``steps`` steps of an algorithm, each made of ``transfers`` (over every group) that run
    at once. A ``pipelined`` phase moves its transfers' bytes once, spread over its steps (a
    tree's reduction and broadcast): its latency counts every step, its bandwidth term once."""

    name: str
    steps: int
    transfers: tuple[Transfer, ...]
    pipelined: bool = False


def _ring(m: np.ndarray, amount: float, direction: int = 1) -> list[Transfer]:
    n = len(m)
    return [Transfer(int(m[i]), int(m[(i + direction) % n]), amount) for i in range(n)]


def _tree_edges(n: int) -> list[tuple[int, int]]:
    """(parent, child) rank pairs of NCCL-style double binary trees: a heap over the ranks and
    its mirror image, so that every rank is an inner node of at most one of them."""
    edges = [((i - 1) // 2, i) for i in range(1, n)]
    return edges + [(n - 1 - p, n - 1 - c) for p, c in edges]


def _hosts(topology: Topology, members: np.ndarray) -> np.ndarray | None:
    """The server (nearest ``node`` ancestor) of each member, or ``None`` if one has none."""
    from ..kinds import KIND_CODE

    parent = topology.nodes.parent
    kind = topology.nodes.kind
    out = np.full(len(members), -1)
    for k, r in enumerate(members.tolist()):
        p = int(parent[r])
        while p >= 0 and kind[p] != KIND_CODE["node"]:
            p = int(parent[p])
        if p < 0:
            return None
        out[k] = p
    return out


def _phases(topology: Topology, op: str, algorithm: str, groups, size: float):
    """The phases of one algorithm over every group, ``None`` when it does not apply to the
    operation, or a reason it cannot be estimated here."""
    if op not in ALGORITHMS[algorithm]:
        return None
    ns = sorted({len(g) for g in groups})
    if algorithm in ("ring", "bidirectional_ring"):
        phases = []
        for n in ns:
            gs = [g for g in groups if len(g) == n]
            if algorithm == "ring":
                step = [t for g in gs for t in _ring(g, size / n)]
            else:
                step = [t for g in gs for d in (1, -1) for t in _ring(g, size / (2 * n), d)]
            steps = 2 * (n - 1) if op == "allreduce" else n - 1
            phases.append(Phase(f"{algorithm.replace('_', ' ')} of {n}", steps, tuple(step)))
        return phases
    if algorithm == "tree":
        step = []
        for g in groups:
            for p, c in _tree_edges(len(g)):
                step += [Transfer(int(g[c]), int(g[p]), size / 2),
                         Transfer(int(g[p]), int(g[c]), size / 2)]  # fmt: skip
        depth = max(math.ceil(math.log2(len(g))) for g in groups)
        # Pipelined: every tree edge carries its half of the data both ways during one long
        # phase; the latency is that of a reduction up and a broadcast down the deepest tree.
        return [Phase(f"double binary tree, depth {depth}", 2 * depth, tuple(step), True)]
    if algorithm == "hierarchical":
        split = []
        for g in groups:
            hosts = _hosts(topology, g)
            if hosts is None:
                return "a member is in no server"
            order = np.argsort(hosts, kind="stable")
            _, counts = np.unique(hosts, return_counts=True)
            if len(counts) < 2 or len(set(counts.tolist())) != 1 or counts[0] < 2:
                return "needs two or more servers with two or more members each, all alike"
            split.append(g[order].reshape(len(counts), counts[0]))
        shapes = {x.shape for x in split}
        if len(shapes) != 1:
            return "the groups are laid out differently"
        ((servers, local),) = shapes
        intra = tuple(t for x in split for row in x for t in _ring(row, size / local))
        inter = tuple(t for x in split for col in x.T
                      for t in _ring(col, size / (local * servers)))  # fmt: skip
        return [
            Phase(f"reduce-scatter in each server ({local})", local - 1, intra),
            Phase(f"all-reduce across servers ({servers})", 2 * (servers - 1), inter),
            Phase(f"all-gather in each server ({local})", local - 1, intra),
        ]
    if algorithm == "direct":
        if ns[-1] > DIRECT_LIMIT:
            return f"groups above {DIRECT_LIMIT} members"
        step = tuple(Transfer(int(a), int(b), size / len(g)) for g in groups
                     for a in g for b in g if a != b)  # fmt: skip
        return [Phase("every pair at once", 1, step)]
    if algorithm == "pipeline":
        step = tuple(Transfer(int(g[i]), int(g[i + 1]), size) for g in groups
                     for i in range(len(g) - 1))  # fmt: skip
        return [Phase("consecutive members", 1, step)]
    raise AssertionError(algorithm)  # pragma: no cover


def transfers(topology: Topology, members: Sequence[int], op: str, size: float,
              algorithm: str = "ring") -> list[Phase]:  # fmt: skip
    """The phases of ``algorithm`` running ``op`` of ``size`` bytes on one group.
    ``SolverError`` when the algorithm does not apply.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for i in range(3):
    ...     _ = b.add_node(f"g{i}", "gpu")
    >>> [(p.name, p.steps, [(t.src, t.dst, t.bytes) for t in p.transfers])
    ...  for p in transfers(b.build(), [0, 1, 2], "allgather", 3e9)]
    [('ring of 3', 2, [(0, 1, 1000000000.0), (1, 2, 1000000000.0), (2, 0, 1000000000.0)])]
    """
    phases = _phases(topology, op, algorithm, [np.asarray(members, dtype=np.int64)], size)
    if not isinstance(phases, list):
        raise SolverError(f"the {algorithm} algorithm does not apply to {op}"
                          + (f": {phases}" if isinstance(phases, str) else ""))  # fmt: skip
    return phases


def traffic_matrix(
    topology: Topology, members: Sequence[int], op: str, size: float, algorithm: str = "ring"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bytes each member sends each other member over a whole collective: ``(src rows, dst
    rows, bytes)``, one entry per pair that exchanges anything, sorted. This is the traffic of
    one group for a traffic or ECMP analysis.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for i in range(4):
    ...     _ = b.add_node(f"g{i}", "gpu")
    >>> src, dst, amount = traffic_matrix(b.build(), [0, 1, 2, 3], "allreduce", 4e9)
    >>> src.tolist(), dst.tolist(), amount.tolist()[0]       # 2 (n-1) / n x S per ring hop
    ([0, 1, 2, 3], [1, 2, 3, 0], 6000000000.0)
    """
    total: dict[tuple[int, int], float] = {}
    for phase in transfers(topology, members, op, size, algorithm):
        times = 1 if phase.pipelined else phase.steps
        for t in phase.transfers:
            total[(t.src, t.dst)] = total.get((t.src, t.dst), 0.0) + times * t.bytes
    keys = sorted(total)
    return (np.array([k[0] for k in keys], dtype=np.int64),
            np.array([k[1] for k in keys], dtype=np.int64),
            np.array([total[k] for k in keys]))  # fmt: skip


# -- the solver ----------------------------------------------------------------------------


def collective(
    topology: Topology,
    groups: Sequence[Sequence[int]] | np.ndarray,
    op: str,
    size: float,
    *,
    algorithms: Sequence[str] | None = None,
    network_reduction: bool = False,
    overhead: float = 0.0,
    forwarding: str = "hardware",
) -> CollectiveResult:
    """Lower bound and estimates for ``op`` of ``size`` bytes on ``groups`` running at once.

    Parameters
    ----------
    topology : Topology
    groups : node rows of each group's members, in rank order (one group: ``[rows]``).
    op : one of :data:`OPS`.
    size : bytes, NCCL's convention (see the module docstring).
    algorithms : the algorithms to estimate (default: every one that applies).
    network_reduction : switches may reduce (NVLink SHARP, InfiniBand SHARP): the bounds that
        assume reduction at members only are left out.
    overhead : fixed time per algorithm step (s), added to the estimates' latency.
    forwarding : the forwarding model (``"hardware"`` or ``"ideal"``; see
        :mod:`topodsl.solvers.forwarding`): where traffic may pass through, for the bounds' cuts
        and the estimates' paths alike.

    Returns
    -------
    CollectiveResult

    Raises
    ------
    SolverError
        An unknown operation or algorithm, an empty or overlapping group, a size that is not
        positive.
    """
    if op not in OPS:
        raise SolverError(f"unknown collective {op!r}; collectives: {', '.join(OPS)}")
    if not (math.isfinite(size) and size > 0):
        raise SolverError(f"the size must be more than zero bytes, got {size!r}")
    if not (math.isfinite(overhead) and overhead >= 0):
        raise SolverError(f"the overhead must be zero or more, got {overhead!r}")
    gs = tuple(np.asarray(g, dtype=np.int64).ravel() for g in groups)
    if not gs or any(len(g) == 0 for g in gs):
        raise SolverError("a collective needs at least one group with members")
    every = np.concatenate(gs)
    if len(np.unique(every)) != len(every):
        raise SolverError("the groups overlap: a member appears twice")
    if every.min() < 0 or every.max() >= topology.num_nodes:
        raise SolverError("a group holds a row outside the topology")
    check_work(topology, len(every))
    chosen = tuple(algorithms) if algorithms is not None else tuple(ALGORITHMS)
    for a in chosen:
        if a not in ALGORITHMS:
            raise SolverError(f"unknown algorithm {a!r}; algorithms: {', '.join(ALGORITHMS)}")
    fwd = {"forwarding": forwarding}
    notes: list[str] = []
    if max(len(g) for g in gs) < 2:
        return CollectiveResult(
            op,
            float(size),
            gs,
            network_reduction,
            0.0,
            (),
            (),
            (),
            None,
            overhead,
            ("every group has one member: nothing to exchange",),
        )
    bounds = _Bounds(topology, gs, op, float(size), network_reduction, fwd)
    certificates = bounds.all()
    lower = max((c.time for c in certificates), default=0.0)
    slowest = bounds.slowest(certificates)
    router = router_for(topology, forwarding)
    estimates: list[Estimate] = []
    skipped: list[str] = []
    planned = []
    for a in chosen:
        phases = _phases(topology, op, a, gs, float(size))
        if phases is None:
            continue
        if isinstance(phases, str):
            skipped.append(f"{a}: {phases}")
            continue
        planned.append((a, phases))
    # Route every transfer once, source by source, so that each member's search serves all
    # the paths that start at it.
    pairs = {(t.src, t.dst) for _, phases in planned for p in phases for t in p.transfers}
    for src, dst in sorted(pairs):
        router.path(src, dst)
    for a, phases in planned:
        estimates.append(router.estimate(a, phases, overhead))
    # Fastest first; between equal times (to 12 digits) the simpler algorithm, in declared order.
    order = list(ALGORITHMS)
    estimates.sort(key=lambda e: (float(f"{e.time:.12g}"), order.index(e.algorithm)))
    if estimates and overhead == 0 and all(e.latency == 0 for e in estimates):
        notes.append(
            "no link or component on the paths states a latency: the estimates' latency term "
            "is 0 (state link latencies, or an overhead per step)"
        )
    if not network_reduction and op in ("allreduce", "reducescatter"):
        notes.append("the bound assumes data is combined at members only (no NVLink SHARP or "
                     "InfiniBand SHARP in the switches)")  # fmt: skip
    return CollectiveResult(op, float(size), gs, network_reduction, lower,
                            tuple(sorted(certificates, key=lambda c: (-c.time, c.kind, c.what))),
                            tuple(estimates), tuple(skipped), slowest, overhead,
                            tuple(notes))  # fmt: skip


def check_work(topology: Topology, members: int) -> None:
    """Refuse, with advice, a question about so many members on so large a design that it
    would run for many minutes (see :data:`MAX_WORK`)."""
    work = members * (topology.num_nodes + topology.num_links)
    if work > MAX_WORK:
        raise SolverError(
            f"{members} members on a design of {topology.num_nodes + topology.num_links} "
            f"components and links is more than one question should ask ({work:.3g} > "
            f"{MAX_WORK:.3g}); ask about one group (collective(GROUP, ...)) or a smaller design"
        )


# -- lower bounds ----------------------------------------------------------------------------


class _Bounds:
    """The certificates of one collective."""

    def __init__(self, topology, groups, op, size, network_reduction, fwd):
        self.t, self.groups, self.op, self.size = topology, groups, op, size
        self.network_reduction = network_reduction
        self.fwd = fwd
        self.ids = topology.nodes.ids

    def flow(self, sources, sinks):
        r = max_flow(self.t, np.asarray(sources), np.asarray(sinks), **self.fwd)
        return flow_upper(r), r

    def all(self) -> list[Certificate]:
        out: list[Certificate] = []
        for k, g in enumerate(self.groups):
            if len(g) >= 2:
                out += self.members(k, g)
        out += self.cuts()
        return out

    def slowest(self, certificates: list[Certificate]) -> int | None:
        best = max(certificates, key=lambda c: c.time, default=None)
        return None if best is None else best.group

    def members(self, k: int, g: np.ndarray) -> list[Certificate]:
        """Injection, reception and (members-only reduction) total bounds of group ``k``."""
        n, S, op = len(g), self.size, self.op
        send = {"allreduce": S, "allgather": S / n, "reducescatter": (n - 1) * S / n,
                "alltoall": (n - 1) * S / n}.get(op)  # fmt: skip
        recv = {"allreduce": S, "allgather": (n - 1) * S / n, "reducescatter": S / n,
                "alltoall": (n - 1) * S / n}.get(op)  # fmt: skip
        out: list[Certificate] = []
        if op == "sendrecv":
            for a, b in zip(g[:-1].tolist(), g[1:].tolist(), strict=True):
                cap, r = self.flow([a], [b])
                out.append(Certificate("pair", _t(S, cap), S, cap,
                                       f"{self.ids[a]} sends to {self.ids[b]} at most "
                                       f"{_bw(cap)}", tuple(r.cut), k))  # fmt: skip
            return out
        # One network for the group, each member's flows a query on it. Its terminals send and
        # receive without their own limits: a relaxation, so every cut it finds is at least the
        # true max flow, and the bounds stay proofs.
        tc = TerminalCuts(self.t, g, keep=prune_for_terminals(self.t, g), **self.fwd)
        ins = []
        for i, r in enumerate(g.tolist()):
            alone = np.arange(len(g)) == i
            out_cap = tc.cut(alone).value
            in_cap = out_cap if tc.symmetric else tc.cut(~alone).value
            ins.append(in_cap)
            out.append(Certificate("injection", _t(send, out_cap), send, out_cap,
                                   f"{self.ids[r]} sends at most {_bw(out_cap)} to the rest of "
                                   "its group", group=k))  # fmt: skip
            out.append(Certificate("reception", _t(recv, in_cap), recv, in_cap,
                                   f"{self.ids[r]} receives at most {_bw(in_cap)} from the rest "
                                   "of its group", group=k))  # fmt: skip
        total = {"allreduce": 2 * (n - 1) * S, "reducescatter": (n - 1) * S}.get(op)
        if total is not None and not self.network_reduction:
            cap = float(sum(ins))
            out.append(Certificate("members", _t(total, cap), total, cap,
                                   f"{self.ids[int(g[0])]}'s group combines data at members: "
                                   f"they receive {_bytes(total)} through {_bw(cap)} "
                                   "together", group=k))  # fmt: skip
        return out

    def crossing(self, first: np.ndarray) -> tuple[float, float]:
        """Bytes that must cross from the members where ``first`` is True to the others, and
        back, summed over the groups (``first`` over the concatenated members)."""
        S, op = self.size, self.op
        fwd_bytes = back = 0.0
        pos = 0
        for g in self.groups:
            n = len(g)
            side = first[pos : pos + n]
            pos += n
            k = int(side.sum())
            if k in (0, n):
                continue
            if op == "allreduce":
                a, b = S, S
            elif op == "allgather":
                a, b = k * S / n, (n - k) * S / n
            elif op == "reducescatter":
                a, b = (n - k) * S / n, k * S / n
            elif op == "alltoall":
                a = b = k * (n - k) * S / n
            else:
                a = S * int(np.sum(side[:-1] & ~side[1:]))
                b = S * int(np.sum(~side[:-1] & side[1:]))
            fwd_bytes += a
            back += b
        return fwd_bytes, back

    def cuts(self) -> list[Certificate]:
        """Cut bounds: each group's halves, all groups' halves together, and the bisection
        solver's cut of all members."""
        every = np.concatenate(self.groups)
        splits: list[tuple[str, np.ndarray]] = []
        halves = np.concatenate([np.arange(len(g)) < len(g) // 2 for g in self.groups])
        splits.append(("first half of each group's ranks", halves))
        if len(self.groups) == 1 and len(every) > 2:
            splits += self._bisection_split(every)
        elif len(self.groups) > 1:
            splits.append(("first half of all ranks", np.arange(len(every)) < len(every) // 2))
            splits += self._bisection_split(every)
        out = []
        seen: set[bytes] = set()
        for label, first in splits:
            key = first.tobytes()
            if key in seen or first.all() or not first.any():
                continue
            seen.add(key)
            a, b = self.crossing(first)
            for amount, src, dst, way in ((a, every[first], every[~first], "to"),
                                          (b, every[~first], every[first], "from")):  # fmt: skip
                if amount <= 0:
                    continue
                cap, r = self.flow(src, dst)
                out.append(Certificate("cut", _t(amount, cap), amount, cap,
                                       f"{label}: {_bytes(amount)} must cross {way} the other "
                                       f"half through a cut of {_bw(cap)}", tuple(r.cut),
                                       0 if len(self.groups) == 1 else None))  # fmt: skip
        return out

    def _bisection_split(self, every: np.ndarray) -> list[tuple[str, np.ndarray]]:
        if len(every) > 4096:
            return []
        from .bisection import bisection

        try:
            b = bisection(self.t, every, **self.fwd)
        except SolverError:
            return []
        first = np.isin(every, b.half_rows[0])
        return [("the bisection solver's cut of the members", first)]


def _t(amount: float, cap: float) -> float:
    if amount <= 0:
        return 0.0
    return amount / cap if cap > 0 else math.inf


def _bw(x: float) -> str:
    from ..units import BANDWIDTH, format_quantity

    return format_quantity(x, BANDWIDTH)


def _bytes(x: float) -> str:
    from ..units import SIZE, format_quantity

    return format_quantity(x, SIZE)


# -- estimates: routing on shortest paths ----------------------------------------------------


_ROUTERS: dict[tuple[int, str], tuple[Topology, _Router]] = {}


def router_for(topology: Topology, forwarding: str = "hardware") -> _Router:
    """The router of ``topology`` under ``forwarding``, kept for the next question (the paths it
    has found serve every collective and placement lint of the same design)."""
    key = (id(topology), forwarding)
    hit = _ROUTERS.get(key)
    if hit is not None and hit[0] is topology:
        return hit[1]
    router = _Router(topology, forwarding)
    if len(_ROUTERS) > 4:
        _ROUTERS.clear()
    _ROUTERS[key] = (topology, router)
    return router


class _Router:
    """Shortest-path routing of transfers in the flow network, and the time of a step."""

    def __init__(self, topology: Topology, forwarding: str = "hardware"):
        self.t = topology
        self.net = net = flow_network(topology, forwarding)
        nv = net.num_vertices
        arcs = np.flatnonzero(net.capacity > 0)
        # Arcs by head (CSR), to walk back along the shortest paths.
        self.arcs_in = arcs[np.argsort(net.head[arcs], kind="stable")]
        self.in_ptr = np.searchsorted(net.head[self.arcs_in], np.arange(nv + 1))
        ones = np.ones(len(arcs))
        self.fwd = sp.csr_array((ones, (net.tail[arcs], net.head[arcs])), shape=(nv, nv))
        self.owner = net.owner
        self.bundle = net.bundle
        self.n_bundles = int(self.bundle.max(initial=-1)) + 1
        self.n_types = len(topology.link_type_names) + 1
        self.bundle_capacity = np.full(self.n_bundles, np.inf)
        np.minimum.at(self.bundle_capacity, self.bundle, net.capacity)
        self.first_arc = np.full(self.n_bundles, -1, dtype=np.int64)
        self.first_arc[self.bundle[::-1]] = np.arange(len(self.bundle))[::-1]
        self.latency = self._arc_latency()
        # The fabric rule: a transfer between two accelerators of one fabric domain stays on
        # the domain's arcs (an NVLink peer copy never takes PCIe or the network), so its
        # paths are searched there alone; ``domain`` per member row, ``vdom`` per vertex.
        plan = forwarding_plan(topology, forwarding)
        self.domain = np.where(plan.member, plan.domain, -1)
        self.vdom = plan.domain[self.owner] if plan.has_domains else None
        self._fabric: dict[int, tuple[np.ndarray, sp.csr_array]] = {}
        self._paths: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, float, float]] = {}
        self._searches: OrderedDict[int, np.ndarray] = OrderedDict()
        self._near: tuple[int, np.ndarray] | None = None

    def _arc_latency(self) -> np.ndarray:
        """Latency of each arc: a link's latency plus that of the component it enters."""
        net, t = self.net, self.t
        lat = np.zeros(len(net.tail))
        is_link = net.what == _ARC_LINK
        lat[is_link] = t.links.latency[net.ref[is_link]]
        enters = self.owner[net.head] != self.owner[net.tail]
        lat[enters] += t.nodes.latency[self.owner[net.head[enters]]]
        return lat

    def distances(self, s: int, d: int) -> np.ndarray:
        """Hop distances from vertex ``s``, far enough to reach ``d`` (``inf`` beyond). A path
        inside a server is found by a search limited to a few hops; a longer one by a
        whole-network search, kept (in a bounded cache) for the other paths from ``s``."""
        if s in self._searches:
            return self._whole(s)
        last = self._near
        if last is not None and last[0] == s and np.isfinite(last[1][d]):
            return last[1]  # the previous path's search, from the same start, reaches d
        for radius in _NEAR:
            ds = dijkstra(self.fwd, directed=True, indices=s, limit=radius)
            if np.isfinite(ds[d]):
                self._near = (s, ds)
                return ds
        return self._whole(s)

    def _fabric_distances(self, domain: int, s: int) -> np.ndarray:
        """Hop distances from vertex ``s`` over the arcs of fabric ``domain`` alone (``inf``
        elsewhere): the only paths the fabric rule leaves a transfer between two of its
        accelerators. The domain's graph is built once, on its own vertices."""
        hit = self._fabric.get(domain)
        if hit is None:
            net = self.net
            verts = np.flatnonzero(self.vdom == domain)
            local = np.full(net.num_vertices, -1, dtype=np.int64)
            local[verts] = np.arange(len(verts))
            arcs = np.flatnonzero(net.capacity > 0)
            lt, lh = local[net.tail[arcs]], local[net.head[arcs]]
            on = (lt >= 0) & (lh >= 0)
            graph = sp.csr_array((np.ones(int(on.sum())), (lt[on], lh[on])),
                                 shape=(len(verts), len(verts)))  # fmt: skip
            hit = self._fabric[domain] = (verts, graph)
        verts, graph = hit
        ds = np.full(self.net.num_vertices, np.inf)
        ds[verts] = dijkstra(graph, directed=True, indices=int(np.searchsorted(verts, s)))
        return ds

    def _dag(self, ds: np.ndarray, d: int) -> np.ndarray:
        """The arcs of every shortest path to ``d``: back from ``d``, level by level, the arcs
        whose tail is one hop nearer the start."""
        net = self.net
        level, frontier, found = float(ds[d]), np.array([d]), []
        while level > 0:
            into = self.arcs_in[_ranges(self.in_ptr[frontier], self.in_ptr[frontier + 1])]
            into = into[ds[net.tail[into]] == level - 1]
            found.append(into)
            frontier = np.unique(net.tail[into])
            level -= 1
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def _whole(self, vertex: int) -> np.ndarray:
        hit = self._searches.get(vertex)
        if hit is None:
            hops = shortest_path(self.fwd, directed=True, unweighted=True, indices=vertex)
            hit = np.where(np.isfinite(hops), hops, -1).astype(np.int16)
            while self._searches and (len(self._searches) + 1) * hit.nbytes > _SEARCH_BYTES:
                self._searches.popitem(last=False)
            self._searches[vertex] = hit
        else:
            self._searches.move_to_end(vertex)
        return np.where(hit >= 0, hit, np.inf)

    def path(self, src: int, dst: int):
        """The load keys of the shortest paths from member ``src`` to member ``dst``, the share
        of a unit of traffic on each (split at every branch in proportion to the capacity of
        the arcs: ECMP weighted by bandwidth), the rate one transfer alone gets that way (B/s)
        and the largest latency of a path (s)."""
        key = (src, dst)
        hit = self._paths.get(key)
        if hit is not None:
            return hit
        net = self.net
        s, d = int(net.vout[src]), int(net.vin[dst])
        inside = int(self.domain[src])
        if inside >= 0 and inside == self.domain[dst]:
            ds = self._fabric_distances(inside, s)
        else:
            ds = self.distances(s, d)
        if not np.isfinite(ds[d]):
            hit = (np.zeros(0, dtype=np.int64), np.zeros(0), 0.0, math.inf)
        else:
            a = self._dag(ds, d)
            a = a[np.argsort(ds[net.tail[a]], kind="stable")]  # in path order, from the start
            share = _split(net.tail[a], net.head[a], net.capacity[a], ds, s)
            keep = share > 0
            arcs, share = a[keep], share[keep]
            value = float(np.min(net.capacity[arcs] / share)) if len(arcs) else math.inf
            keys, share = self._keys(arcs, share)
            hit = (keys, share, value, self._longest(arcs, ds, s))
        self._paths[key] = hit
        return hit

    def _keys(self, arcs: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Load keys of a path's arcs: a link direction is its bundle; a device's limit is
        taken per direction, the direction told by the type of the link the traffic enters it
        through (a NIC: host to network, network to host), so its traffic is split by the
        links that feed it. Unlimited arcs inside a component carry no load."""
        net = self.net
        what = net.what[arcs]
        is_link, is_dev = what == _ARC_LINK, what == _ARC_DEVICE
        keys, shares = [self.bundle[arcs[is_link]]], [share[is_link]]
        for a, x in zip(arcs[is_dev].tolist(), share[is_dev].tolist(), strict=True):
            feeding = net.head[arcs] == net.tail[a]
            types = np.where(what[feeding] == _ARC_LINK,
                             self.t.links.type[net.ref[arcs[feeding]]], -1)  # fmt: skip
            weight = share[feeding]
            if weight.sum() <= 0:
                types, weight = np.array([-1]), np.array([1.0])
            for ty in np.unique(types).tolist():
                keys.append(np.array([self._device_key(a, ty)]))
                shares.append(np.array([x * weight[types == ty].sum() / weight.sum()]))
        return np.concatenate(keys).astype(np.int64), np.concatenate(shares)

    def _device_key(self, arc: int, link_type: int) -> int:
        return self.n_bundles + int(self.bundle[arc]) * self.n_types + link_type + 1

    def _longest(self, arcs: np.ndarray, ds: np.ndarray, s: int) -> float:
        net = self.net
        best: dict[int, float] = {s: 0.0}
        for a in sorted(arcs.tolist(), key=lambda a: ds[net.tail[a]]):
            u, v = int(net.tail[a]), int(net.head[a])
            if u in best:
                best[v] = max(best.get(v, 0.0), best[u] + float(self.latency[a]))
        return max(best.values(), default=0.0)

    def step(self, step: Sequence[Transfer]) -> tuple[float, float, tuple[Load, ...]]:
        """Time of one step (every transfer at once): its bandwidth term, its latency, and
        the busiest elements."""
        time, latency, keys, total, cap = self.loads(step)
        if len(keys) == 0:
            return time, latency, ()
        times = total / cap
        order = np.argsort(-times, kind="stable")[:5]
        loads = tuple(self._load(int(keys[i]), float(total[i]), float(cap[i])) for i in order)
        return time, latency, loads

    def loads(self, step: Sequence[Transfer]):
        """Bytes on every load key one step touches: ``(time, latency, keys, bytes,
        capacities)``; the time is the largest bytes over capacity."""
        keys, amounts = [], []
        latency = 0.0
        empty = np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
        for tr in step:
            if tr.bytes <= 0 or tr.src == tr.dst:
                continue
            k, share, value, lat = self.path(tr.src, tr.dst)
            if value <= 0:
                return (math.inf, math.inf, *empty)
            keys.append(k)
            amounts.append(tr.bytes * share)
            latency = max(latency, lat)
        if not keys:
            return (0.0, latency, *empty)
        uniq, inv = np.unique(np.concatenate(keys), return_inverse=True)
        total = np.bincount(inv, weights=np.concatenate(amounts), minlength=len(uniq))
        bundle = np.where(uniq < self.n_bundles, uniq,
                          (uniq - self.n_bundles) // self.n_types)  # fmt: skip
        cap = self.bundle_capacity[bundle]
        return float(np.max(total / cap)), latency, uniq, total, cap

    def _load(self, key: int, amount: float, capacity: float) -> Load:
        net, t = self.net, self.t
        ids = t.nodes.ids
        if key < self.n_bundles:
            a = self.first_arc[key]
            e = int(net.ref[a])
            s, d = int(t.links.src[e]), int(t.links.dst[e])
            if not net.forward[a]:
                s, d = d, s
            return Load("link", e, ids[s], ids[d], amount, capacity, "", t.link_type_of(e))
        bundle, ty = divmod(key - self.n_bundles, self.n_types)
        row = int(self.owner[net.tail[self.first_arc[bundle]]])
        via = t.link_type_names[ty - 1] if ty > 0 else "untyped"
        return Load("device", row, ids[row], ids[row], amount, capacity, f"entering by {via}")

    def estimate(self, algorithm: str, phases: list[Phase], overhead: float) -> Estimate:
        latency = bandwidth = 0.0
        steps = 0
        worst: tuple[float, tuple[Load, ...]] = (-1.0, ())
        shown = []
        for p in phases:
            bw, lat, loads = self.step(p.transfers)
            bandwidth += bw if p.pipelined else p.steps * bw
            latency += p.steps * (lat + overhead)
            steps += p.steps
            if bw > worst[0]:
                worst = (bw, loads)
            shown.append((p.name, p.steps, max((t.bytes for t in p.transfers), default=0.0)))
        return Estimate(algorithm, steps, latency, bandwidth, tuple(shown), worst[1])


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``concatenate([arange(a, b) for a, b in zip(starts, ends)])``, vectorised.

    >>> _ranges(np.array([0, 5]), np.array([2, 8])).tolist()
    [0, 1, 5, 6, 7]
    """
    lengths = ends - starts
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths)
    return np.arange(int(lengths.sum())) + offsets


def _split(tail, head, cap, ds, s: int) -> np.ndarray:
    """Share of a unit of traffic from vertex ``s`` on each arc of a shortest-path DAG (``ds``
    the hop distances from ``s``): at every vertex, what arrives leaves over its arcs in
    proportion to their capacity (unlimited arcs share equally), one level at a time.

    >>> tail, head = np.array([0, 0, 1, 2]), np.array([1, 2, 3, 3])
    >>> _split(tail, head, np.array([3.0, 1.0, 5.0, 5.0]), np.array([0, 1, 1, 2]), 0).tolist()
    [0.75, 0.25, 0.75, 0.25]
    """
    share = np.zeros(len(tail))
    if len(tail) == 0:
        return share
    verts, inv = np.unique(np.concatenate([tail, head, [s]]), return_inverse=True)
    t_i, h_i = inv[: len(tail)], inv[len(tail) : 2 * len(tail)]
    inflow = np.zeros(len(verts))
    inflow[inv[-1]] = 1.0
    level = ds[tail]
    unlimited = np.isinf(cap)
    for lv in np.unique(level).tolist():
        at = np.flatnonzero(level == lv)
        u = t_i[at]
        # Capacity-weighted shares at each vertex; unlimited arcs, where a vertex has any,
        # take everything in equal parts.
        has_inf = np.bincount(u, weights=unlimited[at], minlength=len(verts)) > 0
        w = np.where(has_inf[u], unlimited[at].astype(float), np.where(unlimited[at], 0, cap[at]))
        total = np.bincount(u, weights=w, minlength=len(verts))
        x = inflow[u] * np.divide(w, total[u], out=np.zeros(len(at)), where=total[u] > 0)
        share[at] = x
        inflow += np.bincount(h_i[at], weights=x, minlength=len(verts))
    return share
