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
shares its bandwidth between the two directions. In a file with ``"directed": true`` (what
NetworkX writes for a ``DiGraph``) every link is one-way, source to target, as NetworkX reads
it: a full-duplex cable is then two links, one each way, and a link that says ``"simplex":
false`` or ``"duplex": "half"`` is an error.

A hand-written file needs only node ``id`` and ``kind`` and link ``source``, ``target`` and
``bandwidth``. Export then import then export gives the same bytes. The file's assertions go
to ``graph.assertions`` (see :func:`topodsl.assertion_io.assertions_to_json`), so that checking the
exported file checks them; its shared-risk groups to ``graph.risks`` (components by id, links by
their position in ``links``; see :func:`topodsl.risks.risks_to_json`); and its workloads to
``graph.workloads``: each one's ``name``, the component it is declared in (``scope``) and its
source ``text`` with every value in SI units (:func:`topodsl.workload.workload_text`), read back
the way the language reads it.

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder(); _ = b.add_node("a", "gpu"); _ = b.add_node("b", "gpu")
>>> _ = b.add_link("a", "b", bandwidth=5e10)
>>> text = dumps_json(b.build())
>>> dumps_json(loads_json(text)) == text
True
"""

from __future__ import annotations

import difflib
import gc
import json
import math
import re
from itertools import chain, repeat
from typing import Any, NamedTuple

import numpy as np

from .errors import DiagnosticSink, ElaborationError, Span
from .kinds import KIND_ALIASES, KIND_CODE, KINDS, ROLE_OF
from .limits import LINKS_PER_COMPONENT, MAX_LANES, MAX_NODES, MAX_PORTS
from .numeric import MAX_QUANTITY, MIN_QUANTITY, check_quantity
from .topology import NODE_FIELDS, LinkTable, LinkType, NodeTable, Topology, TopologyBuilder

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
    if topology.risks:
        from .risks import risks_to_json

        graph["risks"] = risks_to_json(topology)
    if topology.workloads:
        from .workload import workload_text

        graph["workloads"] = [
            {"name": w.name, "scope": w.scope, "text": workload_text(w)} for w in topology.workloads
        ]
    return {"directed": False, "multigraph": True, "graph": graph, "nodes": nodes, "links": links}


def dumps_json(topology: Topology) -> str:
    """``topology`` as node-link JSON text (deterministic, one trailing newline)."""
    return json.dumps(to_json_dict(topology), indent=1, sort_keys=False) + "\n"


# -- reading node-link JSON ------------------------------------------------------------------------
#
# The file is untrusted: every value is checked as the language checks it (positive finite
# bandwidths, ranges, whole port counts, no self-loops, parents that form a tree, unique ids),
# and every diagnostic names the node or link, the key at fault and its line:col. The
# top-level object and the node and link arrays are walked here, each element decoded by the
# C scanner of the json module: fast, and the start of every element is known for free.

_WS = re.compile(r"[ \t\n\r]*")
_CONTAINERS = frozenset(k for k, r in ROLE_OF.items() if r == "container")
_CONTAINER_CODES = np.array(sorted(KIND_CODE[k] for k in _CONTAINERS), dtype=np.uint8)
_POSITIVE = ("bandwidth", "read_bandwidth", "write_bandwidth")
_SCALAR = str | int | float | bool


class _Huge(float):
    """A whole number too long to be anything but an error (Python refuses ``int()`` of more
    than 4300 digits): kept as ``inf``, with its length for the message."""

    digits: int


def _parse_int(text: str) -> int | float:
    if len(text) <= 30:
        return int(text)
    huge = _Huge(math.inf)
    huge.digits = len(text.lstrip("-"))
    return huge


def _parse_constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


class _At(NamedTuple):
    """The value of ``key`` in the object that starts at offset ``start``: found in the text
    only when a diagnostic needs its place."""

    start: int
    key: str


class _Json:
    """The text of a JSON document with the offsets of the elements read from it."""

    def __init__(self, text: str, file: str, sink: DiagnosticSink):
        self.text = text
        self.file = file
        self.sink = sink
        self.decoder = json.JSONDecoder(parse_int=_parse_int, parse_constant=_parse_constant)

    def span(self, offset: int | _At) -> Span:
        if isinstance(offset, _At):
            offset = self.key_offset(offset.start, offset.key)
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return Span(self.file, line, col, line, col + 1)

    def error(self, offset: int | _At, message: str, hint: str | None = None) -> None:
        self.sink.error(self.span(offset), message, hint)

    def fatal(self, offset: int, message: str, hint: str | None = None) -> ElaborationError:
        return ElaborationError([self.sink.make(self.span(offset), message, hint)])

    def skip(self, i: int) -> int:
        return _WS.match(self.text, i).end()

    def value(self, i: int) -> tuple[Any, int]:
        """Decode one value at offset ``i``; return it and the offset after it."""
        try:
            return self.decoder.scan_once(self.text, i)
        except StopIteration:
            raise self.fatal(i, "not valid JSON: expected a value") from None
        except json.JSONDecodeError as e:
            raise self.fatal(e.pos, f"not valid JSON: {e.msg}") from None
        except RecursionError:
            raise self.fatal(i, "this value nests too deeply to read") from None

    def top_level(self) -> dict[str, tuple[Any, int, list[int] | None]]:
        """The top-level object as ``key -> (value, offset, element offsets)``; element offsets
        are given for the arrays ``nodes``, ``links`` and ``edges``."""
        t = self.text
        i = self.skip(0)
        if not t.startswith("{", i):
            raise self.fatal(
                i, "a topology JSON file is an object with a 'nodes' list (node-link format)"
            )
        out: dict[str, tuple[Any, int, list[int] | None]] = {}
        i = self.skip(i + 1)
        if t.startswith("}", i):
            return out
        while True:
            if not t.startswith('"', i):
                raise self.fatal(i, "not valid JSON: expected a key in double quotes")
            try:
                key, i = json.decoder.scanstring(t, i + 1)
            except json.JSONDecodeError as e:
                raise self.fatal(e.pos, f"not valid JSON: {e.msg}") from None
            i = self.skip(i)
            if not t.startswith(":", i):
                raise self.fatal(i, "not valid JSON: expected ':' after a key")
            i = self.skip(i + 1)
            start = i
            if key in ("nodes", "links", "edges") and t.startswith("[", i):
                items, offsets, i = self.array(i)
                out[key] = (items, start, offsets)
            else:
                value, i = self.value(i)
                out[key] = (value, start, None)
            i = self.skip(i)
            if t.startswith(",", i):
                i = self.skip(i + 1)
                continue
            if t.startswith("}", i):
                break
            raise self.fatal(i, "not valid JSON: expected ',' or '}'")
        if self.skip(i + 1) != len(t):
            raise self.fatal(self.skip(i + 1), "not valid JSON: extra data after the object")
        return out

    def array(self, i: int) -> tuple[list, list[int], int]:
        t = self.text
        items: list = []
        offsets: list[int] = []
        i = self.skip(i + 1)
        if t.startswith("]", i):
            return items, offsets, i + 1
        while True:
            offsets.append(i)
            value, i = self.value(i)
            items.append(value)
            i = self.skip(i)
            if t.startswith(",", i):
                i = self.skip(i + 1)
            elif t.startswith("]", i):
                return items, offsets, i + 1
            else:
                raise self.fatal(i, "not valid JSON: expected ',' or ']'")

    def key_offset(self, start: int, key: str) -> int:
        """Offset of the value of ``key`` in the object that starts at ``start`` (``start``
        itself if the key is not found): only ever used to place a diagnostic."""
        t = self.text
        depth = 0
        for m in _TOKEN.finditer(t, start):
            tok = m.group()
            if tok in "{[":
                depth += 1
            elif tok in "}]":
                depth -= 1
                if depth == 0:
                    break
            elif depth == 1:
                after = self.skip(m.end())
                if t.startswith(":", after) and json.loads(tok) == key:
                    return self.skip(after + 1)
        return start


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]')


def loads_json(text: str, file: str = "<json>", *, max_nodes: int = MAX_NODES) -> Topology:
    """Read a topology from node-link JSON; ``ElaborationError`` names what is wrong.

    Every value is checked as the language checks it; each diagnostic names the node or link
    (by id and index), the key at fault and its ``line:col``.

    >>> t = loads_json('{"nodes": [{"id": "a", "kind": "gpu"}, {"id": "b", "kind": "hbm"}],'
    ...                ' "links": [{"source": "a", "target": "b", "bandwidth": 1e12}]}')
    >>> t.num_nodes, t.num_links, float(t.links.bandwidth[0])
    (2, 1, 1000000000000.0)
    >>> loads_json('{"nodes": [{"id": "a", "kind": "gpu", "capacity": -5}]}', "g.json")
    Traceback (most recent call last):
    ...
    topodsl.errors.ElaborationError: g.json:1:51: error: node 'a' (nodes[0]): 'capacity' ...
    """
    read = _read_columns(text, file, max_nodes)
    if read is None:  # anything out of the ordinary: read element by element, report it
        read = _read_elements(text, file, max_nodes)
    topology, graph = read
    if graph.get("assertions"):
        from .assertion_io import with_assertions_from_json

        topology = with_assertions_from_json(topology, graph["assertions"], file)
    if graph.get("workloads"):
        from .workload import workloads_from_text

        topology = workloads_from_text(topology, graph["workloads"], file)
    return topology


def _read_elements(text: str, file: str, max_nodes: int) -> tuple[Topology, dict]:
    """The topology and the ``graph`` object, read one element at a time, every diagnostic
    in its place."""
    sink = DiagnosticSink({file: text})
    doc = _Json(text, file, sink)
    top = doc.top_level()
    if "nodes" not in top or not isinstance(top["nodes"][0], list):
        at = top["nodes"][1] if "nodes" in top else 0
        raise doc.fatal(
            at, "a topology JSON file is an object with a 'nodes' list (node-link format)"
        )
    nodes, nodes_at, node_offsets = top["nodes"]
    link_key = "links" if "links" in top else "edges"
    links, links_at, link_offsets = top.get(link_key, ([], 0, []))
    if not isinstance(links, list):
        raise doc.fatal(links_at, f"'{link_key}' must be a list of links")
    if len(nodes) > max_nodes:
        raise doc.fatal(nodes_at, f"{len(nodes):,} nodes; the limit is {max_nodes:,}")
    if len(links) > LINKS_PER_COMPONENT * max_nodes:
        raise doc.fatal(
            links_at, f"{len(links):,} links; the limit is {LINKS_PER_COMPONENT * max_nodes:,}"
        )
    graph, graph_at, _ = top.get("graph", ({}, 0, None))
    if graph is None:
        graph = {}
    if not isinstance(graph, dict):
        raise doc.fatal(graph_at, "'graph' must be an object (the graph's attributes)")
    directed, directed_at, _ = top.get("directed", (False, 0, None))
    if directed is None:
        directed = False
    if not isinstance(directed, bool):
        raise doc.fatal(directed_at, "'directed' must be true or false")
    b = TopologyBuilder(source=file)
    _read_link_types(doc, graph, graph_at, b)
    rejected = _read_nodes(doc, nodes, node_offsets or [], b)
    _read_links(doc, links, link_offsets or [], b, link_key, rejected, directed)
    sink.raise_if_errors()
    source = graph.get("source", file)
    topology = b.build(source=source if isinstance(source, str) else file)
    over = _over_ports(topology.nodes, topology.links)
    if len(over):
        _report_over_ports(doc, nodes, node_offsets or [], topology, over)
        sink.raise_if_errors()
    if graph.get("risks"):  # read here, where each risk group's place in the text is known
        from .risks import with_risks_from_json

        at = doc.key_offset(graph_at, "risks")
        topology = with_risks_from_json(
            topology, graph["risks"], file, error=lambda message: doc.fatal(at, message)
        )
    return topology, graph


# -- the common case, column by column -------------------------------------------------------
#
# A file another tool wrote is almost always valid. :func:`_read_columns` decodes it in one
# call of the C decoder and checks each attribute as one column (numpy over the numbers, sets
# of types, dict lookups mapped over the ids), with no Python function called per node or per
# link. It gives up (returns ``None``) at the first thing out of the ordinary, numeric ids
# included, and :func:`_read_elements` then reads the file again one element at a time and
# reports every fault in its place: the two agree on every file the columns accept
# (tests/test_untrusted_json.py compares them).

_ABSENT = object()  # an attribute not given, told apart from an explicit null
_NODE_OWN = frozenset(("id", "kind", "parent", "ports", *NODE_FIELDS))
_KIND_OF = {name: KIND_CODE[KIND_ALIASES.get(name, name)] for name in [*KIND_CODE, *KIND_ALIASES]}
_NUMBER_TYPES = frozenset((int, float))
_SCALAR_TYPES = frozenset((str, int, float, bool, type(None)))


def _column(items: list, key: str) -> list:
    """``items[i].get(key, _ABSENT)`` for every item, mapped in C."""
    return list(map(dict.get, items, repeat(key), repeat(_ABSENT)))


def _quantities(
    values: list, default: float, *, positive: bool, inf_word: bool = False
) -> np.ndarray | None:
    """A column of quantities as :func:`_number` checks them (absent: ``default``; the word
    ``"inf"`` where ``inf_word``), or ``None`` if any one is not a finite number in range."""
    types = set(map(type, values))
    words = inf_word and str in types
    if words and {v for v in values if type(v) is str} != {"inf"}:
        return None
    stand_in = type(_ABSENT) in types or words
    if not types - {type(_ABSENT), str if words else type(_ABSENT)} <= _NUMBER_TYPES:
        return None
    numbers = values
    if stand_in:
        numbers = [1.0 if v is _ABSENT or type(v) is str else v for v in values]
    try:
        x = np.array(numbers, dtype=np.float64)
    except OverflowError:  # a whole number past the range of a float
        return None
    if not np.isfinite(x).all() or (x < 0).any() or (positive and (x == 0).any()):
        return None
    # The element reader refuses a whole number of more than 30 characters outright.
    if (x > MAX_QUANTITY).any() or ((x > 0) & (x < MIN_QUANTITY)).any() or (x >= 1e30).any():
        return None
    if stand_in:
        x[np.array([v is _ABSENT for v in values], dtype=bool)] = default
        if words:
            x[np.array([type(v) is str for v in values], dtype=bool)] = math.inf
    return x


def _huge(value: Any) -> bool:
    """A whole number the element reader refuses for its length (over 30 characters)."""
    return type(value) is int and not -(10**29) < value < 10**30


def _read_columns(text: str, file: str, max_nodes: int) -> tuple[Topology, dict] | None:
    """:func:`loads_json` for a well-formed file, column by column; ``None`` if anything in
    it needs :func:`_read_elements` (an error to place, or a rare form such as numeric ids)."""
    collecting = gc.isenabled()
    gc.disable()  # the decoder makes an object per element, none of them garbage
    try:
        doc = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    finally:
        if collecting:
            gc.enable()
    if type(doc) is not dict or type(doc.get("nodes")) is not list:
        return None
    nodes = doc["nodes"]
    links = doc["links"] if "links" in doc else doc.get("edges", [])
    graph = doc.get("graph", {})
    graph = {} if graph is None else graph
    if type(links) is not list or type(graph) is not dict or graph.get("risks"):
        return None  # risk groups are read by the element reader, which can place an error
    directed = doc.get("directed", False)
    if directed is not None and type(directed) is not bool:
        return None
    if len(nodes) > max_nodes or len(links) > LINKS_PER_COMPONENT * max_nodes:
        return None
    if nodes and set(map(type, nodes)) != {dict}:
        return None
    if links and set(map(type, links)) != {dict}:
        return None
    b = TopologyBuilder(source=file)
    sink = DiagnosticSink({file: text})
    _read_link_types(_Json(text, file, sink), graph, 0, b)
    if sink.errors:
        return None
    node_table, index = _node_columns(nodes)
    if node_table is None:
        return None
    link_table, type_names = _link_columns(links, index, node_table.kind, directed is True)
    if link_table is None or len(_over_ports(node_table, link_table)):
        return None  # more lanes than ports: the element reader places the error
    source = graph.get("source", file)
    topology = Topology(
        nodes=node_table,
        links=link_table,
        link_type_names=type_names,
        link_types=dict(b.link_types),
        source=source if isinstance(source, str) else file,
    )
    return topology, graph


def _over_ports(nodes: NodeTable, links: LinkTable) -> np.ndarray:
    """Rows with declared ``ports`` and more lanes connected to them, as the language
    refuses them (:func:`topodsl.elaborate.checks.check_ports`)."""
    declared = nodes.ports >= 0
    if not declared.any() or len(links.src) == 0:
        return np.zeros(0, dtype=np.int64)
    n = len(nodes.ports)
    used = np.bincount(links.src, weights=links.lanes, minlength=n)
    used += np.bincount(links.dst, weights=links.lanes, minlength=n)
    return np.flatnonzero(declared & (used > nodes.ports + 1e-9))


def _report_over_ports(
    doc: _Json, nodes: list, offsets: list[int], topology: Topology, over: np.ndarray
) -> None:
    """An error at each over-subscribed node's ``ports``."""
    L, ids = topology.links, topology.nodes.ids
    lanes = np.bincount(L.src, weights=L.lanes, minlength=len(ids))
    lanes += np.bincount(L.dst, weights=L.lanes, minlength=len(ids))
    wanted = {ids[r]: r for r in over.tolist()}
    for i, (node, at) in enumerate(zip(nodes, offsets, strict=True)):
        node_id = str(node.get("id")) if isinstance(node, dict) else None
        r = wanted.get(node_id)
        if r is None:
            continue
        doc.error(
            _At(at, "ports"),
            f"node {node_id!r} (nodes[{i}]): 'ports' is {int(topology.nodes.ports[r])}, but "
            f"{lanes[r]:g} lanes are connected to it",
            "raise ports, or connect fewer lanes to it",
        )


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON has")


