"""An independent oracle for bisection: brute force over every balanced split, by NetworkX.

The oracle reads only the exported node-link JSON (:func:`topodsl.io.dumps_json`, what
``topodsl export --format json`` writes) and builds its own NetworkX flow network from it;
it shares no code with the flow core or the certificates. For each balanced split of the
endpoints, each way round, it computes the minimum cut with NetworkX's max flow; the bisection
is the least of them.

Each node carries an explicit *transit* flag saying which traffic may pass through it:

``all``
    anything, capped by its ``bandwidth`` when it has one;
``none``
    nothing: traffic may start or end there, never pass (memory, storage; GPUs and other
    accelerators under the hardware model, unless they declare ``relay = true``);
``package``
    a member of a package that does not forward (a GPU, its chiplets): traffic passes between
    links inside the package (its outermost compute component and what that contains), but
    what entered the package from outside never leaves it again (two layers per package: what
    came in, and what will go out);
``host-device``
    a CXL switch: traffic passes only between a link on its host side and a link on its device
    side; a link to a CPU is on the host side, a link to another switch is when that switch is
    fewer hops from a CPU, anything else is on the device side.

The flags come from the forwarding model's rules as written in ``docs/solvers.md``, each rule
one small function of a node (:data:`HARDWARE_RULES`, tried in order; :func:`transit_flags`):
``"ideal"`` is what the flow core did before the forwarding model (everything but memory and
storage forwards), ``"hardware"`` the documented model. A shared device limit cannot be
expressed on a ``package`` or ``host-device`` node with one max flow, so the oracle refuses one.

Tests, on thousands of seeded random graphs with multi-headed and pooled CXL memory, CXL
switches, half-duplex and one-way links, and device limits:

* the exhaustive result equals the oracle's bisection;
* every certificate of the heuristic path is at most the oracle's bisection, and every
  candidate split's upper bound equals the oracle's min cut for that split (max flow = min cut);
* adding a link never lowers an exact bisection;
* the bidirectional bounds bracket a two-commodity LP (scipy's HiGHS) on small graphs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from itertools import combinations

import networkx as nx
import numpy as np
import path_oracle
import pytest
from cli_support import run_topodsl
from networkx.algorithms.flow import build_residual_network, edmonds_karp

from topodsl.errors import SolverError
from topodsl.io import dumps_json, loads_json
from topodsl.solvers.bisection import bisection, resolve_endpoints
from topodsl.topology import Topology, TopologyBuilder

GB = 1e9
MEMORY_KINDS = {"hbm", "dram", "cxl_memory", "ssd", "hdd"}
HOST_KIND = "cpu"
COMPUTE_KINDS = {"gpu", "chiplet", "cpu"}
SWITCH_KINDS = {"switch", "pcie_switch", "cxl_switch", "nvswitch"}
CONTAINER_KINDS = {"node", "rack", "pod", "cluster", "storage_node", "group"}


# -- the rules -----------------------------------------------------------------------------------


class Document:
    """What the rules read from an exported topology: nodes by id, parents, neighbours."""

    def __init__(self, doc: dict):
        self.nodes = {node["id"]: node for node in doc["nodes"]}
        self.parent = {i: node.get("parent") for i, node in self.nodes.items()}
        self.neighbours: dict[str, set[str]] = {i: set() for i in self.nodes}
        for link in doc["links"]:
            self.neighbours[link["source"]].add(link["target"])
            self.neighbours[link["target"]].add(link["source"])

    def kind(self, node_id: str) -> str:
        return self.nodes[node_id]["kind"]

    def package(self, node_id: str) -> str | None:
        """The outermost compute component holding ``node_id`` (or itself), or None."""
        found = None
        cur = node_id
        while cur is not None:
            if self.kind(cur) in COMPUTE_KINDS:
                found = cur
            cur = self.parent[cur]
        return found

    def inside(self, node_id: str, ancestor: str) -> bool:
        cur = node_id
        while cur is not None:
            if cur == ancestor:
                return True
            cur = self.parent[cur]
        return False

    def has_external_link(self, package: str) -> bool:
        return any(
            not self.inside(there, package)
            for here in self.nodes
            if self.inside(here, package)
            for there in self.neighbours[here]
        )

    def hops_from_a_cpu(self, node_id: str) -> float:
        """Hops from the nearest CPU over links between CPUs, switches and NICs."""
        hop = {HOST_KIND, *SWITCH_KINDS, "nic"}
        if self.kind(node_id) not in hop:
            return math.inf
        seen, frontier, d = {node_id}, {node_id}, 0
        while frontier:
            if any(self.kind(x) == HOST_KIND for x in frontier):
                return d
            d += 1
            frontier = {y for x in frontier for y in self.neighbours[x] if self.kind(y) in hop}
            frontier -= seen
            seen |= frontier
        return math.inf


def memory_never_forwards(doc: Document, node_id: str) -> str | None:
    return "none" if doc.kind(node_id) in MEMORY_KINDS else None


def a_package_decides_for_its_members(doc: Document, node_id: str) -> str | None:
    """Inside a package: everything forwards inside it; a package that does not forward
    (anything but a CPU, unless ``relay`` says otherwise) keeps traffic from outside inside."""
    package = doc.package(node_id)
    if package is None:
        return None
    relay = doc.nodes[package].get("relay")
    forwards = relay if relay is not None else doc.kind(package) == HOST_KIND
    if forwards or not doc.has_external_link(package):
        return "all"
    if not any(doc.inside(there, package) for there in doc.neighbours[node_id]):
        return "none"  # no link inside the package: nothing to pass between (a plain GPU)
    return "package"


def relay_attribute_decides(doc: Document, node_id: str) -> str | None:
    relay = doc.nodes[node_id].get("relay")
    return None if relay is None else ("all" if relay else "none")


def cxl_switch_joins_host_and_device(doc: Document, node_id: str) -> str | None:
    return "host-device" if doc.kind(node_id) == "cxl_switch" else None


def everything_else_forwards(doc: Document, node_id: str) -> str | None:
    return "all"


#: The hardware model, one rule per function, tried in order (the first that answers decides).
HARDWARE_RULES = (
    memory_never_forwards,
    a_package_decides_for_its_members,
    relay_attribute_decides,
    cxl_switch_joins_host_and_device,
    everything_else_forwards,
)
#: The ideal model: only memory and storage stop traffic.
IDEAL_RULES = (memory_never_forwards, everything_else_forwards)


def transit_flags(doc: dict, model: str) -> dict[str, str]:
    """The default transit flag of every node (containers have none) under ``model``."""
    d = Document(doc)
    rules = HARDWARE_RULES if model == "hardware" else IDEAL_RULES
    flags = {}
    for node_id in d.nodes:
        if d.kind(node_id) in CONTAINER_KINDS:
            continue
        flags[node_id] = next(f for rule in rules if (f := rule(d, node_id)) is not None)
    return flags


def cxl_side(doc: Document, switch: str, there: str) -> str:
    """The side of ``switch`` that a link to ``there`` is on."""
    if doc.kind(there) == HOST_KIND:
        return "host"
    if doc.kind(there) in SWITCH_KINDS:
        closer = doc.hops_from_a_cpu(there) < doc.hops_from_a_cpu(switch)
        return "host" if closer else "device"
    return "device"


# -- the oracle ----------------------------------------------------------------------------------


class Oracle:
    """Min cuts between halves of ``endpoints`` in the network of ``doc`` (node-link JSON)."""

    def __init__(self, doc: dict, endpoints: list[str], transit: dict[str, str]):
        self.doc = Document(doc)
        self.nodes = self.doc.nodes
        self.endpoints = list(endpoints)
        self.transit = transit
        parent = self.doc.parent
        self.parent = parent
        # Each endpoint with everything inside it.
        self.group: dict[str, str] = {}
        chosen = set(self.endpoints)
        for node_id in self.nodes:
            cur = node_id
            while cur is not None and cur not in chosen:
                cur = parent[cur]
            if cur is not None:
                self.group[node_id] = cur
        # Inside an endpoint everything is a source or a sink: a package or a CXL switch needs
        # no layers or sides there (flow passing through a source could start there, and flow
        # passing through a sink could end there).
        transit = {
            i: "all" if flag in ("package", "host-device") and i in self.group else flag
            for i, flag in transit.items()
        }
        self.transit = transit
        self.g = nx.DiGraph()
        self.shared: dict[tuple[str, str], float] = {}
        for node_id, flag in transit.items():
            self._add_node(node_id, flag)
        for link in doc["links"]:
            self._add_link(link)
        self.g.add_node("S")
        self.g.add_node("T")
        self._residual = None

    # Vertices: ("in", id, layer) and ("out", id, layer); layer is "" except for package chiplets
    # ("enter": came from outside; "leave": will go outside) and CXL switches ("host", "device").

    def _layers(self, node_id: str) -> tuple[str, ...]:
        flag = self.transit[node_id]
        if flag == "package":
            return ("enter", "leave")
        if flag == "host-device":
            return ("host", "device")
        return ("",)

    def _add_node(self, node_id: str, flag: str) -> None:
        bw = self.nodes[node_id].get("bandwidth")
        limit = math.inf if bw in (None, "inf") else float(bw)
        for layer in self._layers(node_id):
            self.g.add_node(("in", node_id, layer))
            self.g.add_node(("out", node_id, layer))
        if flag in ("package", "host-device") and math.isfinite(limit):
            raise ValueError(f"{node_id}: a shared limit on a {flag} node needs an LP")
        for u, v, capacity in self.inner_arcs(node_id):
            self._arc(u, v, capacity)

    def _arc(self, u, v, capacity: float) -> None:
        if math.isinf(capacity):
            if self.g.has_edge(u, v) and "capacity" in self.g[u][v]:
                del self.g[u][v]["capacity"]
            else:
                self.g.add_edge(u, v)
            return
        if self.g.has_edge(u, v):
            if "capacity" in self.g[u][v]:
                self.g[u][v]["capacity"] += capacity
            return
        self.g.add_edge(u, v, capacity=capacity)

    def _package(self, node_id: str) -> str | None:
        """The package of a ``package`` member."""
        return self.doc.package(node_id) if self.transit.get(node_id) == "package" else None

    def _ends(self, here: str, there: str) -> tuple[list, list]:
        """Layers of ``here`` that a link to ``there`` leaves from and arrives at."""
        flag = self.transit[here]
        if flag == "package":
            if not self.doc.inside(there, self._package(here)):
                return ["leave"], ["enter"]  # to and from outside the package
            if self.transit[there] == "package":
                return ["enter", "leave"], ["enter", "leave"]  # each layer keeps to itself
            return ["enter", "leave"], ["leave"]  # memory, or an endpoint: origin inside
        if flag == "host-device":
            side = cxl_side(self.doc, here, there)
            return [side], [side]
        return [""], [""]

    def copies(self, a: str, b: str) -> list[tuple[str, str]]:
        """The (layer of ``a``, layer of ``b``) pairs that the direction ``a -> b`` of a link
        joins: one, or one per layer inside a package."""
        leave_a, _ = self._ends(a, b)
        _, arrive_b = self._ends(b, a)
        same_package = self._package(a) is not None and self._package(a) == self._package(b)
        return [(x, y) for x in leave_a for y in arrive_b if x == y or not same_package]

    def inner_arcs(self, node_id: str) -> list[tuple[tuple, tuple, float]]:
        """The arcs through a node, (tail, head, capacity), by its transit flag."""
        flag = self.transit[node_id]
        bw = self.nodes[node_id].get("bandwidth")
        limit = math.inf if bw in (None, "inf") else float(bw)
        if flag == "all":
            return [(("in", node_id, ""), ("out", node_id, ""), limit)]
        if flag == "package":
            return [(("in", node_id, x), ("out", node_id, x), math.inf) for x in ("enter", "leave")]
        if flag == "host-device":
            return [
                (("in", node_id, "host"), ("out", node_id, "device"), math.inf),
                (("in", node_id, "device"), ("out", node_id, "host"), math.inf),
            ]
        return []

    def _add_link(self, link: dict) -> None:
        u, v, c = link["source"], link["target"], float(link["bandwidth"])
        directions = [(u, v)] if link.get("simplex") else [(u, v), (v, u)]
        # A half-duplex link shares its bandwidth between its directions; for one flow from one
        # half to the other, opposite flows cancel, so it is two arcs like a full-duplex one.
        for a, b in directions:
            pairs = self.copies(a, b)
            if len(pairs) == 1:
                self._arc(("out", a, pairs[0][0]), ("in", b, pairs[0][1]), c)
                continue
            # Copies of one direction in several layers share its bandwidth.
            key = (a, b)
            self.shared[key] = self.shared.get(key, 0.0) + c
            for x, y in pairs:
                self.g.add_edge(("out", a, x), ("in", b, y), share=key)

    def _terminal_arcs(self) -> list[tuple[str, tuple, tuple]]:
        """(endpoint, S arc or None, T arc) for every vertex of every endpoint."""
        arcs = []
        for node_id, owner in self.group.items():
            if node_id not in self.transit:
                continue
            for layer in self._layers(node_id):
                # What starts in a package has not come from outside it.
                source = ("S", ("out", node_id, layer)) if layer != "enter" else None
                arcs.append((owner, source, (("in", node_id, layer), "T")))
        return arcs

    def cut(self, sending: set[str]) -> float:
        """Min cut from the endpoints ``sending`` (with what is inside them) to the others."""
        if self.shared:
            g = self.g.copy()
            for owner, source, sink in self._terminal_arcs():
                if owner in sending and source:
                    g.add_edge(*source)
                elif owner not in sending:
                    g.add_edge(*sink)
            return _max_flow_lp(g, self.shared)
        if self._residual is None:
            # One residual network for every split: only the terminal arcs change.
            for _, source, sink in self._terminal_arcs():
                for arc in (source, sink):
                    if arc:
                        self.g.add_edge(*arc, capacity=1.0)
            self._residual = build_residual_network(self.g, "capacity")
        R = self._residual
        big = R.graph["inf"]
        for owner, source, sink in self._terminal_arcs():
            if source:
                R[source[0]][source[1]]["capacity"] = big if owner in sending else 0
            R[sink[0]][sink[1]]["capacity"] = 0 if owner in sending else big
        return float(edmonds_karp(self.g, "S", "T", residual=R).graph["flow_value"])

    def splits(self) -> Iterator[frozenset[str]]:
        """The sending half of every balanced split, each way round."""
        n = len(self.endpoints)
        for size in sorted({n // 2, n - n // 2}):
            for first in combinations(self.endpoints, size):
                yield frozenset(first)

    def all_cuts(self) -> dict[frozenset[str], float]:
        """The min cut of every balanced split, each way round."""
        return {first: self.cut(set(first)) for first in self.splits()}


def _max_flow_lp(g: nx.DiGraph, shared: dict) -> float:
    """Max flow from S to T when some arcs share one capacity (``share`` names the group), as
    a linear program (scipy's HiGHS). Arcs without ``capacity`` or ``share`` are unlimited."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_array

    arcs = list(g.edges(data=True))
    vertices = {v: i for i, v in enumerate(g.nodes) if v not in ("S", "T")}
    rows, cols, vals = [], [], []
    for k, (u, v, _) in enumerate(arcs):
        if v in vertices:
            rows.append(vertices[v]), cols.append(k), vals.append(1.0)
        if u in vertices:
            rows.append(vertices[u]), cols.append(k), vals.append(-1.0)
    A_eq = coo_array((vals, (rows, cols)), shape=(len(vertices), len(arcs)))
    groups = {key: i for i, key in enumerate(shared)}
    g_rows = [groups[d["share"]] for _, _, d in arcs if "share" in d]
    g_cols = [k for k, (_, _, d) in enumerate(arcs) if "share" in d]
    A_ub = coo_array((np.ones(len(g_rows)), (g_rows, g_cols)), shape=(len(groups), len(arcs)))
    bounds = [(0, d.get("capacity")) for _, _, d in arcs]
    objective = np.array([-1.0 if u == "S" else 0.0 for u, _, _ in arcs])
    res = linprog(
        objective,
        A_ub=A_ub,
        b_ub=np.array(list(shared.values())),
        A_eq=A_eq,
        b_eq=np.zeros(len(vertices)),
        bounds=bounds,
        method="highs",
    )
    assert res.status == 0, res.message
    return float(-res.fun)


def oracle_for(t: Topology, endpoints: np.ndarray, model: str = "ideal") -> Oracle:
    """An oracle from the topology's exported JSON (a text round trip: nothing shared)."""
    doc = json.loads(dumps_json(t))
    ids = [t.nodes.ids[r] for r in endpoints.tolist()]
    return Oracle(doc, ids, transit_flags(doc, model))


# -- hand-worked checks of the oracle itself ----------------------------------------------------


def two_gpus_through(kind: str, relay: bool = False, **attrs) -> Topology:
    """g0 -- x -- g1 and g2 -- g3 on their own; endpoints are the four GPUs."""
    b = TopologyBuilder()
    for i in range(4):
        b.add_node(f"g{i}", "gpu")
    b.add_node("x", kind, relay=True if relay else None, **attrs)
    b.add_link("g0", "x", bandwidth=10 * GB)
    b.add_link("x", "g1", bandwidth=10 * GB)
    b.add_link("g2", "g3", bandwidth=5 * GB)
    return b.build()


@pytest.mark.parametrize(
    "kind, relay, model, value",
    [
        ("switch", False, "ideal", 10 * GB),  # g0 -> x -> g1
        ("switch", False, "hardware", 10 * GB),  # switches forward
        ("gpu", False, "ideal", 10 * GB),
        ("gpu", False, "hardware", 0.0),  # a GPU does not relay
        ("gpu", True, "hardware", 10 * GB),  # unless it says so
        ("cxl_memory", False, "ideal", 0.0),  # memory never relays
        ("cxl_memory", False, "hardware", 0.0),
    ],
)
def test_oracle_hand_worked_relays(kind, relay, model, value) -> None:
    t = two_gpus_through(kind, relay)
    o = oracle_for(t, t.rows_of_kind("gpu")[:4], model)
    assert o.cut({"g0", "g2"}) == value + 5 * GB
    assert o.cut({"g0"}) == value  # an unbalanced query works too


def two_packages() -> TopologyBuilder:
    """Packages p0 and p1 of two chiplets each (100 GB/s inside); p0.c0 -- p1.c0 and
    p0.c1 -- p1.c1 at 10 GB/s."""
    b = TopologyBuilder()
    for p in range(2):
        b.add_node(f"p{p}", "gpu")
        for c in range(2):
            b.add_node(f"p{p}.c{c}", "chiplet", parent=f"p{p}")
        b.add_link(f"p{p}.c0", f"p{p}.c1", bandwidth=100 * GB)
    b.add_link("p0.c0", "p1.c0", bandwidth=10 * GB)
    b.add_link("p0.c1", "p1.c1", bandwidth=10 * GB)
    return b


def test_oracle_hand_worked_package_and_cxl_switch() -> None:
    # Endpoints p0.c0 and the CPU h, which reaches p0.c1 through a CXL switch.
    b = two_packages()
    b.add_node("h", "cpu")
    b.add_node("sw", "cxl_switch")
    b.add_node("mem", "cxl_memory")
    b.add_link("h", "sw", bandwidth=64 * GB)
    b.add_link("p0.c1", "sw", bandwidth=64 * GB)  # a device (a GPU's die) to the host: passes
    b.add_link("mem", "sw", bandwidth=64 * GB)
    t = b.build()
    ends = np.array([t.index("p0.c0"), t.index("h")])
    # Ideal: p0.c0 -> p0.c1 directly (100) and round through p1 (10), then the switch (64).
    assert oracle_for(t, ends, "ideal").cut({"p0.c0"}) == 64 * GB
    # Hardware: the same, since p0.c0 -> p0.c1 stays inside package p0 (the endpoint's own).
    assert oracle_for(t, ends, "hardware").cut({"p0.c0"}) == 64 * GB
    # Endpoints p0.c0 and p0.c1, joined inside p0 and through p1: p1 must not carry it.
    t2 = two_packages().build()
    ends = np.array([t2.index("p0.c0"), t2.index("p0.c1")])
    cut = {"p0.c0"}
    assert oracle_for(t2, ends, "ideal").cut(cut) == 110 * GB  # 100 inside, 10 through p1
    assert oracle_for(t2, ends, "hardware").cut(cut) == 100 * GB
    # A CXL switch does not carry host to host, nor device to device (a CPU may relay).
    for names, pair, ideal_value, hard_value in (
        (("h0", "h1", "d0"), ("h0", "h1"), 64 * GB, 0.0),
        (("h0", "h1", "d0"), ("h0", "d0"), 64 * GB, 64 * GB),
        (("d0", "d1"), ("d0", "d1"), 64 * GB, 0.0),
        (("h0", "d0", "d1"), ("d0", "d1"), 64 * GB, 64 * GB),  # through the host's root port
    ):
        b3 = TopologyBuilder()
        b3.add_node("sw", "cxl_switch")
        b3.add_node("mem", "cxl_memory")
        b3.add_link("mem", "sw", bandwidth=64 * GB)
        for name in names:
            b3.add_node(name, "cpu" if name.startswith("h") else "gpu")
            b3.add_link(name, "sw", bandwidth=64 * GB)
        t3 = b3.build()
        ends = np.array([t3.index(x) for x in pair])
        assert oracle_for(t3, ends, "ideal").cut({pair[0]}) == ideal_value
        assert oracle_for(t3, ends, "hardware").cut({pair[0]}) == hard_value


# -- random graphs ------------------------------------------------------------------------------


def random_graph(
    rng: np.random.Generator, model: str = "ideal", cxl_switch: bool = True
) -> tuple[Topology, np.ndarray]:
    """A small random topology and its endpoint rows (deterministic for a given ``rng``).

    GPUs (some as packages of chiplets under the hardware model, a few relaying), switches and
    NICs with and without limits (under the hardware model some with ``relay = false``), CPUs
    with DRAM, CXL memory with one to four heads, sometimes behind a CXL switch (unless
    ``cxl_switch`` is False) that may hang off another switch; links of 1-40 GB/s, some one-way,
    some half-duplex. The endpoints are every GPU, or (sometimes) a choice of GPUs and CPUs, or
    (hardware model, sometimes) the first two chiplets of every package, so that a split can
    run through a package.
    """
    hardware = model == "hardware"
    b = TopologyBuilder()
    gpus: list[str] = []
    chiplets: list[str] = []
    linkable: list[str] = []
    n_gpu = int(rng.integers(2, 9))
    for i in range(n_gpu):
        name = f"g{i}"
        if hardware and rng.random() < 0.25:
            b.add_node(name, "gpu", relay=True if rng.random() < 0.1 else None)
            dies = 3 if rng.random() < 0.3 else 2
            for c in range(dies):
                b.add_node(f"{name}.c{c}", "chiplet", parent=name)
                linkable.append(f"{name}.c{c}")
            for c in range(1, dies):
                b.add_link(f"{name}.c{c - 1}", f"{name}.c{c}",
                           bandwidth=int(rng.integers(1, 200)) * GB)  # fmt: skip
            chiplets += [f"{name}.c0", f"{name}.c1"]
        else:
            relay = model == "hardware" and rng.random() < 0.2
            limit = int(rng.integers(5, 60)) * GB if rng.random() < 0.2 else None
            b.add_node(name, "gpu", bandwidth=limit, relay=True if relay else None)
            linkable.append(name)
        gpus.append(name)
    switches = []
    for j in range(int(rng.integers(0, 4))):
        kind = ["switch", "nvswitch", "pcie_switch", "nic"][int(rng.integers(0, 4))]
        limit = int(rng.integers(1, 40)) * GB if rng.random() < 0.3 else None
        stop = hardware and rng.random() < 0.1
        b.add_node(f"s{j}", kind, bandwidth=limit, relay=False if stop else None)
        switches.append(f"s{j}")
        linkable.append(f"s{j}")
    cpus = []
    for j in range(int(rng.integers(0, 3))):
        b.add_node(
            f"cpu{j}",
            "cpu",
            bandwidth=int(rng.integers(10, 80)) * GB if rng.random() < 0.3 else None,
        )
        b.add_node(f"cpu{j}.dram", "dram", parent=f"cpu{j}")
        b.add_link(f"cpu{j}", f"cpu{j}.dram", bandwidth=50 * GB)
        linkable.append(f"cpu{j}")
        cpus.append(f"cpu{j}")
    hosts = [x for x in linkable if not x.startswith("s")]
    cxl = []
    if cxl_switch and rng.random() < 0.4 and hosts:
        b.add_node("cxl", "cxl_switch")
        cxl.append("cxl")
        for h in rng.choice(hosts, size=min(len(hosts), int(rng.integers(1, 4))), replace=False):
            b.add_link(str(h), "cxl", bandwidth=int(rng.integers(1, 64)) * GB)
        if hardware and switches and rng.random() < 0.3:
            # Its side towards a switch depends on which of the two is nearer a CPU.
            b.add_link(str(rng.choice(switches)), "cxl", bandwidth=int(rng.integers(1, 64)) * GB)
    for k in range(int(rng.integers(0, 4))):
        b.add_node(
            f"m{k}",
            "cxl_memory",
            bandwidth=int(rng.integers(5, 64)) * GB if rng.random() < 0.3 else None,
        )
        pool = cxl + linkable
        heads = min(len(pool), int(rng.integers(1, 5)))
        for h in rng.choice(pool, size=heads, replace=False):
            b.add_link(f"m{k}", str(h), bandwidth=int(rng.integers(1, 64)) * GB)
    others = linkable
    for _ in range(int(rng.integers(1, 3 * len(others) + 1))):
        a, c = rng.choice(len(others), size=2, replace=False)
        kind = rng.random()
        b.add_link(
            others[a],
            others[c],
            bandwidth=int(rng.integers(1, 41)) * GB,
            simplex=bool(kind < 0.12),
            half_duplex=bool(0.12 <= kind < 0.24),
        )
    t = b.build()
    plain = [x for x in gpus if not any(c.startswith(f"{x}.") for c in chiplets)]
    if hardware and chiplets and len(chiplets) + len(plain) <= 8 and rng.random() < 0.3:
        # Chiplets as endpoints: a split may separate two dies of one package.
        ends = np.array(sorted(t.index(x) for x in chiplets + plain))
    elif rng.random() < 0.25 and cpus:
        # Endpoints other than every GPU: a GPU or CPU left out may have to relay.
        pool = [t.index(x) for x in gpus + cpus]
        size = int(rng.integers(2, len(pool) + 1))
        ends = np.sort(rng.choice(pool, size=size, replace=False))
    else:
        ends = np.array(sorted(t.index(x) for x in gpus))
    return t, ends


def hardware_model_available() -> bool:
    t, ends = random_graph(np.random.default_rng(0))
    try:
        bisection(t, ends, forwarding="hardware")
    except SolverError as e:
        if "forwarding model" in str(e):
            return False
        raise
    return True


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0) + 1e-3


