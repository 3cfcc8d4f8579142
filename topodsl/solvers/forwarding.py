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

``"ideal"``
    Every component except memory and storage forwards between all its links: today's
    optimistic ceiling, what a max flow gives when any GPU may relay. ``relay = false`` is
    ignored too.

What a component is to the flow network is its *class* (:data:`CLASSES`): ``endpoint``
(memory, storage), ``transit`` (forwards between all its links), ``sided`` (a CXL switch),
``sealed`` (inside a package that does not forward; :attr:`ForwardingPlan.seal` names the
package) or ``inert`` (a container).

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

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
    "INERT",
    "SIDED_KINDS",
    "ForwardingPlan",
    "forwarding_plan",
    "check_forwarding",
    "relay_attribute",
]

#: The forwarding models a solver accepts (see the module docstring).
FORWARDING_MODES: tuple[str, ...] = ("hardware", "ideal")

#: Class names indexed by :attr:`ForwardingPlan.klass`.
CLASSES: tuple[str, ...] = ("endpoint", "transit", "sided", "sealed", "inert")
ENDPOINT, TRANSIT, SIDED, SEALED, INERT = range(len(CLASSES))

#: Kinds that forward between their host side and their device side only.
SIDED_KINDS: tuple[str, ...] = ("cxl_switch",)
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
    """

    mode: str
    strict: bool
    klass: np.ndarray
    seal: np.ndarray
    host_end: np.ndarray
    beyond: np.ndarray

    def same_as(self, other: ForwardingPlan) -> bool:
        """Whether both plans build the same flow network."""
        return (
            np.array_equal(self.klass, other.klass)
            and np.array_equal(self.seal, other.seal)
            and np.array_equal(self.host_end, other.host_end)
        )


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
    # A damaged copy (topodsl.failures) keeps its original's plan: a failure rewires nothing.
    derive = getattr(topology, "derived_forwarding_plan", None)
    if derive is not None:
        plan = derive(forwarding, strict=strict)
    else:
        plan = _build_plan(topology, forwarding, strict)
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


def _build_plan(topology: Topology, forwarding: str, strict: bool) -> ForwardingPlan:
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
    if forwarding == "ideal":
        return ForwardingPlan(forwarding, strict, klass, seal, host_end, _beyond(topology, klass))

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

    # Without relay attributes the plan is the strict one: nothing forwards beyond it.
    plain = strict or not (relay >= 0).any()
    beyond = np.zeros(n, dtype=bool) if plain else _beyond(topology, klass)
    return ForwardingPlan(forwarding, strict, klass, seal, host_end, beyond)


def _beyond(topology: Topology, klass: np.ndarray) -> np.ndarray:
    """Rows that forward in ``klass`` but not under the strict hardware defaults."""
    base = forwarding_plan(topology, "hardware", strict=True).klass
    return (klass == TRANSIT) & (base != TRANSIT)


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