def _node_columns(nodes: list) -> tuple[NodeTable | None, dict[str, int]]:
    """The node table and the row of every id, or ``(None, {})``."""
    n = len(nodes)
    ids = _column(nodes, "id")
    if n and (set(map(type, ids)) != {str} or "" in ids):
        return None, {}
    if len(set(ids)) != n:
        return None, {}
    try:
        kind = list(map(_KIND_OF.get, _column(nodes, "kind")))
    except TypeError:  # an unhashable kind
        return None, {}
    if None in kind:
        return None, {}
    index = dict(zip(ids, range(n), strict=True))
    parents = _column(nodes, "parent")
    parent = np.full(n, -1, dtype=np.int64)
    named = [i for i, p in enumerate(parents) if p is not _ABSENT and p is not None]
    if named:
        names = [parents[i] for i in named]
        if set(map(type, names)) != {str}:
            return None, {}
        rows = list(map(index.get, names))
        if None in rows:
            return None, {}
        parent[named] = rows
        if _has_cycle(parent):
            return None, {}
    ports_in = _column(nodes, "ports")
    if set(map(type, ports_in)) - {type(_ABSENT)} - {int}:
        return None, {}
    try:
        ports = np.array([-1 if p is _ABSENT else p for p in ports_in], dtype=np.int64)
    except OverflowError:  # past int64: the element reader names the node and the limit
        return None, {}
    if ((ports < -1) | (ports > MAX_PORTS)).any():
        return None, {}
    keys = set(chain.from_iterable(nodes))
    fields = {}
    for key, default in NODE_FIELDS.items():
        column = _quantities(
            _column(nodes, key) if key in keys else [], default,
            positive=key in _POSITIVE, inf_word=key in _POSITIVE,
        )  # fmt: skip
        if column is None:
            return None, {}
        fields[key] = column if key in keys else np.full(n, default)
    extra: dict[int, dict[str, Any]] = {}
    other = sorted(keys - _NODE_OWN)
    if other:
        rows = set()
        for key in other:
            column = _column(nodes, key)
            if key == "meta":
                given = [v for v in column if v is not _ABSENT]
                if not all(map(_plain_meta, given)):
                    return None, {}
            else:
                kinds = set(map(type, column)) - {type(_ABSENT)}
                if not kinds <= _SCALAR_TYPES:
                    return None, {}
                if float in kinds and not all(math.isfinite(v) for v in column if type(v) is float):
                    return None, {}
                if int in kinds and any(map(_huge, column)):
                    return None, {}
            rows.update(i for i, v in enumerate(column) if v is not _ABSENT and v is not None)
        for i in sorted(rows):
            extra[i] = {
                k: dict(v) if k == "meta" else v
                for k, v in nodes[i].items()
                if k not in _NODE_OWN and v is not None
            }
    table = NodeTable(
        ids=ids,
        kind=np.array(kind, dtype=np.uint8),
        parent=parent.astype(np.int32),
        ports=ports.astype(np.int32),
        origin=np.full(n, -1, dtype=np.int32),
        template=np.full(n, -1, dtype=np.int32),
        extra=extra,
        **fields,
    )
    return table, index