def path_rules_may_bind(t: Topology, ends: np.ndarray, model: str) -> bool:
    """Whether the fabric rule or CXL binding (rules on whole paths, which this oracle's max
    flows do not express) may bind: a fabric domain holding two endpoints, or a shared CXL
    domain; by the definitions in docs/solvers.md, as the path oracle reads them."""
    if model == "ideal":
        return False
    domains = path_oracle._oracle_domains(t, model)
    owner = endpoint_of(t, ends)
    held: dict[int, set[int]] = {}
    for row, e in owner.items():
        if row in domains:
            held.setdefault(domains[row], set()).add(e)
    return any(len(v) > 1 for v in held.values()) or bool(path_oracle._oracle_cxl(t, model))


def endpoint_of(t: Topology, ends: np.ndarray) -> dict[int, int]:
    """Each row inside an endpoint (or the endpoint itself): that endpoint's row."""
    chosen = set(ends.tolist())
    out = {}
    for r in range(t.num_nodes):
        cur = r
        while cur >= 0 and cur not in chosen:
            cur = int(t.nodes.parent[cur])
        if cur >= 0 and t.kind_of(r) not in CONTAINER_KINDS:
            out[r] = cur
    return out


def path_oracle_cuts(t: Topology, ends: np.ndarray, model: str) -> dict[frozenset[str], float]:
    """Every balanced split's figure by the path oracle (every simple path that obeys the
    rules, one linear program per split); endpoints send and receive without limit, so only
    for graphs whose endpoints have none."""
    owner = endpoint_of(t, ends)
    ids = t.nodes.ids
    out = {}
    n = len(ends)
    for size in sorted({n // 2, n - n // 2}):
        for first in combinations(ends.tolist(), size):
            send = [r for r, e in owner.items() if e in first]
            take = [r for r, e in owner.items() if e not in first]
            value = path_oracle.brute_force(t, send, take, model)
            out[frozenset(ids[e] for e in first)] = value
    return out


def small_enough_for_paths(t: Topology, ends: np.ndarray) -> bool:
    owner = endpoint_of(t, ends)
    limited = any(np.isfinite(t.nodes.bandwidth[r]) for r in owner)
    return not limited and t.num_nodes <= 12 and t.num_links <= 14


def check_against_oracle(t: Topology, ends: np.ndarray, model: str) -> bool:
    """The assertions every random graph must pass; False when the path rules may bind and
    the graph is too large for the path oracle (nothing checked)."""
    if path_rules_may_bind(t, ends, model):
        if not small_enough_for_paths(t, ends):
            return False
        cuts = path_oracle_cuts(t, ends, model)
    else:
        cuts = oracle_for(t, ends, model).all_cuts()
    truth = min(cuts.values())
    ids = t.nodes.ids
    exact = bisection(t, ends, forwarding=model)
    assert exact.exact and close(exact.upper_bound, truth), (exact.upper_bound, truth)
    heuristic = bisection(t, ends, exhaustive_limit=0, forwarding=model)
    assert heuristic.lower_bound <= truth * (1 + 1e-9) + 1e-3
    for bound in heuristic.lower_bounds:
        assert bound.value <= truth * (1 + 1e-9) + 1e-3, (bound, truth)
    for result in (exact, heuristic):
        for bound in result.upper_bounds:
            sending = frozenset(ids[r] for r in bound.sending.tolist())
            assert close(bound.value, cuts[sending]), (bound, cuts[sending])
        witness = frozenset(result.halves[0])
        assert close(result.upper_bound, cuts[witness])
        assert close(math.fsum(c.bandwidth for c in result.cut), result.upper_bound)
        assert result.lower_bound <= result.bidirectional_lower_bound
        assert result.bidirectional_lower_bound <= result.bidirectional_upper_bound * (1 + 1e-9)
    return True


SEEDS_PER_CASE = 100
CASES = 20  # 2,000 random graphs per model


@pytest.mark.parametrize("case", range(CASES))
def test_random_graphs_against_the_oracle(case: int) -> None:
    rng = np.random.default_rng(1_000 + case)
    for _ in range(SEEDS_PER_CASE):
        t, ends = random_graph(rng)
        check_against_oracle(t, ends, "ideal")


def test_the_hardware_rules_only_take_capacity_away() -> None:
    # Forbidding relays (GPUs, packages, CXL switch host to host) never adds a path: on every
    # split the oracle's hardware cut is at most its ideal one, and sometimes less.
    rng = np.random.default_rng(4_000)
    smaller = 0
    for _ in range(60):
        t, ends = random_graph(rng, "hardware")
        hardware = oracle_for(t, ends, "hardware").all_cuts()
        ideal = oracle_for(t, ends, "ideal").all_cuts()
        assert all(hardware[k] <= ideal[k] * (1 + 1e-9) + 1e-3 for k in hardware)
        smaller += min(hardware.values()) < min(ideal.values()) * (1 - 1e-9)
    assert smaller > 0


@pytest.mark.parametrize("case", range(CASES))
def test_random_graphs_against_the_oracle_hardware_forwarding(case: int) -> None:
    if not hardware_model_available():
        pytest.skip("the flow core has no hardware forwarding model yet (forwarding branch)")
    rng = np.random.default_rng(5_000 + case)
    # Graphs where the fabric rule or CXL binding may bind (GPUs linked to each other, a CXL
    # domain on two sockets: most of them) are checked by the path oracle when small enough,
    # and drawn again otherwise, up to a hundred checked graphs.
    checked = drawn = 0
    while checked < SEEDS_PER_CASE:
        drawn += 1
        assert drawn <= 10 * SEEDS_PER_CASE
        t, ends = random_graph(rng, "hardware")
        checked += check_against_oracle(t, ends, "hardware")


def with_extra_link(t: Topology, rng: np.random.Generator) -> Topology:
    """``t`` with one more link between two random non-container components."""
    b = TopologyBuilder()
    for row in range(t.num_nodes):
        p = int(t.nodes.parent[row])
        b.add_node(
            t.nodes.ids[row],
            t.kind_of(row),
            parent=t.nodes.ids[p] if p >= 0 else None,
            bandwidth=float(t.nodes.bandwidth[row]),
            **dict(t.nodes.extra.get(row, {})),
        )
    L = t.links
    for e in range(t.num_links):
        b.add_link(
            int(L.src[e]),
            int(L.dst[e]),
            bandwidth=float(L.bandwidth[e]),
            simplex=bool(L.simplex[e]),
            half_duplex=bool(L.half_duplex[e]),
        )
    linkable = [r for r in range(t.num_nodes) if t.kind_of(r) not in CONTAINER_KINDS]
    a, c = rng.choice(linkable, size=2, replace=False)
    b.add_link(int(a), int(c), bandwidth=int(rng.integers(1, 41)) * GB, simplex=rng.random() < 0.2)
    return b.build()


def test_adding_a_link_never_lowers_an_exact_bisection() -> None:
    rng = np.random.default_rng(77)
    for _ in range(150):
        t, ends = random_graph(rng)
        more = with_extra_link(t, rng)
        before = bisection(t, ends, forwarding="ideal")
        after = bisection(more, ends, forwarding="ideal")
        assert before.exact and after.exact
        assert after.upper_bound >= before.upper_bound * (1 - 1e-12)
        truth = min(oracle_for(more, ends).all_cuts().values())
        assert close(after.upper_bound, truth)
        # The heuristic path's bounds still bracket the new truth.
        h = bisection(more, ends, exhaustive_limit=0, forwarding="ideal")
        assert h.lower_bound <= truth * (1 + 1e-9) + 1e-3 <= h.upper_bound * (1 + 2e-9) + 2e-3


def test_the_oracle_reads_what_the_command_line_exports(tmp_path) -> None:
    # What a user of the export gets: a NetworkX max flow built from the exported JSON alone
    # matches the command line's ideal model (every non-memory component relays, no path
    # rules); and the hardware model, the default, matches the path oracle (every simple path
    # obeying the fabric rule and the relays, docs/solvers.md) run on the topology read back
    # from that JSON, so the export carries everything the rules are decided from (kinds,
    # packages, relay flags).
    rng = np.random.default_rng(11)
    bound = 0
    for k in range(40):
        t, _ = random_graph(rng, cxl_switch=False)
        ends = np.array(sorted(t.index(x) for x in t.nodes.ids if t.kind_of(t.index(x)) == "gpu"))
        rules = path_rules_may_bind(t, ends, "hardware")
        if rules and not small_enough_for_paths(t, ends):
            continue
        src = tmp_path / f"g{k}.json"
        src.write_text(dumps_json(t), encoding="utf-8")
        exported = run_topodsl("export", src, "--format", "json")
        assert exported.returncode == 0, exported.stderr
        doc = json.loads(exported.stdout)
        gpus = [node["id"] for node in doc["nodes"] if node["kind"] == "gpu"]
        for model in ("ideal", "hardware"):
            analysed = run_topodsl("analyze", "bisection", src, "--json", "--forwarding", model)
            assert analysed.returncode == 0, analysed.stderr
            got = json.loads(analysed.stdout)
            if model == "hardware" and rules:
                back = loads_json(exported.stdout)
                cuts = path_oracle_cuts(back, resolve_endpoints(back, gpus), model)
            else:
                cuts = Oracle(doc, gpus, transit_flags(doc, model)).all_cuts()
            assert got["exact"] and close(got["upper_bound"], min(cuts.values())), (model, k)
            assert close(got["upper_bound"], cuts[frozenset(got["halves"][0])])
        bound += rules
        if k >= 3 and bound:
            break
    assert bound, "no graph where the fabric rule binds was drawn"


# -- both directions at once --------------------------------------------------------------------


def exchange_lp(doc: dict, endpoints: list[str], sending: set[str], model: str = "ideal") -> float:
    """Most the halves can send each other at once, both directions added: two commodities
    (A to B, B to A) in the oracle's network for ``model`` (layers and sides included), where
    every copy of a link direction in either commodity shares that direction's bandwidth, all
    four directions of a half-duplex link share its bandwidth, and a device's limit caps each
    direction of the exchange (each commodity) separately. A linear program (HiGHS)."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_array

    oracle = Oracle(doc, endpoints, transit_flags(doc, model))
    arcs: list[tuple] = []  # (tail, head, commodity, budget key)
    budgets: dict = {}
    for x in oracle.transit:
        for u, v, limit in oracle.inner_arcs(x):
            for k in (0, 1):
                key = ("device", x, k)
                budgets[key] = limit
                arcs.append((u, v, k, key))
    for e, link in enumerate(doc["links"]):
        u, v, c = link["source"], link["target"], float(link["bandwidth"])
        directions = [(u, v)] if link.get("simplex") else [(u, v), (v, u)]
        half = link.get("duplex") == "half"
        for a, b in directions:
            key = ("link", e) if half else ("link", e, a, b)
            budgets[key] = c
            for x, y in oracle.copies(a, b):
                for k in (0, 1):
                    arcs.append((("out", a, x), ("in", b, y), k, key))
    for owner, source, sink in oracle._terminal_arcs():
        k_send = 0 if owner in sending else 1
        if source:
            arcs.append((("S", k_send), source[1], k_send, None))
        arcs.append((sink[0], ("T", 1 - k_send), 1 - k_send, None))
    # Vertices without a through arc (memory) keep separate in and out vertices.
    vertex: dict = {}
    rows, cols, vals = [], [], []
    for j, (t, h, k, _) in enumerate(arcs):
        for end, sign in ((h, 1.0), (t, -1.0)):
            if end[0] in ("S", "T"):
                continue
            i = vertex.setdefault((end, k), len(vertex))
            rows.append(i), cols.append(j), vals.append(sign)
    keys = [key for key, cap in budgets.items() if math.isfinite(cap)]
    index = {key: i for i, key in enumerate(keys)}
    b_rows, b_cols = [], []
    for j, (*_, key) in enumerate(arcs):
        if key in index:
            b_rows.append(index[key]), b_cols.append(j)
    res = linprog(
        np.array([-1.0 if t[0] == "S" else 0.0 for t, *_ in arcs]),
        A_ub=coo_array((np.ones(len(b_rows)), (b_rows, b_cols)), shape=(len(keys), len(arcs))),
        b_ub=np.array([budgets[key] for key in keys]),
        A_eq=coo_array((vals, (rows, cols)), shape=(len(vertex), len(arcs))),
        b_eq=np.zeros(len(vertex)),
        bounds=[(0, None)] * len(arcs),
        method="highs",
    )
    assert res.status == 0, res.message
    return float(-res.fun)


def test_half_duplex_link_counts_once_both_ways() -> None:
    b = TopologyBuilder()
    b.add_node("a", "gpu")
    b.add_node("b", "gpu")
    b.add_link("a", "b", bandwidth=10 * GB, half_duplex=True)
    r = bisection(b.build())
    assert r.exact and r.upper_bound == 10 * GB
    assert r.bidirectional_lower_bound == r.bidirectional_upper_bound == 10 * GB


@pytest.mark.parametrize("model, seed", [("ideal", 3), ("hardware", 4)])
def test_bidirectional_bounds_bracket_the_exchange(model: str, seed: int) -> None:
    # Under the hardware model too: a package's layers and a CXL switch's sides may let one
    # direction of the exchange use a link both ways (a host turning device traffic round),
    # which the bidirectional lower bound must allow for.
    rng = np.random.default_rng(seed)
    checked = 0
    while checked < 120:
        t, ends = random_graph(rng, model)
        # The exchange program follows the oracle's network, without the path rules.
        if len(ends) > 6 or path_rules_may_bind(t, ends, model):
            continue
        checked += 1
        doc = json.loads(dumps_json(t))
        ids = [t.nodes.ids[r] for r in ends.tolist()]
        for r in (bisection(t, ends, forwarding=model),
                  bisection(t, ends, forwarding=model, exhaustive_limit=0)):  # fmt: skip
            n = len(ids)
            both = min(
                exchange_lp(doc, ids, set(first), model) for first in combinations(ids, n // 2)
            )
            assert r.bidirectional_lower_bound <= both * (1 + 1e-7) + 1e-3, (r, both)
            witness = exchange_lp(doc, ids, set(r.halves[0]), model)
            assert witness <= r.bidirectional_upper_bound * (1 + 1e-7) + 1e-3, (r, witness)
