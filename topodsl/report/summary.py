"""``topodsl show``: counts per kind, memory by kind, links by type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinds import KINDS, ROLE_OF
from ..natural import natural_key
from ..topology import Topology
from ..units import BANDWIDTH, SIZE, format_quantity
from .table import format_table

__all__ = ["Summary", "summarize", "format_summary"]


@dataclass(frozen=True)
class Summary:
    """What a topology holds. Capacities in bytes; link bandwidths per direction in B/s."""

    source: str
    components: int
    links: int
    kinds: tuple[tuple[str, int], ...]
    memory: tuple[tuple[str, int, float], ...]  # kind, count, total capacity (bytes)
    link_types: tuple[tuple[str, int, float], ...]  # type, count, total bandwidth per direction

    def to_dict(self) -> dict:
        """JSON-ready form (bytes, B/s per direction)."""
        return {
            "source": self.source,
            "components": self.components,
            "links": self.links,
            "kinds": dict(self.kinds),
            "memory": {k: {"count": n, "capacity": c} for k, n, c in self.memory},
            "link_types": {t: {"count": n, "bandwidth": b} for t, n, b in self.link_types},
        }


def summarize(topology: Topology) -> Summary:
    """Count what ``topology`` holds.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("g", "gpu"); _ = b.add_node("h", "hbm", capacity=8e10)
    >>> summarize(b.build()).memory
    (('hbm', 1, 80000000000.0),)
    """
    counts = np.bincount(topology.nodes.kind, minlength=len(KINDS))
    kinds = tuple((KINDS[i], int(c)) for i, c in enumerate(counts) if c)
    memory = []
    for i, c in enumerate(counts):
        if c and ROLE_OF[KINDS[i]] in ("memory", "storage"):
            cap = float(topology.nodes.capacity[topology.nodes.kind == i].sum())
            memory.append((KINDS[i], int(c), cap))
    L = topology.links
    types = []
    if len(L.src):
        codes = L.type.astype(np.int64) + 1  # -1 (untyped) -> 0
        n_by = np.bincount(codes, minlength=len(topology.link_type_names) + 1)
        bw_by = np.bincount(codes, weights=L.bandwidth, minlength=len(n_by))
        names = ("(untyped)",) + topology.link_type_names
        types = [(names[i], int(n_by[i]), float(bw_by[i])) for i in range(len(n_by)) if n_by[i]]
        types.sort(key=lambda t: natural_key(t[0]))
    return Summary(
        topology.source, topology.num_nodes, topology.num_links, kinds, tuple(memory), tuple(types)
    )


def format_summary(s: Summary) -> str:
    """The summary as text tables."""
    parts = [f"{s.source}: {s.components} components, {s.links} links", ""]
    parts.append(format_table(["kind", "count"], [[k, n] for k, n in s.kinds], "lr"))
    if s.memory:
        parts += [
            "",
            format_table(
                ["memory/storage", "count", "total capacity"],
                [[k, n, format_quantity(c, SIZE)] for k, n, c in s.memory],
                "lrr",
            ),
        ]
    if s.link_types:
        parts += [
            "",
            format_table(
                ["link type", "count", "total bandwidth (per direction)"],
                [[t, n, format_quantity(b, BANDWIDTH)] for t, n, b in s.link_types],
                "lrr",
            ),
        ]
    return "\n".join(parts)
