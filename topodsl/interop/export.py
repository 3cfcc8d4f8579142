"""A design for the tools that come next: an ``NCCL_TOPO_FILE``, an InfraGraph, ASTRA-sim's
network configuration. Each function returns ``(text, notes)``: the file, and what the format
could not carry (printed by the CLI on stderr). docs/interop.md has the mapping tables.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from xml.sax.saxutils import quoteattr

import numpy as np

from ..errors import TopoError
from ..kinds import ROLE_OF
from ..topology import Topology
from . import parts
from .links import device_of, link_class, pcie_shape, server_rows

__all__ = ["ExportError", "to_nccl", "to_infragraph", "to_astra_sim", "choose_server"]


class ExportError(Exception):
    """The design cannot be written in the format asked for; the message says why."""


# -- choosing a server ---------------------------------------------------------------------------


def choose_server(topo: Topology, selector: str | None) -> tuple[int | None, list[str]]:
    """The container row of the server to export (``None``: the whole file is one server)."""
    notes: list[str] = []
    if selector:
        try:
            rows = topo.select(selector)
        except TopoError as e:
            raise ExportError(f"--server {selector!r}: {e.diagnostics[0].message}") from None
        rows = [int(r) for r in rows if ROLE_OF[topo.kind_of(int(r))] == "container"]
        if len(rows) != 1:
            raise ExportError(
                f"--server {selector!r} must name one container (a node), it names {len(rows)}"
            )
        return rows[0], notes
    gpus = topo.rows_of_kind("gpu")
    servers = []
    for g in gpus.tolist():
        p = int(topo.nodes.parent[device_of(topo, g)])
        if p >= 0 and p not in servers:
            servers.append(p)
    if not servers:
        return None, notes
    if len(servers) > 1:
        notes.append(
            f"the design has {len(servers)} servers with GPUs; exporting "
            f"{topo.nodes.ids[servers[0]]} (choose another with --server)"
        )
    return servers[0], notes


# -- NCCL -----------------------------------------------------------------------------------------

_CLASS = {"pcie_switch": "0x060400", "cxl_switch": "0x060400", "nic": "0x020700"}


def to_nccl(topo: Topology, server: str | None = None) -> tuple[str, list[str]]:
    """One server of ``topo`` as an NCCL (or, for AMD GPUs, RCCL) topology file.

    The PCI tree is rebuilt from the PCIe links, breadth first from each CPU; bus ids come from
    ``meta pci_busid`` or are generated (unused bus numbers, in tree order); NVLink counts are
    the links' lanes; NIC speeds their bandwidth in Mb/s. What NCCL cannot carry (memory,
    storage, CPU-to-CPU links, NVSwitch-to-NVSwitch links, latencies) is listed in the notes.
    """
    srv, notes = choose_server(topo, server)
    rows = set(server_rows(topo, srv).tolist())
    kind = {r: topo.kind_of(r) for r in rows}
    devices = {r for r in rows if device_of(topo, r) == r and ROLE_OF[kind[r]] != "container"}
    cpus = sorted((r for r in devices if kind[r] == "cpu"), key=lambda r: topo.nodes.ids[r])
    gpus = sorted((r for r in devices if kind[r] == "gpu"), key=lambda r: topo.nodes.ids[r])
    if not gpus:
        raise ExportError("the server has no GPU: an NCCL topology describes GPUs and NICs")
    links_by_dev: dict[int, list[int]] = defaultdict(list)
    for e in range(topo.num_links):
        a, b = device_of(topo, int(topo.links.src[e])), device_of(topo, int(topo.links.dst[e]))
        if a in devices and b in devices and a != b:
            links_by_dev[a].append(e)
            links_by_dev[b].append(e)
    other = {}
    for e in {e for es in links_by_dev.values() for e in es}:
        a, b = device_of(topo, int(topo.links.src[e])), device_of(topo, int(topo.links.dst[e]))
        other[e] = (a, b)
    # The PCI tree, breadth first from the CPUs.
    parent: dict[int, tuple[int, int]] = {}
    frontier = list(cpus)
    seen = set(cpus)
    while frontier:
        nxt = []
        for r in frontier:
            for e in sorted(links_by_dev[r]):
                if link_class(topo, e) not in ("pcie", "cxl"):
                    continue
                a, b = other[e]
                peer = b if a == r else a
                if peer in seen or kind[peer] not in ("pcie_switch", "cxl_switch", "gpu", "nic"):
                    continue
                seen.add(peer)
                parent[peer] = (r, e)
                if kind[peer] in ("pcie_switch", "cxl_switch"):
                    nxt.append(peer)
        frontier = sorted(nxt, key=lambda r: topo.nodes.ids[r])
    if not cpus:
        notes.append('the server has no CPU: a <cpu numaid="0"> is written to hold the tree')
    orphans = [r for r in gpus + sorted(r for r in devices if kind[r] == "nic") if r not in parent]
    if orphans:
        notes.append(
            f"{len(orphans)} GPU(s)/NIC(s) have no PCIe path to a CPU "
            f"({', '.join(topo.nodes.ids[r] for r in orphans[:3])}): written under the first "
            "CPU without a link speed (NCCL then reads x16 at 8 GT/s)"
        )
    busid = _bus_ids(topo, sorted(devices, key=lambda r: topo.nodes.ids[r]))
    amd = any(_gcn(topo, g) for g in gpus)
    children: dict[int | None, list[int]] = defaultdict(list)
    for r, (p, _) in parent.items():
        children[p].append(r)
    first_cpu = cpus[0] if cpus else None
    for r in orphans:
        children[first_cpu].append(r)
    rank = {g: k for k, g in enumerate(gpus)}
    nics = sorted((r for r in devices if kind[r] == "nic"), key=lambda r: busid[r])
    net_dev = {n: k for k, n in enumerate(nics)}

    def pci(r: int, depth: int) -> list[str]:
        pad = "  " * depth
        attrs = [("busid", busid[r])]
        meta = topo.meta(r)
        cls = meta.get("pci_class")
        if kind[r] == "gpu":
            cls = cls or ("0x120000" if _gcn(topo, r) else "0x030200")
        else:
            cls = cls or _CLASS.get(kind[r], "0x060400")
        attrs.append(("class", str(cls)))
        pid = meta.get("pci_id")
        if isinstance(pid, str) and re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{4}", pid):
            attrs += [("vendor", "0x" + pid[:4]), ("device", "0x" + pid[5:])]
        link = parent.get(r)
        if link is not None:
            shape = pcie_shape(topo, link[1])
            if shape is None:
                bw = float(topo.links.bandwidth[link[1]])
                gen, width = _shape_for(bw)
                notes.append(
                    f"{topo.nodes.ids[r]}: its link's PCIe generation and width are not said; "
                    f"written as Gen{gen} x{width} for {bw / 1e9:g} GB/s"
                )
            else:
                gen, width = shape
            attrs += [
                ("link_speed", f"{parts.PCIE_GTS[gen]:.1f} GT/s PCIe"),
                ("link_width", str(width)),
            ]
        out = [f"{pad}<pci {_attrs(attrs)}>"]
        if kind[r] == "gpu":
            out += gpu(r, depth + 1)
        elif kind[r] == "nic":
            out += nic(r, depth + 1)
        for c in sorted(children.get(r, []), key=lambda c: busid[c]):
            out += pci(c, depth + 1)
        out.append(f"{pad}</pci>")
        return out

    def gpu(r: int, depth: int) -> list[str]:
        pad = "  " * depth
        meta = topo.meta(r)
        attrs = [("dev", str(meta.get("nccl_dev", rank[r])))]
        sm = _sm(topo, r)
        gcn = _gcn(topo, r)
        if sm is not None:
            attrs.append(("sm", str(sm)))
        if gcn:
            attrs.append(("gcn", gcn))
        attrs += [("rank", str(meta.get("nccl_rank", rank[r]))), ("gdr", str(meta.get("gdr", 1)))]
        lines = [f"{pad}<gpu {_attrs(attrs)}>"]
        counts: dict[int, float] = defaultdict(float)
        for e in links_by_dev[r]:
            cls = link_class(topo, e)
            if cls not in ("nvlink", "xgmi"):
                continue
            a, b = other[e]
            peer = b if a == r else a
            if kind[peer] not in ("nvswitch", "gpu", "cpu"):
                continue
            counts[peer] += _link_count(topo, e, r)
        tag = "xgmi" if amd else "nvlink"
        for peer in sorted(counts, key=lambda p: busid.get(p, "")):
            tclass = {
                "nvswitch": "0x068000",
                "gpu": "0x120000" if amd else "0x030200",
                "cpu": "0x068001",
            }[kind[peer]]
            target = busid[peer]
            count = counts[peer]
            if not float(count).is_integer():
                notes.append(
                    f"{topo.nodes.ids[r]}: {count:g} links to {topo.nodes.ids[peer]} "
                    "rounded to a whole number"
                )
            items = [("target", target), ("count", str(round(count))), ("tclass", tclass)]
            lines.append(f"{pad}  <{tag} {_attrs(items)}/>")
        lines.append(f"{pad}</gpu>")
        return lines

    def nic(r: int, depth: int) -> list[str]:
        pad = "  " * depth
        meta = topo.meta(r)
        ports = [p for p in str(meta.get("ports", "")).split(",") if p] or [
            topo.nodes.ids[r].rsplit(".", 1)[-1]
        ]
        bw = float(topo.nodes.bandwidth[r])
        attrs_common = [("port", "1"), ("latency", "0.000000")]
        lines = [f"{pad}<nic>"]
        for k, name in enumerate(ports):
            attrs = [
                ("name", name),
                ("dev", str(net_dev[r] if len(ports) == 1 else net_dev[r] * 10 + k)),
            ]
            if math.isfinite(bw):
                attrs.append(("speed", str(round(bw / len(ports) * 8 / 1e6))))
            else:
                notes.append(
                    f"{topo.nodes.ids[r]} has no bandwidth: no speed written "
                    "(NCCL then reads 10 Gb/s)"
                )
            attrs += attrs_common
            if meta.get("guid"):
                attrs.append(("guid", str(meta["guid"])))
            attrs += [("maxconn", "131072"), ("gdr", "1")]
            lines.append(f"{pad}  <net {_attrs(attrs)}/>")
        lines.append(f"{pad}</nic>")
        return lines

    out = [f'<system version="{2 if amd else 1}">']
    for k, c in enumerate(cpus or [None]):
        attrs = [("numaid", str(topo.meta(c).get("numa", k) if c is not None else 0))]
        if c is not None:
            attrs += _cpu_attrs(topo, c)
        out.append(f"  <cpu {_attrs(attrs)}>")
        for r in sorted(children.get(c, []), key=lambda r: busid[r]):
            out += pci(r, 2)
        out.append("  </cpu>")
    out.append("</system>")
    lost = defaultdict(int)
    for r in rows:
        if kind[r] in ("hbm", "dram", "cxl_memory", "ssd", "hdd"):
            lost["memory and storage components"] += 1
    for e, (a, b) in other.items():
        cls = link_class(topo, e)
        if cls == "socket":
            lost["CPU-to-CPU links (NCCL derives them from the CPU model)"] += 1
        elif cls == "nvlink" and kind[a] == kind[b] == "nvswitch":
            lost["NVSwitch-to-NVSwitch links"] += 1
    for what, n in sorted(lost.items()):
        notes.append(f"not in NCCL's format: {n} {what}")
    return "\n".join(out) + "\n", notes


def _attrs(items) -> str:
    return " ".join(f"{k}={quoteattr(str(v))}" for k, v in items)


def _bus_ids(topo: Topology, devices: list[int]) -> dict[int, str]:
    """``meta pci_busid`` where given and unique, else generated on unused bus numbers."""
    out: dict[int, str] = {}
    used: set[str] = set()
    for r in devices:
        b = topo.meta(r).get("pci_busid")
        ok = isinstance(b, str) and re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]", b)
        if ok and b not in used:
            out[r] = b
            used.add(b)
    buses = {int(b[5:7], 16) for b in used}
    nxt = 1
    for r in devices:
        if r in out:
            continue
        while nxt in buses:
            nxt += 1
        if nxt > 0xFF:
            raise ExportError("more than 255 PCI devices without a bus id: cannot number them")
        out[r] = f"0000:{nxt:02x}:00.0"
        buses.add(nxt)
    return out


def _gpu_part(topo: Topology, r: int):
    model = topo.attributes(r).get("model")
    pid = topo.meta(r).get("pci_id")
    vendor = device = None
    if isinstance(pid, str) and ":" in pid:
        vendor, device = (int(x, 16) for x in pid.split(":", 1))
    return parts.gpu_part(vendor, device, model if isinstance(model, str) else None)


def _sm(topo: Topology, r: int) -> int | None:
    sm = topo.meta(r).get("sm")
    if isinstance(sm, int):
        return sm
    part = _gpu_part(topo, r)
    return part.sm if part else None


def _gcn(topo: Topology, r: int) -> str | None:
    gcn = topo.meta(r).get("gcn")
    if isinstance(gcn, str):
        return gcn
    part = _gpu_part(topo, r)
    return part.gcn if part else None


def _link_count(topo: Topology, e: int, gpu: int) -> float:
    """NVLink/xGMI links of link row ``e``: its lanes, unless its bandwidth says otherwise."""
    lanes = float(topo.links.lanes[e])
    sm, gcn = _sm(topo, gpu), _gcn(topo, gpu)
    rate = parts.xgmi_rate(gcn) if gcn else (parts.nvlink_rate(sm) if sm else None)
    if rate and lanes == 1:
        n = float(topo.links.bandwidth[e]) / rate
        if n >= 1 and abs(n - round(n)) < 1e-6:
            return float(round(n))
    return lanes


def _shape_for(bw: float) -> tuple[int, int]:
    """A (generation, width) for a PCIe rate that says neither: the nearest from below."""
    best = (3, 16)
    best_rate = 0.0
    for width in (16, 8, 4, 2, 1):
        for gen, lane in parts.PCIE_LANE_RATE.items():
            r = lane * width
            if best_rate < r <= bw * 1.001:
                best, best_rate = (gen, width), r
    return best


def _cpu_attrs(topo: Topology, c: int) -> list[tuple[str, str]]:
    meta = topo.meta(c)
    out = []
    for key in ("affinity", "arch", "vendor", "familyid", "modelid"):
        if key in meta:
            out.append((key, str(meta[key])))
    if "vendor" not in meta:
        model = str(topo.attributes(c).get("model") or "").lower()
        if "xeon" in model or "intel" in model:
            out += [("arch", "x86_64"), ("vendor", "GenuineIntel")]
        elif "epyc" in model or "amd" in model:
            out += [("arch", "x86_64"), ("vendor", "AuthenticAMD")]
        elif "grace" in model:
            out += [("arch", "arm64")]
    return out


# -- InfraGraph ----------------------------------------------------------------------------------

_CHOICE = {
    "gpu": "xpu",
    "chiplet": "xpu",
    "cpu": "cpu",
    "nic": "nic",
    "hbm": "memory",
    "dram": "memory",
    "cxl_memory": "memory",
    "nvswitch": "switch",
    "pcie_switch": "switch",
    "cxl_switch": "switch",
    "switch": "switch",
}
_NAME = re.compile(r"[^A-Za-z0-9_-]")


def to_infragraph(topo: Topology) -> tuple[str, list[str]]:
    """``topo`` as an InfraGraph ``Infrastructure`` (JSON).

    Every outermost device container (``node``, ``storage_node``) becomes an instance of a
    device; containers that are alike (same components, same links inside) share one device
    and one instance array. A component array is ``name[count]`` with its index path
    flattened (``gpu3.hbm2`` is ``gpu_hbm[17]``); devices outside any server (network
    switches) become devices of their own. Parallel links between two components are merged
    (InfraGraph's graph keeps one edge per pair), their bandwidths added. Bandwidths are GB/s
    per direction, latencies ns.
    """
    notes: list[str] = []
    kinds = [topo.kind_of(r) for r in range(topo.num_nodes)]
    roles = [ROLE_OF[k] for k in kinds]
    # Servers: outermost node/storage_node containers; other devices stand alone.
    owner = np.full(topo.num_nodes, -1, dtype=np.int64)
    for r in range(topo.num_nodes):
        p = int(topo.nodes.parent[r])
        while p >= 0:
            if kinds[p] in ("node", "storage_node"):
                owner[r] = p  # keeps going: the outermost one wins
            p = int(topo.nodes.parent[p])
    units: dict[int, list[int]] = defaultdict(list)  # unit root -> device rows
    for r in range(topo.num_nodes):
        if roles[r] == "container":
            continue
        root = int(owner[r]) if owner[r] >= 0 else device_of(topo, r)
        units[root].append(r)
    comp_of: dict[int, tuple[int, str, int]] = {}  # row -> (unit, component, index)
    unit_device: dict[int, str] = {}
    devices: dict[tuple, dict] = {}
    device_names: dict[str, int] = defaultdict(int)
    link_rows = defaultdict(list)
    for e in range(topo.num_links):
        link_rows[(int(topo.links.src[e]), int(topo.links.dst[e]))].append(e)
    for root, members in sorted(units.items(), key=lambda kv: topo.nodes.ids[kv[0]]):
        prefix = topo.nodes.ids[root] if roles[root] == "container" else None
        comps: dict[str, list[int]] = {}
        for r in sorted(members, key=lambda r: topo.nodes.ids[r]):
            rel = topo.nodes.ids[r][len(prefix) + 1 :] if prefix else _last(topo.nodes.ids[r])
            name = _component_name(rel) if prefix else _component_name(_last(topo.nodes.ids[r]))
            comps.setdefault(f"{name}|{kinds[r]}", []).append(r)
        comp_list = []
        for key, rows in comps.items():
            name, kind = key.split("|")
            cname = (
                name if sum(1 for k in comps if k.split("|")[0] == name) == 1 else f"{name}_{kind}"
            )
            for k, r in enumerate(rows):
                comp_of[r] = (root, cname, k)
            comp = {"name": cname, "count": len(rows)}
            choice = _CHOICE.get(kind)
            if choice:
                comp["choice"] = choice
            else:
                comp["choice"] = "custom"
                comp["custom"] = {"type": kind}
            comp_list.append(comp)
        inner = []
        for (a, b), es in link_rows.items():
            if a in comp_of and b in comp_of and comp_of[a][0] == root == comp_of[b][0]:
                inner.append((a, b, es))
        sig = (
            tuple((c["name"], c["count"], c["choice"]) for c in comp_list),
            tuple(
                sorted((comp_of[a][1:], comp_of[b][1:], _bw_lat(topo, es)) for a, b, es in inner)
            ),
        )
        if sig not in devices:
            base = _NAME.sub(
                "_",
                kinds[root]
                if prefix is None
                else _last(topo.nodes.ids[root]).rstrip("0123456789") or "device",
            )
            device_names[base] += 1
            dname = base if device_names[base] == 1 else f"{base}_{device_names[base]}"
            devices[sig] = {
                "name": dname,
                "components": comp_list,
                "links": {},
                "edges": [],
                "inner": inner,
            }
        unit_device[root] = devices[sig]["name"]
    all_links: dict[tuple[float, float], str] = {}

    def link_name(es) -> str:
        bw, lat = _bw_lat(topo, es)
        if (bw, lat) not in all_links:
            t = topo.link_type_of(es[0]) or "link"
            lanes = sum(float(topo.links.lanes[e]) for e in es)
            base = _NAME.sub("_", t) + (f"_x{lanes:g}".replace(".", "_") if lanes != 1 else "")
            name = base
            k = 2
            while name in all_links.values():
                name, k = f"{base}_{k}", k + 1
            all_links[(bw, lat)] = name
        return all_links[(bw, lat)]

    for dev in devices.values():
        for a, b, es in sorted(
            dev.pop("inner"), key=lambda x: (comp_of[x[0]][1:], comp_of[x[1]][1:])
        ):
            name = link_name(es)
            dev["links"][name] = True
            dev["edges"].append(
                {
                    "ep1": {"component": f"{comp_of[a][1]}[{comp_of[a][2]}]"},
                    "ep2": {"component": f"{comp_of[b][1]}[{comp_of[b][2]}]"},
                    "scheme": "one2one",
                    "link": name,
                }
            )
    # Instances: units with the same device and the same name pattern form one array.
    inst_of: dict[int, tuple[str, int]] = {}
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for root in sorted(units, key=lambda r: topo.nodes.ids[r]):
        pattern = (
            _NAME.sub("_", re.sub(r"\d+", "", topo.nodes.ids[root]).replace(".", "_")) or "unit"
        )
        groups[(pattern, unit_device[root])].append(root)
    instances = []
    used_names: dict[str, int] = defaultdict(int)
    for (pattern, dname), roots in groups.items():
        used_names[pattern] += 1
        iname = pattern if used_names[pattern] == 1 else f"{pattern}_{used_names[pattern]}"
        instances.append({"name": iname, "device": dname, "count": len(roots)})
        for k, root in enumerate(roots):
            inst_of[root] = (iname, k)
    edges = []
    infra_links: dict[str, bool] = {}
    for (a, b), es in sorted(link_rows.items()):
        if a not in comp_of or b not in comp_of or comp_of[a][0] == comp_of[b][0]:
            continue
        name = link_name(es)
        infra_links[name] = True
        ea, eb = comp_of[a], comp_of[b]
        ia, ib = inst_of[ea[0]], inst_of[eb[0]]
        edges.append(
            {
                "ep1": {"instance": f"{ia[0]}[{ia[1]}]", "component": f"{ea[1]}[{ea[2]}]"},
                "ep2": {"instance": f"{ib[0]}[{ib[1]}]", "component": f"{eb[1]}[{eb[2]}]"},
                "scheme": "one2one",
                "link": name,
            }
        )
    by_name = {v: k for k, v in all_links.items()}

    def link_objects(names) -> list[dict]:
        out = []
        for name in sorted(names):
            bw, lat = by_name[name]
            phys = {
                "bandwidth": {"choice": "gigabytes_per_second", "gigabytes_per_second": bw / 1e9}
            }
            if lat > 0:
                phys["latency"] = {"choice": "ns", "ns": lat * 1e9}
            out.append({"name": name, "physical": phys})
        return out

    doc = {
        "name": _NAME.sub("_", topo.source.rsplit("/", 1)[-1]) or "topology",
        "description": f"exported by topodsl from {topo.source}; bandwidths per direction",
        "devices": [
            {
                "name": d["name"],
                "components": d["components"],
                "links": link_objects(d["links"]),
                "edges": d["edges"],
            }
            for d in devices.values()
        ],
        "instances": instances,
        "links": link_objects(infra_links),
        "edges": edges,
    }
    merged = sum(1 for es in link_rows.values() if len(es) > 1)
    if merged:
        notes.append(
            f"{merged} component pairs with parallel links: merged into one edge each, "
            "bandwidths added"
        )
    notes.append(
        "not in InfraGraph here: device limits (bandwidth, capacity), one-way and "
        "half-duplex links, metadata"
    )
    return json.dumps(doc, indent=1) + "\n", notes


def _last(node_id: str) -> str:
    return node_id.rsplit(".", 1)[-1]


def _component_name(rel: str) -> str:
    """``gpu3.hbm2`` -> ``gpu_hbm``: the path with indices dropped."""
    return (
        _NAME.sub("_", "_".join(re.sub(r"\d+$", "", seg) or "c" for seg in rel.split("."))) or "c"
    )


def _bw_lat(topo: Topology, es: list[int]) -> tuple[float, float]:
    bw = float(math.fsum(float(topo.links.bandwidth[e]) for e in es))
    lat = float(min(float(topo.links.latency[e]) for e in es))
    return bw, lat


# -- ASTRA-sim -----------------------------------------------------------------------------------

_GIB = 2**30  # ASTRA-sim's "GB/s" is 2**30 bytes per second (its bw_GBps_to_bpns)


def to_astra_sim(topo: Topology) -> tuple[str, list[str]]:
    """ASTRA-sim's analytical network configuration (YAML) for ``topo``'s GPUs.

    Dimension 1 is the GPUs of one server: ``FullyConnected`` when every pair is linked
    directly with the same bandwidth, ``Ring`` when they form one ring, ``Switch`` when they
    reach each other through switches (NVSwitch) with the same bandwidth each. Each level of
    containers above adds a ``Switch`` dimension whose bandwidth is a GPU's share of its
    server's network (NIC) bandwidth. Refused (``ExportError``) when the design has no such
    symmetric form: servers with different GPU counts, GPUs with different bandwidths, links
    that are neither a mesh, a ring nor a switch.
    """
    notes: list[str] = []
    gpus = [int(g) for g in topo.rows_of_kind("gpu") if device_of(topo, int(g)) == int(g)]
    if not gpus:
        raise ExportError("the design has no GPU: ASTRA-sim's NPUs are the GPUs")
    parent = topo.nodes.parent
    chains = {}
    for g in gpus:
        chain = []
        p = int(parent[g])
        while p >= 0:
            chain.append(p)
            p = int(parent[p])
        chains[g] = chain  # innermost container first
    depth = {len(c) for c in chains.values()}
    if len(depth) != 1:
        raise ExportError(
            "the GPUs sit at different depths of the hierarchy: ASTRA-sim needs "
            "the same number of levels above every GPU"
        )
    levels = depth.pop()
    # npus per dimension
    groups = [tuple(chains[g][0] for g in gpus)] if levels else []
    dims = []
    prev = {g: g for g in gpus}
    for lvl in range(levels):
        key = {g: chains[g][lvl] for g in gpus}
        members = defaultdict(set)
        for g in gpus:
            members[key[g]].add(prev[g])
        sizes = {len(v) for v in members.values()}
        if len(sizes) != 1:
            detail = ", ".join(
                f"{topo.nodes.ids[k]} has {len(v)}" for k, v in list(members.items())[:3]
            )
            raise ExportError(
                f"level {lvl + 1} is not symmetric ({detail}): ASTRA-sim needs the "
                "same number of NPUs in every group of a dimension"
            )
        n = sizes.pop()
        if n > 1:
            dims.append((lvl, n))
        prev = key
    del groups
    if levels == 0:
        dims = [(0, len(gpus))]
    top_count = len({chains[g][-1] for g in gpus}) if levels else 1
    if levels and top_count > 1:
        dims.append((levels, top_count))
    topology, npus, bandwidth, latency = [], [], [], []
    for k, (lvl, n) in enumerate(dims):
        if k == 0:
            t, bw, lat = _scale_up(topo, gpus, chains, lvl, n)
        else:
            t, bw, lat = _scale_out(topo, gpus, chains, lvl, notes)
        topology.append(t)
        npus.append(n)
        bandwidth.append(bw)
        latency.append(lat)
    total = int(np.prod(npus))
    if total != len(gpus):
        raise ExportError(
            f"the dimensions multiply to {total} NPUs but the design has {len(gpus)} GPUs"
        )
    lines = [
        f"# ASTRA-sim network configuration exported by topodsl from {topo.source}",
        f"# {' x '.join(map(str, npus))} = {total} NPUs (the GPUs). Bandwidth is per link and "
        "direction in ASTRA-sim's GB/s (2**30 bytes/s); latency in ns.",
        f"topology: [ {', '.join(topology)} ]",
        f"npus_count: [ {', '.join(map(str, npus))} ]",
        f"bandwidth: [ {', '.join(_yaml_num(b / _GIB) for b in bandwidth)} ]",
        f"latency: [ {', '.join(_yaml_num(x * 1e9) for x in latency)} ]",
    ]
    notes.append(
        "ASTRA-sim's dimensions are symmetric: the PCIe tree, CPUs, memory and any "
        "oversubscription beyond a GPU's share of its NICs are not carried"
    )
    return "\n".join(lines) + "\n", notes


def _yaml_num(x: float) -> str:
    text = f"{x:.10g}"
    return text if ("." in text or "e" in text) else text + ".0"


def _scale_up(topo: Topology, gpus, chains, lvl, n) -> tuple[str, float, float]:
    """Dimension 1: the GPUs of one group (a server), over their NVLink/xGMI links."""
    group = defaultdict(list)
    for g in gpus:
        group[chains[g][0] if chains[g] else -1].append(g)
    gset = set(gpus)
    pair_bw: dict[tuple[int, int], float] = defaultdict(float)
    switch_bw: dict[int, float] = defaultdict(float)
    lat: list[float] = []
    for e in range(topo.num_links):
        cls = link_class(topo, e)
        if cls not in ("nvlink", "xgmi"):
            continue
        a, b = device_of(topo, int(topo.links.src[e])), device_of(topo, int(topo.links.dst[e]))
        bw = float(topo.links.bandwidth[e])
        if a in gset and b in gset:
            pair_bw[(min(a, b), max(a, b))] += bw
            lat.append(float(topo.links.latency[e]))
        elif a in gset or b in gset:
            g = a if a in gset else b
            switch_bw[g] += bw
            lat.append(float(topo.links.latency[e]))
    latency = max(lat) if lat else 0.0
    if pair_bw and switch_bw:
        raise ExportError(
            "the GPUs have both direct links and switch links: ASTRA-sim's first "
            "dimension is one of FullyConnected, Ring or Switch"
        )
    if switch_bw:
        values = {round(switch_bw.get(g, 0.0), 3) for g in gpus}
        if len(values) != 1 or 0.0 in values:
            raise ExportError(
                "the GPUs reach their switches with different bandwidths: no "
                "symmetric Switch dimension"
            )
        return "Switch", switch_bw[gpus[0]], latency
    if not pair_bw:
        raise ExportError(
            "the GPUs have no NVLink/xGMI links: no scale-up dimension for "
            "ASTRA-sim (PCIe trees are not one of its building blocks)"
        )
    values = set(np.round(list(pair_bw.values()), 3))
    if len(values) != 1:
        raise ExportError(
            "the GPU-to-GPU links have different bandwidths: no symmetric dimension for ASTRA-sim"
        )
    bw = next(iter(pair_bw.values()))
    for members in group.values():
        k = len(members)
        edges = {(min(a, b), max(a, b)) for (a, b) in pair_bw if a in members and b in members}
        if len(edges) == k * (k - 1) // 2:
            continue
        degrees = defaultdict(int)
        for a, b in edges:
            degrees[a] += 1
            degrees[b] += 1
        if not (len(edges) == k and all(degrees[m] == 2 for m in members)):
            where = topo.nodes.ids[chains[members[0]][0]] if chains[members[0]] else "the design"
            raise ExportError(
                f"the links among the GPUs of {where} are neither a full mesh nor a ring"
            )
        return "Ring", bw, latency
    return "FullyConnected", bw, latency


def _scale_out(topo: Topology, gpus, chains, lvl, notes) -> tuple[str, float, float]:
    """A dimension above the server: a Switch at each GPU's share of its server's NICs."""
    server = {g: chains[g][0] for g in gpus}
    per_server: dict[int, float] = defaultdict(float)
    count: dict[int, int] = defaultdict(int)
    for g in gpus:
        count[server[g]] += 1
    lat = []
    for nic in topo.rows_of_kind("nic").tolist():
        chain = []
        p = int(topo.nodes.parent[nic])
        while p >= 0:
            chain.append(p)
            p = int(topo.nodes.parent[p])
        srv = next((c for c in chain if c in count), None)
        if srv is None:
            continue
        out_bw = 0.0
        for e in np.flatnonzero((topo.links.src == nic) | (topo.links.dst == nic)).tolist():
            if link_class(topo, e) not in ("pcie", "cxl"):
                out_bw += float(topo.links.bandwidth[e])
                lat.append(float(topo.links.latency[e]))
        cap = float(topo.nodes.bandwidth[nic])
        per_server[srv] += min(cap, out_bw) if out_bw else (cap if math.isfinite(cap) else 0.0)
    shares = {round(per_server[s] / count[s], 3) for s in count}
    if len(shares) != 1 or 0.0 in shares:
        raise ExportError(
            "the servers' network bandwidths per GPU differ (or a server has no "
            "NIC): no symmetric scale-out dimension for ASTRA-sim"
        )
    return (
        "Switch",
        next(iter(per_server.values())) / count[next(iter(count))],
        max(lat, default=0.0),
    )
