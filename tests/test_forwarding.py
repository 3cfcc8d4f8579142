"""The forwarding model: each rule on a case checked by hand, the issue's figures, and a
brute-force oracle (every simple path that obeys the rules, one linear program) on random
small graphs with packages, relays, CXL switches, memory, limits and one-way links."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy.optimize import linprog

import topodsl
from topodsl.errors import SolverError
from topodsl.solvers.bisection import bisection
from topodsl.solvers.dataflow import data_flow
from topodsl.solvers.flow import build_network, max_flow
from topodsl.solvers.forwarding import CLASSES, forwarding_plan
from topodsl.solvers.reach import TIERS, memory_reach
from topodsl.topology import Topology, TopologyBuilder

GB = 1e9
ROOT = Path(__file__).resolve().parent.parent / "topologies"


def flow(t: Topology, a: str, b: str, forwarding: str = "hardware") -> float:
    return max_flow(t, t.select(a), t.select(b), forwarding=forwarding).value


def chain(*kinds: str, relay: dict[int, bool] | None = None) -> Topology:
    """Components in a line, 10 GB/s between neighbours."""
    b = TopologyBuilder()
    for i, k in enumerate(kinds):
        b.add_node(f"v{i}", k, relay=(relay or {}).get(i))
    for i in range(len(kinds) - 1):
        b.add_link(f"v{i}", f"v{i + 1}", bandwidth=10 * GB)
    return b.build()


# -- kind defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "middle, forwards",
    [
        ("switch", True),
        ("nvswitch", True),
        ("pcie_switch", True),
        ("nic", True),
        ("cpu", True),
        ("gpu", False),
        ("chiplet", False),
        ("hbm", False),
        ("dram", False),
        ("cxl_memory", False),
        ("ssd", False),
    ],
)
def test_each_kind_forwards_or_not_by_default(middle: str, forwards: bool) -> None:
    t = chain("switch", middle, "switch")
    assert flow(t, "v0", "v2") == (10 * GB if forwards else 0.0)
    # The ideal ceiling lets everything but memory and storage forward.
    ideal = middle not in ("hbm", "dram", "cxl_memory", "ssd")
    assert flow(t, "v0", "v2", "ideal") == (10 * GB if ideal else 0.0)


def test_a_gpu_is_where_traffic_starts_or_ends() -> None:
    t = chain("switch", "gpu", "switch")
    assert flow(t, "v1", "v0") == 10 * GB and flow(t, "v0", "v1") == 10 * GB
    assert flow(t, "v1", "v0,v2") == 20 * GB  # sends on both links at once


@pytest.mark.parametrize("kind", ["gpu", "chiplet", "switch", "nic", "cpu", "pcie_switch"])
def test_relay_attribute_overrides_the_default(kind: str) -> None:
    on = chain("switch", kind, "switch", relay={1: True})
    off = chain("switch", kind, "switch", relay={1: False})
    assert flow(on, "v0", "v2") == 10 * GB
    assert flow(off, "v0", "v2") == 0.0
    # relay = false still lets traffic start and end there.
    assert flow(off, "v1", "v0") == 10 * GB
    # The ideal ceiling ignores relay = false.
    assert flow(off, "v0", "v2", "ideal") == 10 * GB


def test_relay_in_the_language_on_a_definition_and_an_instance() -> None:
    text = """
    link l { bandwidth = 10 GB/s }
    def gpu Chip { relay = true }
    cluster c {
        Chip a
        gpu b
        gpu e { relay = true }
        switch s[2]
        connect s[0] -- a via l
        connect a -- s[1] via l
        connect s[0] -- b via l
        connect b -- s[1] via l
        connect s[0] -- e via l
        connect e -- s[1] via l
    }
    """
    t = topodsl.loads(text)
    assert flow(t, "c.s0", "c.s1") == 20 * GB  # through a and e; b does not relay
    plan = forwarding_plan(t)
    assert [t.nodes.ids[r] for r in np.flatnonzero(plan.beyond)] == ["c.a", "c.e"]
    with pytest.raises(topodsl.TopoError, match="relay must be true or false"):
        topodsl.loads("cluster c { gpu g { relay = 1 } }")
    with pytest.raises(topodsl.TopoError, match="unknown attribute 'relay' for a hbm"):
        topodsl.loads("cluster c { hbm m { relay = true } }")


def test_relay_from_json_must_be_a_boolean() -> None:
    b = TopologyBuilder()
    b.add_node("g", "gpu", relay="yes")
    with pytest.raises(SolverError, match="must be true or false"):
        forwarding_plan(b.build())


# -- packages ------------------------------------------------------------------------------------


def package(b: TopologyBuilder, name: str, relay=None, inner_relay=None) -> None:
    """A GPU package of two I/O dies, each with a compute die and an HBM stack."""
    b.add_node(name, "gpu", relay=relay)
    bond = 100 * GB
    for i in range(2):
        iod = f"{name}.iod{i}"
        b.add_node(iod, "chiplet", parent=name, relay=inner_relay)
        b.add_node(f"{iod}.xcd", "chiplet", parent=iod)
        b.add_node(f"{iod}.hbm", "hbm", parent=iod, capacity=24 * GB, bandwidth=600 * GB)
        b.add_link(f"{iod}.xcd", iod, bandwidth=bond)
        b.add_link(iod, f"{iod}.hbm", bandwidth=600 * GB)
        if i:
            b.add_link(f"{name}.iod{i - 1}", iod, bandwidth=1000 * GB)


def three_packages(**middle) -> Topology:
    """p0 -- p1 -- p2 in a line (64 GB/s each), entering p1 at iod0 and leaving at iod1."""
    b = TopologyBuilder()
    for p in range(3):
        package(b, f"p{p}", **(middle if p == 1 else {}))
    b.add_link("p0.iod1", "p1.iod0", bandwidth=64 * GB)
    b.add_link("p1.iod1", "p2.iod0", bandwidth=64 * GB)
    return b.build()


def test_chiplets_forward_inside_their_package() -> None:
    t = three_packages()
    # A compute die to the other die's HBM: over the I/O dies, inside the package.
    assert flow(t, "p0.iod0.hbm", "p0.iod1.xcd") == 100 * GB
    # A compute die to the package's external link, through its I/O die and the next one.
    assert flow(t, "p0.iod0.xcd", "p1.iod0.xcd") == 64 * GB
    # From outside to a stack deep inside: in at iod0, across to iod1.
    assert flow(t, "p0.**.xcd", "p1.iod1.hbm") == 64 * GB


def test_traffic_never_crosses_a_package_from_one_external_link_to_another() -> None:
    t = three_packages()
    assert flow(t, "p0.iod0.xcd", "p2.iod1.xcd") == 0.0
    assert flow(t, "p0.**.hbm", "p2.**.hbm") == 0.0
    assert flow(t, "p0.iod0.xcd", "p2.iod1.xcd", "ideal") == 64 * GB
    r = max_flow(t, t.select("p0.iod0.xcd"), t.select("p2.iod1.xcd"), forwarding="ideal")
    assert r.relays == ("p1",) and r.relay_gain == 64 * GB


def test_a_package_that_declares_relay_forwards_between_its_external_links() -> None:
    r = max_flow(*_ends(three_packages(relay=True), "p0.iod0.xcd", "p2.iod1.xcd"))
    assert r.value == 64 * GB and r.relays == ("p1",) and r.relay_gain == 64 * GB
    # relay on a chiplet inside the package changes nothing: the package decides.
    assert flow(three_packages(inner_relay=True), "p0.iod0.xcd", "p2.iod1.xcd") == 0.0


def _ends(t: Topology, a: str, b: str):
    return t, t.select(a), t.select(b)


def test_hbm_declared_beside_its_gpu_belongs_to_it() -> None:
    # HBM written next to the GPU (not inside it) but linked only to it: still its memory.
    b = TopologyBuilder()
    for g in range(2):
        b.add_node(f"g{g}", "gpu")
        b.add_node(f"m{g}", "hbm", capacity=80 * GB)
        b.add_link(f"g{g}", f"m{g}", bandwidth=3000 * GB)
        b.add_node(f"sw{g}", "switch")
    for g in range(2):
        b.add_link(f"g{g}", "sw0", bandwidth=450 * GB)
    t = b.build()
    assert flow(t, "m1", "g0") == 450 * GB
    plan = forwarding_plan(t)
    assert plan.seal[t.index("m1")] == t.index("g1")


def test_layered_package_without_internal_links_is_split_in_two() -> None:
    # A GPU with no members: an in and an out vertex and no arc between, like memory.
    t = chain("switch", "gpu", "switch")
    net = build_network(t)
    g = t.index("v1")
    assert net.vin[g] != net.vout[g]
    inside = (net.owner[net.tail] == g) & (net.owner[net.head] == g)
    assert not inside.any()
    assert [CLASSES[k] for k in forwarding_plan(t).klass] == ["transit", "sealed", "transit"]


def test_both_layers_of_a_package_share_its_links() -> None:
    # One die of a package is a sink, its own stack a source and an outside switch a source
    # too: the traffic from outside (inbound layer) and from the stack (native layer) share
    # the die-to-die link. The relaxation would count that link twice: a linear program
    # keeps it once.
    b = TopologyBuilder()
    b.add_node("p", "gpu")
    b.add_node("p.a", "chiplet", parent="p")
    b.add_node("p.b", "chiplet", parent="p")
    b.add_node("p.b.hbm", "hbm", parent="p.b", capacity=GB)
    b.add_node("sw", "switch")
    b.add_link("p.a", "p.b", bandwidth=10 * GB)
    b.add_link("p.b", "p.b.hbm", bandwidth=100 * GB)
    b.add_link("sw", "p.b", bandwidth=100 * GB)
    b.add_link("sw", "p.a", bandwidth=1 * GB)  # makes p.a's link external: p is sealed
    t = b.build()
    r = max_flow(t, [t.index("p.b.hbm"), t.index("sw")], [t.index("p.a")])
    assert r.value == pytest.approx(11 * GB, rel=1e-9)  # 10 over the die link + 1 direct
    assert r.value == pytest.approx(brute_force(t, r_sources(t, "p.b.hbm,sw"), [t.index("p.a")]))
    assert r.lower <= r.value <= r.upper * (1 + 1e-9)


def r_sources(t: Topology, sel: str) -> list[int]:
    return t.select(sel).tolist()


# -- CXL switches -------------------------------------------------------------------------------

TWO_SOCKET_CXL = """
link ddr5  { bandwidth = 38.4 GB/s }
link upi   { bandwidth = 32 GB/s }
link cxl16 { bandwidth = 64 GB/s }

