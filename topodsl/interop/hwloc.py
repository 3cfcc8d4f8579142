"""hwloc XML (``lstopo --of xml``), format versions 2 and 3, into a :class:`~.machine.Machine`.

What is read (hwloc's ``doc/hwloc.doxy`` and ``hwloc2.dtd`` describe the format):

* ``Package`` objects are CPUs (``CPUVendor``, ``CPUFamilyNumber``, ``CPUModelNumber``,
  ``CPUModel`` infos); ``NUMANode`` objects are memories of the package above them, with
  ``local_memory`` bytes, their ``subtype`` (``DRAM``, ``HBM``, ``CXL-DRAM``...) and memory
  tier (v2: the ``MemoryTier`` info; v3: ``<memtier>`` elements), and the ``Bandwidth``
  (MiB/s) and ``Latency`` (ns) memory attributes where present;
* ``Bridge`` objects: host bridges hang off a package; their children are root ports, whose
  links lead to endpoints or to PCIe switches (an upstream port whose children are the
  downstream ports); ``pci_link_speed`` is GB/s per direction, and ``0`` means unknown;
* ``PCIDev`` objects by class: GPUs (03xx or 12xx with a GPU OS device: ``nvml``, ``rsmi``,
  ``cuda``, ``opencl``...), NICs (02xx, functions of one device merged), NVSwitches
  (``subtype="NVSwitch"``), CXL memory devices (0502, ``CXLRAMSize``/``CXLPMEMSize``), NVMe
  drives (0108);
* the ``NVLinkBandwidth`` and ``XGMIBandwidth`` distance matrices (MB/s per direction, links
  aggregated), homogeneous (``distances2``) or heterogeneous (``distances2hetero``).

hwloc says nothing of NIC rates or of the links between sockets; the importer takes them from
the table of known parts (marked ``assumed``) or warns.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from . import parts
from .machine import LinkKind, Machine, PciNode, parse_hex, role_of_pci
from .xmltree import XNode, parse_xml, xml_error

__all__ = ["read_hwloc"]

KIB = 1024
MIB = 2**20

# osdev_type: v2 is an enum, v3 a bit mask (hwloc.h, hwloc_obj_osdev_type_e).
_V2_GPU = {"1", "5"}  # GPU, CoProc
_V3_GPU = 4 | 8
_V2_NET = {"2", "3"}
_V3_NET = 16 | 32
_GPU_NAMES = ("nvml", "rsmi", "cuda", "opencl", "ze")
_CXL_SUBTYPES = ("CXL-DRAM", "CXL-HBM", "CXL-NVM", "CXL-SPM", "CXL-GPUMemory")
_TIER_KINDS = {1: "HBM", 2: "DRAM", 4: "GPUMemory", 8: "SPM", 16: "NVM", 32: "CXL"}


class _Reader:
    def __init__(self, root: XNode, file: str, text: str):
        self.root, self.file, self.text = root, file, text
        version = root.get("version") or ""
        self.v3 = version.startswith("3")
        self.m = Machine(file, text, f"hwloc XML {version}")
        self.by_gp: dict[str, XNode] = {}
        self.part_of: dict[int, int] = {}  # id(XNode) -> part
        self.cpu_of_package: dict[int, int] = {}

    def error(self, node: XNode, message: str, hint: str | None = None):
        return xml_error(self.file, self.text, node.line, node.col, message, hint)

    def span(self, node: XNode):
        return self.m.span(node.line, node.col)

    def read(self) -> Machine:
        root = self.root
        version = root.get("version")
        if not version or version[:1] not in ("2", "3"):
            raise self.error(
                root,
                f"hwloc XML version {version!r} is not supported (topodsl reads versions 2 and 3)",
                "export with hwloc 2 or later: lstopo --of xml machine.xml",
            )
        machines = [o for o in root.children if o.tag == "object"]
        if not machines:
            raise self.error(root, 'an hwloc <topology> needs an <object type="Machine">')
        for obj in root.walk():
            if obj.tag == "object" and obj.get("gp_index"):
                self.by_gp[obj.get("gp_index")] = obj
        top = machines[0]
        product = _info(top, "DMIProductName")
        if product:
            self.m.host_models[0] = product
        objects = [o for o in top.walk() if o.tag == "object"]
        for obj in objects:
            if obj.get("type") == "Package":
                self.package(obj)
        if not self.cpu_of_package:
            self.cpu_of_package[id(top)] = self.m.add(
                "cpu", "cpu", model=None, label="CPU", meta={"numa": 0}, order=(0,)
            )
            self.part_of[id(top)] = self.cpu_of_package[id(top)]
        for obj in objects:
            if obj.get("type") == "Bridge" and _is_host_bridge(obj):
                self.host_bridge(obj)
        self.memories(objects)
        self.distances()
        self.m.check_nvlink_connected(0)
        self.m.complete()
        return self.m

    # -- CPUs and memory --------------------------------------------------------------------

    def package(self, obj: XNode) -> None:
        k = len(self.cpu_of_package)
        vendor = _info(obj, "CPUVendor")
        family, model = _int(_info(obj, "CPUFamilyNumber")), _int(_info(obj, "CPUModelNumber"))
        meta: dict[str, Any] = {"package": _int(obj.get("os_index")) or k}
        if vendor:
            meta["vendor"] = vendor
        cpu = self.m.add(
            "cpu",
            "cpu",
            model=_info(obj, "CPUModel"),
            meta=meta,
            label=f"CPU package {meta['package']}",
            order=(meta["package"],),
        )
        self.m.cpuid[cpu] = (vendor, family, model)
        self.cpu_of_package[id(obj)] = cpu
        self.part_of[id(obj)] = cpu

    def cpu_above(self, obj: XNode) -> tuple[int, bool]:
        """The CPU part of the package above ``obj`` (and whether one was found)."""
        n = obj.parent
        while n is not None:
            if id(n) in self.cpu_of_package:
                return self.cpu_of_package[id(n)], True
            n = n.parent
        return min(self.cpu_of_package.values()), False

    def memories(self, objects: list[XNode]) -> None:
        bandwidth = self.memattr("Bandwidth", max)
        if not bandwidth:
            read = self.memattr("ReadBandwidth", max)
            write = self.memattr("WriteBandwidth", max)
            bandwidth = {k: min(read[k], write[k]) for k in read.keys() & write.keys()}
        latency = self.memattr("Latency", min)
        tiers = self.tiers()
        unknown = []
        for obj in objects:
            if obj.get("type") != "NUMANode":
                continue
            gp = obj.get("gp_index") or ""
            os_index = _int(obj.get("os_index"))
            subtype = obj.get("subtype") or ""
            size = _int(obj.get("local_memory"))
            meta: dict[str, Any] = {"numa": os_index if os_index is not None else -1}
            if subtype:
                meta["memory_kind"] = subtype
            tier = _info(obj, "MemoryTier")
            if tier is not None:
                meta["memory_tier"] = _int(tier)
            elif os_index in tiers:
                meta["memory_tier"], kind = tiers[os_index]
                if kind and not subtype:
                    meta["memory_kind"] = kind
            bw = bandwidth.get(gp)
            lat = latency.get(gp)
            cxl_dev = _info(obj, "CXLDevice")
            cpu, found = self.cpu_above(obj)
            device = self.cxl_device(cxl_dev)
            if device is not None:
                # The CXL device's memory, exposed as this NUMA node: one component, reached
                # through its CXL link; the attributes say what it delivers.
                p = self.m.parts[device]
                p.meta.update(meta)
                p.capacity = float(size) if size else p.capacity
                p.bandwidth = bw * MIB if bw else None
                p.latency = lat * 1e-9 if lat is not None else None
                self.part_of[id(obj)] = device
                continue
            kind, group = "dram", "mem"
            mk = meta.get("memory_kind", "")
            if mk.startswith("CXL") or cxl_dev:
                kind, group = "cxl_memory", "cxl"
            elif mk in ("HBM", "GPUMemory"):
                kind, group = "hbm", "hbm"
            part = self.m.add(
                kind,
                group,
                capacity=float(size) if size else None,
                latency=lat * 1e-9 if lat is not None else None,
                meta=meta,
                label=f"NUMA node {meta['numa']}",
                order=(meta["numa"],),
            )
            self.part_of[id(obj)] = part
            if cxl_dev:
                meta["cxl_device"] = cxl_dev
            if not bw:
                unknown.append(meta["numa"])
                continue
            rate = bw * MIB
            shown = f"{rate / 1e9:.1f}".rstrip("0").rstrip(".")
            lk = LinkKind(
                f"memory_{shown.replace('.', 'g')}",
                rate,
                f"memory access at {shown} GB/s (hwloc Bandwidth attribute)",
                "memory",
            )
            self.m.connect(cpu, part, lk)
        if unknown:
            self.m.warn(
                f"no Bandwidth memory attribute for NUMA node(s) {', '.join(map(str, unknown))}: "
                "their links to the CPU are left out (memory reach cannot reach them)",
                hint="add them by hand, e.g. connect cpu[0] -- mem[0] via ddr5 x8",
            )

    def cxl_device(self, busids: str | None) -> int | None:
        """The CXL memory part of the (first) device a NUMA node's CXLDevice info names."""
        for bus in (busids or "").lower().split(","):
            for i, p in enumerate(self.m.parts):
                if p.kind == "cxl_memory" and p.meta.get("pci_busid") == bus.strip():
                    return i
        return None

    def memattr(self, name: str, pick) -> dict[str, float]:
        """Memory attribute ``name`` by target gp_index, over all initiators with ``pick``."""
        out: dict[str, float] = {}
        for attr in self.root.find_all("memattr"):
            if attr.get("name") != name:
                continue
            for v in attr.find_all("memattr_value"):
                target, value = v.get("target_obj_gp_index"), _int(v.get("value"))
                if target and value and value > 0:
                    out[target] = pick(out[target], value) if target in out else value
        return out

    def tiers(self) -> dict[int, tuple[int, str]]:
        """v3 ``<memtier kinds nodeset>``: NUMA os_index -> (tier index, kind text)."""
        out: dict[int, tuple[int, str]] = {}
        for k, tier in enumerate(self.root.find_all("memtier")):
            kinds = _int(tier.get("kinds")) or 0
            text = "-".join(
                v for bit, v in sorted(_TIER_KINDS.items(), reverse=True) if kinds & bit
            )
            for node in _bitmap(tier.get("nodeset")):
                out[node] = (k, text)
        return out

    # -- the PCI tree -----------------------------------------------------------------------

    def host_bridge(self, obj: XNode) -> None:
        cpu, found = self.cpu_above(obj)
        if not found and len(self.cpu_of_package) > 1:
            self.m.warn(
                f"a PCI host bridge ({obj.get('bridge_pci')}) has no CPU locality: it is put "
                f"under {self.m.parts[cpu].label}",
                self.span(obj),
            )
        roots: list[PciNode] = []
        for child in _objects(obj):
            if child.get("type") == "Bridge":  # a root port: its link leads below it
                roots += self.on_link(_objects(child), child)
            elif child.get("type") == "PCIDev":
                roots += self.on_link([child], None)
        self.m.add_pci(cpu, roots)

    def on_link(self, objs: list[XNode], port: XNode | None) -> list[PciNode]:
        """The devices on the link below ``port``; functions of one NIC merged."""
        out: list[PciNode] = []
        nic_at: dict[str, PciNode] = {}
        for obj in objs:
            if obj.get("type") == "Bridge":
                out.append(self.switch(obj, port))
            elif obj.get("type") == "PCIDev":
                node = self.device(obj, port)
                key = node.busid.rsplit(".", 1)[0]
                if node.role == "nic" and key in nic_at:
                    nic_at[key].info["ports"] += node.info["ports"]
                    continue
                if node.role == "nic":
                    nic_at[key] = node
                out.append(node)
        return out

    def switch(self, up: XNode, port: XNode | None) -> PciNode:
        node = self.pci_node(up, port)
        node.is_switch = True
        for down in _objects(up):
            if down.get("type") == "Bridge":
                node.children += self.on_link(_objects(down), down)
            elif down.get("type") == "PCIDev":  # a function of the switch itself
                node.children += self.on_link([down], None)
        return node

    def pci_node(self, obj: XNode, port: XNode | None) -> PciNode:
        busid = (obj.get("pci_busid") or "").lower()
        cls, vendor, device = _pci_type(obj.get("pci_type"))
        rate = _speed(obj) or (_speed(port) if port is not None else None)
        return PciNode(busid, cls, vendor, device, rate=rate, span=self.span(obj))

    def device(self, obj: XNode, port: XNode | None) -> PciNode:
        node = self.pci_node(obj, port)
        osdevs = [o for o in _objects(obj) if o.get("type") == "OSDev"]
        gpu_dev = [o for o in osdevs if self.is_gpu_osdev(o)]
        node.role = role_of_pci(node.cls, node.vendor, bool(gpu_dev), obj.get("subtype") or "")
        info = node.info
        info["gp"] = obj.get("gp_index")
        info["osdev_gp"] = [o.get("gp_index") for o in osdevs]
        if node.role == "gpu":
            meta: dict[str, Any] = {}
            for o in gpu_dev:
                model = _info(o, "GPUModel")
                if model:
                    info["model"] = model
                for key, name in (
                    ("NVIDIASerial", "serial"),
                    ("NVIDIAUUID", "uuid"),
                    ("AMDSerial", "serial"),
                    ("AMDUUID", "uuid"),
                ):
                    if _info(o, key):
                        meta[name] = _info(o, key)
                for key in ("CUDAGlobalMemorySize", "OpenCLGlobalMemorySize", "RSMIVRAMSize"):
                    size = _kib(_info(o, key))
                    if size:
                        info["memory"] = size
                if o.get("name", "").startswith(("nvml", "rsmi")):
                    meta["os_device"] = o.get("name")
            known = parts.gpu_part(node.vendor, node.device, info.get("model"))
            if known and not info.get("model"):
                info["model"] = known.model
            info["meta"] = meta
        elif node.role == "nic":
            names = [o.get("name") for o in osdevs if self.is_net_osdev(o) and o.get("name")]
            info["ports"] = [(name, None) for name in names] or [(node.busid, None)]
            info["model"] = _info(obj, "PCIDevice")
        elif node.role == "cxl":
            total = 0.0
            for o in osdevs:
                for key in ("CXLRAMSize", "CXLPMEMSize"):
                    total += _kib(_info(o, key)) or 0
            info["capacity"] = total or None
            info["model"] = _info(obj, "PCIDevice")
        elif node.role == "ssd":
            sizes = [_kib(_info(o, "Size")) for o in osdevs]
            info["capacity"] = sum(s for s in sizes if s) or None
            info["model"] = next((_info(o, "Model") for o in osdevs if _info(o, "Model")), None)
        elif node.role == "nvswitch":
            info["model"] = "NVSwitch"
        return node

    def is_gpu_osdev(self, o: XNode) -> bool:
        t = o.get("osdev_type") or ""
        if (o.get("name") or "").startswith(_GPU_NAMES):
            return True
        return (int(t) & _V3_GPU != 0) if self.v3 and t.isdigit() else t in _V2_GPU

    def is_net_osdev(self, o: XNode) -> bool:
        t = o.get("osdev_type") or ""
        return (int(t) & _V3_NET != 0) if self.v3 and t.isdigit() else t in _V2_NET

    # -- NVLink and xGMI ---------------------------------------------------------------------

    def distances(self) -> None:
        m = self.m
        by_bus = {
            p.meta.get("pci_busid"): i for i, p in enumerate(m.parts) if "pci_busid" in p.meta
        }
        found = False
        for d in self.root.walk():
            if d.tag not in ("distances2", "distances2hetero"):
                continue
            name = d.get("name") or ""
            if name not in ("NVLinkBandwidth", "XGMIBandwidth"):
                continue
            found = True
            objs = self.matrix_objects(d)
            values = [_int(v) for u in d.find_all("u64values") for v in u.text.split()]
            n = len(objs)
            if len(values) != n * n or any(v is None for v in values):
                raise self.error(
                    d, f"{name}: {len(values)} values for {n} objects (expected {n * n})"
                )
            rows = [self.part_for(o, by_bus) for o in objs]
            cls = "nvlink" if name.startswith("NVLink") else "xgmi"
            for i in range(n):
                for j in range(i + 1, n):
                    mbs = max(values[i * n + j], values[j * n + i])
                    if mbs <= 0 or rows[i] is None or rows[j] is None:
                        continue
                    self.scale_up_link(rows[i], rows[j], mbs * 1e6, cls, d)
        gpus = m.of_kind("gpu")
        known = [parts.gpu_part(name=m.parts[g].model) for g in gpus]
        if gpus and not found and any(k is None or k.sxm for k in known):
            m.warn(
                "the file has no NVLinkBandwidth or XGMIBandwidth matrix (lstopo without the "
                "NVML or RSMI backend?): the GPUs are joined only through PCIe",
                hint="export with hwloc built with NVML/RSMI, or add the links by hand",
            )
        self.baseboard_trunks()

    def matrix_objects(self, d: XNode) -> list[XNode | None]:
        tokens = [t for i in d.find_all("indexes") for t in i.text.split()]
        out: list[XNode | None] = []
        for t in tokens:
            gp = t.split(":", 1)[1] if ":" in t else t
            if d.tag == "distances2" and d.get("indexing") == "os":
                out.append(None)  # os indexes of OS devices are not unique; gp is used for GPUs
                continue
            out.append(self.by_gp.get(gp))
        return out

    def part_for(self, obj: XNode | None, by_bus: dict) -> int | None:
        while obj is not None and obj.get("type") not in ("PCIDev", "Package"):
            obj = obj.parent
        if obj is None:
            return None
        if obj.get("type") == "Package":
            return self.cpu_of_package.get(id(obj))
        return by_bus.get((obj.get("pci_busid") or "").lower())

    def scale_up_link(self, a: int, b: int, rate: float, cls: str, where: XNode) -> None:
        m = self.m
        gpu = a if m.parts[a].kind == "gpu" else b
        known = parts.gpu_part(name=m.parts[gpu].model)
        per_link = None
        if cls == "nvlink" and known and known.sm:
            per_link = parts.nvlink_rate(known.sm)
        elif cls == "xgmi" and known and known.gcn:
            per_link = parts.xgmi_rate(known.gcn)
        lanes = rate / per_link if per_link else None
        if lanes is not None and abs(lanes - round(lanes)) < 1e-6 and round(lanes) >= 1:
            gen = parts.nvlink_generation(known.sm) if cls == "nvlink" else None
            name = f"nvlink{gen}" if cls == "nvlink" else f"xgmi_{known.gcn}"
            model = (
                f"NVLink {gen} link" if cls == "nvlink" else f"Infinity Fabric (xGMI), {known.gcn}"
            )
            m.connect(a, b, LinkKind(name, per_link, model, cls), lanes=round(lanes))
            return
        shown = f"{rate / 1e9:g}"
        m.connect(
            a,
            b,
            LinkKind(
                f"{cls}_{shown.replace('.', 'g')}",
                rate,
                f"{cls} at {shown} GB/s (hwloc matrix)",
                cls,
            ),
        )

    def baseboard_trunks(self) -> None:
        """DGX-2: the links between the two baseboards' NVSwitch chips are not in the matrix."""
        m = self.m
        gpus, switches = m.of_kind("gpu"), m.of_kind("nvswitch")
        known = {parts.gpu_part(name=m.parts[g].model) for g in gpus}
        if len(known) != 1 or None in known:
            return
        board = parts.baseboard(next(iter(known)).sm, len(gpus))
        if board is None or not board.trunk or len(switches) != board.switches:
            return
        if any(m.parts[w.a].kind == m.parts[w.b].kind == "nvswitch" for w in m.wires):
            return
        side: dict[int, set[int]] = defaultdict(set)
        for w in m.wires:
            if w.kind.cls == "nvlink" and {m.parts[w.a].kind, m.parts[w.b].kind} == {
                "gpu",
                "nvswitch",
            }:
                g, s = (w.a, w.b) if m.parts[w.a].kind == "gpu" else (w.b, w.a)
                side[s].add(g)
        halves: list[list[int]] = []
        for s in sorted(switches, key=lambda s: m.parts[s].order):
            for h in halves:
                if side[h[0]] == side[s]:
                    h.append(s)
                    break
            else:
                halves.append([s])
        if len(halves) != 2 or len(halves[0]) != len(halves[1]):
            return
        rate = parts.nvlink_rate(board.gpu_sm)
        gen = parts.nvlink_generation(board.gpu_sm)
        what = m.assume(
            f"{board.name}: NVSwitch k of one baseboard joined to NVSwitch k of the other by "
            f"{board.trunk} NVLink {gen} links (hwloc's matrix lists only GPU links)",
            short=f"{board.name} baseboard trunk (known parts)",
        )
        kind = LinkKind(f"nvlink{gen}", rate, f"NVLink {gen} link", "nvlink")
        for a, b in zip(halves[0], halves[1], strict=True):
            m.connect(a, b, kind, lanes=board.trunk, assumed=what)