def _plain_meta(value: Any) -> bool:
    """Whether ``value`` is a ``meta`` object :func:`_meta` accepts."""
    if type(value) is not dict:
        return False
    for x in value.values():
        if type(x) not in (str, int, float) or (type(x) is float and not math.isfinite(x)):
            return False
        if _huge(x):
            return False
    return True


def _has_cycle(parent: np.ndarray) -> bool:
    """Whether following ``parent`` (-1 at a root) goes round for some row: pointer jumping,
    each round doubling the distance looked up, so log2(rows) rounds of numpy."""
    up = parent.copy()
    steps = 1
    while steps <= len(parent):
        live = up >= 0
        if not live.any():
            return False
        up[live] = up[up[live]]
        steps *= 2
    return bool((up >= 0).any())


def _link_columns(
    links: list, index: dict[str, int], kind: np.ndarray, directed: bool = False
) -> tuple[LinkTable | None, tuple[str, ...]]:
    m = len(links)
    ends = []
    for key in ("source", "target"):
        names = _column(links, key)
        if m and set(map(type, names)) != {str}:
            return None, ()
        rows = list(map(index.get, names))
        if None in rows:
            return None, ()
        ends.append(np.array(rows, dtype=np.int64))
    src, dst = ends
    if (src == dst).any() or np.isin(kind[np.r_[src, dst]], _CONTAINER_CODES).any():
        return None, ()
    if not m:
        bandwidth = latency = lanes = np.zeros(0)
    else:
        bw_in = _column(links, "bandwidth")
        if _ABSENT in bw_in:
            return None, ()
        bandwidth = _quantities(bw_in, 0.0, positive=True)
        latency = _quantities(_column(links, "latency"), 0.0, positive=False)
        lanes = _quantities(_column(links, "lanes"), 1.0, positive=True)  # mostly absent
        if bandwidth is None or latency is None or lanes is None or (lanes > MAX_LANES).any():
            return None, ()
    keys = set(chain.from_iterable(links))  # a key no link has needs no column
    types = _column(links, "type") if "type" in keys else [None] * m
    if set(map(type, types)) - {str, type(_ABSENT), type(None)}:
        return None, ()
    names = [t for t in dict.fromkeys(types) if type(t) is str]
    code = dict(zip(names, range(len(names)), strict=True))
    code[None] = code[_ABSENT] = -1
    simplex = np.full(m, directed, dtype=bool)  # a directed graph's links are one-way
    if "simplex" in keys:
        given = _column(links, "simplex")
        if set(map(type, given)) - {bool, type(_ABSENT)}:
            return None, ()
        if directed and False in given:
            return None, ()  # contradicts "directed": the element reader places the error
        simplex = np.array([v is True or (directed and v is _ABSENT) for v in given], dtype=bool)
    half = np.zeros(m, dtype=bool)
    if "duplex" in keys:
        given = _column(links, "duplex")
        if set(map(type, given)) - {str, type(_ABSENT)} or set(given) - {"full", "half", _ABSENT}:
            return None, ()
        half = np.array([v == "half" for v in given], dtype=bool)
        if directed and half.any():
            return None, ()
    link_extra: dict[int, dict[str, Any]] = {}
    if "meta" in keys:
        metas = _column(links, "meta")
        given = [i for i, v in enumerate(metas) if v is not _ABSENT]
        if not all(_plain_meta(metas[i]) for i in given):
            return None, ()
        link_extra = {i: {"meta": dict(metas[i])} for i in given if metas[i]}
    table = LinkTable(
        src=src.astype(np.int32),
        dst=dst.astype(np.int32),
        bandwidth=bandwidth,
        latency=latency,
        lanes=lanes,
        type=np.array(list(map(code.get, types)), dtype=np.int32),
        simplex=simplex,
        half_duplex=half,
        origin=np.full(m, -1, dtype=np.int32),
        extra=link_extra,
    )
    return table, tuple(names)


