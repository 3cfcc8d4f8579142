"""A design against the machine as built: the check an operator runs on every node at bring-up.

:func:`compare_as_built` matches one server of the design with the machine discovered by
hwloc or NCCL, component by component (by PCI bus id where both sides know it, else in order
of their ids) and link by link, and reports each difference with both sides named: a missing
or extra GPU or NIC, a PCIe link trained narrower or at a lower generation than designed, a
missing NVLink or xGMI link, a NIC at a lower speed, memory smaller than designed. Figures the
machine's file does not state (``meta assumed``) are not evidence and are not compared.

>>> import topodsl
>>> design = topodsl.loads('link pcie5_x16 { bandwidth = 63.015 GB/s }; node n { cpu c; '
...                        'gpu g[2]; connect g[*] -- c via pcie5_x16 }')
>>> built = topodsl.loads('link pcie4_x16 { bandwidth = 31.508 GB/s }; link pcie5_x16 '
...                       '{ bandwidth = 63.015 GB/s }; node m { cpu c; gpu g[2]; '
...                       'connect g[0] -- c via pcie5_x16; connect g[1] -- c via pcie4_x16 }')
>>> r = compare_as_built(design, built)
>>> r.short
True
>>> print(r.findings[0].message)
PCIe link of n.g1 trained at Gen4 x16 (31.51 GB/s) on m.g1, designed Gen5 x16 (63.02 GB/s)
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import asdict, dataclass

from ..kinds import ROLE_OF
from ..topology import Topology
from ..units import BANDWIDTH, SIZE, format_quantity
from .export import ExportError, choose_server
from .links import device_of, link_class, pcie_shape, server_rows

__all__ = ["Finding", "AsBuiltReport", "compare_as_built", "format_findings"]

#: Kinds compared component by component; a missing one of these is a shortfall.
_REQUIRED = ("cpu", "gpu", "nvswitch", "nic", "dram", "cxl_memory")
#: Kinds whose count may differ (a design's PCIe tree is often a model): reported as notes.
_STRUCTURAL = ("pcie_switch", "cxl_switch", "ssd")


@dataclass(frozen=True)
class Finding:
    """One difference. ``severity`` is ``short`` (the machine falls short of the design),
    ``extra`` (the machine has more) or ``note`` (not compared, or structure only)."""

    severity: str
    what: str
    design: str | None
    machine: str | None
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AsBuiltReport:
    """The findings of one design-against-machine comparison."""

    design_server: str
    machine_server: str
    matched: int
    findings: tuple[Finding, ...]

    @property
    def short(self) -> bool:
        """Whether the machine falls short of the design anywhere."""
        return any(f.severity == "short" for f in self.findings)

    def to_dict(self) -> dict:
        return {**asdict(self), "short": self.short}


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


class _Side:
    """One side of the comparison: the server's devices by kind, and their links."""

    def __init__(self, topo: Topology, server: int | None):
        self.t = topo
        self.name = topo.nodes.ids[server] if server is not None else topo.source
        rows = server_rows(topo, server).tolist()
        self.rows = set(rows)
        self.by_kind: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            k = topo.kind_of(r)
            if ROLE_OF[k] == "container":
                continue
            if device_of(topo, r) == r or k in ("hbm",):
                self.by_kind[k].append(r)
        for lst in self.by_kind.values():
            lst.sort(
                key=lambda r: (str(topo.meta(r).get("pci_busid", "~")), _natural(topo.nodes.ids[r]))
            )
        self.links: dict[int, list[int]] = defaultdict(list)
        for e in range(topo.num_links):
            a, b = device_of(topo, int(topo.links.src[e])), device_of(topo, int(topo.links.dst[e]))
            if a in self.rows and b in self.rows and a != b:
                self.links[a].append(e)
                self.links[b].append(e)

    def id(self, r: int) -> str:
        return self.t.nodes.ids[r]

    def peer(self, e: int, r: int) -> int:
        a, b = (
            device_of(self.t, int(self.t.links.src[e])),
            device_of(self.t, int(self.t.links.dst[e])),
        )
        return b if a == r else a

    def assumed(self, e: int | None = None, row: int | None = None) -> bool:
        if e is not None and "assumed" in self.t.link_meta(e):
            return True
        return row is not None and "assumed" in self.t.meta(row)

    def memory_of(self, gpu: int) -> float:
        out = 0.0
        ptr, kids = self.t.children_csr
        stack = [gpu]
        while stack:
            r = stack.pop()
            for c in kids[ptr[r] : ptr[r + 1]].tolist():
                if self.t.kind_of(c) == "hbm":
                    out += float(self.t.nodes.capacity[c])
                stack.append(c)
        return out


