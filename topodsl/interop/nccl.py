"""NCCL and RCCL topology XML (``NCCL_TOPO_FILE``, ``NCCL_TOPO_DUMP_FILE``): read and write.

The format, as NCCL's ``src/graph/xml.cc`` and ``topo.cc`` read it::

    <system version="1">                      RCCL writes version="2"
      <cpu numaid="0" arch="x86_64" vendor="GenuineIntel" familyid="6" modelid="143">
        <pci busid="0000:16:00.0" class="0x060400" link_speed="32.0 GT/s PCIe" link_width="16">
          <pci busid="0000:18:00.0" class="0x030200" vendor="0x10de" device="0x2330" ...>
            <gpu dev="0" sm="90" rank="0" gdr="1">
              <nvlink target="0000:07:00.0" count="5" tclass="0x068000"/>   to an NVSwitch
            </gpu>                                 RCCL: <xgmi target=... count=... tclass=...>
          </pci>
          <pci busid="0000:19:00.0" class="0x020000" ...>
            <nic><net name="mlx5_0" dev="0" speed="400000" port="1" guid="0x..."/></nic>
          </pci>
        </pci>
      </cpu>
    </system>

A ``<pci>`` with PCI children (or without a class) is a PCIe switch; ``link_speed`` x
``link_width`` is the link above each element (see :func:`link_rate` for the encoding);
``<net speed>`` is in Mb/s; ``<nvlink count>`` counts links whose rate depends on the GPU
(``sm``), ``<xgmi count>`` likewise by ``gcn``; ``<c2c bw>`` is MB/s per link. Links between
two GPUs may be listed on both sides (counted once) or on one side only.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from . import parts
from .machine import LinkKind, Machine, PciNode, parse_hex, role_of_pci
from .xmltree import XNode, parse_xml, xml_error

__all__ = ["read_nccl", "link_rate", "is_nccl"]

_INVISIBLE = "fffffff:ffff:ff"
_GTS = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*GT/s", re.IGNORECASE)
# The link_speed strings NCCL itself recognises (kvDictPciGen); others it reads as Gen3.
_NCCL_KNOWN_SPEEDS = {
    "2.5 GT/s",
    "5 GT/s",
    "8 GT/s",
    "16 GT/s",
    "32 GT/s",
    "2.5 GT/s PCIe",
    "5.0 GT/s PCIe",
    "8.0 GT/s PCIe",
    "16.0 GT/s PCIe",
    "32.0 GT/s PCIe",
    "64.0 GT/s PCIe",
}


def is_nccl(root: XNode) -> bool:
    """Whether a parsed XML document is an NCCL/RCCL topology (root ``<system>``)."""
    return root.tag == "system"


def link_rate(link_speed: str | None) -> int | None:
    """The PCIe generation a ``link_speed`` string names (``"32.0 GT/s PCIe"`` -> 5).

    >>> link_rate("16.0 GT/s PCIe"), link_rate("32 GT/s PCIe/s"), link_rate(""), link_rate("fast")
    (4, 5, None, None)
    """
    m = _GTS.match(link_speed or "")
    if not m:
        return None
    gts = float(m.group(1))
    for gen, rate in parts.PCIE_GTS.items():
        if abs(rate - gts) < 1e-6:
            return gen
    return None


class _Reader:
    def __init__(self, root: XNode, file: str, text: str):
        self.file, self.text = file, text
        rccl = root.get("version") == "2" or any(
            n.tag == "xgmi" or (n.tag == "gpu" and n.get("gcn")) for n in root.walk()
        )
        fmt = "RCCL" if rccl else "NCCL"
        self.m = Machine(file, text, f"{fmt} topology (version {root.get('version', '?')})")
        self.root = root
        self.gpu_at: dict[tuple[int, str], int] = {}  # (host, busid) -> part
        self.gpu_info: dict[int, dict[str, Any]] = {}
        self.links: list[tuple[int, XNode]] = []  # (gpu part, <nvlink>/<xgmi>/<c2c>)
        self.switch_at: dict[tuple[int, str], int] = {}

    def error(self, node: XNode, message: str, hint: str | None = None):
        return xml_error(self.file, self.text, node.line, node.col, message, hint)

    def read(self) -> Machine:
        root = self.root
        if root.get("version") not in ("1", "2"):
            self.m.warn(
                f"<system version={root.get('version')!r}>: NCCL reads version 1 and RCCL "
                "version 2; reading it anyway",
                self.m.span(root.line, root.col),
            )
        cpus = root.find_all("cpu")
        if not cpus:
            raise self.error(root, "an NCCL topology needs at least one <cpu> element")
        hashes: list[str] = []
        for cpu in cpus:
            key = cpu.get("host_hash") or ""
            if key not in hashes:
                hashes.append(key)
        if len(hashes) > 1:
            self.m.hosts = [f"host{k}" for k in range(len(hashes))]
        for k, cpu in enumerate(cpus):
            self.read_cpu(cpu, hashes.index(cpu.get("host_hash") or ""), k)
        for host in range(len(self.m.hosts)):
            self.scale_up(host)
        self.m.complete()
        return self.m

    def read_cpu(self, node: XNode, host: int, k: int) -> None:
        numa = _int(node.get("numaid"))
        vendor = node.get("vendor")
        family, model = _int(node.get("familyid")), _int(node.get("modelid"))
        entry = parts.socket_link(vendor, family, model)
        meta: dict[str, Any] = {"numa": numa if numa is not None else k}
        for attr in ("arch", "vendor", "familyid", "modelid", "affinity"):
            if node.get(attr):
                meta[attr] = node.get(attr)
        cpu = self.m.add(
            "cpu",
            "cpu",
            host=host,
            model=entry.cpu if entry else None,
            meta=meta,
            label=f"CPU (NUMA {meta['numa']})",
            order=(meta["numa"],),
        )
        self.m.cpuid[cpu] = (vendor, family, model)
        roots = [self.pci(c, host) for c in node.find_all("pci")]
        self.m.add_pci(cpu, [r for r in roots if r is not None])
        for nic in node.find_all("nic"):
            self.m.warn(
                "a <nic> directly under a <cpu> has no PCIe link in the file: it is left out",
                self.m.span(nic.line, nic.col),
            )

    def pci(self, node: XNode, host: int) -> PciNode | None:
        busid = (node.get("busid") or "").lower()
        if not busid:
            raise self.error(node, "a <pci> element needs a busid")
        cls_text = node.get("class")
        cls = parse_hex(cls_text)
        cls2 = cls >> 8 if cls is not None and cls > 0xFFFF else cls  # 0x030200 -> 0x0302
        gpu = node.find_all("gpu")
        nic = node.find_all("nic")
        subs = [c for c in node.find_all("pci")]
        speed = node.get("link_speed")
        gen = link_rate(speed)
        width = _int(node.get("link_width"))
        span = self.m.span(node.line, node.col)
        if speed and gen is None:
            self.m.warn(f"link_speed {speed!r} is not a PCIe rate; the link is unknown", span)
        elif speed and speed not in _NCCL_KNOWN_SPEEDS:
            self.m.warn(
                f"link_speed {speed!r}: read as Gen{gen}, but NCCL does not recognise this "
                "text and reads it as 8 GT/s (its fallback)",
                span,
                f"write {parts.PCIE_GTS[gen]:.1f} GT/s PCIe".replace(".0 ", ".0 ") if gen else None,
            )
        if gen is not None and not width:
            width = 16
            self.m.assume("PCIe links without a link_width are x16, as NCCL reads them", span)
        p = PciNode(
            busid,
            cls2,
            parse_hex(node.get("vendor")),
            parse_hex(node.get("device")),
            gen,
            width,
            span=span,
        )
        if gpu or nic:
            p.role = "gpu" if gpu else "nic"
        elif subs or cls is None or cls2 == 0x0604:
            p.is_switch = True
        else:
            p.role = role_of_pci(cls2, p.vendor, False)
        if p.role == "gpu":
            self.read_gpu(p, gpu[0] if gpu else None, host)
        elif p.role == "nic":
            ports = []
            for n in nic[0].find_all("net") if nic else []:
                mbps = _int(n.get("speed"))
                name = n.get("name") or f"net{n.get('dev', '')}"
                if mbps is None or mbps <= 0:
                    self.m.warn(
                        f"<net name={name!r}> has speed {n.get('speed')!r}: the rate is unknown "
                        "(NCCL reads it as 10 Gb/s)",
                        self.m.span(n.line, n.col),
                    )
                ports.append((name, mbps * 1e6 / 8 if mbps and mbps > 0 else None))
                if n.get("guid"):
                    p.info.setdefault("meta", {})["guid"] = n.get("guid")
            p.info["ports"] = ports
            p.info["no_table"] = bool(ports)
        if p.is_switch:
            p.children = [c for c in (self.pci(s, host) for s in subs) if c is not None]
            for link in node.find_all("pcilink"):
                self.m.warn(
                    f"<pcilink target={link.get('target')!r}> between PCIe switches is left out",
                    self.m.span(link.line, link.col),
                )
        return p

    def read_gpu(self, p: PciNode, gpu: XNode | None, host: int) -> None:
        known = parts.gpu_part(p.vendor, p.device)
        meta: dict[str, Any] = {}
        info: dict[str, Any] = {"node": gpu}
        if gpu is not None:
            for attr, key in (
                ("rank", "nccl_rank"),
                ("dev", "nccl_dev"),
                ("sm", "sm"),
                ("gcn", "gcn"),
                ("gdr", "gdr"),
            ):
                v = gpu.get(attr)
                if v is not None:
                    meta[key] = _int(v) if attr != "gcn" and _int(v) is not None else v
        p.info["model"] = known.model if known else None
        p.info["meta"] = meta
        p.info["reader"] = info
        info["host"] = host

    def scale_up(self, host: int) -> None:
        m = self.m
        gpus = m.of_kind("gpu", host=host)
        by_bus = {m.parts[g].meta["pci_busid"]: g for g in gpus}
        nodes = {}
        for node in self.root.walk():
            if node.tag == "gpu" and node.parent is not None and node.parent.tag == "pci":
                bus = (node.parent.get("busid") or "").lower()
                if bus in by_bus and self._host_of(node) == host:
                    nodes[by_bus[bus]] = node
        pairs: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
        pair_span: dict[tuple[int, int], XNode] = {}
        pair_kind: dict[tuple[int, int], LinkKind] = {}
        switches: dict[str, int] = {}
        any_listed = False
        for g, node in nodes.items():
            gm = m.parts[g].meta
            known = parts.gpu_part(name=m.parts[g].model)
            sm = gm.get("sm") if isinstance(gm.get("sm"), int) else (known.sm if known else None)
            gcn = gm.get("gcn") or (known.gcn if known else None)
            for link in node.children:
                if link.tag not in ("nvlink", "xgmi", "c2c"):
                    continue
                any_listed = True
                span = m.span(link.line, link.col)
                count = _int(link.get("count"))
                if count is None or count <= 0:
                    m.warn(f"<{link.tag}> without a positive count is left out", span)
                    continue
                if link.tag == "c2c":
                    self.c2c(g, link, count, span, host)
                    continue
                kind = self.scale_up_kind(link.tag, sm, gcn, span, m.parts[g].label)
                if kind is None:
                    continue
                target = (link.get("target") or "").lower()
                tclass = parse_hex(link.get("tclass")) or 0
                tclass2 = tclass >> 8 if tclass > 0xFFFF else tclass
                if tclass2 >> 8 in (0x03, 0x12) and target in by_bus:
                    peer = by_bus[target]
                    key = (min(g, peer), max(g, peer))
                    pairs[key][g] = count
                    pair_span.setdefault(key, link)
                    pair_kind[key] = kind
                elif tclass2 == 0x0680:
                    sw = switches.get(target)
                    if sw is None:
                        sw = self.nvswitch(target, host, span)
                        switches[target] = sw
                    m.connect(g, sw, kind, lanes=count)
                elif tclass2 == 0x0680 + 1:
                    cpu = self.local_cpu(g)
                    if cpu is not None:
                        m.connect(g, cpu, kind, lanes=count)
                else:
                    m.warn(
                        f"<{link.tag} target={target!r} tclass={link.get('tclass')!r}> names no "
                        "GPU, NVSwitch or CPU of this file: it is left out",
                        span,
                    )
        for (a, b), seen in pairs.items():
            counts = set(seen.values())
            if len(counts) > 1:
                n = pair_span[(a, b)]
                m.warn(
                    f"{m.parts[a].label} lists {seen.get(a, 0)} links to {m.parts[b].label}, "
                    f"which lists {seen.get(b, 0)}: using {max(counts)}",
                    m.span(n.line, n.col),
                )
            m.connect(a, b, pair_kind[(a, b)], lanes=max(counts))
        if gpus and not any_listed and not m.fill_baseboard(host):
            known = [parts.gpu_part(name=m.parts[g].model) for g in gpus]
            if any(k is not None and k.sxm for k in known) or all(k is None for k in known):
                m.warn(
                    f"the file lists {len(gpus)} GPUs but no NVLink or xGMI links, and "
                    "their baseboard is not in the table of known parts: the GPUs are "
                    "joined only through PCIe",
                    hint="add the scale-up links by hand in the .topo file",
                )
        m.check_nvlink_connected(host)

    def scale_up_kind(self, tag: str, sm, gcn, span, label: str) -> LinkKind | None:
        m = self.m
        if tag == "xgmi":
            rate = parts.xgmi_rate(gcn) if gcn else None
            if rate is None:
                m.warn(
                    f"the xGMI rate of {label} (gcn {gcn!r}) is not in the table of known "
                    "parts: its xGMI links are left out",
                    span,
                )
                return None
            return LinkKind(f"xgmi_{gcn}", rate, f"Infinity Fabric (xGMI) link, {gcn}", "xgmi")
        rate = parts.nvlink_rate(sm) if isinstance(sm, int) else None
        if rate is None:
            m.warn(
                f"the NVLink rate of {label} (sm {sm!r}) is not in the table of known parts: "
                "its NVLinks are left out",
                span,
            )
            return None
        gen = parts.nvlink_generation(sm)
        return LinkKind(f"nvlink{gen}", rate, f"NVLink {gen} link", "nvlink")

    def nvswitch(self, target: str, host: int, span) -> int:
        m = self.m
        for i in m.of_kind("nvswitch", host=host):
            if m.parts[i].meta.get("pci_busid") == target:
                return i
        if target == _INVISIBLE:
            what = m.assume(
                "NVSwitches not visible to the GPU (target fffffff:ffff:ff, as in a VM) are "
                "one switch, as NCCL models them",
                span,
            )
            return m.add_nvswitch(host, {"assumed": what}, "NVSwitch (not visible)", "~")
        return m.add_nvswitch(host, {"pci_busid": target}, f"NVSwitch {target}", target)

    def c2c(self, g: int, link: XNode, count: int, span, host: int) -> None:
        bw = _int(link.get("bw"))
        if bw is None or bw <= 0:
            self.m.warn("<c2c> without a positive bw (MB/s per link) is left out", span)
            return
        cpu = self.local_cpu(g)
        if cpu is None:
            return
        kind = LinkKind(f"c2c_{bw}", bw * 1e6, f"C2C link, {bw} MB/s", "c2c")
        self.m.connect(g, cpu, kind, lanes=count)

    def local_cpu(self, part: int) -> int | None:
        """The CPU a part hangs off, following the PCIe links up."""
        m = self.m
        seen = {part}
        frontier = [part]
        while frontier:
            nxt = []
            for w in m.wires:
                if w.kind.cls not in ("pcie", "cxl"):
                    continue
                for x, y in ((w.a, w.b), (w.b, w.a)):
                    if y in frontier and x not in seen:
                        if m.parts[x].kind == "cpu":
                            return x
                        seen.add(x)
                        nxt.append(x)
            frontier = nxt
        return None

    def _host_of(self, node: XNode) -> int:
        n = node
        while n is not None and n.tag != "cpu":
            n = n.parent
        if n is None or len(self.m.hosts) == 1:
            return 0
        hashes: list[str] = []
        for cpu in self.root.find_all("cpu"):
            key = cpu.get("host_hash") or ""
            if key not in hashes:
                hashes.append(key)
        return hashes.index(n.get("host_hash") or "")


def read_nccl(text: str, file: str = "<nccl>", root: XNode | None = None) -> Machine:
    """Read an NCCL or RCCL topology file into a :class:`~.machine.Machine`.

    Raises
    ------
    ElaborationError
        At the element (``file:line:col``) when the file is not an NCCL topology.
    """
    root = root if root is not None else parse_xml(text, file)
    if not is_nccl(root):
        raise xml_error(file, text, root.line, root.col, f"<{root.tag}> is not an NCCL <system>")
    return _Reader(root, file, text).read()


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0) if text.strip().lower().startswith("0x") else int(text)
    except ValueError:
        return None