def _read_link_types(doc: _Json, graph: dict, graph_at: int, b: TopologyBuilder) -> None:
    types = graph.get("link_types")
    types = {} if types is None else types
    at = _At(graph_at, "link_types")
    if not isinstance(types, dict):
        doc.error(at, "'link_types' must be an object of link types by name")
        return
    for name, spec in types.items():
        where = f"link type {name!r}"
        if not isinstance(spec, dict):
            doc.error(at, f"{where} must be an object")
            continue
        bw = _number(doc, at, where, "bandwidth", spec.get("bandwidth"), positive=True)
        lat = _number(doc, at, where, "latency", spec.get("latency", 0), positive=False)
        duplex = spec.get("duplex", "full")
        if duplex not in ("full", "half"):
            doc.error(at, f'{where}: \'duplex\' must be "full" or "half", got {_shown(duplex)}')
        model = spec.get("model")
        if model is not None and not isinstance(model, str):
            doc.error(at, f"{where}: 'model' must be text, got {_shown(model)}")
            model = None
        if bw is not None and lat is not None:
            b.link_types[name] = LinkType(name, bw, lat, duplex == "half", model)


def _read_nodes(doc: _Json, nodes: list, offsets: list[int], b: TopologyBuilder) -> set[str]:
    """Add the valid nodes to ``b``; return the ids of those refused (already reported)."""
    first_at: dict[str, int] = {}
    rejected: set[str] = set()
    parents: list[tuple[int, str, _At]] = []
    for i, (node, at) in enumerate(zip(nodes, offsets, strict=True)):
        if not isinstance(node, dict):
            doc.error(at, f"nodes[{i}] must be an object with an 'id' and a 'kind'")
            continue
        node_id = _id(doc, at, f"nodes[{i}]", "id", node.get("id"))
        if node_id is None:
            continue
        where = f"node {node_id!r} (nodes[{i}])"
        if node_id in first_at:
            j = first_at[node_id]
            doc.error(
                at,
                f"{where}: the id {node_id!r} is used twice, by nodes[{j}] and nodes[{i}]",
                "every component needs an id of its own",
            )
            doc.sink.errors.append(
                doc.sink.make(
                    doc.span(offsets[j]), f"nodes[{j}] also has the id {node_id!r}", None, "note"
                )
            )
            continue
        kind_raw = node.get("kind")
        kind = KIND_ALIASES.get(kind_raw, kind_raw) if isinstance(kind_raw, str) else None
        if kind not in KIND_CODE:
            doc.error(
                _At(at, "kind"),
                f"{where}: 'kind' names an unknown kind, {_shown(kind_raw)}"
                if isinstance(kind_raw, str)
                else f"{where}: 'kind' must be the name of a kind, got {_shown(kind_raw)}",
                _did_you_mean(kind_raw) or f"kinds: {', '.join(KIND_CODE)}",
            )
            rejected.add(node_id)
            continue
        attrs: dict[str, Any] = {}
        ok = True
        for key, value in node.items():
            if key in ("id", "kind", "parent", "ports"):
                continue
            if key in NODE_FIELDS:
                x = _number(doc, _At(at, key), where, key, value, key in _POSITIVE)
                ok = ok and x is not None
                attrs[key] = x
            elif key == "meta":
                meta = _meta(doc, _At(at, key), where, value)
                ok = ok and meta is not None
                attrs[key] = meta
            elif value is None:
                continue
            elif not isinstance(value, _SCALAR) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                doc.error(
                    _At(at, key),
                    f"{where}: {key!r} must be text, a finite number or true/false, "
                    f"got {_shown(value)}",
                )
                ok = False
            else:
                attrs[key] = value
        ports = node.get("ports", -1)
        if ports != -1:
            ports = _whole(doc, _At(at, "ports"), where, "ports", ports, MAX_PORTS)
            ok = ok and ports is not None
        if not ok:
            rejected.add(node_id)
            continue
        first_at[node_id] = i
        row = b.add_node(node_id, kind, ports=ports, **attrs)
        if node.get("parent") is not None:
            parent = _id(doc, _At(at, "parent"), where, "parent", node["parent"])
            if parent is not None:
                parents.append((row, parent, _At(at, "parent")))
    for row, parent, at in parents:
        if parent not in b._index:
            doc.error(at, f"node {b._ids[row]!r}: 'parent' names unknown node {parent!r}")
            continue
        b._parent[row] = b._index[parent]
    _check_parent_cycles(doc, b, {row: at for row, _, at in parents})
    return rejected


