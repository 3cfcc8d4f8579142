"""The forwarding model: which components let traffic pass through them, and between which links.

A max flow lets flow pass through any vertex. Real hardware does not: a GPU does not route
packets from one NVLink port to another or from NVLink to PCIe, and a CXL 2.0 switch does not
route one host to another. :func:`forwarding_plan` decides, for every component, how the flow
network of :mod:`topodsl.solvers.flow` must treat it. Two models:

``"hardware"`` (the default)
    * **Kind defaults** (:data:`topodsl.kinds.FORWARDS`): switches (network, NVSwitch, PCIe),
      NICs and CPUs (root complex, socket links) forward between all their links. GPUs and
      chiplets do not. Memory and storage never forward. Containers carry nothing.
    * **Packages.** A compute component that is not inside another compute component is a
      *package* (a GPU with its HBM stacks, an MI300X with its I/O dies, compute dies and
      stacks). Inside a package everything but memory forwards: an I/O die carries its
      compute dies' traffic to the HBM and to the package's *external* links (links with one
      end outside the package). Traffic that enters a package at an external link may end
      anywhere inside it, but never leaves it again through an external link, unless the
      package forwards (a CPU, or ``relay = true``). A package without external links is
      unaffected by the rule and is treated as forwarding. Memory whose links all go into one
      package belongs to it, wherever it is declared (HBM written beside its GPU).
    * **relay.** ``relay = true`` on a package (or on a switch or NIC outside any package)
      makes it forward between all its links: a TPU-like torus whose chips route in hardware,
      NCCL's PXN relay through a peer GPU. ``relay = false`` stops a switch, NIC or CPU from
      forwarding (traffic may still start or end there). ``relay`` on a component inside a
      package has no effect: the package decides.
    * **CXL switches** forward between their *host side* and their *device side* only; host to
      host and device to device through the switch carry nothing (a CXL 2.0 switch binds each
      device to one host's virtual switch and never routes hosts to one another). The side of
      each link is derived from the kinds at its ends: a link to a ``cpu`` is on the host
      side; a link to another switch (``switch``, ``pcie_switch``, ``cxl_switch``,
      ``nvswitch``) is on the host side when that switch is fewer hops from a CPU (counting
      only hops through switches and NICs); every other link (CXL memory, a GPU or other
      Type 1/2 device, a NIC, storage) is on the device side. ``relay = true`` makes a CXL
      switch forward between all its links.
    * **CXL binding.** A *CXL domain* is a connected group of CXL switches and CXL memory
      (joined by links between them); it is *shared* when two or more CPUs are attached to it
      (linked to one of its rows; not counting CPUs with ``relay = true``). Each CPU reaches a
      shared CXL domain through its own port: a path that crosses between the domain and one
      of its CPUs touches no other of them (in CXL 2.0/3.x every upstream port of a switch
      has its own virtual CXL switch and a logical device is bound to one of them, so a
      device region is reached through exactly one host port; memory reached through the
      other socket is that socket's, a remote NUMA access). This is a rule about paths (see
      :mod:`topodsl.solvers.pathrules`); the plan labels the shared domains
      (:attr:`ForwardingPlan.cxl`, :attr:`ForwardingPlan.cxl_cpus`) and makes every attached
      CPU that forwards ``gated``: its links to the domain and to the co-attached CPUs are
      *ports* (:attr:`ForwardingPlan.port`), and the flow network forbids the direct turn
      between the domain's port and a co-attached CPU's (:attr:`ForwardingPlan.forbid`).
    * **Fabric domains.** An *accelerator* is a package that does not forward and is not a CPU
      (a GPU with its HBM, an MI300X with its chiplets). A *fabric link* joins two different
      accelerators, an accelerator and a fabric switch (``nvswitch``), or two fabric switches:
      NVLink and NVSwitch, Infinity Fabric (xGMI), ICI. A *fabric domain* is a connected group
      of accelerators and fabric switches over fabric links (a lone accelerator is a domain of
      its own) in which the fabric joins every two accelerators: linked directly, or both
      linked to one connected group of fabric switches. A group where some pair is joined
      only through a third accelerator (a hybrid cube-mesh: g0 -- g1 -- g2, no g0 -- g2) is
      no domain: its accelerators are domains of their own, because an accelerator does not
      relay and the hardware reaches such a peer over PCIe (NCCL's P2P/SHM path). Traffic
      between two accelerators of one domain (or their memories) stays on
      the domain's fabric and inside its packages: it may not leave through PCIe, a CPU or the
      network and come back (the CUDA driver and NCCL map peer access between NVLink-connected
      GPUs over NVLink only, not PCIe peer to peer; ROCm does the same over xGMI). Traffic
      between an accelerator and anything outside its domain is unaffected. The rule is about
      paths, not components, so the flow core applies it per question
      (:mod:`topodsl.solvers.pathrules`); the plan only labels the domains
      (:attr:`ForwardingPlan.domain`). A package with ``relay = true`` is no accelerator here:
      it routes, as declared.

``"ideal"``
    Every component except memory and storage forwards between all its links, and there are
    no fabric domains: the optimistic ceiling, what a max flow gives when any GPU may relay and
    every path counts. ``relay = false`` is ignored too.

What a component is to the flow network is its *class* (:data:`CLASSES`): ``endpoint``
(memory, storage), ``transit`` (forwards between all its links), ``sided`` (a CXL switch),
``sealed`` (inside a package that does not forward; :attr:`ForwardingPlan.seal` names the
package), ``gated`` (a CPU on a CXL domain shared with another CPU it is linked to) or
``inert`` (a container).

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> _ = b.add_node("g0", "gpu"); _ = b.add_node("g0.hbm", "hbm", parent="g0")
>>> _ = b.add_node("sw", "nvswitch"); _ = b.add_node("g1", "gpu", relay=True)
>>> for a, c in [("g0", "g0.hbm"), ("g0", "sw"), ("g1", "sw")]:
...     _ = b.add_link(a, c, bandwidth=1e9)
>>> p = forwarding_plan(b.build())
>>> [CLASSES[k] for k in p.klass]
['sealed', 'endpoint', 'transit', 'transit']
>>> p.seal.tolist(), p.beyond.tolist()
([0, 0, -1, -1], [False, False, False, True])
>>> [CLASSES[k] for k in forwarding_plan(b.build(), "ideal").klass]
['transit', 'endpoint', 'transit', 'transit']

g0 and its HBM form a fabric domain of their own (the NVSwitch joins g0 only to g1, which
relays and so is no accelerator of a domain):

>>> p.domain.tolist(), p.member.tolist()
([0, 0, 0, -1], [True, True, False, False])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from ..errors import SolverError
from ..kinds import FORWARDS, KIND_CODE, KINDS, ROLES
from ..topology import Topology

__all__ = [
    "FORWARDING_MODES",
    "CLASSES",
    "ENDPOINT",
    "TRANSIT",
    "SIDED",
    "SEALED",
    "GATED",
    "INERT",
    "SIDED_KINDS",
    "FABRIC_SWITCH_KINDS",
    "CXL_DOMAIN_KINDS",
    "ForwardingPlan",
    "forwarding_plan",
    "build_plan",
    "check_forwarding",
    "relay_attribute",
    "domain_name",
]

#: The forwarding models a solver accepts (see the module docstring).
FORWARDING_MODES: tuple[str, ...] = ("hardware", "ideal")

#: Class names indexed by :attr:`ForwardingPlan.klass`.
CLASSES: tuple[str, ...] = ("endpoint", "transit", "sided", "sealed", "inert", "gated")
ENDPOINT, TRANSIT, SIDED, SEALED, INERT, GATED = range(len(CLASSES))

#: Kinds that forward between their host side and their device side only.
SIDED_KINDS: tuple[str, ...] = ("cxl_switch",)
#: Switches of an accelerator fabric: links to them from accelerators are fabric links.
FABRIC_SWITCH_KINDS: tuple[str, ...] = ("nvswitch",)
#: Kinds that make up a CXL domain (joined by links between them).
CXL_DOMAIN_KINDS: tuple[str, ...] = ("cxl_switch", "cxl_memory")
# Switches whose distance to a CPU decides which side of a CXL switch they are on.
_SWITCH_KINDS = ("switch", "pcie_switch", "cxl_switch", "nvswitch")
_HOP_KINDS = _SWITCH_KINDS + ("nic",)


@dataclass(frozen=True)
class ForwardingPlan:
    """How every component of a topology forwards traffic under one forwarding model.

    Attributes
    ----------
    mode : ``"hardware"`` or ``"ideal"``; ``strict`` is True when ``relay`` attributes were
        ignored (the hardware defaults alone, against which relaying is measured).
    klass : uint8 per row, index into :data:`CLASSES`.
    seal : int64 per row: for a ``sealed`` row, and for memory inside a sealed package, the
        row of that package; -1 otherwise. A link whose two ends have the same seal is
        *internal* to the package; any other link at a sealed row is *external*.
    host_end : bool per link and end, shape (num_links, 2): column 0 says whether the link's
        ``src`` is on the host side of its ``dst`` (meaningful where ``dst`` is ``sided``),
        column 1 whether ``dst`` is on the host side of ``src``.
    beyond : bool per row: the row forwards here but not under the strict hardware defaults
        (``relay = true``, or every GPU and CXL switch with ``"ideal"``). Flow passing through
        such a row is *relayed*.
    port : int64 per link and end, shape (num_links, 2): at a ``gated`` CPU, the port the link
        belongs to there (column 0 at its ``src``, column 1 at its ``dst``); -1 elsewhere and
        for the CPU's other links. Ports are numbered over the whole topology;
        ``port_row[p]`` is the CPU of port ``p`` and ``port_cxl[p]`` whether it is the CPU's
        port to a shared CXL domain (else to another CPU attached to one it is attached to).
    forbid : int64, shape (k, 2): pairs of ports of one CPU it does not forward between
        (both ways): its link to a CXL domain and its link to another CPU attached to it.
    domain : int64 per row: the fabric domain of every accelerator row (the package, its
        chiplets, its memory) and fabric switch, numbered from 0; -1 for every other row (and
        for all rows with ``"ideal"``).
    member : bool per row: the row belongs to an accelerator of its domain (fabric switches
        do not): the questions whose sources and sinks include members of one domain are
        those the fabric rule restricts.
    cxl : int64 per row: for the rows of a *shared* CXL domain (one with two or more CPUs
        the binding rule applies to), its number; -1 elsewhere.
    cxl_cpus : per shared CXL domain, the rows of those CPUs (ascending): every CPU linked to
        it but those with ``relay = true``.
    """

    mode: str
    strict: bool
    klass: np.ndarray
    seal: np.ndarray
    host_end: np.ndarray
    beyond: np.ndarray
    port: np.ndarray
    port_row: np.ndarray
    port_cxl: np.ndarray
    forbid: np.ndarray
    domain: np.ndarray
    member: np.ndarray
    cxl: np.ndarray
    cxl_cpus: tuple[np.ndarray, ...]

    def same_as(self, other: ForwardingPlan) -> bool:
        """Whether both plans build the same flow network (fabric domains apart)."""
        return (
            np.array_equal(self.klass, other.klass)
            and np.array_equal(self.seal, other.seal)
            and np.array_equal(self.host_end, other.host_end)
            and np.array_equal(self.port, other.port)
            and np.array_equal(self.forbid, other.forbid)
        )

    @property
    def has_domains(self) -> bool:
        """Whether any row belongs to a fabric domain."""
        return bool(self.member.any())


def check_forwarding(forwarding: str) -> str:
    """``forwarding`` if it names a model, else :class:`~topodsl.errors.SolverError`.

    >>> check_forwarding("ideal")
    'ideal'
    """
    if forwarding not in FORWARDING_MODES:
        raise SolverError(
            f"unknown forwarding model {forwarding!r} (use {' or '.join(FORWARDING_MODES)})"
        )
    return forwarding


_PLANS: dict[tuple[int, str, bool], tuple[Topology, ForwardingPlan]] = {}


def forwarding_plan(
    topology: Topology, forwarding: str = "hardware", *, strict: bool = False
) -> ForwardingPlan:
    """The forwarding plan of ``topology`` under ``forwarding`` (cached per topology object).

    ``strict=True`` ignores ``relay`` attributes: the hardware defaults alone.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("c", "cpu"); _ = b.add_node("sw", "cxl_switch")
    >>> _ = b.add_node("m", "cxl_memory"); _ = b.add_link("c", "sw", bandwidth=1e9)
    >>> _ = b.add_link("sw", "m", bandwidth=1e9)
    >>> p = forwarding_plan(b.build())
    >>> CLASSES[p.klass[1]], p.host_end.tolist()    # c is the host side of sw; m is not
    ('sided', [[True, False], [False, False]])

    Raises
    ------
    SolverError
        An unknown model, or a ``relay`` attribute that is not ``true`` or ``false`` (possible
        in NetworkX JSON input).
    """
    check_forwarding(forwarding)
    key = (id(topology), forwarding, strict)
    hit = _PLANS.get(key)
    if hit is not None and hit[0] is topology:
        return hit[1]
    # A damaged copy (topodsl.failures) builds its own plan and says whether it keeps the
    # original's flow network.
    derive = getattr(topology, "derived_forwarding_plan", None)
    if derive is not None:
        plan = derive(forwarding, strict=strict)
    else:
        plan = build_plan(topology, forwarding, strict)
    if len(_PLANS) > 16:
        _PLANS.clear()
    _PLANS[key] = (topology, plan)
    return plan


_RELAYS: dict[int, tuple[Topology, np.ndarray]] = {}


def relay_attribute(topology: Topology) -> np.ndarray:
    """Per row: 1 for ``relay = true``, 0 for ``relay = false``, -1 when not set (cached).

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("g", "gpu", relay=True); _ = b.add_node("s", "nic")
    >>> relay_attribute(b.build()).tolist()
    [1, -1]
    """
    hit = _RELAYS.get(id(topology))
    if hit is not None and hit[0] is topology:
        return hit[1]
    out = np.full(topology.num_nodes, -1, dtype=np.int8)
    for row, attrs in topology.nodes.extra.items():
        if "relay" not in attrs:
            continue
        v = attrs["relay"]
        if v is not True and v is not False:
            raise SolverError(
                f"relay of {topology.nodes.ids[row]!r} must be true or false, got {v!r}"
            )
        out[row] = 1 if v else 0
    if len(_RELAYS) > 16:
        _RELAYS.clear()
    _RELAYS[id(topology)] = (topology, out)
    return out


def build_plan(topology: Topology, forwarding: str, strict: bool) -> ForwardingPlan:
    """The forwarding plan of ``topology``, built (not cached): :func:`forwarding_plan` is the
    cached entry point."""
    n = topology.num_nodes
    role = topology.role_codes
    kind = topology.nodes.kind
    L = topology.links
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    is_memory = np.isin(role, [ROLES.index("memory"), ROLES.index("storage")])
    is_container = role == ROLES.index("container")
    klass = np.full(n, TRANSIT, dtype=np.uint8)
    klass[is_memory] = ENDPOINT
    klass[is_container] = INERT
    host_end = np.zeros((len(src), 2), dtype=bool)
    seal = np.full(n, -1, dtype=np.int64)
    no_ports = (
        np.full((len(src), 2), -1, dtype=np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, bool),
    )
    no_pairs = np.zeros((0, 2), dtype=np.int64)
    no_domain = (np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool))
    if forwarding == "ideal":
        beyond = _beyond(topology, klass)
        return ForwardingPlan(
            forwarding,
            strict,
            klass,
            seal,
            host_end,
            beyond,
            *no_ports,
            no_pairs,
            *no_domain,
            np.full(n, -1, dtype=np.int64),
            (),
        )

    relay = np.full(n, -1, dtype=np.int8) if strict else relay_attribute(topology)
    default = np.zeros(len(KINDS), dtype=bool)
    for k, f in FORWARDS.items():
        default[KIND_CODE[k]] = f
    forwards = np.where(relay >= 0, relay == 1, default[kind])

    # The package of every row: its outermost compute ancestor-or-self (-1 for none).
    package = _outermost_compute(topology)
    in_pkg = package >= 0
    # A package with no external link cannot relay anything: the rule changes nothing there.
    external = np.zeros(n, dtype=bool)
    ps, pd = package[src], package[dst]
    crossing = ps != pd
    external[ps[crossing & (ps >= 0)]] = True
    external[pd[crossing & (pd >= 0)]] = True
    pkg_sealed = np.zeros(n, dtype=bool)
    roots = np.flatnonzero(in_pkg & (package == np.arange(n)))
    pkg_sealed[roots] = ~forwards[roots] & external[roots]
    inside_sealed = in_pkg & pkg_sealed[np.maximum(package, 0)]
    live = ~is_memory & ~is_container
    sealed = live & inside_sealed
    klass[sealed] = SEALED
    seal[inside_sealed & (sealed | is_memory)] = package[inside_sealed & (sealed | is_memory)]
    # Memory linked only to one sealed package is that package's memory, wherever it is
    # declared (HBM written beside its GPU rather than inside it).
    memory = np.isin(role, [ROLES.index("memory")]) & (seal < 0)
    far = np.concatenate([seal[dst], seal[src]])
    near = np.concatenate([src, dst])
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.full(n, -2)
    np.minimum.at(lo, near, far)
    np.maximum.at(hi, near, far)
    adopt = memory & (lo == hi) & (hi >= 0)
    seal[adopt] = hi[adopt]
    # Outside packages: a transit component that does not forward is a package of its own.
    lone = live & ~in_pkg & ~forwards
    klass[lone] = SEALED
    seal[lone] = np.flatnonzero(lone)

    sided_kind = np.isin(kind, [KIND_CODE[k] for k in SIDED_KINDS])
    sided = live & ~in_pkg & sided_kind & (relay != 1) & forwards
    klass[sided] = SIDED
    if sided.any():
        host_end = _host_sides(topology, sided, src, dst)

    port, port_row, port_cxl, forbid, cxl, cxl_cpus = _cxl_ports(topology, klass, relay, src, dst)
    klass[port_row] = GATED
    roots = roots[pkg_sealed[roots] & (kind[roots] != KIND_CODE["cpu"])]
    domain, member = _fabric_domains(topology, klass, seal, roots, src, dst)

    # Without relay attributes the plan is the strict one: nothing forwards beyond it.
    plain = strict or not (relay >= 0).any()
    beyond = np.zeros(n, dtype=bool) if plain else _beyond(topology, klass)
    return ForwardingPlan(
        forwarding,
        strict,
        klass,
        seal,
        host_end,
        beyond,
        port,
        port_row,
        port_cxl,
        forbid,
        domain,
        member,
        cxl,
        cxl_cpus,
    )


def _beyond(topology: Topology, klass: np.ndarray) -> np.ndarray:
    """Rows that forward in ``klass`` but not under the strict hardware defaults."""
    base = forwarding_plan(topology, "hardware", strict=True).klass
    return (klass == TRANSIT) & (base != TRANSIT)


def _cxl_ports(topology: Topology, klass: np.ndarray, relay: np.ndarray, src, dst):
    """The shared CXL domains (per row: the domain of CXL rows, -1 elsewhere; per domain: the
    CPUs the binding rule applies to), the ports of every CPU that forwards and is attached
    to one, and the pairs of ports it does not forward between (see the module docstring)."""
    n = topology.num_nodes
    kind = topology.nodes.kind
    port = np.full((len(src), 2), -1, dtype=np.int64)
    cxl = np.full(n, -1, dtype=np.int64)
    none = (port, np.zeros(0, np.int64), np.zeros(0, bool), np.zeros((0, 2), np.int64), cxl, ())
    is_cxl = np.isin(kind, [KIND_CODE[k] for k in CXL_DOMAIN_KINDS])
    # The rule binds the CPUs that do not route everything (relay = true lifts it).
    is_cpu = (kind == KIND_CODE["cpu"]) & (relay != 1)
    at_cxl = (is_cpu[src] & is_cxl[dst]) | (is_cxl[src] & is_cpu[dst])
    if not at_cxl.any():
        return none
    inner = is_cxl[src] & is_cxl[dst]
    g = sp.csr_array((np.ones(int(inner.sum())), (src[inner], dst[inner])), shape=(n, n))
    label = connected_components(g, directed=False)[1]
    attach: dict[int, set[int]] = {}  # CXL domain label -> the CPUs linked to it
    for e in np.flatnonzero(at_cxl).tolist():
        c, x = (int(src[e]), int(dst[e])) if is_cpu[src[e]] else (int(dst[e]), int(src[e]))
        attach.setdefault(int(label[x]), set()).add(c)
    shared = sorted(k for k, cpus in attach.items() if len(cpus) >= 2)
    if not shared:
        return none
    number = {k: i for i, k in enumerate(shared)}
    on = np.isin(label, shared) & is_cxl
    cxl[on] = [number[int(k)] for k in label[on].tolist()]
    cpus = tuple(np.array(sorted(attach[k]), dtype=np.int64) for k in shared)
    mine: dict[int, set[int]] = {}  # CPU -> the shared domains it is attached to
    for d, rows in enumerate(cpus):
        for c in rows.tolist():
            mine.setdefault(c, set()).add(d)
    peers: dict[int, set[int]] = {}
    for e in np.flatnonzero(is_cpu[src] & is_cpu[dst] & (src != dst)).tolist():
        a, b = int(src[e]), int(dst[e])
        peers.setdefault(a, set()).add(b)
        peers.setdefault(b, set()).add(a)
    rows_, pairs, to_cxl = [], [], []
    for c in sorted(mine):
        if klass[c] != TRANSIT:
            continue  # a CPU that does not forward: only an endpoint, no ports needed
        co = {(d, p) for p in peers.get(c, ()) for d in mine[c] & mine.get(p, set())}
        # One port per shared CXL domain and one per CPU attached to one of them too.
        names = sorted({("cxl", d) for d in mine[c]} | {("cpu", p) for _, p in co})
        base = len(rows_)
        index = {name: base + i for i, name in enumerate(names)}
        rows_ += [c] * len(names)
        to_cxl += [name[0] == "cxl" for name in names]
        pairs += [(index[("cxl", d)], index[("cpu", p)]) for d, p in sorted(co)]
        for end, (near, far) in enumerate(((src, dst), (dst, src))):
            for e in np.flatnonzero(near == c).tolist():
                f = int(far[e])
                name = ("cxl", int(cxl[f])) if cxl[f] >= 0 else ("cpu", f)
                port[e, end] = index.get(name, -1)
    return (
        port,
        np.array(rows_, dtype=np.int64),
        np.array(to_cxl, dtype=bool),
        np.array(pairs, dtype=np.int64).reshape(-1, 2),
        cxl,
        cpus,
    )


def _fabric_domains(topology: Topology, klass, seal, accelerators, src, dst):
    """Each row's fabric domain (-1 for none) and whether it belongs to an accelerator."""
    n = topology.num_nodes
    is_acc = np.zeros(n, dtype=bool)
    is_acc[accelerators] = True
    # The accelerator each row belongs to (its package, for its chiplets and memory).
    acc_of = np.where((seal >= 0) & is_acc[np.maximum(seal, 0)], seal, -1)
    fabric_switch = np.isin(topology.nodes.kind, [KIND_CODE[k] for k in FABRIC_SWITCH_KINDS])
    fabric_switch &= (klass == TRANSIT) & (_outermost_compute(topology) < 0)
    node = np.where(fabric_switch, np.arange(n), acc_of)  # a vertex of the domain graph
    member = acc_of >= 0
    if not member.any():
        return np.full(n, -1, dtype=np.int64), member
    a, b = node[src], node[dst]
    ok = (a >= 0) & (b >= 0) & (a != b)
    g = sp.csr_array((np.ones(int(ok.sum())), (a[ok], b[ok])), shape=(n, n))
    label = connected_components(g, directed=False)[1]
    label = _unbound_apart(label, accelerators, fabric_switch, a[ok], b[ok], n)
    # Domains are the groups holding an accelerator, numbered in row order of their first.
    size = 2 * n  # labels past n: accelerators of a group the rule does not bind, one each
    has_acc = np.zeros(size, dtype=bool)
    has_acc[label[accelerators]] = True
    first = np.full(size, size, dtype=np.int64)
    np.minimum.at(first, label[accelerators], accelerators)
    order = np.argsort(first, kind="stable")
    number = np.full(size + 1, -1, dtype=np.int64)  # label -1 (a switch set apart) stays -1
    number[order[: int(has_acc.sum())]] = np.arange(int(has_acc.sum()))
    domain = np.where(node >= 0, number[label[np.maximum(node, 0)]], -1)
    return domain.astype(np.int64), member