def compare_as_built(
    design: Topology, machine: Topology, *, server: str | None = None
) -> AsBuiltReport:
    """Compare one server of ``design`` (``server`` selects it) with ``machine``.

    Raises
    ------
    SolverError
        When the server selector does not name one container.
    """
    from ..errors import SolverError

    try:
        d_srv, _ = choose_server(design, server)
        m_srv, _ = choose_server(machine, None)
    except ExportError as e:
        raise SolverError(str(e)) from None
    d, m = _Side(design, d_srv), _Side(machine, m_srv)
    findings: list[Finding] = []
    match: dict[int, int] = {}
    listed = any(
        link_class(machine, e) in ("nvlink", "xgmi") for es in m.links.values() for e in es
    )
    for kind in _REQUIRED + _STRUCTURAL:
        dl, ml = d.by_kind.get(kind, []), m.by_kind.get(kind, [])
        pairs = _match(d, m, dl, ml)
        match.update(pairs)
        matched_m = set(pairs.values())
        sev = "short" if kind in _REQUIRED else "note"
        if kind == "nvswitch" and not listed:
            sev = "note"  # the machine's file says nothing of its NVLink fabric
        for r in dl:
            if r not in pairs:
                findings.append(
                    Finding(
                        sev,
                        kind,
                        d.id(r),
                        None,
                        f"missing {kind}: {d.id(r)} has no counterpart in the machine "
                        f"({len(ml)} of {len(dl)} found)",
                    )
                )
        for r in ml:
            if r not in matched_m:
                findings.append(
                    Finding(
                        "extra" if kind in _REQUIRED else "note",
                        kind,
                        None,
                        m.id(r),
                        f"extra {kind}: {m.id(r)} is not in the design "
                        f"({len(ml)} in the machine, {len(dl)} designed)",
                    )
                )
    for dr, mr in match.items():
        kind = design.kind_of(dr)
        findings += _compare_device(d, m, dr, mr, kind)
        if kind in ("gpu", "nic", "ssd", "cxl_memory", "pcie_switch", "cxl_switch"):
            findings += _compare_pcie(d, m, dr, mr)
        if kind == "gpu":
            findings += _compare_scale_up(d, m, dr, mr, match)
    order = {"short": 0, "extra": 1, "note": 2}
    findings.sort(key=lambda f: (order[f.severity], f.what, _natural(f.design or f.machine or "")))
    return AsBuiltReport(d.name, m.name, len(match), tuple(findings))


def _match(d: _Side, m: _Side, dl: list[int], ml: list[int]) -> dict[int, int]:
    dbus = {d.t.meta(r).get("pci_busid"): r for r in dl}
    mbus = {m.t.meta(r).get("pci_busid"): r for r in ml}
    if dl and ml and None not in dbus and None not in mbus:
        return {dbus[b]: mbus[b] for b in dbus if b in mbus}
    return dict(zip(dl, ml, strict=False))


def _bw(x: float) -> str:
    return format_quantity(x, BANDWIDTH)


def _compare_device(d: _Side, m: _Side, dr: int, mr: int, kind: str) -> list[Finding]:
    out = []
    if kind == "nic":
        want, got = float(d.t.nodes.bandwidth[dr]), float(m.t.nodes.bandwidth[mr])
        if math.isfinite(want) and math.isfinite(got):
            if m.assumed(row=mr):
                out.append(
                    Finding(
                        "note",
                        "nic_speed",
                        d.id(dr),
                        m.id(mr),
                        f"speed of {m.id(mr)} not checked: the machine's file does not state it",
                    )
                )
            elif got < want * (1 - 1e-9):
                out.append(
                    Finding(
                        "short",
                        "nic_speed",
                        d.id(dr),
                        m.id(mr),
                        f"NIC at the wrong speed: {d.id(dr)} is designed for {_gbit(want)}, "
                        f"{m.id(mr)} runs at {_gbit(got)}",
                    )
                )
    if kind in ("dram", "cxl_memory", "hbm"):
        want, got = float(d.t.nodes.capacity[dr]), float(m.t.nodes.capacity[mr])
        if want > 0 and got < want * (1 - 1e-9):
            out.append(
                Finding(
                    "short",
                    "memory",
                    d.id(dr),
                    m.id(mr),
                    f"smaller memory: {d.id(dr)} is designed with {format_quantity(want, SIZE)}, "
                    f"{m.id(mr)} has {format_quantity(got, SIZE)}",
                )
            )
    if kind == "gpu":
        want, got = d.memory_of(dr), m.memory_of(mr)
        if want > 0 and got > 0 and got < want * (1 - 1e-9):
            out.append(
                Finding(
                    "short",
                    "memory",
                    d.id(dr),
                    m.id(mr),
                    f"smaller GPU memory: {d.id(dr)} is designed with "
                    f"{format_quantity(want, SIZE)}, {m.id(mr)} has {format_quantity(got, SIZE)}",
                )
            )
    return out


def _gbit(x: float) -> str:
    return f"{x * 8 / 1e9:g} Gb/s"