node server {
    cpu        cpu[2]
    dram       dimm[2] { capacity = 512 GB, bandwidth = 8 * 38.4 GB/s, latency = 100 ns }
    cxl_switch sw      { latency = 70 ns }
    cxl_memory exp[2]  { capacity = 256 GB, bandwidth = 64 GB/s, latency = 170 ns }

    connect cpu[i] -- dimm[i] via ddr5 x8
    connect cpu[0] -- cpu[1]  via upi x3          # 96 GB/s each way
    connect cpu[*] -- sw      via cxl16           # both sockets on one CXL switch
    connect sw     -- exp[*]  via cxl16
}
"""


@pytest.fixture(scope="module")
def two_socket() -> Topology:
    return topodsl.loads(TWO_SOCKET_CXL)


def test_two_socket_cxl_switch_does_not_route_host_to_host(two_socket) -> None:
    t = two_socket
    # Issue 10: socket 0's DIMMs to socket 1 got 96 GB/s of UPI plus 64 GB/s through the CXL
    # switch, host to host. A CXL 2.0 switch does not route that: 96 GB/s.
    assert flow(t, "server.dimm0", "server.cpu1") == 96 * GB
    r = data_flow(t, "server.dimm0", "server.cpu1", forwarding="ideal")
    assert r.throughput == 160 * GB
    assert r.relays == ("server.sw",) and r.relay_gain == 64 * GB
    plan = forwarding_plan(t)
    assert CLASSES[plan.klass[t.index("server.sw")]] == "sided"


def test_two_socket_cxl_tier(two_socket) -> None:
    t = two_socket
    r = memory_reach(t, "server.cpu0")
    tiers = {TIERS[k]: bw for k, bw in zip(r.tiers.tier, r.tiers.bandwidth, strict=True)}
    # Both expanders at once: 64 GB/s through the socket's own CXL port, and 64 GB/s more
    # through socket 1's port and the UPI links. That second path goes device to host at the
    # switch (which it routes) and then over the socket link (a CPU forwards): it is a remote
    # NUMA access, not host to host through the switch, so it stays.
    assert tiers["cxl"] == 128 * GB
    assert flow(t, "server.exp[*]", "server.cpu0") == 128 * GB
    # With the UPI links gone only the socket's own port is left: 64 GB/s, and the ideal
    # ceiling's host-to-host route through the switch gives nothing more (it reaches the
    # socket over the same port).
    no_upi = topodsl.loads(TWO_SOCKET_CXL.replace("connect cpu[0] -- cpu[1]  via upi x3", ""))
    assert flow(no_upi, "server.exp[*]", "server.cpu0") == 64 * GB
    assert flow(no_upi, "server.exp[*]", "server.cpu0", "ideal") == 64 * GB
    # Socket 1's DIMMs from socket 0: 96 GB/s over UPI; the path through the switch is not a
    # path at all.
    rows = {r.names[m]: (bw, lat) for m, bw, lat in zip(r.memory, r.bandwidth, r.latency,
                                                          strict=True)}  # fmt: skip
    assert rows["server.dimm1"][0] == 96 * GB
    ideal = memory_reach(t, "server.cpu0", forwarding="ideal")
    got = {ideal.names[m]: x for m, x in zip(ideal.memory, ideal.relayed, strict=True)}
    assert got == {"server.dimm0": False, "server.dimm1": True, "server.exp0": False,
                   "server.exp1": False}  # fmt: skip


def test_cxl_switch_sides_come_from_the_kinds_at_each_end() -> None:
    # A cascade: cpu -- sw_up -- sw_down -- memory. sw_up is nearer the CPU, so for sw_down the
    # link to it is the host side; memory is always the device side.
    def cascade(cpu_relay=None) -> Topology:
        b = TopologyBuilder()
        b.add_node("c", "cpu", relay=cpu_relay)
        for name, kind in [("up", "cxl_switch"), ("down", "cxl_switch"),
                           ("m", "cxl_memory"), ("m2", "cxl_memory")]:  # fmt: skip
            b.add_node(name, kind)
        for a, c in [("c", "up"), ("up", "down"), ("down", "m"), ("down", "m2")]:
            b.add_link(a, c, bandwidth=64 * GB)
        return b.build()

    t = cascade()
    assert flow(t, "m", "c") == 64 * GB  # device to host at both switches
    # Device to device does not turn inside the switch: it goes up to the CPU and back down
    # (the CPU forwards: a copy by the host); a CPU that does not forward stops it.
    assert flow(t, "m", "m2") == 64 * GB
    assert flow(cascade(cpu_relay=False), "m", "m2") == 0.0
    plan = forwarding_plan(t)
    L = t.links
    up_down = next(e for e in range(t.num_links) if {L.src[e], L.dst[e]} == {1, 2})
    # src "up" is the host side of dst "down"; dst "down" is not the host side of "up".
    assert plan.host_end[up_down].tolist() == [True, False]
    # A switch as a source or sink itself reaches both sides.
    assert flow(t, "down", "m,m2") == 128 * GB and flow(t, "down", "c") == 64 * GB


def test_a_cxl_switch_that_declares_relay_routes_everything() -> None:
    t = chain("cpu", "cxl_switch", "cpu")
    assert flow(t, "v0", "v2") == 0.0
    t = chain("cpu", "cxl_switch", "cpu", relay={1: True})
    assert flow(t, "v0", "v2") == 10 * GB


# -- the figures on the shipped examples -------------------------------------------------


@pytest.fixture(scope="module")
def dgx() -> Topology:
    return topodsl.load(ROOT / "dgx_h100.topo")


@pytest.fixture(scope="module")
def mi300x() -> Topology:
    return topodsl.load(ROOT / "mi300x.topo")


def test_dgx_gpu_reads_host_dram_at_its_own_pcie_link(dgx) -> None:
    # Issue 10: 252 GB/s by relaying through peer GPUs; its own PCIe Gen5 x16 gives 63 GB/s.
    assert flow(dgx, "dgx.mem[*]", "dgx.gpu0") == 63 * GB
    r = max_flow(dgx, dgx.select("dgx.mem[*]"), [dgx.index("dgx.gpu0")], forwarding="ideal")
    assert r.value == 252 * GB and r.relay_gain == 189 * GB
    assert set(r.relays) <= {f"dgx.gpu{g}" for g in range(1, 8)} and len(r.relays) == 3
    reach = memory_reach(dgx, "dgx.gpu0")
    tiers = dict(zip((TIERS[k] for k in reach.tiers.tier), reach.tiers.bandwidth, strict=True))
    assert tiers == {"local": 3350 * GB, "peer": 513 * GB, "host": 63 * GB}


def test_dgx_peer_hbm_is_nvlink_plus_pcie_peer_to_peer(dgx) -> None:
    # 450 GB/s of NVLink (18 x 25 GB/s) and 63 GB/s of PCIe peer to peer: GPU 1 sits on GPU
    # 0's PCIe switch, and a PCIe switch forwards between its devices (as it must for
    # GPUDirect RDMA to the NICs). No GPU relays anything: the ideal ceiling gives the same.
    r = max_flow(dgx, dgx.select("dgx.gpu1.stack[*]"), [dgx.index("dgx.gpu0")])
    assert r.value == 513 * GB and r.relay_gain == 0
    lf = r.link_flow
    L = dgx.links
    nvlink = [e for e in range(dgx.num_links) if dgx.link_type_of(e) == "nvlink4"]
    into_gpu0 = sum(lf[e, 0] for e in nvlink if dgx.nodes.ids[L.dst[e]] == "dgx.gpu0") + sum(
        lf[e, 1] for e in nvlink if dgx.nodes.ids[L.src[e]] == "dgx.gpu0"
    )
    assert into_gpu0 == pytest.approx(450 * GB)
    assert flow(dgx, "dgx.gpu1.stack[*]", "dgx.gpu0", "ideal") == 513 * GB
    # Without the shared PCIe switch (relay = false: ACS redirecting peer traffic), NVLink's
    # 450 GB/s alone... and peer to peer through the CPU's root complex instead: still 63.
    assert flow(dgx, "dgx.gpu[1..7].stack[*]", "dgx.gpu0") == 513 * GB


def test_mi300x_die_reads_a_peer_at_the_direct_link_and_pcie(mi300x) -> None:
    # Issue 10: 511 GB/s, eight times the direct x16 link, by relaying through six other
    # packages. Now: the direct Infinity Fabric link (64 GB/s) plus 63 GB/s of PCIe peer to
    # peer through the shared PCIe switch: 127 GB/s, and no other package relays.
    t = mi300x
    xcd = t.index("server.gpu0.iod0.xcd0")
    r = max_flow(t, t.select("server.gpu1.**.stack[*]"), [xcd])
    assert r.value == 127 * GB
    L = t.links
    fabric = [e for e in range(t.num_links) if t.link_type_of(e) == "if_x16"]
    used = {
        (t.nodes.ids[L.src[e]], t.nodes.ids[L.dst[e]]) for e in fabric if r.link_flow[e].max() > 0
    }
    assert used == {("server.gpu0.iod0", "server.gpu1.iod3")}  # the direct link only
    ideal = max_flow(t, t.select("server.gpu1.**.stack[*]"), [xcd], forwarding="ideal")
    assert ideal.value == 511 * GB
    assert set(ideal.relays) >= {f"server.gpu{g}" for g in range(2, 8)}


def test_mi300x_package_reach_includes_its_chiplets_memory(mi300x) -> None:
    # Issue 10: `analyze reach --from server.gpu0` reported 0 memories. The package holds 8 x
    # 24 GB stacks behind its I/O dies: 192 GB, local, 8 x 662.4 GB/s at once.
    r = memory_reach(mi300x, "server.gpu0")
    tiers = {TIERS[k]: (int(n), cap, bw) for k, n, cap, bw in zip(
        r.tiers.tier, r.tiers.count, r.tiers.capacity, r.tiers.bandwidth, strict=True)}  # fmt: skip
    assert tiers["local"] == (8, 192 * GB, pytest.approx(8 * 662.4 * GB))
    assert tiers["peer"][0] == 56 and tiers["host"][2] == 63 * GB
    # Bisection takes the same package as one endpoint with its members.
    b = bisection(mi300x, "server.gpu[*]")
    assert b.endpoints == 8


# -- the brute-force oracle ----------------------------------------------------------------------


def _oracle_rules(t: Topology, forwarding: str, strict: bool = False):
    """Per row: its sealed package (or None), and per CXL switch the host-side neighbours;
    from the documented rules, without the solver's code. ``strict`` ignores ``relay``."""
    ids = t.nodes.ids
    kind = [t.kind_of(r) for r in range(t.num_nodes)]
    role = [t.role_of(r) for r in range(t.num_nodes)]
    relay = [None if strict else t.nodes.extra.get(r, {}).get("relay") for r in range(t.num_nodes)]
    parent = t.nodes.parent.tolist()
    sealed: dict[int, int] = {}
    lone: set[int] = set()
    sided: set[int] = set()
    if forwarding == "ideal":
        return sealed, lone, sided, {}
    for r in range(t.num_nodes):
        chain_ = [r]
        while parent[chain_[-1]] >= 0:
            chain_.append(parent[chain_[-1]])
        compute = [a for a in chain_ if role[a] == "compute"]
        if compute:
            pkg = compute[-1]
            forwards = relay[pkg] if relay[pkg] is not None else kind[pkg] == "cpu"
            if not forwards and role[r] not in ("storage",):
                sealed[r] = pkg
        elif role[r] == "transit":
            if relay[r] is False:
                lone.add(r)
            elif kind[r] == "cxl_switch" and relay[r] is not True:
                sided.add(r)
    L = t.links
    nbrs: dict[int, set[int]] = {}
    for a, b in zip(L.src.tolist(), L.dst.tolist(), strict=True):
        nbrs.setdefault(a, set()).add(b)
        nbrs.setdefault(b, set()).add(a)
    for r in range(t.num_nodes):
        if role[r] == "memory" and r not in sealed:
            owners = {sealed.get(x) for x in nbrs.get(r, ())}
            if len(owners) == 1 and None not in owners:
                sealed[r] = owners.pop()
    g = nx.Graph()
    hop = {"cpu", "switch", "pcie_switch", "cxl_switch", "nvswitch", "nic"}
    g.add_nodes_from(r for r in range(t.num_nodes) if kind[r] in hop)
    g.add_edges_from((a, b) for a, b in zip(L.src.tolist(), L.dst.tolist(), strict=True)
                     if kind[a] in hop and kind[b] in hop)  # fmt: skip
    cpus = [r for r in range(t.num_nodes) if kind[r] == "cpu"]
    dist = {r: math.inf for r in range(t.num_nodes)}
    for c in cpus:
        for r, d in nx.single_source_shortest_path_length(g, c).items():
            dist[r] = min(dist[r], d)
    switches = {"switch", "pcie_switch", "cxl_switch", "nvswitch"}
    host = {s: {x for x in nbrs.get(s, ())
                if kind[x] == "cpu" or (kind[x] in switches and dist[x] < dist[s])}
            for s in sided}  # fmt: skip
    del ids
    return sealed, lone, sided, host


