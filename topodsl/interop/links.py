"""What a design's links and components are, as the exporters and the as-built check need it.

A :class:`~topodsl.topology.Topology` knows kinds and link types, not "this is NVLink" or
"this PCIe link is Gen5 x16". :func:`link_class` reads that from the endpoints' kinds, the link
type's name and model text, and the link's metadata; :func:`pcie_shape` the PCIe generation and
width; :func:`device_of` collapses chiplets and dies to the package (the GPU) they belong to.

>>> import topodsl
>>> t = topodsl.loads('link pcie5_x16 { bandwidth = 63 GB/s }; link nvlink4 { bandwidth = 25 GB/s }'
...                   '; node n { cpu c; gpu g[2]; nvswitch s; connect g[*] -- c via pcie5_x16;'
...                   ' connect g[*] -- s via nvlink4 x18 }')
>>> [link_class(t, e) for e in range(t.num_links)]
['pcie', 'pcie', 'nvlink', 'nvlink']
>>> pcie_shape(t, 0)
(5, 16)
"""

from __future__ import annotations

import re

import numpy as np

from ..kinds import ROLE_OF
from ..topology import Topology
from . import parts

__all__ = ["link_class", "pcie_shape", "device_of", "server_rows", "text_of_link"]

_MEMORY = {"hbm", "dram", "cxl_memory"}
_PCIE_DEV = {"gpu", "nic", "ssd", "hdd", "cxl_memory", "chiplet"}


def text_of_link(topo: Topology, e: int) -> str:
    """The link type's name and model text, lower case (``""`` for an untyped link)."""
    name = topo.link_type_of(e) or ""
    lt = topo.link_types.get(name)
    return f"{name} {(lt.model or '') if lt else ''}".lower()


def device_of(topo: Topology, row: int) -> int:
    """The outermost non-container ancestor of ``row`` (the GPU of a chiplet or HBM stack)."""
    parent = topo.nodes.parent
    while True:
        p = int(parent[row])
        if p < 0 or ROLE_OF[topo.kind_of(p)] == "container":
            return row
        row = p


def link_class(topo: Topology, e: int) -> str:
    """``pcie``, ``cxl``, ``nvlink``, ``xgmi``, ``c2c``, ``socket``, ``memory``, ``network``,
    ``internal`` (inside one package) or ``other``."""
    a, b = int(topo.links.src[e]), int(topo.links.dst[e])
    da, db = device_of(topo, a), device_of(topo, b)
    if da == db:
        return "internal" if not ({topo.kind_of(a), topo.kind_of(b)} & _MEMORY) else "memory"
    ka, kb = topo.kind_of(da), topo.kind_of(db)
    kinds = {ka, kb}
    meta_class = topo.link_meta(e).get("class")
    if isinstance(meta_class, str):
        return meta_class
    text = text_of_link(topo, e)
    if {topo.kind_of(a), topo.kind_of(b)} & _MEMORY:
        return "memory"
    if "c2c" in text:
        return "c2c"
    if "xgmi" in text or "infinity" in text or re.search(r"\bif_", text):
        return "socket" if kinds == {"cpu"} else "xgmi"
    if "nvlink" in text or "nvl" in text.split()[0:1] or "nvswitch" in kinds:
        return "nvlink"
    if "upi" in text or "qpi" in text or kinds == {"cpu"}:
        return "socket"
    if "cxl" in text or "cxl_switch" in kinds:
        return "cxl"
    if "pcie" in text or "pcie_switch" in kinds:
        return "pcie"
    if "cpu" in kinds and kinds & _PCIE_DEV:
        return "pcie"
    if kinds == {"gpu"}:
        return "nvlink"
    if "nic" in kinds and "switch" in kinds:
        return "network"
    return "other"


_GEN = re.compile(r"(?:pcie|gen)\s*([1-6])(?![0-9])")
_WIDTH = re.compile(r"(?:^|[^a-z0-9])x\s*(1|2|4|8|16|32)(?![0-9])")


def pcie_shape(topo: Topology, e: int) -> tuple[int, int] | None:
    """PCIe (generation, width) of link ``e``: from its metadata (``pcie_gen``,
    ``pcie_width``), its link type's name or model (``pcie5_x16``, ``"PCIe Gen5 x16"``), or its
    bandwidth when only one pair gives it; ``None`` when it cannot be told."""
    meta = topo.link_meta(e)
    gen, width = meta.get("pcie_gen"), meta.get("pcie_width")
    if isinstance(gen, int) and isinstance(width, int):
        return gen, width
    text = text_of_link(topo, e)
    g, w = _GEN.search(text), _WIDTH.search(text)
    if g and w:
        return int(g.group(1)), int(w.group(1))
    lanes = float(topo.links.lanes[e])
    rate = float(topo.links.bandwidth[e]) / max(lanes, 1.0)
    found = [
        (gen, width)
        for gen, lane in parts.PCIE_LANE_RATE.items()
        for width in (1, 2, 4, 8, 16)
        if abs(lane * width - rate) <= 0.01 * rate
    ]
    if g:
        found = [f for f in found if f[0] == int(g.group(1))]
    return found[0] if len(found) == 1 else None


def server_rows(topo: Topology, server: int | None) -> np.ndarray:
    """Rows inside container ``server`` (all rows when ``None``), the container excluded."""
    if server is None:
        return np.arange(topo.num_nodes)
    inside = np.zeros(topo.num_nodes, dtype=bool)
    ptr, kids = topo.children_csr
    stack = [server]
    while stack:
        r = stack.pop()
        for c in kids[ptr[r] : ptr[r + 1]].tolist():
            inside[c] = True
            stack.append(c)
    return np.flatnonzero(inside)