def _check_parent_cycles(doc: _Json, b: TopologyBuilder, parent_at: dict[int, _At]) -> None:
    """Parents must form a forest: a node that is its own ancestor would send every walk up
    the containment tree round for ever."""
    state = [0] * len(b._ids)  # 0 unseen, 1 on the current walk, 2 known to reach a root
    for start in range(len(b._ids)):
        path = []
        r = start
        while r >= 0 and state[r] == 0:
            state[r] = 1
            path.append(r)
            r = b._parent[r]
        if r >= 0 and state[r] == 1:
            cycle = path[path.index(r) :]
            chain = " -> ".join(repr(b._ids[x]) for x in [*cycle, r])
            doc.error(
                parent_at.get(r, 0),
                f"node {b._ids[r]!r}: its parents go round in a cycle: {chain}",
                "'parent' names the component that contains this one; containment is a tree",
            )
            for x in cycle:
                b._parent[x] = -1  # so later checks cannot loop
        for x in path:
            state[x] = 2


def _read_links(
    doc: _Json,
    links: list,
    offsets: list[int],
    b: TopologyBuilder,
    key: str,
    rejected: set[str],
    directed: bool = False,
) -> None:
    kinds = b._kind
    for i, (link, at) in enumerate(zip(links, offsets, strict=True)):
        where = f"{key}[{i}]"
        if not isinstance(link, dict):
            doc.error(at, f"{where} must be an object with a source, a target and a bandwidth")
            continue
        ends = []
        for end in ("source", "target"):
            node_id = _id(doc, _At(at, end), where, end, link.get(end))
            if node_id in rejected:
                node_id = None  # the node's own error says it all
            elif node_id is not None and node_id not in b._index:
                doc.error(_At(at, end), f"{where}: {end!r} names unknown node {node_id!r}")
                node_id = None
            ends.append(node_id)
        if None in ends:
            continue
        a, c = ends
        where = f"link {a!r} -- {c!r} ({key}[{i}])"
        if a == c:
            doc.error(at, f"{where}: a component cannot be linked to itself")
            continue
        bad_end = next((e for e in ends if KINDS[kinds[b._index[e]]] in _CONTAINERS), None)
        if bad_end is not None:
            doc.error(
                at,
                f"{where}: {bad_end!r} is a {KINDS[kinds[b._index[bad_end]]]}, a container, "
                "and carries no links",
                "connect one of the devices inside it",
            )
            continue
        bw = _number(doc, _At(at, "bandwidth"), where, "bandwidth", link.get("bandwidth"), True)
        lat = _number(doc, _At(at, "latency"), where, "latency", link.get("latency", 0), False)
        lanes = _number(doc, _At(at, "lanes"), where, "lanes", link.get("lanes", 1), True)
        if lanes is not None and lanes > MAX_LANES:
            doc.error(_At(at, "lanes"), f"{where}: 'lanes' is more than {MAX_LANES:,}")
            lanes = None
        link_type = link.get("type")
        if link_type is not None and not isinstance(link_type, str):
            doc.error(_At(at, "type"), f"{where}: 'type' must be text, got {_shown(link_type)}")
            continue
        simplex = link.get("simplex", directed)
        if not isinstance(simplex, bool):
            doc.error(_At(at, "simplex"), f"{where}: 'simplex' must be true or false")
            continue
        if directed and not simplex:
            doc.error(
                _At(at, "simplex"),
                f"{where}: 'simplex' is false, but the graph is directed, so every link is "
                "one-way (source to target)",
                'write a two-way link as two links, one each way, or set "directed": false',
            )
            continue
        duplex = link.get("duplex", "full")
        if duplex not in ("full", "half"):
            doc.error(
                _At(at, "duplex"),
                f'{where}: \'duplex\' must be "full" or "half", got {_shown(duplex)}',
            )
            continue
        if directed and duplex == "half":
            doc.error(
                _At(at, "duplex"),
                f"{where}: 'duplex' is \"half\", but the graph is directed, so every link is "
                "one-way (source to target)",
                'set "directed": false to describe a half-duplex link',
            )
            continue
        meta = _meta(doc, _At(at, "meta"), where, link["meta"]) if "meta" in link else {}
        if bw is None or lat is None or lanes is None or meta is None:
            continue
        b.add_link(
            a,
            c,
            bandwidth=bw,
            latency=lat,
            type=link_type,
            lanes=lanes,
            simplex=simplex,
            half_duplex=duplex == "half",
            meta=meta or None,
        )