def _allowed(t, path, sealed, lone, sided, host) -> bool:
    """Whether a path (list of rows) obeys the rules."""
    roles = [t.role_of(r) for r in path]
    for k in range(1, len(path) - 1):
        v = path[k]
        if roles[k] in ("memory", "storage") or v in lone:
            return False
        if v in sided and (path[k - 1] in host[v]) == (path[k + 1] in host[v]):
            return False
    for pkg in set(sealed.values()):
        inside = [sealed.get(r) == pkg for r in path]
        entered = False
        for a, b in itertools.pairwise(inside):
            if not a and b:
                entered = True
            if a and not b and entered:
                return False
    return True


def brute_force(
    t: Topology, sources, sinks, forwarding: str = "hardware", strict: bool = False
) -> float:
    """The max flow over every simple path that obeys the forwarding rules: a linear program
    with one variable per path and one constraint per link direction, device and endpoint."""
    sealed, lone, sided, host = _oracle_rules(t, forwarding, strict)
    L = t.links
    arcs: dict[int, list[tuple[int, int]]] = {}
    for e in range(t.num_links):
        a, b = int(L.src[e]), int(L.dst[e])
        if a == b:
            continue
        arcs.setdefault(a, []).append((b, 2 * e))
        if not L.simplex[e]:
            arcs.setdefault(b, []).append((a, 2 * e + 1))
    paths: list[tuple[list[int], list[int]]] = []
    sinks_set = set(sinks)

    def walk(path: list[int], used: list[int]) -> None:
        v = path[-1]
        if v in sinks_set and len(path) > 1 and _allowed(t, path, sealed, lone, sided, host):
            paths.append((list(path), list(used)))
        for w, key in arcs.get(v, ()):
            if w in path:
                continue
            path.append(w)
            used.append(key)
            walk(path, used)
            path.pop()
            used.pop()

    for s in sources:
        walk([s], [])
    if not paths:
        return 0.0
    n = t.nodes
    rows, caps = {}, []

    def row(key, cap):
        if key not in rows:
            rows[key] = len(caps)
            caps.append(cap)
        return rows[key]

    A = []
    for path, used in paths:
        entries = [row(("link", k), float(L.bandwidth[k // 2])) for k in used]
        for v in path[1:-1]:
            if math.isfinite(n.bandwidth[v]):
                entries.append(row(("dev", v), float(n.bandwidth[v])))
        s, d = path[0], path[-1]
        entries.append(row(("src", s), float(min(n.bandwidth[s], n.read_bandwidth[s]))))
        entries.append(row(("snk", d), float(min(n.bandwidth[d], n.write_bandwidth[d]))))
        A.append(entries)
    m = np.zeros((len(caps), len(paths)))
    for j, entries in enumerate(A):
        for i in entries:
            m[i, j] += 1.0
    caps_a = np.array(caps)
    finite = np.isfinite(caps_a)
    scale = max(float(caps_a[finite].max()) if finite.any() else 1.0, 1.0)
    res = linprog(-np.ones(len(paths)), A_ub=m[finite], b_ub=caps_a[finite] / scale,
                  bounds=(0, None), method="highs")  # fmt: skip
    assert res.status == 0, res.message
    return float(-res.fun * scale)


def random_case(seed: int) -> tuple[Topology, list[int], list[int]]:
    rng = np.random.default_rng(seed)
    b = TopologyBuilder()
    names: list[str] = []
    n_pkg = int(rng.integers(0, 3))
    for p in range(n_pkg):
        relay = True if rng.random() < 0.2 else None
        bw = float(rng.integers(5, 40)) * GB if rng.random() < 0.3 else None
        b.add_node(f"p{p}", "gpu", relay=relay, bandwidth=bw)
        names.append(f"p{p}")
        for c in range(int(rng.integers(0, 3))):
            b.add_node(f"p{p}.c{c}", "chiplet", parent=f"p{p}")
            names.append(f"p{p}.c{c}")
        if rng.random() < 0.7:
            b.add_node(f"p{p}.h", "hbm", parent=f"p{p}", capacity=GB,
                       bandwidth=float(rng.integers(5, 60)) * GB)  # fmt: skip
            names.append(f"p{p}.h")
    kinds = ["switch", "nic", "cpu", "cxl_switch", "cxl_memory", "pcie_switch", "gpu"]
    for i in range(int(rng.integers(2, 5))):
        kind = str(rng.choice(kinds))
        attrs: dict = {}
        if kind != "cxl_memory" and rng.random() < 0.15:
            attrs["relay"] = bool(rng.random() < 0.5)
        if rng.random() < 0.3:
            attrs["bandwidth"] = float(rng.integers(5, 50)) * GB
        b.add_node(f"x{i}", kind, **attrs)
        names.append(f"x{i}")
    # Link every member of a package inside it, then anything to anything.
    for p in range(n_pkg):
        members = [x for x in names if x.startswith(f"p{p}.")]
        for m in members:
            other = [x for x in [f"p{p}", *members] if x != m]
            b.add_link(m, str(rng.choice(other)), bandwidth=float(rng.integers(5, 80)) * GB)
    linkable = [x for x in names if not x.endswith(".h")]
    for _ in range(int(rng.integers(3, 9))):
        u, v = rng.choice(len(linkable), size=2, replace=False)
        b.add_link(linkable[u], linkable[v], bandwidth=float(rng.integers(1, 60)) * GB,
                   simplex=bool(rng.random() < 0.15))  # fmt: skip
    t = b.build()
    perm = rng.permutation(t.num_nodes)
    k = int(rng.integers(1, min(2, t.num_nodes - 1) + 1))
    m = int(rng.integers(1, min(2, t.num_nodes - k) + 1))
    return t, sorted(perm[:k].tolist()), sorted(perm[k : k + m].tolist())


@pytest.mark.parametrize("seed", range(300))
def test_random_graphs_match_the_brute_force_oracle(seed: int) -> None:
    t, sources, sinks = random_case(seed)
    for forwarding in ("hardware", "ideal"):
        try:
            r = max_flow(t, sources, sinks, forwarding=forwarding)
        except SolverError as e:
            assert "unbounded" in str(e)
            continue
        expected = brute_force(t, sources, sinks, forwarding)
        assert r.value == pytest.approx(expected, rel=1e-7, abs=1.0), forwarding
        assert r.lower <= r.value * (1 + 1e-9) + 1.0 and r.value <= r.upper * (1 + 1e-9) + 1.0
        # What relaying adds: against the hardware defaults with every relay attribute ignored.
        strict = brute_force(t, sources, sinks, "hardware", strict=True)
        assert r.relay_gain == pytest.approx(max(expected - strict, 0.0), rel=1e-7, abs=1.0)
        assert bool(r.relays) == (r.relay_gain > 0)


def test_relay_survives_the_networkx_json_round_trip() -> None:
    from topodsl.io import dumps_json, loads_json

    t = three_packages(relay=True)
    text = dumps_json(t)
    back = loads_json(text)
    assert dumps_json(back) == text
    assert flow(back, "p0.iod0.xcd", "p2.iod1.xcd") == 64 * GB
    assert '"relay": true' in text