def _upstream(side: _Side, r: int) -> int | None:
    es = [e for e in side.links[r] if link_class(side.t, e) in ("pcie", "cxl")]
    if not es:
        return None
    kinds = {side.t.kind_of(side.peer(e, r)) for e in es}
    up = [e for e in es if side.t.kind_of(side.peer(e, r)) in ("cpu", "pcie_switch", "cxl_switch")]
    if side.t.kind_of(r) in ("pcie_switch", "cxl_switch"):
        up = [e for e in es if side.t.kind_of(side.peer(e, r)) == "cpu"] or up[:1]
    del kinds
    return max(up or es, key=lambda e: float(side.t.links.bandwidth[e]))


def _compare_pcie(d: _Side, m: _Side, dr: int, mr: int) -> list[Finding]:
    de, me = _upstream(d, dr), _upstream(m, mr)
    if de is None:
        return []
    if me is None:
        return [
            Finding(
                "note",
                "pcie",
                d.id(dr),
                m.id(mr),
                f"PCIe link of {d.id(dr)} not checked: the machine's file gives no speed for "
                f"{m.id(mr)}'s link",
            )
        ]
    ds, ms = pcie_shape(d.t, de), pcie_shape(m.t, me)
    dbw, mbw = float(d.t.links.bandwidth[de]), float(m.t.links.bandwidth[me])
    shown_d = f"Gen{ds[0]} x{ds[1]} ({_bw(dbw)})" if ds else _bw(dbw)
    shown_m = f"Gen{ms[0]} x{ms[1]} ({_bw(mbw)})" if ms else _bw(mbw)
    narrower = ds and ms and ms[1] < ds[1]
    slower = ds and ms and ms[0] < ds[0]
    if narrower or slower or mbw < dbw * 0.99:
        why = "trained at" if (narrower or slower or ms is None) else "at"
        return [
            Finding(
                "short",
                "pcie",
                d.id(dr),
                m.id(mr),
                f"PCIe link of {d.id(dr)} {why} {shown_m} on {m.id(mr)}, designed {shown_d}",
            )
        ]
    return []


def _compare_scale_up(d: _Side, m: _Side, dr: int, mr: int, match: dict[int, int]) -> list[Finding]:
    def fabric(side: _Side, r: int):
        total = lanes = 0.0
        assumed = False
        per_peer: dict[int, float] = defaultdict(float)
        for e in side.links[r]:
            if link_class(side.t, e) not in ("nvlink", "xgmi"):
                continue
            total += float(side.t.links.bandwidth[e])
            lanes += float(side.t.links.lanes[e])
            assumed |= side.assumed(e)
            per_peer[side.peer(e, r)] += float(side.t.links.lanes[e])
        return total, lanes, assumed, per_peer

    dt, dl, _, dp = fabric(d, dr)
    mt, ml, massumed, mp = fabric(m, mr)
    if dt == 0:
        return []
    listed = any(link_class(m.t, e) in ("nvlink", "xgmi") for es in m.links.values() for e in es)
    if massumed or not listed:
        return [
            Finding(
                "note",
                "nvlink",
                d.id(dr),
                m.id(mr),
                f"NVLink of {m.id(mr)} not checked: the machine's file does not list it",
            )
        ]
    out = []
    if mt < dt * (1 - 1e-9):
        out.append(
            Finding(
                "short",
                "nvlink",
                d.id(dr),
                m.id(mr),
                f"missing NVLink/xGMI: {d.id(dr)} is designed with {dl:g} links ({_bw(dt)}), "
                f"{m.id(mr)} has {ml:g} ({_bw(mt)})",
            )
        )
    for peer, n in sorted(dp.items()):
        if d.t.kind_of(peer) != "gpu" or peer not in match or peer < dr:
            continue
        got = mp.get(match[peer], 0.0)
        if got < n:
            out.append(
                Finding(
                    "short",
                    "nvlink",
                    f"{d.id(dr)} -- {d.id(peer)}",
                    f"{m.id(mr)} -- {m.id(match[peer])}",
                    f"missing GPU link: {d.id(dr)} -- {d.id(peer)} has {n:g} link(s) in the "
                    f"design, {m.id(mr)} -- {m.id(match[peer])} has {got:g}",
                )
            )
    return out


def format_findings(report: AsBuiltReport, design_path: str, machine_path: str) -> str:
    """The report as text: one line per finding, both sides named, then a summary."""
    lines = [
        f"{design_path} ({report.design_server}) against {machine_path} "
        f"({report.machine_server}): {report.matched} components matched"
    ]
    for f in report.findings:
        lines.append(f"{f.severity}: {f.message}")
    counts = defaultdict(int)
    for f in report.findings:
        counts[f.severity] += 1
    verdict = (
        "the machine falls short of the design" if report.short else "the machine meets the design"
    )
    lines.append(
        f"{counts['short']} short, {counts['extra']} extra, {counts['note']} notes: {verdict}"
    )
    return "\n".join(lines)