def _unique_pairs(a: np.ndarray, b: np.ndarray, width: np.int64) -> np.ndarray:
    """The distinct rows (a, b), sorted, for values below ``width`` (one 1-D sort, not
    ``np.unique(axis=0)``, which is many times slower)."""
    key = np.unique(np.asarray(a, np.int64) * width + np.asarray(b, np.int64))
    return np.c_[key // width, key % width]


def _unbound_apart(label, accelerators, fabric_switch, ea, eb, n) -> np.ndarray:
    """``label`` with every fabric group in which some two accelerators have no fabric path
    that relays through switches only (a hybrid cube-mesh: g0 -- g1 -- g2 with no link g0 --
    g2) set apart: its accelerators get labels of their own (past ``n``) and its switches -1.

    The fabric rule keeps a pair's traffic on the fabric only where the fabric joins the pair:
    an accelerator does not relay, so binding such a group would leave g0 and g2 nothing (the
    hardware reaches g2 over PCIe, as NCCL does). A pair joins when it is linked directly or
    both are linked to one connected group of fabric switches."""
    is_acc = np.zeros(n, dtype=bool)
    is_acc[accelerators] = True
    # Groups of fabric switches joined by switch-to-switch fabric links.
    ss = fabric_switch[ea] & fabric_switch[eb]
    g = sp.csr_array((np.ones(int(ss.sum())), (ea[ss], eb[ss])), shape=(n, n))
    group = connected_components(g, directed=False)[1]
    k = np.bincount(label[accelerators], minlength=n)
    multi = np.flatnonzero(k >= 2)
    if len(multi) == 0:
        return label
    # Accelerator -- switch group pairs; a switch group every accelerator of the label touches
    # joins every pair (the common case: NVSwitch, NVL72's separate switch trays).
    ac = is_acc[ea] & fabric_switch[eb]
    ca = fabric_switch[ea] & is_acc[eb]
    acc = np.r_[ea[ac], eb[ca]]
    sw_group = group[np.r_[eb[ac], ea[ca]]]
    width = np.int64(n)
    pairs = _unique_pairs(acc, sw_group, width)
    joined = np.zeros(n, dtype=bool)
    if len(pairs):
        # Per (label, switch group): how many of the label's accelerators touch the group.
        key, count = np.unique(
            label[pairs[:, 0]].astype(np.int64) * width + pairs[:, 1], return_counts=True
        )
        lab = key // width
        joined[lab[count == k[lab]]] = True
    # Direct accelerator links: a label whose accelerators are all linked pairwise.
    aa = is_acc[ea] & is_acc[eb]
    if aa.any():
        direct = _unique_pairs(np.minimum(ea[aa], eb[aa]), np.maximum(ea[aa], eb[aa]), width)
        links = np.bincount(label[direct[:, 0]], minlength=n)
        joined |= links == k * (k - 1) // 2
    rest = [int(x) for x in multi if not joined[x]]
    if not rest:
        return label
    touch: dict[int, set[int]] = {}
    for r, grp in pairs.tolist():
        touch.setdefault(r, set()).add(grp)
    linked: dict[int, set[int]] = {}
    if aa.any():
        for x, y in direct.tolist():
            linked.setdefault(x, set()).add(y)
            linked.setdefault(y, set()).add(x)
    label = label.copy()
    accelerators = np.asarray(accelerators)
    for lab_ in rest:
        rows = accelerators[label[accelerators] == lab_].tolist()
        if all(
            y in linked.get(x, ()) or touch.get(x, set()) & touch.get(y, set())
            for i, x in enumerate(rows)
            for y in rows[i + 1 :]
        ):
            continue
        inside = label == lab_
        label[inside & fabric_switch] = -1
        label[rows] = n + np.asarray(rows)
    return label


def domain_name(topology: Topology, domain: np.ndarray, member: np.ndarray, d: int) -> str:
    """A name for fabric domain ``d`` (labels ``domain``/``member`` per row, as in
    :class:`ForwardingPlan`): the smallest component holding all its accelerators (their
    server, their rack), else its first accelerator.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("n", "node")
    >>> _ = b.add_node("n.s", "nvswitch", parent="n")
    >>> for g in range(2):
    ...     _ = b.add_node(f"n.g{g}", "gpu", parent="n")
    ...     _ = b.add_link(f"n.g{g}", "n.s", bandwidth=1e9)
    >>> t = b.build(); p = forwarding_plan(t)
    >>> domain_name(t, p.domain, p.member, 0)
    'n'
    """
    parent = topology.nodes.parent.astype(np.int64)
    ids = topology.nodes.ids
    mine = (domain == d) & member
    up = np.maximum(parent, 0)
    # The accelerators: members whose parent is not a member of the same domain.
    rows = np.flatnonzero(mine & ~((parent >= 0) & mine[up]))
    if len(rows) == 0:
        return f"fabric domain {d}"
    chain: list[int] = []
    a = int(parent[rows[0]])
    while a >= 0:
        chain.append(a)
        a = int(parent[a])
    depth = {r: i for i, r in enumerate(chain)}
    best = 0
    for r in rows[1:].tolist():
        a = int(parent[r])
        while a >= 0 and a not in depth:
            a = int(parent[a])
        if a < 0:
            return ids[int(rows[0])]
        best = max(best, depth[a])
    return ids[chain[best]] if chain else ids[int(rows[0])]


def _outermost_compute(topology: Topology) -> np.ndarray:
    """Each row's outermost compute ancestor-or-self (-1 when it has none)."""
    n = topology.num_nodes
    parent = topology.nodes.parent.astype(np.int64)
    is_compute = topology.role_codes == ROLES.index("compute")
    out = np.where(is_compute, np.arange(n), -1)
    cur = parent.copy()
    while True:
        live = np.flatnonzero(cur >= 0)
        if len(live) == 0:
            return out
        a = cur[live]
        hit = is_compute[a]
        out[live[hit]] = a[hit]
        cur[live] = parent[a]


def _host_sides(topology: Topology, sided: np.ndarray, src: np.ndarray, dst: np.ndarray):
    """Which end of each link is on the host side of a CXL switch at the other end."""
    kind = topology.nodes.kind
    cpu = kind == KIND_CODE["cpu"]
    switch = np.isin(kind, [KIND_CODE[k] for k in _SWITCH_KINDS])
    hop = np.isin(kind, [KIND_CODE[k] for k in _HOP_KINDS]) | cpu
    dist = _hops_from_cpus(topology, hop, cpu, src, dst)

    def host_of(far: np.ndarray, near: np.ndarray) -> np.ndarray:
        return cpu[far] | (switch[far] & (dist[far] < dist[near]))

    host_end = np.zeros((len(src), 2), dtype=bool)
    at_dst = sided[dst]
    host_end[at_dst, 0] = host_of(src[at_dst], dst[at_dst])
    at_src = sided[src]
    host_end[at_src, 1] = host_of(dst[at_src], src[at_src])
    return host_end


def _hops_from_cpus(topology, hop, cpu, src, dst) -> np.ndarray:
    """Hops from the nearest CPU over links between CPUs, switches and NICs (inf if none)."""
    n = topology.num_nodes
    ok = hop[src] & hop[dst] & (src != dst)
    if not cpu.any():
        return np.full(n, np.inf)
    g = sp.csr_array((np.ones(int(ok.sum())), (src[ok], dst[ok])), shape=(n, n))
    return dijkstra(g, directed=False, unweighted=True, indices=np.flatnonzero(cpu), min_only=True)
