"""The forwarding model: each rule on a case checked by hand, the issue's figures, and a
brute-force oracle (every simple path that obeys the rules, one linear program) on random
small graphs with packages, relays, CXL switches, memory, limits and one-way links."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from path_oracle import brute_force  # noqa: E402

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


def test_two_socket_cxl_tier_is_read_through_the_sockets_own_port(two_socket) -> None:
    t = two_socket
    r = memory_reach(t, "server.cpu0")
    tiers = {TIERS[k]: bw for k, bw in zip(r.tiers.tier, r.tiers.bandwidth, strict=True)}
    # Issue 10: 128 GB/s, 64 through the socket's own port plus 64 through socket 1's port and
    # UPI. Each upstream port of a CXL switch has its own virtual switch and a device region is
    # bound to one of them: socket 0 reads its CXL tier through its own x16, 64 GB/s. What
    # socket 1's port reaches is socket 1's memory (a remote NUMA access), not socket 0's tier.
    assert tiers["cxl"] == 64 * GB
    assert flow(t, "server.exp[*]", "server.cpu0") == 64 * GB
    assert flow(t, "server.cpu0", "server.exp[*]") == 64 * GB  # writes the same way
    # Everything behind socket 0 goes through socket 0's port: DIMM 0 from the expanders too.
    assert flow(t, "server.exp[*]", "server.dimm0") == 64 * GB
    assert flow(t, "server.dimm1", "server.exp[*]") == 64 * GB
    # Device to device through one host is a copy by that host: allowed.
    assert flow(t, "server.exp0", "server.exp1") == 64 * GB
    # Socket 1's DIMMs from socket 0: 96 GB/s over UPI (no CXL involved).
    rows = {r.names[m]: bw for m, bw in zip(r.memory, r.bandwidth, strict=True)}
    assert rows == {"server.dimm0": 307.2 * GB, "server.dimm1": 96 * GB,
                    "server.exp0": 64 * GB, "server.exp1": 64 * GB}  # fmt: skip
    # The ideal ceiling lets socket 1 forward: 128 GB/s, relayed through cpu1.
    r = max_flow(t, t.select("server.exp[*]"), [t.index("server.cpu0")], forwarding="ideal")
    assert r.value == 128 * GB and r.relay_gain == 64 * GB and r.relays == ("server.cpu1",)
    ideal = memory_reach(t, "server.cpu0", forwarding="ideal")
    got = {ideal.names[m]: x for m, x in zip(ideal.memory, ideal.relayed, strict=True)}
    assert got == {"server.dimm0": False, "server.dimm1": True, "server.exp0": False,
                   "server.exp1": False}  # fmt: skip
    i_tiers = {TIERS[k]: (bw, x) for k, bw, x in zip(
        ideal.tiers.tier, ideal.tiers.bandwidth, ideal.tiers.relayed, strict=True)}  # fmt: skip
    assert i_tiers["cxl"] == (128 * GB, True)
    # With the UPI links gone only the socket's own port is left either way.
    no_upi = topodsl.loads(TWO_SOCKET_CXL.replace("connect cpu[0] -- cpu[1]  via upi x3", ""))
    assert flow(no_upi, "server.exp[*]", "server.cpu0") == 64 * GB
    assert flow(no_upi, "server.exp[*]", "server.cpu0", "ideal") == 64 * GB
    plan = forwarding_plan(t)
    assert CLASSES[plan.klass[t.index("server.cpu0")]] == "gated"


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


# -- CXL binding: each CPU reaches a shared CXL domain through its own port ------------------


def socket_pair(extra: str = "") -> Topology:
    """Two sockets on one CXL switch with one expander; ``extra`` adds parts and links."""
    return topodsl.loads(f"""
    link l {{ bandwidth = 64 GB/s }}
    node s {{
        cpu c[2]
        cxl_switch sw
        cxl_memory x {{ capacity = 256 GB, bandwidth = 200 GB/s }}
        dram d[2] {{ capacity = 64 GB, bandwidth = 300 GB/s }}
        connect c[i] -- d[i] via l x4
        connect c[0] -- c[1] via l x2
        connect c[*] -- sw via l
        connect sw -- x via l x4
        {extra}
    }}
    """)


def test_cxl_binding_hand_worked() -> None:
    t = socket_pair()
    assert flow(t, "s.x", "s.c0") == 64 * GB  # its own x16, not 64 more through s.c1 + UPI
    assert flow(t, "s.x", "s.c[*]") == 128 * GB  # each socket its own port
    assert flow(t, "s.x", "s.d0") == 64 * GB  # into socket 0's DIMMs: socket 0's port
    assert flow(t, "s.d1", "s.c0") == 128 * GB  # no CXL: socket 1's DIMMs over the socket link
    assert flow(t, "s.x", "s.c0", "ideal") == 128 * GB
    # relay = true on socket 1 lifts the rule for it: it forwards what its port reads.
    t = relaying_socket()
    r = max_flow(t, t.select("s.x"), [t.index("s.c0")])
    assert r.value == 128 * GB and r.relays == ("s.c1",) and r.relay_gain == 64 * GB


def relaying_socket() -> Topology:
    """The socket pair with socket 1 declaring relay = true."""
    return topodsl.loads("""
    link l { bandwidth = 64 GB/s }
    node s {
        cpu c0
        cpu c1 { relay = true }
        cxl_switch sw
        cxl_memory x { capacity = 256 GB, bandwidth = 200 GB/s }
        connect c0 -- c1 via l x2
        connect c0 -- sw via l
        connect c1 -- sw via l
        connect sw -- x via l x4
    }
    """)


def test_cxl_binding_closes_detours_round_a_pcie_switch_and_the_network() -> None:
    # A turn rule inside the CPU alone would let socket 1 send what its port reads out to its
    # PCIe switch and take it back in (or round the network through two NICs), then over UPI
    # to socket 0: the same forbidden route with a detour. The rule is about the path.
    t = socket_pair("""
        pcie_switch p[2]
        nic n[2] { bandwidth = 50 GB/s }
        switch tor
        connect c[i] -- p[i] via l
        connect n[i] -- p[i] via l
        connect n[*] -- tor via l
    """)
    assert flow(t, "s.x", "s.c0") == 64 * GB
    assert flow(t, "s.x", "s.d0") == 64 * GB
    # What the detour would add: the ideal ceiling counts it.
    assert flow(t, "s.x", "s.c0", "ideal") == 128 * GB
    # Traffic to something behind a socket's PCIe switch goes through that socket's port.
    assert flow(t, "s.x", "s.n0") == 50 * GB
    assert flow(t, "s.x", "s.n[*]") == 100 * GB
    r = max_flow(t, t.select("s.x"), t.select("s.n0"))
    assert r.exact and r.value == brute_force(t, t.select("s.x").tolist(), [t.index("s.n0")])


def test_cxl_binding_with_a_multi_headed_expander_and_a_cpu_limit() -> None:
    # An expander with a head on each socket (no switch): the same rule, each socket its head.
    t = topodsl.loads("""
    link l { bandwidth = 64 GB/s }
    node s {
        cpu c[2] { bandwidth = 100 GB/s }
        cxl_memory x { capacity = 256 GB, bandwidth = 200 GB/s }
        connect c[0] -- c[1] via l x2
        connect c[*] -- x via l
    }
    """)
    assert flow(t, "s.x", "s.c0") == 64 * GB
    assert flow(t, "s.x", "s.c0", "ideal") == 100 * GB  # 64 + 64 through c1, capped at 100
    assert CLASSES[forwarding_plan(t).klass[t.index("s.c0")]] == "gated"


def test_cxl_binding_lets_a_third_socket_use_both_ports() -> None:
    # Socket 2 is not attached: it reaches the memory through either attached socket.
    t = socket_pair("""
        cpu c2
        connect c2 -- c[0] via l
        connect c2 -- c[1] via l
    """)
    assert flow(t, "s.x", "s.c2") == 128 * GB
    assert flow(t, "s.x", "s.c0") == 64 * GB  # still not round c1 -> c2 -> c0
    plan = forwarding_plan(t)
    assert plan.cxl_cpus[0].tolist() == [t.index("s.c0"), t.index("s.c1")]


# -- fabric domains: peer traffic of NVLink-connected GPUs stays on NVLink --------------------


def two_gpus(fabric: str = "nvswitch", relay: bool | None = None) -> Topology:
    """Two GPUs (HBM inside) on one PCIe switch with a NIC, and an NVSwitch or a direct
    link between them (or none)."""
    b = TopologyBuilder()
    b.add_node("n", "node")
    b.add_node("n.pex", "pcie_switch", parent="n")
    b.add_node("n.nic", "nic", parent="n", bandwidth=50 * GB)
    b.add_link("n.nic", "n.pex", bandwidth=63 * GB)
    if fabric == "nvswitch":
        b.add_node("n.nvs", "nvswitch", parent="n")
    for g in range(2):
        b.add_node(f"n.g{g}", "gpu", parent="n", relay=relay)
        b.add_node(f"n.g{g}.hbm", "hbm", parent=f"n.g{g}", capacity=80 * GB)
        b.add_link(f"n.g{g}", f"n.g{g}.hbm", bandwidth=3000 * GB)
        b.add_link(f"n.g{g}", "n.pex", bandwidth=63 * GB)
        if fabric == "nvswitch":
            b.add_link(f"n.g{g}", "n.nvs", bandwidth=450 * GB)
    if fabric == "direct":
        b.add_link("n.g0", "n.g1", bandwidth=64 * GB)
    return b.build()


def test_fabric_rule_hand_worked() -> None:
    t = two_gpus()
    r = max_flow(t, t.select("n.g1.hbm"), t.select("n.g0"))
    assert r.value == 450 * GB and r.fabric == ("n",) and r.fabric_excluded == 63 * GB
    assert flow(t, "n.g1.hbm", "n.g0", "ideal") == 513 * GB
    # Out of the domain it is PCIe as before: to the NIC, from the NIC.
    assert flow(t, "n.g[*]", "n.nic") == 50 * GB
    assert max_flow(t, t.select("n.g[*]"), t.select("n.nic")).fabric == ()
    # A direct link (Infinity Fabric, ICI) makes a domain just as well.
    t = two_gpus("direct")
    assert flow(t, "n.g1.hbm", "n.g0") == 64 * GB
    assert forwarding_plan(t).domain[[t.index("n.g0"), t.index("n.g1")]].tolist() == [0, 0]


def test_gpus_without_a_fabric_keep_pcie_peer_to_peer() -> None:
    # A PCIe-only server: every GPU is a domain of its own, and GPU to GPU goes over PCIe.
    t = two_gpus("none")
    plan = forwarding_plan(t)
    assert plan.domain[t.index("n.g0")] != plan.domain[t.index("n.g1")]
    r = max_flow(t, t.select("n.g1.hbm"), t.select("n.g0"))
    assert r.value == 63 * GB and r.fabric == () and r.fabric_excluded == 0


def test_a_mesh_that_joins_a_pair_only_through_a_peer_is_no_domain() -> None:
    # g0 -- g1 -- g2 over NVLink (a hybrid cube-mesh, DGX-1 style), all three on PCIe. g1
    # does not relay, so binding g0 and g2 to the fabric would leave them nothing; the
    # hardware reaches g2 over PCIe. The group is no domain: each GPU is its own, every path
    # a GPU may start or end counts (the direct NVLink and PCIe peer to peer).
    b = TopologyBuilder()
    b.add_node("n", "node")
    b.add_node("n.pex", "pcie_switch", parent="n")
    for g in range(3):
        b.add_node(f"n.g{g}", "gpu", parent="n")
        b.add_link(f"n.g{g}", "n.pex", bandwidth=32 * GB)
    b.add_link("n.g0", "n.g1", bandwidth=50 * GB)
    b.add_link("n.g1", "n.g2", bandwidth=50 * GB)
    t = b.build()
    domain = forwarding_plan(t).domain[[t.index(f"n.g{g}") for g in range(3)]].tolist()
    assert len(set(domain)) == 3
    assert flow(t, "n.g0", "n.g2") == 32 * GB  # PCIe; under a bound group it was 0
    assert flow(t, "n.g0", "n.g1") == 82 * GB  # NVLink + PCIe peer to peer
    assert flow(t, "n.g0", "n.g2") == brute_force(t, [t.index("n.g0")], [t.index("n.g2")])
    # Closing the triangle joins every pair: a domain again, NVLink only.
    b.add_link("n.g0", "n.g2", bandwidth=50 * GB)
    t = b.build()
    assert len(set(forwarding_plan(t).domain[[t.index(f"n.g{g}") for g in range(3)]])) == 1
    assert flow(t, "n.g0", "n.g2") == 50 * GB
    # So does a switch every GPU is linked to, even with a chain beside it.
    b.add_node("n.nvs", "nvswitch", parent="n")
    for g in range(3):
        b.add_link(f"n.g{g}", "n.nvs", bandwidth=100 * GB)
    t = b.build()
    assert len(set(forwarding_plan(t).domain[[t.index(f"n.g{g}") for g in range(3)]])) == 1


def test_relaying_gpus_keep_their_paths() -> None:
    # relay = true (NCCL PXN): the GPUs route; they are no accelerators of a domain and every
    # path counts, PCIe peer to peer included, as before the rule.
    t = two_gpus(relay=True)
    assert not forwarding_plan(t).member.any()
    assert flow(t, "n.g1.hbm", "n.g0") == 513 * GB


def test_a_mixed_question_is_exact() -> None:
    # Two servers: n0.g0 sends to n0.g1 (same domain: NVLink only) and to n1.g0 (over the
    # NICs) at once. One flow cannot tell the pairs apart; the linear program can. n0.g0's
    # PCIe link carries the 50 GB/s for the NIC; NVLink the 450 for its peer.
    b = TopologyBuilder()
    for s_ in range(2):
        n = f"n{s_}"
        b.add_node(n, "node")
        b.add_node(f"{n}.pex", "pcie_switch", parent=n)
        b.add_node(f"{n}.nvs", "nvswitch", parent=n)
        b.add_node(f"{n}.nic", "nic", parent=n, bandwidth=50 * GB)
        b.add_link(f"{n}.nic", f"{n}.pex", bandwidth=63 * GB)
        for g in range(2):
            b.add_node(f"{n}.g{g}", "gpu", parent=n)
            b.add_link(f"{n}.g{g}", f"{n}.pex", bandwidth=63 * GB)
            b.add_link(f"{n}.g{g}", f"{n}.nvs", bandwidth=450 * GB)
    b.add_node("tor", "switch")
    for s_ in range(2):
        b.add_link(f"n{s_}.nic", "tor", bandwidth=50 * GB)
    t = b.build()
    S, T = t.select("n0.g0"), t.select("n0.g1,n1.g0")
    r = max_flow(t, S, T)
    assert r.value == 500 * GB and r.exact and r.fabric == ("n0",)
    assert r.fabric_excluded == 13 * GB  # the ceiling lets n0.g0's PCIe carry 13 more to n0.g1
    assert r.value == brute_force(t, S.tolist(), T.tolist())
    # Both servers mixed: NVLink inside each (450 + 450), and across, the two NICs, whose
    # limit (50 GB/s) bounds both directions through each: 950.
    S, T = t.select("n0.g0,n1.g1"), t.select("n0.g1,n1.g0")
    r = max_flow(t, S, T)
    assert r.value == 950 * GB and r.exact and r.fabric == ("n0", "n1")
    assert r.value == brute_force(t, S.tolist(), T.tolist())


def test_bisection_of_two_servers_under_the_fabric_rule() -> None:
    from topodsl.solvers.flow import TerminalCuts

    t = two_gpus_cluster()
    b = bisection(t)
    assert b.exact and b.upper_bound == 50 * GB  # one server per half: the network
    tc = TerminalCuts(t, t.select("kind:gpu"))
    mixed = np.array([True, False, True, False])  # n0.g0, n1.g0 | n0.g1, n1.g1
    cut = tc.cut(mixed)
    assert cut.fabric and cut.value >= tc.flow_value(mixed)
    # The truth for that split lies between the two: the exact flow (linear program).
    E = t.select("kind:gpu")
    truth = max_flow(t, E[mixed], E[~mixed], source_limit=np.inf, sink_limit=np.inf).value
    assert tc.flow_value(mixed) <= truth * (1 + 1e-9) and truth <= cut.value * (1 + 1e-9)
    whole = np.array([True, True, False, False])
    assert not tc.cut(whole).fabric and tc.cut(whole).value == tc.flow_value(whole) == 50 * GB


def two_gpus_cluster() -> Topology:
    b = TopologyBuilder()
    for s_ in range(2):
        n = f"n{s_}"
        b.add_node(n, "node")
        b.add_node(f"{n}.pex", "pcie_switch", parent=n)
        b.add_node(f"{n}.nvs", "nvswitch", parent=n)
        b.add_node(f"{n}.nic", "nic", parent=n, bandwidth=50 * GB)
        b.add_link(f"{n}.nic", f"{n}.pex", bandwidth=63 * GB)
        for g in range(2):
            b.add_node(f"{n}.g{g}", "gpu", parent=n)
            b.add_link(f"{n}.g{g}", f"{n}.pex", bandwidth=63 * GB)
            b.add_link(f"{n}.g{g}", f"{n}.nvs", bandwidth=100 * GB)
    b.add_node("tor", "switch")
    for s_ in range(2):
        b.add_link(f"n{s_}.nic", "tor", bandwidth=50 * GB)
    return b.build()


def test_gb200_tray_mates_read_each_other_over_nvlink(gb200) -> None:
    # Two GPUs on one Grace: their C2C links meet at the CPU, a path out of the NVLink domain.
    # Peer reads stay on NVLink (18 x 50 GB/s); the Grace's LPDDR is another matter (C2C).
    t = gb200
    r = max_flow(t, t.select("nvl72.tray0.gpu1.stack[*]"), [t.index("nvl72.tray0.gpu0")])
    assert r.value == 900 * GB and r.fabric == ("nvl72",) and r.fabric_excluded == 225 * GB
    assert flow(t, "nvl72.tray0.lpddr0", "nvl72.tray0.gpu0") == 225 * GB


def test_domains_and_their_names(dgx, mi300x) -> None:
    from topodsl.solvers.forwarding import domain_name

    p = forwarding_plan(dgx)
    gpus = dgx.select("dgx.gpu[*]")
    assert set(p.domain[gpus].tolist()) == {0} and p.member[gpus].all()
    assert p.domain[dgx.select("dgx.nvs[*]")].tolist() == [0] * 4  # the switches, not members
    assert not p.member[dgx.select("dgx.nvs[*]")].any()
    assert p.domain[dgx.select("dgx.cpu[*],dgx.pex[*],dgx.nic[*]")].max() == -1
    assert domain_name(dgx, p.domain, p.member, 0) == "dgx"
    q = forwarding_plan(mi300x)
    assert set(q.domain[mi300x.select("server.gpu[*].**")].tolist()) == {0}
    assert not forwarding_plan(dgx, "ideal").member.any()


# -- the figures on the shipped examples -------------------------------------------------


@pytest.fixture(scope="module")
def dgx() -> Topology:
    return topodsl.load(ROOT / "dgx_h100.topo")


@pytest.fixture(scope="module")
def mi300x() -> Topology:
    return topodsl.load(ROOT / "mi300x.topo")


@pytest.fixture(scope="module")
def gb200() -> Topology:
    return topodsl.load(ROOT / "gb200_nvl72.topo")


def test_dgx_gpu_reads_host_dram_at_its_own_pcie_link(dgx) -> None:
    # Issue 10: 252 GB/s by relaying through peer GPUs; its own PCIe Gen5 x16 gives 63 GB/s.
    assert flow(dgx, "dgx.mem[*]", "dgx.gpu0") == 63 * GB
    r = max_flow(dgx, dgx.select("dgx.mem[*]"), [dgx.index("dgx.gpu0")], forwarding="ideal")
    assert r.value == 252 * GB and r.relay_gain == 189 * GB
    assert set(r.relays) <= {f"dgx.gpu{g}" for g in range(1, 8)} and len(r.relays) == 3
    reach = memory_reach(dgx, "dgx.gpu0")
    tiers = dict(zip((TIERS[k] for k in reach.tiers.tier), reach.tiers.bandwidth, strict=True))
    assert tiers == {"local": 3350 * GB, "peer": 450 * GB, "host": 63 * GB}


def test_dgx_peer_hbm_is_nvlink_only(dgx) -> None:
    # Issue 10: 513 GB/s = 450 GB/s of NVLink (18 x 25 GB/s) + 63 GB/s of PCIe peer to peer
    # through the PCIe switch the two GPUs share. The CUDA driver maps peer access between
    # NVLink-connected GPUs over NVLink only, so no software gets 513: 450, and the result
    # says what the fabric rule left out.
    r = max_flow(dgx, dgx.select("dgx.gpu1.stack[*]"), [dgx.index("dgx.gpu0")])
    assert r.value == 450 * GB and r.exact and r.relay_gain == 0
    assert r.fabric == ("dgx",) and r.fabric_excluded == 63 * GB
    lf = r.link_flow
    L = dgx.links
    nvlink = [e for e in range(dgx.num_links) if dgx.link_type_of(e) == "nvlink4"]
    into_gpu0 = sum(lf[e, 0] for e in nvlink if dgx.nodes.ids[L.dst[e]] == "dgx.gpu0") + sum(
        lf[e, 1] for e in nvlink if dgx.nodes.ids[L.src[e]] == "dgx.gpu0"
    )
    assert into_gpu0 == pytest.approx(450 * GB)
    # Nothing on PCIe, the CPUs or UPI: only NVLink and the HBM stacks carry it.
    other = [e for e in range(dgx.num_links) if dgx.link_type_of(e) not in ("nvlink4", "hbm3")]
    assert lf[other].sum() == 0
    # The ideal ceiling counts every path, PCIe peer to peer included; no GPU relays in it.
    ideal = max_flow(dgx, dgx.select("dgx.gpu1.stack[*]"), [dgx.index("dgx.gpu0")],
                     forwarding="ideal")  # fmt: skip
    assert ideal.value == 513 * GB and ideal.relay_gain == 0 and ideal.fabric == ()
    # All seven peers at once: still the 18 NVLink links into gpu0.
    assert flow(dgx, "dgx.gpu[1..7].stack[*]", "dgx.gpu0") == 450 * GB
    # Traffic leaving the domain is unaffected: a GPU to the NICs, to host DRAM.
    assert flow(dgx, "dgx.gpu0", "dgx.nic[*]") == 63 * GB
    assert max_flow(dgx, dgx.select("dgx.gpu[*]"), dgx.select("dgx.nic[*]")).fabric == ()


def test_dgx_bisection_is_nvlink_only(dgx) -> None:
    # 4 GPUs x 18 links x 25 GB/s = 1.8 TB/s (the reference figure); it was 1.926 TB/s with
    # 126 GB/s of PCIe peer to peer through the CPUs and UPI.
    b = bisection(dgx)
    assert b.exact and b.upper_bound == pytest.approx(1.8e12)
    assert all(c.type == "nvlink4" for c in b.cut)
    assert bisection(dgx, forwarding="ideal").upper_bound == pytest.approx(1.926e12)


def test_mi300x_die_reads_a_peer_at_the_direct_link(mi300x) -> None:
    # Issue 10: 511 GB/s, eight times the direct x16 link, by relaying through six other
    # packages; then 127 GB/s with PCIe peer to peer through the shared PCIe switch. ROCm maps
    # peer access between xGMI-connected GPUs over xGMI: the direct 64 GB/s link.
    t = mi300x
    xcd = t.index("server.gpu0.iod0.xcd0")
    r = max_flow(t, t.select("server.gpu1.**.stack[*]"), [xcd])
    assert r.value == 64 * GB and r.fabric == ("server",) and r.fabric_excluded == 63 * GB
    L = t.links
    used = {
        (t.nodes.ids[L.src[e]], t.nodes.ids[L.dst[e]])
        for e in range(t.num_links)
        if r.link_flow[e].max() > 0 and t.link_type_of(e) == "if_x16"
    }
    assert used == {("server.gpu0.iod0", "server.gpu1.iod3")}  # the direct link only
    ideal = max_flow(t, t.select("server.gpu1.**.stack[*]"), [xcd], forwarding="ideal")
    assert ideal.value == 511 * GB
    assert set(ideal.relays) >= {f"server.gpu{g}" for g in range(2, 8)}
    # The fabric bisection over the I/O dies: the 16 x16 links between two halves of 4
    # packages, 1.024 TB/s (it counted 126 GB/s more through the host before).
    b = bisection(t, "server.gpu[*].iod[*]")
    assert b.upper_bound == pytest.approx(16 * 64 * GB)
    assert all(c.type == "if_x16" for c in b.cut)


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


# -- the brute-force oracle (tests/path_oracle.py) -----------------------------------------------


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
        # What relaying adds: against the hardware defaults with every relay attribute ignored
        # (and the same fabric domains as the figure itself).
        strict = brute_force(t, sources, sinks, "hardware", strict=True, domains_of=forwarding)
        assert r.relay_gain == pytest.approx(max(expected - strict, 0.0), rel=1e-7, abs=1.0)
        assert bool(r.relays) == (r.relay_gain > 0)


def fabric_case(seed: int) -> tuple[Topology, list[int], list[int]]:
    """Two or three small servers: GPU packages (some with chiplets or HBM, some relaying) on an
    NVSwitch or linked directly, a PCIe switch or two, a CPU, a NIC; the NICs on one network
    switch; a few random extra links. Sources and sinks among GPUs, chiplets, HBM, NICs, CPUs."""
    rng = np.random.default_rng(seed)
    b = TopologyBuilder()
    ends: list[str] = []
    bw = lambda lo, hi: float(rng.integers(lo, hi)) * GB  # noqa: E731
    b.add_node("net", "switch", bandwidth=bw(20, 200) if rng.random() < 0.3 else None)
    for s_ in range(int(rng.integers(2, 4))):
        n = f"n{s_}"
        b.add_node(n, "node")
        fabric = rng.choice(["nvswitch", "direct", "none"], p=[0.5, 0.3, 0.2])
        if fabric == "nvswitch":
            b.add_node(f"{n}.nvs", "nvswitch", parent=n)
        pex = [f"{n}.pex{k}" for k in range(int(rng.integers(1, 3)))]
        for x in pex:
            b.add_node(x, "pcie_switch", parent=n)
        b.add_node(f"{n}.cpu", "cpu", parent=n)
        b.add_node(f"{n}.nic", "nic", parent=n, bandwidth=bw(10, 60))
        for x in pex:
            b.add_link(x, f"{n}.cpu", bandwidth=bw(10, 70))
        b.add_link(f"{n}.nic", str(rng.choice(pex)), bandwidth=bw(10, 70))
        b.add_link(f"{n}.nic", "net", bandwidth=bw(10, 60))
        gpus = [f"{n}.g{g}" for g in range(int(rng.integers(1, 4)))]
        for g in gpus:
            b.add_node(g, "gpu", parent=n, relay=True if rng.random() < 0.1 else None)
            port = g
            if rng.random() < 0.4:  # a chiplet carries the GPU's links
                port = f"{g}.die"
                b.add_node(port, "chiplet", parent=g)
                b.add_link(port, g, bandwidth=bw(50, 500))
                ends.append(port)
            if rng.random() < 0.6:
                b.add_node(f"{g}.hbm", "hbm", parent=g, capacity=GB, bandwidth=bw(50, 300))
                b.add_link(g, f"{g}.hbm", bandwidth=bw(50, 500))
                ends.append(f"{g}.hbm")
            b.add_link(port, str(rng.choice(pex)), bandwidth=bw(10, 70))
            if fabric == "nvswitch":
                b.add_link(port, f"{n}.nvs", bandwidth=bw(5, 120))
            ends.append(g)
        if fabric == "direct":
            for a, c in itertools.combinations(gpus, 2):
                if rng.random() < 0.7:
                    b.add_link(a, c, bandwidth=bw(5, 120))
        ends += [f"{n}.nic", f"{n}.cpu"]
    t = b.build()
    for _ in range(int(rng.integers(0, 3))):  # a stray link anywhere
        u, v = rng.choice(t.num_nodes, size=2, replace=False)
        if t.role_of(int(u)) != "container" and t.role_of(int(v)) != "container":
            b.add_link(t.nodes.ids[int(u)], t.nodes.ids[int(v)], bandwidth=bw(1, 40))
    t = b.build()
    # Most questions stay in one server (its accelerators' traffic among themselves, or with
    # its NIC), some reach another one too.
    near = [x for x in ends if x.startswith("n0.")] if rng.random() < 0.6 else ends
    if rng.random() < 0.6:  # accelerators and their memory only
        near = [x for x in near if not x.endswith((".nic", ".cpu"))]
    if len(near) < 2:
        near = ends
    far = [x for x in ends if x not in near]
    perm = [t.index(x) for x in rng.permutation(near)]
    k = int(rng.integers(1, min(3, len(perm) - 1) + 1))
    m = int(rng.integers(1, min(3, len(perm) - k) + 1))
    sinks = perm[k : k + m] + (
        [t.index(str(rng.choice(far)))] if far and rng.random() < 0.3 else []
    )
    return t, sorted(perm[:k]), sorted(sinks)


def cxl_case(seed: int) -> tuple[Topology, list[int], list[int]]:
    """Two to four CPUs, some linked to each other, on one or two CXL switches (cascaded or
    not) and multi-headed expanders, with DIMMs and a GPU or two."""
    rng = np.random.default_rng(seed)
    b = TopologyBuilder()
    bw = lambda lo, hi: float(rng.integers(lo, hi)) * GB  # noqa: E731
    cpus = [f"c{i}" for i in range(int(rng.integers(2, 5)))]
    for c in cpus:
        b.add_node(c, "cpu", relay=(rng.random() < 0.5) if rng.random() < 0.15 else None,
                   bandwidth=bw(50, 200) if rng.random() < 0.15 else None)  # fmt: skip
        b.add_node(f"{c}.dimm", "dram", capacity=GB, bandwidth=bw(50, 300))
        b.add_link(c, f"{c}.dimm", bandwidth=bw(50, 300))
    for a, c in itertools.combinations(cpus, 2):
        if rng.random() < 0.6:
            b.add_link(a, c, bandwidth=bw(10, 100))
    sws = [f"sw{i}" for i in range(int(rng.integers(1, 3)))]
    for x in sws:
        b.add_node(x, "cxl_switch")
    if len(sws) == 2 and rng.random() < 0.4:
        b.add_link(sws[0], sws[1], bandwidth=bw(20, 80))
    exps = [f"x{i}" for i in range(int(rng.integers(1, 4)))]
    for x in exps:
        b.add_node(x, "cxl_memory", capacity=GB, bandwidth=bw(20, 80))
        for y in rng.choice(sws, size=int(rng.integers(1, len(sws) + 1)), replace=False):
            b.add_link(str(y), x, bandwidth=bw(20, 80))
        if rng.random() < 0.3:  # a head straight to a CPU
            b.add_link(x, str(rng.choice(cpus)), bandwidth=bw(20, 80))
    for c in cpus:
        for y in sws:
            if rng.random() < 0.6:
                b.add_link(c, y, bandwidth=bw(20, 80))
    ends = cpus + [f"{c}.dimm" for c in cpus] + exps
    if rng.random() < 0.6:
        b.add_node("g", "gpu")
        b.add_link("g", str(rng.choice(cpus)), bandwidth=bw(20, 70))
        ends.append("g")
    t = b.build()
    rows = [t.index(x) for x in ends]
    perm = rng.permutation(rows)
    k = int(rng.integers(1, 3))
    m = int(rng.integers(1, 3))
    return t, sorted(perm[:k].tolist()), sorted(perm[k : k + m].tolist())


def _check_against_oracle(t: Topology, sources, sinks) -> None:
    for forwarding in ("hardware", "ideal"):
        try:
            r = max_flow(t, sources, sinks, forwarding=forwarding)
        except SolverError as e:
            assert "unbounded" in str(e)
            continue
        expected = brute_force(t, sources, sinks, forwarding)
        assert r.value == pytest.approx(expected, rel=1e-7, abs=1.0), forwarding
        assert r.exact
        strict = brute_force(t, sources, sinks, "hardware", strict=True, domains_of=forwarding)
        assert r.relay_gain == pytest.approx(max(expected - strict, 0.0), rel=1e-7, abs=1.0)
        if forwarding == "hardware":
            # What the fabric rule took away: the same model with no fabric domains at all.
            free = brute_force(t, sources, sinks, "hardware", domains_of="ideal")
            assert r.fabric_excluded == pytest.approx(max(free - expected, 0.0), rel=1e-7, abs=1.0)
            assert bool(r.fabric) or r.fabric_excluded == 0


@pytest.mark.parametrize("seed", range(250))
def test_fabric_domains_match_the_brute_force_oracle(seed: int) -> None:
    _check_against_oracle(*fabric_case(seed))


@pytest.mark.parametrize("seed", range(250))
def test_cxl_binding_matches_the_brute_force_oracle(seed: int) -> None:
    _check_against_oracle(*cxl_case(seed))


def test_the_oracle_cases_exercise_the_rules() -> None:
    # Not vacuous: the rules change the answer on a good share of the random cases.
    fabric = sum(
        brute_force(*c) < brute_force(*c, domains_of="ideal") - 1.0
        for c in map(fabric_case, range(100))
    )
    # Some of them mix the pairs of one domain with others: the linear program's case.
    mixed = sum(
        max_flow(*c).linear_program and bool(max_flow(*c).fabric)
        for c in map(fabric_case, range(250))
    )
    assert mixed >= 5, mixed
    cxl = sum(
        brute_force(t, s, d) < brute_force(t, s, d, "ideal") - 1.0
        and brute_force(t, s, d) < _without_cxl_rule(t, s, d) - 1.0
        for t, s, d in map(cxl_case, range(60))
    )
    assert fabric >= 10 and cxl >= 5, (fabric, cxl)  # 18 and 12 today


def _without_cxl_rule(t: Topology, sources, sinks) -> float:
    """The oracle with every CPU declared relay = true (which lifts the CXL binding rule only:
    CPUs forward anyway)."""
    b = TopologyBuilder()
    for r in range(t.num_nodes):
        relay = True if t.kind_of(r) == "cpu" else t.nodes.extra.get(r, {}).get("relay")
        parent = int(t.nodes.parent[r])
        up = t.nodes.ids[parent] if parent >= 0 else None
        bw, cap = float(t.nodes.bandwidth[r]), float(t.nodes.capacity[r])
        b.add_node(t.nodes.ids[r], t.kind_of(r), parent=up, relay=relay, bandwidth=bw, capacity=cap)
    L = t.links
    for e in range(t.num_links):
        b.add_link(t.nodes.ids[L.src[e]], t.nodes.ids[L.dst[e]], bandwidth=float(L.bandwidth[e]),
                   simplex=bool(L.simplex[e]))  # fmt: skip
    return brute_force(b.build(), sources, sinks)


def test_relay_survives_the_networkx_json_round_trip() -> None:
    from topodsl.io import dumps_json, loads_json

    t = three_packages(relay=True)
    text = dumps_json(t)
    back = loads_json(text)
    assert dumps_json(back) == text
    assert flow(back, "p0.iod0.xcd", "p2.iod1.xcd") == 64 * GB
    assert '"relay": true' in text