def _id(doc: _Json, at: int | _At, where: str, key: str, value: Any) -> str | None:
    """A node id: text, or a whole number as NetworkX allows (kept as its text)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    doc.error(at, f"{where}: {key!r} must be a node id (text), got {_shown(value)}")
    return None


def _number(
    doc: _Json, at: int | _At, where: str, key: str, value: Any, positive: bool
) -> float | None:
    """A quantity in SI base units: finite, in the language's range; ``"inf"`` (the export's
    word for no limit) only for a device bandwidth."""
    if value == "inf" and key in _POSITIVE and where.startswith("node"):
        return math.inf
    if value is None:
        doc.error(at, f"{where}: {key!r} is missing", "bandwidths are in bytes per second")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        doc.error(at, f"{where}: {key!r} must be a number, got {_shown(value)}")
        return None
    x = float(value)
    if isinstance(value, _Huge):
        doc.error(at, f"{where}: {key!r} is {_shown(value)}, far past the limit of 1e30")
        return None
    if not math.isfinite(x):
        doc.error(
            at,
            f"{where}: {key!r} must be a finite number, got {_shown(value)}",
            'JSON has no NaN or Infinity; "inf" (a string) means no limit for a device bandwidth',
        )
        return None
    if x < 0 or (positive and x == 0):
        doc.error(
            at, f"{where}: {key!r} must be {'positive' if positive else 'zero or more'}, got {x:g}"
        )
        return None
    why = check_quantity(x)
    if why is not None:
        doc.error(at, f"{where}: {key!r} = {x:g} {why}")
        return None
    return x


def _meta(doc: _Json, at: _At, where: str, value: Any) -> dict[str, Any] | None:
    """A ``meta`` object: text or finite plain numbers by key (``meta { ... }`` in the
    language), or ``None`` after reporting what is wrong."""
    if not isinstance(value, dict):
        doc.error(at, f"{where}: 'meta' must be an object of text or numbers, got {_shown(value)}")
        return None
    for k, x in value.items():
        bad = isinstance(x, bool) or not isinstance(x, str | int | float)
        if bad or (isinstance(x, float) and not math.isfinite(x)):
            doc.error(at, f"{where}: 'meta' {k!r} must be text or a finite number, got {_shown(x)}")
            return None
    return dict(value)


def _whole(doc: _Json, at: int | _At, where: str, key: str, value: Any, limit: int) -> int | None:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        doc.error(
            at, f"{where}: {key!r} must be a whole number from 0 to {limit:,}, got {_shown(value)}"
        )
        return None
    return value


def _did_you_mean(kind: Any) -> str | None:
    if not isinstance(kind, str):
        return None
    close = difflib.get_close_matches(kind, [*KIND_CODE, *KIND_ALIASES], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _shown(value: Any) -> str:
    """A value as a message quotes it: short, and in JSON's own spelling."""
    if isinstance(value, _Huge):
        return f"a whole number of {value.digits:,} digits"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37]) + "..."
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
