"""The one intermediate every importer fills: a discovered :class:`Machine`.

An importer (:mod:`.hwloc`, :mod:`.nccl`) reads its format into :class:`PciNode` trees, CPUs,
memories and scale-up links; this module turns them into parts and wires the same way for
every format (PCIe switches from bridges, endpoints by class, link rates from the PCIe
encoding), fills what the format does not say from the table of known parts
(:mod:`.parts`), marking each such figure ``assumed``, and warns about what it cannot fill
(:meth:`Machine.complete`). :mod:`.topo_text` then writes the machine as readable ``.topo``
text, which is also how every command reads an ``.xml`` file: the text written by
``topodsl import`` and the topology the commands analyse are the same by construction.

Units: bandwidths bytes per second per direction, capacities bytes, latencies seconds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, Span, source_line
from . import parts

__all__ = ["LinkKind", "Part", "Wire", "PciNode", "Machine", "pcie_kind", "decode_pcie_rate"]

_CLASS_GPU = (0x03, 0x12)  # display controllers, processing accelerators (MI300X)
_GPU_VENDORS = (0x10DE, 0x1002)


@dataclass(frozen=True, slots=True)
class LinkKind:
    """A link type of the imported machine: name, bandwidth per link and direction, model text,
    and its class (``pcie``, ``cxl``, ``nvlink``, ``xgmi``, ``c2c``, ``socket``, ``memory``)."""

    name: str
    bandwidth: float
    model: str
    cls: str


@dataclass
class Part:
    """One component of the machine. ``group`` is the array it is written in (``gpu``, ``nic``,
    ``pex``...); ``order`` sorts it within the group (bus id, NUMA index)."""

    kind: str
    group: str
    host: int = 0
    model: str | None = None
    bandwidth: float | None = None
    capacity: float | None = None
    latency: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    parent: int | None = None  # a part that contains this one (the GPU of an HBM)
    label: str = ""
    order: tuple = ()


@dataclass
class Wire:
    """A link between parts ``a`` and ``b``: ``lanes`` links of type ``kind``."""

    a: int
    b: int
    kind: LinkKind
    lanes: float = 1
    assumed: str | None = None


@dataclass
class PciNode:
    """A PCI function as both formats describe it, normalised: one node per switch (the
    upstream port; downstream ports folded in) or endpoint, with the link above it."""

    busid: str
    cls: int | None = None  # class code, e.g. 0x0302 (two bytes, no prog-if)
    vendor: int | None = None
    device: int | None = None
    gen: int | None = None  # PCIe generation of the link above, if known
    width: int | None = None  # lanes of the link above, if known
    rate: float | None = None  # B/s per direction of the link above, if known (hwloc)
    is_switch: bool = False
    children: list[PciNode] = field(default_factory=list)
    role: str | None = None  # gpu | nic | nvswitch | cxl | ssd (None: not modelled)
    info: dict[str, Any] = field(default_factory=dict)
    span: Span | None = None

    def descendants(self):
        stack = list(self.children)
        while stack:
            n = stack.pop()
            yield n
            stack.extend(n.children)


def decode_pcie_rate(rate: float) -> list[tuple[int, int]]:
    """The (generation, width) pairs whose rate matches ``rate`` B/s within 0.2 %.

    >>> decode_pcie_rate(15.753846e9)
    [(3, 16), (4, 8), (5, 4)]
    """
    out = []
    for gen, lane in parts.PCIE_LANE_RATE.items():
        for width in (1, 2, 4, 8, 16):
            if abs(lane * width - rate) <= 0.002 * rate:
                out.append((gen, width))
    return out


def pcie_kind(
    gen: int | None, width: int | None, rate: float | None, cls: str = "pcie", hint_gen=None
) -> LinkKind | None:
    """The link type of a PCIe (or CXL) link known by generation and width, or by rate alone.

    A rate that several (generation, width) pairs give is named by the rate unless
    ``hint_gen`` (the device's generation, from the table of known parts) settles it. Rates
    are rounded to whole MB/s, which keeps max-flow answers exact (the solver works in an
    integer unit that must divide every capacity).

    >>> pcie_kind(5, 16, None).name, pcie_kind(5, 16, None).bandwidth / 1e9
    ('pcie5_x16', 63.015)
    >>> pcie_kind(None, None, 15.753846e9).name
    'pcie_15g75'
    >>> pcie_kind(None, None, 15.753846e9, hint_gen=3).name
    'pcie3_x16'
    """
    if gen is None or width is None:
        if rate is None or rate <= 0:
            return None
        rate = _whole_mb(rate)
        found = decode_pcie_rate(rate)
        if hint_gen is not None and len([c for c in found if c[0] == hint_gen]) == 1:
            found = [c for c in found if c[0] == hint_gen]
        if len(found) != 1:
            shown = f"{rate / 1e9:.2f}".rstrip("0").rstrip(".")
            alts = " or ".join(f"Gen{g} x{w}" for g, w in found)
            model = f"PCIe at {shown} GB/s per direction" + (f" ({alts})" if alts else "")
            return LinkKind(f"{cls}_{shown.replace('.', 'g')}", rate, model, cls)
        gen, width = found[0]
    if gen not in parts.PCIE_LANE_RATE:
        return None
    bw = _whole_mb(parts.pcie_lane_rate(gen) * width)
    if cls == "cxl":
        version = "3" if gen >= 6 else "2"
        return LinkKind(
            f"cxl{version}_x{width}", bw, f"CXL {version}.0 x{width} on the PCIe Gen{gen} PHY", cls
        )
    gts = parts.PCIE_GTS[gen]
    return LinkKind(f"pcie{gen}_x{width}", bw, f"PCIe Gen{gen} x{width} ({gts:g} GT/s)", cls)


class Machine:
    """A discovered machine: parts, wires, and what was assumed or is missing.

    ``hosts`` names the servers (one for an hwloc file; one per ``host_hash`` in an NCCL file).
    Warnings are :class:`~topodsl.errors.Diagnostic` objects at the XML element they concern.
    """

    def __init__(self, file: str, text: str, fmt: str):
        self.file = file
        self.text = text
        self.format = fmt
        self.hosts: list[str] = ["server"]
        self.host_models: dict[int, str] = {}
        self.parts: list[Part] = []
        self.wires: list[Wire] = []
        self.warnings: list[Diagnostic] = []
        self.assumptions: list[str] = []
        self.left_out: dict[str, int] = defaultdict(int)
        self.cpuid: dict[int, tuple] = {}  # cpu part -> (CPUID vendor, family, model)

    # -- building ---------------------------------------------------------------------------

    def add(self, kind: str, group: str, **fields: Any) -> int:
        self.parts.append(Part(kind, group, **fields))
        return len(self.parts) - 1

    def connect(
        self, a: int, b: int, kind: LinkKind, lanes: float = 1, assumed: str | None = None
    ) -> None:
        self.wires.append(Wire(a, b, kind, lanes, assumed))

    def span(self, line: int, col: int = 1) -> Span:
        return Span(self.file, line, col, line, col + 1)

    def warn(self, message: str, span: Span | None = None, hint: str | None = None) -> None:
        text = source_line(self.file, span.line, self.text) if span else None
        if text is not None and len(text) > 160:
            text = None
        self.warnings.append(Diagnostic(span, "warning", message, hint, text))

    def assume(self, what: str, span: Span | None = None, short: str | None = None) -> str:
        """Record an assumption: ``what`` goes in the file header and a warning; the returned
        ``short`` text (``what`` if not given) goes in ``meta { assumed = ... }``."""
        if what not in self.assumptions:
            self.assumptions.append(what)
            self.warn(
                f"assumed: {what}",
                span,
                "the figures come from the table of known "
                "parts in docs/interop.md; check them against the machine",
            )
        return short or what

    def add_nvswitch(self, host: int, meta: dict[str, Any], label: str, order: str) -> int:
        """An NVSwitch chip (known by its bus id, or assumed: ``meta`` says which)."""
        return self.add(
            "nvswitch", "nvs", host=host, model="NVSwitch", meta=meta, label=label, order=(order,)
        )

    def of_kind(self, *kinds: str, host: int | None = None) -> list[int]:
        return [
            i
            for i, p in enumerate(self.parts)
            if p.kind in kinds and (host is None or p.host == host)
        ]

    # -- the PCI tree -----------------------------------------------------------------------

    def add_pci(self, cpu: int, roots: list[PciNode]) -> None:
        """Parts and PCIe links for the trees ``roots`` hanging off part ``cpu``."""
        host = self.parts[cpu].host
        for node in roots:
            self._add_pci_node(cpu, None, node, host)

    def _add_pci_node(self, up: int, up_node: PciNode | None, node: PciNode, host: int) -> None:
        if node.is_switch:
            modelled = [d for d in node.descendants() if d.role in ("gpu", "nic", "cxl", "ssd")]
            if not modelled:
                self.left_out["PCIe switches with nothing modelled below them"] += 1
                for d in node.descendants():
                    self._other(d, host)
                return
            cxl_only = all(d.role == "cxl" for d in modelled)
            me = self.add(
                "cxl_switch" if cxl_only else "pcie_switch",
                "cxlsw" if cxl_only else "pex",
                host=host,
                meta=_pci_meta(node),
                label=f"PCIe switch {node.busid}",
                order=(node.busid,),
            )
            self._wire_pci(up, me, node, up_node, "cxl" if cxl_only else "pcie")
            for child in node.children:
                self._add_pci_node(me, node, child, host)
            return
        if node.role is None or node.role == "nvswitch":
            self._other(node, host)
            return
        me = self._endpoint(node, host)
        self._wire_pci(up, me, node, up_node, "cxl" if node.role == "cxl" else "pcie")

    def _other(self, node: PciNode, host: int) -> None:
        if node.role == "nvswitch":
            self.add(
                "nvswitch",
                "nvs",
                host=host,
                model=node.info.get("model", "NVSwitch"),
                meta=_pci_meta(node),
                label=f"NVSwitch {node.busid}",
                order=(node.busid,),
            )
            self.left_out["NVSwitch PCIe management links (they carry no GPU data)"] += 1
        elif not node.is_switch:
            self.left_out["PCI devices of other classes (storage controllers, USB, BMC...)"] += 1

    def _endpoint(self, node: PciNode, host: int) -> int:
        info = node.info
        meta = _pci_meta(node)
        meta.update(info.get("meta", {}))
        if node.role == "gpu":
            gpu = parts.gpu_part(node.vendor, node.device, info.get("model"))
            model = info.get("model") or (gpu.model if gpu else None)
            me = self.add(
                "gpu",
                "gpu",
                host=host,
                model=model,
                meta=meta,
                label=f"GPU {node.busid}",
                order=(node.busid,),
            )
            memory = info.get("memory")
            if memory:
                self._gpu_memory(me, memory, gpu, host)
            return me
        if node.role == "nic":
            ports = info.get("ports", [])
            rates = [r for _, r in ports]
            rate = sum(rates) if rates and all(r is not None for r in rates) else None
            nic = parts.nic_part(node.vendor, node.device)
            if rate is None and nic is not None and not info.get("no_table"):
                rate = nic.rate
                meta["assumed"] = self.assume(
                    f"{nic.model} ({node.vendor:04x}:{node.device:04x}) runs at "
                    f"{nic.rate * 8 / 1e9:g} Gb/s, all its ports together (the file gives no "
                    "rate)",
                    node.span,
                    short=f"{nic.model} rate (known parts)",
                )
            elif rate is None:
                self.warn(
                    f"the rate of NIC {node.busid} is not in the file and the NIC is not in the "
                    "table of known parts: it is left without a bandwidth limit",
                    node.span,
                    "set it by hand in the .topo file: nic ... { bandwidth = 400 Gb/s }",
                )
            if ports:
                meta["ports"] = ",".join(name for name, _ in ports)
            return self.add(
                "nic",
                "nic",
                host=host,
                model=info.get("model") or (nic.model if nic else None),
                bandwidth=rate,
                meta=meta,
                label=f"NIC {node.busid}",
                order=(node.busid,),
            )
        kind, group, what = {"cxl": ("cxl_memory", "cxl", "CXL memory")}.get(
            node.role, ("ssd", "nvme", "NVMe")
        )
        return self.add(
            kind,
            group,
            host=host,
            capacity=info.get("capacity"),
            model=info.get("model"),
            meta=meta,
            label=f"{what} {node.busid}",
            order=(node.busid,),
        )

    def _gpu_memory(self, gpu: int, capacity: float, part, host: int) -> None:
        mem = self.add(
            "hbm",
            "mem",
            host=host,
            capacity=capacity,
            parent=gpu,
            label=f"memory of {self.parts[gpu].label}",
        )
        if part is None:
            self.warn(
                f"the memory bandwidth of {self.parts[gpu].label} "
                f"({self.parts[gpu].model or 'unknown model'}) is not in the file nor in the "
                "table of known parts: its HBM is left unconnected",
            )
            return
        kind = LinkKind(
            "hbm_" + _ident(part.model), part.memory_bandwidth, f"{part.model} memory", "memory"
        )
        what = self.assume(
            f"{part.model}: memory at {part.memory_bandwidth / 1e12:g} TB/s (the file gives "
            "its size, not its bandwidth)",
            short=f"{part.model} memory bandwidth (known parts)",
        )
        self.connect(gpu, mem, kind, assumed=what)

    def _wire_pci(self, up: int, me: int, node: PciNode, up_node: PciNode | None, cls: str) -> None:
        hint = None
        if node.role == "gpu":
            gpu = parts.gpu_part(node.vendor, node.device, node.info.get("model"))
            hint = gpu.pcie_gen if gpu else None
        if cls == "cxl":
            hint = 5  # CXL 1.1 and 2.0 run on the PCIe Gen5 PHY
        kind = pcie_kind(node.gen, node.width, node.rate, cls, hint)
        if kind is None and up_node is not None and up_node.rate:
            # The device reports no speed (hwloc writes 0: unknown); its port does.
            kind = pcie_kind(None, None, up_node.rate, cls, hint)
        if kind is None:
            what = self.parts[me].label
            self.warn(
                f"the PCIe link of {what} to {self.parts[up].label or 'its parent'} has no known "
                "speed (0 or missing means unknown): the link is left out",
                node.span,
                "add it by hand, e.g. connect ... via pcie5_x16",
            )
            return
        self.connect(up, me, kind)

    # -- what the format does not say ---------------------------------------------------------

    def complete(self) -> None:
        """Fill the socket links and NVLink wiring from the table; warn about the rest."""
        for host in range(len(self.hosts)):
            self._socket_links(host)
        self._report_left_out()

    def _socket_links(self, host: int) -> None:
        cpus = self.of_kind("cpu", host=host)
        if len(cpus) < 2:
            return
        if any(
            {w.a, w.b} <= set(cpus) for w in self.wires if w.kind.cls == "socket"
        ):  # the format said
            return
        ids = [self.cpuid.get(c) for c in cpus]
        entry = parts.socket_link(*ids[0]) if ids[0] else None
        if len(cpus) != 2 or entry is None or len(set(map(str, ids))) != 1:
            names = ", ".join(self.parts[c].label for c in cpus)
            self.warn(
                f"the links between the CPU sockets ({names}) are not in the file and the CPU "
                "is not in the table of known parts (or there are more than two sockets): "
                "they are left out, so no flow crosses between sockets",
                hint="add them by hand, e.g. connect cpu[0] -- cpu[1] via upi2 x4",
            )
            return
        kind = LinkKind(entry.name, entry.rate, entry.link_model, "socket")
        what = self.assume(
            f"{entry.cpu}: sockets joined by {entry.links} x {entry.link_model} "
            f"({entry.rate / 1e9:g} GB/s each way per link)",
            short=f"{entry.cpu} socket links (known parts)",
        )
        self.connect(cpus[0], cpus[1], kind, lanes=entry.links, assumed=what)

    def _report_left_out(self) -> None:
        for what, n in sorted(self.left_out.items()):
            self.warn(f"left out {n} {what}")

    def fill_baseboard(self, host: int, span: Span | None = None) -> bool:
        """NVLink wiring of a known baseboard, when the file lists the GPUs but no NVLink."""
        gpus = self.of_kind("gpu", host=host)
        found = [parts.gpu_part(name=self.parts[g].model) for g in gpus]
        sms = {f.sm for f in found if f is not None}
        if not gpus or None in found or len(sms) != 1 or not all(f.sxm for f in found):
            return False
        sm = sms.pop()
        board = parts.baseboard(sm, len(gpus))
        rate = parts.nvlink_rate(sm)
        if board is None or board.trunk or rate is None:
            return False
        gen = parts.nvlink_generation(sm)
        kind = LinkKind(f"nvlink{gen}", rate, f"NVLink {gen} link", "nvlink")
        what = self.assume(
            f"{board.name} baseboard: {board.switches} NVSwitch chips, every GPU's links split "
            f"{'/'.join(map(str, board.split))} over them (the file lists no NVLink)",
            span,
            short=f"{board.name} NVLink (known parts)",
        )
        switches = [
            self.add_nvswitch(host, {"assumed": what}, f"NVSwitch {k} (assumed)", f"~{k:02d}")
            for k in range(board.switches)
        ]
        for g in gpus:
            for sw, n in zip(switches, board.split, strict=True):
                self.connect(g, sw, kind, lanes=n, assumed=what)
        return True

    def check_nvlink_connected(self, host: int) -> None:
        """Warn when the GPUs' scale-up links (NVLink, xGMI) do not join every GPU."""
        gpus = self.of_kind("gpu", host=host)
        if len(gpus) < 2:
            return
        up = {i: i for i in range(len(self.parts))}

        def find(x: int) -> int:
            while up[x] != x:
                up[x] = up[up[x]]
                x = up[x]
            return x

        fabric = [w for w in self.wires if w.kind.cls in ("nvlink", "xgmi")]
        if not fabric:
            return
        for w in fabric:
            up[find(w.a)] = find(w.b)
        groups: dict[int, list[int]] = defaultdict(list)
        for g in gpus:
            groups[find(g)].append(g)
        if len(groups) > 1:
            sizes = sorted((len(v) for v in groups.values()), reverse=True)
            alone = [self.parts[v[0]].label for v in groups.values() if len(v) == 1]
            self.warn(
                f"the NVLink/xGMI graph is disconnected: the {len(gpus)} GPUs form "
                f"{len(groups)} groups of {', '.join(map(str, sizes))}"
                + (f" ({', '.join(alone)} on its own)" if alone else ""),
                hint="a GPU whose links are down, or links the file does not list",
            )


def _whole_mb(rate: float) -> float:
    """PCIe rates rounded to whole MB/s (Gen5 x16: 63.015 GB/s), so flows stay exact."""
    return max(1e6, round(rate / 1e6) * 1e6)


def _pci_meta(node: PciNode) -> dict[str, Any]:
    meta: dict[str, Any] = {"pci_busid": node.busid}
    if node.vendor is not None and node.device is not None:
        meta["pci_id"] = f"{node.vendor:04x}:{node.device:04x}"
    return meta


def _ident(text: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
    while "__" in out:
        out = out.replace("__", "_")
    return out or "part"


def role_of_pci(cls: int | None, vendor: int | None, has_gpu_device: bool, subtype: str = ""):
    """The role of a PCI function from its class code (two bytes), vendor and OS devices."""
    if subtype == "NVSwitch" or (cls == 0x0680 and vendor == 0x10DE):
        return "nvswitch"
    if cls is None:
        return None
    if cls >> 8 in _CLASS_GPU and (has_gpu_device or vendor in _GPU_VENDORS):
        return "gpu"
    if cls >> 8 == 0x02:
        return "nic"
    if cls == 0x0502:
        return "cxl"
    if cls == 0x0108:
        return "ssd"
    return None


def parse_hex(text: str | None) -> int | None:
    """``'0x10de'`` or ``'10de'`` as an int; ``None`` for missing or malformed text."""
    if not text:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0