def read_hwloc(text: str, file: str = "<hwloc>", root: XNode | None = None) -> Machine:
    """Read hwloc XML (v2 or v3) into a :class:`~.machine.Machine`.

    Raises
    ------
    ElaborationError
        At the element (``file:line:col``) for a file that is not hwloc v2/v3 XML.
    """
    root = root if root is not None else parse_xml(text, file)
    if root.tag != "topology":
        raise xml_error(file, text, root.line, root.col, f"<{root.tag}> is not an hwloc <topology>")
    return _Reader(root, file, text).read()


# -- small helpers -------------------------------------------------------------------------------


def _objects(obj: XNode) -> list[XNode]:
    return [c for c in obj.children if c.tag == "object"]


def _info(obj: XNode, name: str) -> str | None:
    for c in obj.children:
        if c.tag == "info" and c.get("name") == name:
            return c.get("value")
    return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _kib(text: str | None) -> float | None:
    if not text or not text.endswith("KiB"):
        return None
    n = _int(text[:-3])
    return float(n * KIB) if n else None


def _speed(obj: XNode | None) -> float | None:
    """``pci_link_speed`` in B/s; ``None`` when missing or ``0`` (hwloc's "unknown")."""
    if obj is None:
        return None
    try:
        v = float(obj.get("pci_link_speed") or 0)
    except ValueError:
        return None
    return v * 1e9 if v > 0 else None


def _pci_type(text: str | None) -> tuple[int | None, int | None, int | None]:
    """``"0302 [10de:1db8] [10de:131d] a1 00"`` -> (class 0x0302, vendor, device)."""
    if not text:
        return None, None, None
    fields = text.split()
    cls = parse_hex(fields[0]) if fields else None
    vendor = device = None
    if len(fields) > 1 and fields[1].startswith("[") and ":" in fields[1]:
        v, d = fields[1].strip("[]").split(":", 1)
        vendor, device = parse_hex(v), parse_hex(d)
    return cls, vendor, device


def _is_host_bridge(obj: XNode) -> bool:
    return (obj.get("bridge_type") or "").startswith("0-") or not obj.get("pci_busid")


def _bitmap(text: str | None) -> list[int]:
    """hwloc bitmap text (``0x0000000d``, ``0xffffffff,0x00000001``) -> set bit indices."""
    if not text:
        return []
    out = []
    chunks = text.split(",")
    for k, chunk in enumerate(reversed(chunks)):
        value = parse_hex(chunk) or 0
        out += [k * 32 + b for b in range(32) if value >> b & 1]
    return out
