"""Topologies to and from other tools' formats: NetworkX node-link JSON and GraphML.

JSON is NetworkX's node-link form of an undirected multigraph, so ``networkx.node_link_graph``
reads what topodsl writes::

    {"directed": false, "multigraph": true, "graph": {"topodsl": 1, "link_types": {...}},
     "nodes": [{"id": "pod.node0.gpu0", "kind": "gpu", "parent": "pod.node0",
                "bandwidth": 3.35e12, ...}],
     "links": [{"source": "...", "target": "...", "bandwidth": 4.5e11, "latency": 1e-7,
                "type": "nvlink4", "lanes": 18}]}

Units are SI base units: bandwidths in bytes per second (per direction, for links), capacities
in bytes, latencies in seconds. Free-form metadata (``meta { ... }`` in the language: PCI bus
ids, serials, NUMA nodes) is a ``"meta"`` object of text or plain numbers on a node or a link.
A link with ``"simplex": true`` carries data from source to target only; ``"duplex": "half"``
shares its bandwidth between the two directions.

A hand-written file needs only node ``id`` and ``kind`` and link ``source``, ``target`` and
``bandwidth``. Export then import then export gives the same bytes. The file's assertions go
to ``graph.assertions`` (see :func:`topodsl.assertion_io.assertions_to_json`), so that checking the
exported file checks them, and its workloads to ``graph.workloads``: each one's ``name``, the
component it is declared in (``scope``) and its source ``text`` with every value in SI units
(:func:`topodsl.workload.workload_text`), read back the way the language reads it.

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder(); _ = b.add_node("a", "gpu"); _ = b.add_node("b", "gpu")
>>> _ = b.add_link("a", "b", bandwidth=5e10)
>>> text = dumps_json(b.build())
>>> dumps_json(loads_json(text)) == text
True
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import Diagnostic, ElaborationError, Span
from .kinds import KIND_ALIASES, KIND_CODE
from .topology import NODE_FIELDS, LinkType, Topology, TopologyBuilder

__all__ = ["dumps_json", "loads_json", "to_json_dict", "write_graphml"]

FORMAT_VERSION = 1


def _num(v: float) -> float | int | str:
    if math.isinf(v):
        return "inf"
    if float(v).is_integer() and abs(v) < 2**53:
        return int(v)
    return float(v)


def to_json_dict(topology: Topology) -> dict[str, Any]:
    """The node-link dict of ``topology`` (see the module docstring)."""
    nodes = []
    for row, node_id in enumerate(topology.nodes.ids):
        attrs = topology.attributes(row)
        entry: dict[str, Any] = {"id": node_id}
        for k, v in attrs.items():
            entry[k] = _num(v) if isinstance(v, float) else v
        nodes.append(entry)
    L = topology.links
    ids = topology.nodes.ids
    links = []
    for e in range(topology.num_links):
        entry = {
            "source": ids[L.src[e]],
            "target": ids[L.dst[e]],
            "bandwidth": _num(float(L.bandwidth[e])),
            "latency": _num(float(L.latency[e])),
        }
        t = topology.link_type_of(e)
        if t is not None:
            entry["type"] = t
        if L.lanes[e] != 1:
            entry["lanes"] = _num(float(L.lanes[e]))
        if L.simplex[e]:
            entry["simplex"] = True
        if L.half_duplex[e]:
            entry["duplex"] = "half"
        meta = topology.link_meta(e)
        if meta:
            entry["meta"] = dict(meta)
        entry["key"] = e
        links.append(entry)
    link_types = {
        name: {
            "bandwidth": _num(lt.bandwidth),
            "latency": _num(lt.latency),
            **({"duplex": "half"} if lt.half_duplex else {}),
            **({"model": lt.model} if lt.model else {}),
        }
        for name, lt in sorted(topology.link_types.items())
    }
    graph: dict[str, Any] = {
        "topodsl": FORMAT_VERSION, "source": topology.source, "link_types": link_types
    }  # fmt: skip
    if topology.assertions:
        from .assertion_io import assertions_to_json

        graph["assertions"] = assertions_to_json(topology)
    if topology.workloads:
        from .workload import workload_text

        graph["workloads"] = [
            {"name": w.name, "scope": w.scope, "text": workload_text(w)} for w in topology.workloads
        ]
    return {"directed": False, "multigraph": True, "graph": graph, "nodes": nodes, "links": links}


def dumps_json(topology: Topology) -> str:
    """``topology`` as node-link JSON text (deterministic, one trailing newline)."""
    return json.dumps(to_json_dict(topology), indent=1, sort_keys=False) + "\n"


def _float(v: Any, what: str) -> float:
    if v == "inf":
        return math.inf
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{what} must be a number, got {v!r}")
    return float(v)


def _meta(v: Any, what: str) -> dict[str, Any]:
    """A ``meta`` object: text or plain numbers by key."""
    if not isinstance(v, dict):
        raise ValueError(f"{what} meta must be an object of text or numbers")
    for k, x in v.items():
        if isinstance(x, bool) or not isinstance(x, str | int | float):
            raise ValueError(f"{what} meta {k!r} must be text or a number, got {x!r}")
    return dict(v)


def loads_json(text: str, file: str = "<json>") -> Topology:
    """Read a topology from node-link JSON; ``ElaborationError`` names what is wrong.

    >>> t = loads_json('{"nodes": [{"id": "a", "kind": "gpu"}, {"id": "b", "kind": "hbm"}],'
    ...                ' "links": [{"source": "a", "target": "b", "bandwidth": 1e12}]}')
    >>> t.num_nodes, t.num_links, float(t.links.bandwidth[0])
    (2, 1, 1000000000000.0)
    """

    def fail(msg: str, line: int = 1, col: int = 1) -> ElaborationError:
        span = Span(file, line, col, line, col + 1)
        return ElaborationError([Diagnostic(span, "error", msg)])

    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        return_err = fail(f"not valid JSON: {e.msg}", e.lineno, e.colno)
        raise return_err from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise fail("a topology JSON file is an object with a 'nodes' list (node-link format)")
    b = TopologyBuilder(source=file)
    graph = data.get("graph") or {}
    for name, spec in (graph.get("link_types") or {}).items():
        try:
            b.link_types[name] = LinkType(
                name,
                _float(spec.get("bandwidth", 0), f"link type {name} bandwidth"),
                _float(spec.get("latency", 0), f"link type {name} latency"),
                spec.get("duplex") == "half",
                spec.get("model"),
            )
        except (ValueError, AttributeError) as e:
            raise fail(f"link type {name!r}: {e}") from None
    pending_parent: list[tuple[int, str]] = []
    for i, node in enumerate(data["nodes"]):
        if not isinstance(node, dict) or "id" not in node:
            raise fail(f"nodes[{i}] needs an 'id'")
        node_id = str(node["id"])
        kind = KIND_ALIASES.get(node.get("kind", ""), node.get("kind"))
        if kind not in KIND_CODE:
            raise fail(
                f"nodes[{i}] ({node_id!r}) has unknown kind {node.get('kind')!r}; "
                f"kinds: {', '.join(KIND_CODE)}"
            )
        attrs: dict[str, Any] = {}
        try:
            for k, v in node.items():
                if k in ("id", "kind", "parent", "ports"):
                    continue
                if k == "meta":
                    attrs[k] = _meta(v, node_id)
                    continue
                attrs[k] = _float(v, f"{node_id}.{k}") if k in NODE_FIELDS else v
            ports = int(node.get("ports", -1))
        except (ValueError, TypeError) as e:
            raise fail(f"nodes[{i}]: {e}") from None
        if node_id in b._index:
            raise fail(f"duplicate node id {node_id!r}")
        row = b.add_node(node_id, kind, ports=ports, **attrs)
        if node.get("parent") is not None:
            pending_parent.append((row, str(node["parent"])))
    for row, parent in pending_parent:
        if parent not in b._index:
            raise fail(f"node {b._ids[row]!r} names unknown parent {parent!r}")
        b._parent[row] = b._index[parent]
    for i, link in enumerate(data.get("links") or data.get("edges") or []):
        try:
            a, c = str(link["source"]), str(link["target"])
            if a not in b._index or c not in b._index:
                missing = a if a not in b._index else c
                raise ValueError(f"unknown node {missing!r}")
            bw = _float(link["bandwidth"], "bandwidth")
            if bw <= 0:
                raise ValueError("bandwidth must be positive")
            b.add_link(
                a,
                c,
                bandwidth=bw,
                latency=_float(link.get("latency", 0.0), "latency"),
                type=link.get("type"),
                lanes=_float(link.get("lanes", 1), "lanes"),
                simplex=bool(link.get("simplex", False)),
                half_duplex=link.get("duplex") == "half",
                meta=_meta(link["meta"], f"links[{i}]") if "meta" in link else None,
            )
        except (KeyError, ValueError, TypeError) as e:
            raise fail(f"links[{i}]: {e}") from None
    topology = b.build(source=str(graph.get("source", file)))
    if graph.get("assertions"):
        from .assertion_io import with_assertions_from_json

        topology = with_assertions_from_json(topology, graph["assertions"], file)
    if graph.get("workloads"):
        from .workload import workloads_from_text

        topology = workloads_from_text(topology, graph["workloads"], file)
    return topology


def write_graphml(topology: Topology, path_or_buffer) -> None:
    """Write ``topology`` as GraphML (an undirected multigraph; ``None`` values omitted)."""
    import networkx as nx

    g = nx.MultiGraph()
    for row, node_id in enumerate(topology.nodes.ids):
        attrs = {k: v for k, v in topology.attributes(row).items() if v is not None}
        g.add_node(node_id, **_flat_meta(attrs))
    for e, entry in enumerate(to_json_dict(topology)["links"]):
        attrs = {k: v for k, v in entry.items() if k not in ("source", "target", "key")}
        attrs = _flat_meta(attrs)
        attrs = {k: (float(v) if v == "inf" else v) for k, v in attrs.items()}
        g.add_edge(entry["source"], entry["target"], key=e, **attrs)
    for _, data in g.nodes(data=True):
        for k, v in list(data.items()):
            if v == "inf":
                data[k] = float("inf")
    nx.write_graphml(g, path_or_buffer)


def _flat_meta(attrs: dict[str, Any]) -> dict[str, Any]:
    """GraphML has no nested values: ``meta`` entries become ``meta.KEY`` attributes."""
    meta = attrs.pop("meta", None) or {}
    attrs.update({f"meta.{k}": v for k, v in meta.items()})
    return attrs
