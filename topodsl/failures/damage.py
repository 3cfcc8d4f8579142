"""A failure applied to a topology: masks over the shared arrays, not a rebuild.

A failure *case* fails some links (each named link) and some components (each with everything
inside it: a server takes its GPUs, a GPU its HBM stacks). :func:`damaged` returns the topology
that remains, a :class:`DamagedTopology`:

* its node table is the original's, with the bandwidth, read and write bandwidth and capacity of
  every failed component set to 0 (a failed SSD holds nothing and moves nothing) and a fresh
  template id on every component the failure touched (the failed ones, the ends of failed
  links and their ancestors), so that no solver takes a damaged server for a copy of a healthy
  one;
* its link table keeps the links that did not fail, in their order (every link at a failed
  component fails with it);
* fabric generators' records are kept only for fabrics the failure did not touch, so no closed
  form is applied to a fabric that is no longer the generator's output.

The forwarding plan of a damaged topology is its own (:meth:`DamagedTopology.
derived_forwarding_plan`, built afresh, a linear pass): much of it is read from the wiring,
and a failure changes the wiring. A failed NVLink can split a fabric domain in two (the peers
on either side then talk over PCIe, as a rebuilt topology says); a failed link can leave a CXL
domain with one CPU (no longer shared: nothing to gate), a package with no external link (no
longer sealed) or memory with another owner. Its flow network is usually not rebuilt: when
every component that is left forwards as it did in the original
(:meth:`DamagedTopology.keeps_network`), the flow core's
:meth:`DamagedTopology.derived_flow_network` takes the original's network (built once) and
drops the arcs of failed links and components; otherwise it builds the damaged topology's own.
Whether the *path rules* are the original's too (the same fabric domains and shared CXL domains
among what is left, :meth:`DamagedTopology.keeps_rules`) decides whether failure analysis may
prune a case by the baseline's load (:mod:`.engine`): a failure that splits a domain loosens the
fabric rule, and a figure can then rise.

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> for name in ("a", "b", "c"):
...     _ = b.add_node(name, "switch")
>>> _ = b.add_link("a", "b", 10e9); _ = b.add_link("b", "c", 10e9); _ = b.add_link("a", "c", 5e9)
>>> t = b.build()
>>> d = damaged(t, links=[0])
>>> d.num_links, d.kept.tolist()
(2, [1, 2])
>>> from topodsl.solvers.flow import max_flow
>>> max_flow(d, [0], [1]).value / 1e9          # a -> c -> b, limited by a -- c
5.0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..topology import FabricInfo, LinkTable, NodeTable, Topology

__all__ = ["DamagedTopology", "NetworkCache", "damaged", "failed_rows", "lost_endpoints"]

# Node-table columns whose per-row values a failure sets to 0.
_ZEROED = ("bandwidth", "read_bandwidth", "write_bandwidth", "capacity")
# Cached properties of a Topology that depend only on the node table (shared, not recomputed).
_NODE_CACHES = ("_index", "children", "children_csr", "depth", "role_codes")
# Arc arrays of a flow network (one entry per arc); every other field is per vertex or scalar.
_ARC_FIELDS = ("tail", "head", "capacity", "what", "ref", "forward", "bundle", "through")


class NetworkCache:
    """The flow networks and forwarding plans of one original topology, built once and shared
    by every damaged copy of it (the flow core's own cache keeps only a few topologies)."""

    def __init__(self, base: Topology):
        self.base = base
        self._networks: dict[tuple, Any] = {}
        self._plans: dict[tuple, Any] = {}

    def network(self, *args: Any, **kwargs: Any):
        """The original's flow network for these ``flow_network`` arguments."""
        from ..solvers.flow import flow_network

        key = (args, tuple(sorted(kwargs.items())))
        if key not in self._networks:
            self._networks[key] = flow_network(self.base, *args, **kwargs)
        return self._networks[key]

    def plan(self, *args: Any, **kwargs: Any):
        """The original's forwarding plan for these ``forwarding_plan`` arguments."""
        from ..solvers.forwarding import forwarding_plan

        key = (args, tuple(sorted(kwargs.items())))
        if key not in self._plans:
            self._plans[key] = forwarding_plan(self.base, *args, **kwargs)
        return self._plans[key]

    def __getstate__(self) -> dict:
        # Sent to worker processes without the built structures: each worker builds its own.
        return {"base": self.base, "_networks": {}, "_plans": {}}


@dataclass(frozen=True, eq=False)
class DamagedTopology(Topology):
    """A topology with some links and components failed (see the module docstring).

    ``base`` is the original; ``kept`` the original row of every link left, in order;
    ``failed`` marks the failed components (original rows: a damaged topology has the same
    rows); ``failed_links`` marks the original links that failed.
    """

    base: Topology | None = None
    kept: np.ndarray | None = None
    failed: np.ndarray | None = None
    failed_links: np.ndarray | None = None
    cache: NetworkCache | None = None

    def derived_flow_network(self, forwarding: str = "hardware", *, strict: bool = False):
        """The flow network: the original's without the arcs of what failed when that is this
        topology's (:meth:`keeps_network`), else built for the wiring that is left."""
        if not self.keeps_network(forwarding, strict=strict):
            from ..solvers.flow import build_network

            return build_network(self, forwarding=forwarding, strict=strict)
        net = self.cache.network(forwarding, strict=strict)
        link_arc = net.what == 0
        keep = np.empty(len(link_arc), dtype=bool)
        keep[link_arc] = ~self.failed_links[net.ref[link_arc]]
        keep[~link_arc] = ~self.failed[net.ref[~link_arc]]
        renumber = np.cumsum(~self.failed_links) - 1
        changes: dict[str, np.ndarray] = {}
        for name in _ARC_FIELDS:
            if getattr(net, name, None) is not None:  # ``through`` only for gated CPUs
                changes[name] = getattr(net, name)[keep]
        ref = changes["ref"].copy()
        kept_link_arc = link_arc[keep]
        ref[kept_link_arc] = renumber[ref[kept_link_arc]]
        changes["ref"] = ref
        return replace(net, **changes)

    def derived_forwarding_plan(self, forwarding: str = "hardware", *, strict: bool = False):
        """The forwarding plan of the wiring that is left (built, not the original's: see the
        module docstring)."""
        from ..solvers.forwarding import build_plan

        return build_plan(self, forwarding, strict)

    def keeps_network(self, forwarding: str = "hardware", *, strict: bool = False) -> bool:
        """Whether the original's flow network without the arcs of what failed is this
        topology's: every component left has the class and package it had, the links left have
        the same sides at CXL switches, and the CPU ports and the turns they forbid are the
        same (numbered alike). Failed components lose every arc, whatever their class."""
        from ..solvers.forwarding import forwarding_plan

        base = self.cache.plan(forwarding, strict=strict)
        own = forwarding_plan(self, forwarding, strict=strict)
        alive = ~self.failed
        return bool(
            np.array_equal(base.klass[alive], own.klass[alive])
            and np.array_equal(base.seal[alive], own.seal[alive])
            and np.array_equal(base.host_end[self.kept], own.host_end)
            and np.array_equal(base.port[self.kept], own.port)
            and np.array_equal(base.port_row, own.port_row)
            and np.array_equal(base.port_cxl, own.port_cxl)
            and np.array_equal(base.forbid, own.forbid)
        )

    def keeps_rules(
        self, forwarding: str = "hardware", endpoints: np.ndarray | None = None
    ) -> bool:
        """Whether the questions among ``endpoints`` (rows; default every row) have the
        original's path rules here: :meth:`keeps_network`, the endpoints left group into the
        same fabric domains, and the components left into the same shared CXL domains (with
        the same CPUs, failed ones apart). Then removing what failed only removes capacity,
        and a figure can only fall (what pruning by load rests on).

        The fabric rule binds a path by the domains of its two ends alone: a domain split by
        the failure, with the endpoints all on one side, keeps the paths that side had (the
        other side's arcs were reachable only through what failed)."""
        if not self.keeps_network(forwarding):
            return False
        from ..solvers.forwarding import forwarding_plan

        base = self.cache.plan(forwarding)
        own = forwarding_plan(self, forwarding)
        alive = ~self.failed
        ends = alive.copy() if endpoints is None else np.zeros_like(alive)
        if endpoints is not None:
            ends[np.asarray(endpoints, dtype=np.int64)] = True
            ends &= alive
        if not (
            np.array_equal(base.member[ends], own.member[ends])
            and _same_groups(base.domain[ends], own.domain[ends])
            and _same_groups(base.cxl[alive], own.cxl[alive])
        ):
            return False
        kept_cpus = sorted(tuple(c[alive[c]].tolist()) for c in base.cxl_cpus)
        return kept_cpus == sorted(tuple(c.tolist()) for c in own.cxl_cpus)


def _same_groups(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labellings (-1: in no group) group the same rows together."""
    if not np.array_equal(a < 0, b < 0):
        return False
    a, b = a[a >= 0], b[b >= 0]
    if len(a) == 0:
        return True
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return len(np.unique(pairs[:, 0])) == len(pairs) == len(np.unique(pairs[:, 1]))


def failed_rows(topology: Topology, rows: Sequence[int] | np.ndarray) -> np.ndarray:
    """Boolean mask over rows: ``rows`` and everything inside them (what fails with them).

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("n", "node"); _ = b.add_node("n.g", "gpu", "n")
    >>> _ = b.add_node("m", "node")
    >>> failed_rows(b.build(), [0]).tolist()
    [True, True, False]
    """
    from ..analyses.common import subtree_mask

    return subtree_mask(topology, np.asarray(rows, dtype=np.int64))


def damaged(
    topology: Topology,
    links: Sequence[int] | np.ndarray = (),
    components: Sequence[int] | np.ndarray = (),
    *,
    cache: NetworkCache | None = None,
) -> DamagedTopology:
    """``topology`` with the link rows ``links`` and the component rows ``components`` (with
    everything inside them) failed. ``cache`` shares the original's flow networks between many
    damaged copies (one is made when not given).

    Examples
    --------
    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("n", "node"); _ = b.add_node("n.g", "gpu", "n")
    >>> _ = b.add_node("s", "switch"); _ = b.add_link("n.g", "s", 1e9)
    >>> d = damaged(b.build(), components=[0])
    >>> d.num_links, d.failed.tolist(), d.nodes.ids == b.build().nodes.ids
    (0, [True, True, False], True)
    """
    t = topology
    if isinstance(t, DamagedTopology):
        raise TypeError("damage the original topology, not a damaged copy")
    failed = failed_rows(t, components) if len(components) else np.zeros(t.num_nodes, bool)
    L = t.links
    gone = np.zeros(t.num_links, dtype=bool)
    gone[np.asarray(links, dtype=np.int64)] = True
    gone |= failed[L.src] | failed[L.dst]
    kept = np.flatnonzero(~gone)
    nodes = _damaged_nodes(t, failed, gone)
    new_links = _kept_links(L, kept)
    out = DamagedTopology(
        nodes=nodes,
        links=new_links,
        link_type_names=t.link_type_names,
        link_types=t.link_types,
        spans=t.spans,
        templates=t.templates,
        source=t.source,
        fabrics=_intact_fabrics(t, failed, gone),
        source_texts=t.source_texts,
        **_other_fields(t),
        base=t,
        kept=kept,
        failed=failed,
        failed_links=gone,
        cache=cache if cache is not None else NetworkCache(t),
    )
    for name in _NODE_CACHES:
        if name in t.__dict__:
            out.__dict__[name] = t.__dict__[name]
    return out


def _other_fields(t: Topology) -> dict[str, Any]:
    """Fields other modules add to Topology (risk groups...), carried over as they are."""
    known = {
        "nodes",
        "links",
        "link_type_names",
        "link_types",
        "spans",
        "templates",
        "source",
        "warnings",
        "assertions",
        "fabrics",
        "source_texts",
    }
    return {f.name: getattr(t, f.name) for f in dataclasses.fields(Topology) if f.name not in known}


def _damaged_nodes(t: Topology, failed: np.ndarray, gone: np.ndarray) -> NodeTable:
    n = t.nodes
    changes: dict[str, Any] = {}
    for name in _ZEROED:
        col = getattr(n, name).copy()
        col[failed] = 0.0
        changes[name] = col
    touched = failed.copy()
    touched[t.links.src[gone]] = True
    touched[t.links.dst[gone]] = True
    touched |= _ancestors(t, touched)
    template = n.template.copy()
    # Ids that no healthy component has, one per damaged component: a damaged component is a
    # copy of nothing, and no two damaged components are copies of each other.
    rows = np.flatnonzero(touched)
    template[rows] = len(t.templates) + np.arange(len(rows))
    changes["template"] = template.astype(np.int32)
    return replace(n, **changes)


def _ancestors(t: Topology, rows: np.ndarray) -> np.ndarray:
    parent = t.nodes.parent.astype(np.int64)
    out = np.zeros(t.num_nodes, dtype=bool)
    cur = np.flatnonzero(rows)
    while len(cur):
        cur = parent[cur]
        cur = cur[cur >= 0]
        cur = cur[~out[cur]]
        out[cur] = True
    return out


def _kept_links(L: LinkTable, kept: np.ndarray) -> LinkTable:
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(LinkTable):
        v = getattr(L, f.name)
        if isinstance(v, np.ndarray):
            changes[f.name] = v[kept]
    if L.extra:
        renumber = np.full(len(L.src), -1, dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        changes["extra"] = {int(renumber[e]): d for e, d in L.extra.items() if renumber[e] >= 0}
    return replace(L, **changes)


def _intact_fabrics(t: Topology, failed: np.ndarray, gone: np.ndarray) -> tuple[FabricInfo, ...]:
    renumber = np.cumsum(~gone) - 1
    out = []
    for info in t.fabrics:
        links = np.asarray(info.links, dtype=np.int64)
        parts = np.concatenate([np.asarray(info.hosts), np.asarray(info.switches)]).astype(int)
        if gone[links].any() or failed[parts].any():
            continue
        out.append(replace(info, links=renumber[links]))
    return tuple(out)


def lost_endpoints(
    topology: DamagedTopology, endpoints: np.ndarray, baseline_labels: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask over ``endpoints``: those a failure removes or cuts off.

    An endpoint is lost when it failed, or when the failure cut it off from the largest group
    of the endpoints it was connected to before: endpoints are grouped by the connected
    components of the links left (a path of working links, whatever the forwarding model), and
    among the endpoints that shared a component before the failure, those outside the largest
    group after it are lost (groups of equal largest size are all kept). ``baseline_labels``
    are the original's component labels (computed when not given).

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for name in ("g0", "g1", "g2", "sw", "leaf"):
    ...     _ = b.add_node(name, "switch" if name in ("sw", "leaf") else "gpu")
    >>> for a, c in [("g0", "sw"), ("g1", "sw"), ("sw", "leaf"), ("g2", "leaf")]:
    ...     _ = b.add_link(a, c, 1e9)
    >>> t = b.build()
    >>> lost_endpoints(damaged(t, links=[3]), np.array([0, 1, 2])).tolist()
    [False, False, True]
    """
    base = topology.base
    endpoints = np.asarray(endpoints, dtype=np.int64)
    if baseline_labels is None:
        baseline_labels = component_labels(base)
    after = component_labels(topology, topology.failed)
    lost = topology.failed[endpoints].copy()
    alive = endpoints[~lost]
    if len(alive) == 0:
        return lost
    before, now = baseline_labels[alive], after[alive]
    # Count endpoints per (group before, group after); keep the largest per group before.
    pair = before.astype(np.int64) * (int(now.max()) + 1) + now
    uniq, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
    group_before = uniq // (int(now.max()) + 1)
    best = np.zeros(int(group_before.max()) + 1, dtype=np.int64)
    np.maximum.at(best, group_before, counts)
    keep = counts[inverse] == best[group_before[inverse]]
    lost[np.flatnonzero(~lost)[~keep]] = True
    return lost


def component_labels(topology: Topology, isolated: np.ndarray | None = None) -> np.ndarray:
    """Connected-component label of every row over the topology's links (undirected), with the
    ``isolated`` rows left out (each its own component)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    n = topology.num_nodes
    L = topology.links
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    if isolated is not None:
        ok = ~(isolated[src] | isolated[dst])
        src, dst = src[ok], dst[ok]
    graph = sp.csr_array((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    return connected_components(graph, directed=False)[1]
