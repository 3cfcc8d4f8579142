"""The built-in component kinds, their roles, and the attributes each kind accepts.

A *kind* says what a component is (``gpu``, ``hbm``, ``switch``...); its *role* says how the
solvers treat it:

==========  ===============================================  ==================================
role        kinds                                             used by
==========  ===============================================  ==================================
compute     gpu, chiplet (alias die), cpu                     endpoints of bisection, reach
memory      hbm, dram, cxl_memory                             targets of memory reach
storage     ssd, hdd                                          data-path flows (read/write caps)
transit     nvswitch, pcie_switch, cxl_switch, switch, nic    carry flow, may cap it
container   node, rack, pod, cluster, storage_node, group     hold other components, no flow
==========  ===============================================  ==================================

Whether a component *forwards* traffic between its links (lets it pass through rather than
start or end there) is the kind's default in :data:`FORWARDS`, which the attribute
``relay = true`` or ``relay = false`` overrides; the solvers' forwarding model
(:mod:`topodsl.solvers.forwarding`) builds on it.

>>> FORWARDS["gpu"], FORWARDS["pcie_switch"], FORWARDS["cpu"]
(False, True, True)

>>> ROLE_OF["cxl_memory"]
'memory'
>>> KIND_CODE["gpu"] == KINDS.index("gpu")
True
"""

from __future__ import annotations

from dataclasses import dataclass

from .units import BANDWIDTH, COUNT, FLOPS, POWER, SIZE, TIME, Dim

__all__ = [
    "KINDS",
    "KIND_CODE",
    "ROLES",
    "ROLE_OF",
    "FORWARDS",
    "KIND_ALIASES",
    "AttrSpec",
    "ATTRIBUTES",
    "LINK_ATTRIBUTES",
    "attributes_for",
    "kinds_with_role",
]

ROLE_OF: dict[str, str] = {
    "gpu": "compute",
    "chiplet": "compute",
    "cpu": "compute",
    "hbm": "memory",
    "dram": "memory",
    "cxl_memory": "memory",
    "ssd": "storage",
    "hdd": "storage",
    "nvswitch": "transit",
    "pcie_switch": "transit",
    "cxl_switch": "transit",
    "switch": "transit",
    "nic": "transit",
    "node": "container",
    "rack": "container",
    "pod": "container",
    "cluster": "container",
    "storage_node": "container",
    "group": "container",
}

#: Whether each kind forwards traffic between its links by default (``relay`` overrides it).
#: Switches (network, NVSwitch, PCIe), NICs and CPUs (root complex, socket links) forward;
#: GPUs and chiplets do not: traffic may start or end there but not pass through (chiplets
#: still forward *inside* their package, see :mod:`topodsl.solvers.forwarding`). A CXL switch
#: forwards between its host side and its device side only. Memory and storage never forward
#: (``relay`` cannot change that) and containers carry nothing.
FORWARDS: dict[str, bool] = {
    k: r == "transit" or k == "cpu" for k, r in ROLE_OF.items() if r in ("compute", "transit")
}

KINDS: tuple[str, ...] = tuple(ROLE_OF)
KIND_CODE: dict[str, int] = {k: i for i, k in enumerate(KINDS)}
ROLES: tuple[str, ...] = ("compute", "memory", "storage", "transit", "container")
KIND_ALIASES: dict[str, str] = {"die": "chiplet", "server": "node"}


def kinds_with_role(role: str) -> tuple[str, ...]:
    """The kinds that play ``role``.

    >>> kinds_with_role("storage")
    ('ssd', 'hdd')
    """
    return tuple(k for k, r in ROLE_OF.items() if r == role)


@dataclass(frozen=True, slots=True)
class AttrSpec:
    """What an attribute means: its dimension (``None`` for text or a flag) and a line of help.

    ``flag`` marks a boolean attribute, written ``true`` or ``false``.
    """

    name: str
    dim: Dim | None
    help: str
    positive: bool = True
    flag: bool = False


_COMMON = (
    AttrSpec("model", None, "product name, free text"),
    AttrSpec("power", POWER, "power draw; a component's own figure covers everything inside it"),
    AttrSpec("cost", COUNT, "purchase cost, in one currency throughout the design"),
)
_DEVICE = (
    AttrSpec("bandwidth", BANDWIDTH, "throughput cap for all flow through the device"),
    AttrSpec("latency", TIME, "access or traversal latency of the device", positive=False),
    AttrSpec("ports", COUNT, "number of link ports (lanes) the device has"),
)
_CAPACITY = (AttrSpec("capacity", SIZE, "bytes the device stores"),)
_STORAGE = (
    AttrSpec("read_bandwidth", BANDWIDTH, "throughput cap when data is read from the device"),
    AttrSpec("write_bandwidth", BANDWIDTH, "throughput cap when data is written to the device"),
)
_COMPUTE = (AttrSpec("flops", FLOPS, "peak compute rate"),)
_RELAY = (
    AttrSpec(
        "relay",
        None,
        "true: traffic may pass through this component between its links (a torus chip, "
        "NCCL PXN through a GPU); false: it may only start or end here",
        flag=True,
    ),
)

ATTRIBUTES: dict[str, dict[str, AttrSpec]] = {}
for _kind, _role in ROLE_OF.items():
    specs = list(_COMMON)
    if _role != "container":
        specs += _DEVICE
    if _role in ("memory", "storage"):
        specs += _CAPACITY
    if _role == "storage":
        specs += _STORAGE
    if _role == "compute":
        specs += _COMPUTE
    if _role in ("compute", "transit"):
        specs += _RELAY
    ATTRIBUTES[_kind] = {s.name: s for s in specs}

LINK_ATTRIBUTES: dict[str, AttrSpec] = {
    s.name: s
    for s in (
        AttrSpec("bandwidth", BANDWIDTH, "bandwidth per direction (per lane for a link type)"),
        AttrSpec("latency", TIME, "one-way latency", positive=False),
        AttrSpec("duplex", None, '"full" (default: the bandwidth in each direction) or "half"'),
        AttrSpec("model", None, "product or standard name, free text"),
    )
}


def attributes_for(kind: str) -> dict[str, AttrSpec]:
    """The attributes a component of ``kind`` accepts.

    >>> sorted(attributes_for("ssd"))[:3]
    ['bandwidth', 'capacity', 'cost']
    """
    return ATTRIBUTES[kind]
