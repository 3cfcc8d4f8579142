"""Memory reach: hand-worked cases, a NetworkX oracle, identical servers, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest
from cli_support import run_topodsl

import topodsl
from topodsl.errors import SolverError
from topodsl.kinds import ROLE_OF
from topodsl.solvers.reach import TIERS, capacity_staircase, memory_reach, tier_of
from topodsl.topology import TopologyBuilder

GB, TB, NS = 1e9, 1e12, 1e-9


def rows_of(r, name: str) -> dict[str, dict]:
    """The reach rows of element ``name`` keyed by memory id."""
    t = r.names.index(name)
    sl = r.rows_of(t)
    out = {}
    for k in range(sl.start, sl.stop):
        out[r.names[int(r.memory[k])]] = {
            "tier": TIERS[int(r.tier[k])],
            "latency": float(r.latency[k]),
            "bandwidth": float(r.bandwidth[k]),
            "capacity": float(r.capacity[k]),
            "hops": int(r.hops[k]),
        }
    return out


def tiers_of(r, name: str) -> dict[str, tuple[int, float, float, float]]:
    """(count, capacity, nearest latency, bandwidth) per tier of element ``name``."""
    t = r.names.index(name)
    tt = r.tiers
    out = {}
    for i in np.flatnonzero(tt.source == t).tolist():
        out[TIERS[int(tt.tier[i])]] = (
            int(tt.count[i]),
            float(tt.capacity[i]),
            float(tt.latency[i]),
            float(tt.bandwidth[i]),
        )
    return out


# -- hand-worked: a GPU and its own HBM ----------------------------------------------------------


def h100(gpu_bandwidth: float | None) -> topodsl.Topology:
    b = TopologyBuilder()
    b.add_node("g", "gpu", bandwidth=gpu_bandwidth)
    for k in range(5):
        b.add_node(f"g.stack{k}", "hbm", parent="g", capacity=16 * GB, bandwidth=670 * GB)
        b.add_link("g", f"g.stack{k}", bandwidth=670 * GB, type="hbm3")
    return b.build()


def test_gpu_reads_its_own_hbm_at_the_sum_of_its_stacks() -> None:
    r = memory_reach(h100(None))
    rows = rows_of(r, "g")
    assert len(rows) == 5
    assert all(v["tier"] == "local" and v["bandwidth"] == 670 * GB for v in rows.values())
    assert tiers_of(r, "g")["local"] == (5, 80 * GB, 0.0, 5 * 670 * GB)


def test_gpu_own_limit_caps_its_hbm() -> None:
    r = memory_reach(h100(3 * TB))
    assert tiers_of(r, "g")["local"][3] == 3 * TB  # 3.35 TB/s of stacks behind a 3 TB/s GPU
    assert rows_of(r, "g")["g.stack0"]["bandwidth"] == 670 * GB  # one stack stays below it
    r = memory_reach(h100(500 * GB))
    assert rows_of(r, "g")["g.stack0"]["bandwidth"] == 500 * GB


def test_write_direction_and_storage_read_write_caps() -> None:
    b = TopologyBuilder()
    b.add_node("n", "node")
    b.add_node("n.c", "cpu", parent="n")
    b.add_node("n.ssd", "ssd", parent="n", capacity=3.84 * TB, read_bandwidth=7 * GB,
               write_bandwidth=4 * GB)  # fmt: skip
    b.add_link("n.c", "n.ssd", bandwidth=15.8 * GB)
    t = b.build()
    assert len(memory_reach(t)) == 0  # storage only on request
    read = rows_of(memory_reach(t, storage=True), "n.c")["n.ssd"]
    write = rows_of(memory_reach(t, storage=True, direction="write"), "n.c")["n.ssd"]
    assert (read["bandwidth"], write["bandwidth"]) == (7 * GB, 4 * GB)
    assert read["tier"] == "local"  # linked directly


# -- hand-worked: MI300X-like package -------------------------------------------------------------


def mi300x_node() -> topodsl.Topology:
    """Two MI300X-like packages: 4 I/O dies (chiplets), each with 2 XCD chiplets and 2 HBM3
    stacks of 24 GB (662 GB/s) inside; IODs fully connected inside the package; Infinity
    Fabric x16 (64 GB/s) between the packages; a CPU with DRAM on PCIe Gen5 x16 to each."""
    b = TopologyBuilder()
    b.add_node("srv", "node")
    for p in range(2):
        pkg = f"srv.gpu{p}"
        b.add_node(pkg, "gpu", parent="srv")
        for i in range(4):
            iod = f"{pkg}.iod{i}"
            b.add_node(iod, "chiplet", parent=pkg, latency=20 * NS)
            for x in range(2):
                b.add_node(f"{iod}.xcd{x}", "chiplet", parent=iod)
                b.add_link(f"{iod}.xcd{x}", iod, bandwidth=1.2 * TB, latency=10 * NS)
            for k in range(2):
                b.add_node(f"{iod}.hbm{k}", "hbm", parent=iod, capacity=24 * GB,
                           bandwidth=662 * GB, latency=100 * NS)  # fmt: skip
                b.add_link(iod, f"{iod}.hbm{k}", bandwidth=662 * GB)
        for i in range(4):
            for j in range(i + 1, 4):
                b.add_link(f"{pkg}.iod{i}", f"{pkg}.iod{j}", bandwidth=1.5 * TB, latency=30 * NS)
    b.add_link("srv.gpu0.iod0", "srv.gpu1.iod0", bandwidth=64 * GB, latency=250 * NS)
    b.add_node("srv.cpu", "cpu", parent="srv")
    b.add_node("srv.dram", "dram", parent="srv", capacity=1.5 * TB, bandwidth=460 * GB,
               latency=100 * NS)  # fmt: skip
    b.add_link("srv.cpu", "srv.dram", bandwidth=460 * GB)
    for p in range(2):
        b.add_link("srv.cpu", f"srv.gpu{p}.iod1", bandwidth=63 * GB, latency=400 * NS)
    return b.build()


XCD = "srv.gpu0.iod0.xcd0"


def test_mi300x_latency_tiers_for_a_chiplet() -> None:
    r = memory_reach(mi300x_node(), XCD)
    rows = rows_of(r, XCD)
    # Its own IOD's stacks: xcd->iod 10 ns + iod 20 ns + hbm access 100 ns, two links.
    assert rows["srv.gpu0.iod0.hbm0"] == {
        "tier": "local", "latency": pytest.approx(130 * NS), "bandwidth": 662 * GB,
        "capacity": 24 * GB, "hops": 2,
    }  # fmt: skip
    # Another IOD's: + 30 ns across the package + 20 ns for that IOD, one more link.
    far = rows["srv.gpu0.iod3.hbm1"]
    assert far["tier"] == "same-package" and far["hops"] == 3
    assert far["latency"] == pytest.approx(180 * NS, rel=1e-12)
    # The other package's HBM: over Infinity Fabric (250 ns).
    peer = rows["srv.gpu1.iod0.hbm0"]
    assert peer["tier"] == "peer"
    assert peer["latency"] == pytest.approx((10 + 20 + 250 + 20 + 100) * NS, rel=1e-12)
    # 64 GB/s of Infinity Fabric. The detour through the CPU's two PCIe links (63 GB/s more)
    # leaves the two packages' fabric domain: peer traffic between xGMI-connected GPUs stays
    # on xGMI (the fabric rule).
    assert peer["bandwidth"] == 64 * GB
    host = rows["srv.dram"]
    assert host["tier"] == "host"
    # xcd0 -> iod0 -> iod1 -> cpu -> dram: 10 + 20 + 30 + 20 + 400 + 0 + 0 + 100 ns.
    assert host["latency"] == pytest.approx(580 * NS, rel=1e-12)
    # 63 GB/s of PCIe into this package. The other package's PCIe link does not add: that would
    # need the other GPU to relay from its PCIe link to its Infinity Fabric link.
    assert host["bandwidth"] == 63 * GB
    assert not r.relayed.any() and not r.tiers.relayed.any()
    tiers = tiers_of(r, XCD)
    assert list(tiers) == ["local", "same-package", "peer", "host"]
    assert tiers["local"] == (2, 48 * GB, pytest.approx(130 * NS), 1.2 * TB)
    # The six other stacks at once: the chiplet's own 1.2 TB/s link is the limit, not 6 x 662.
    assert tiers["same-package"] == (6, 144 * GB, pytest.approx(180 * NS), 1.2 * TB)
    assert tiers["peer"][3] == 64 * GB  # one tier, one flow: not 8 x 64 GB/s


def test_mi300x_host_memory_with_the_ideal_ceiling_is_relayed_and_says_so() -> None:
    # forwarding="ideal" lets the other package relay: 63 + 63 GB/s, flagged as relayed; the
    # rows that do not need relaying are not flagged.
    r = memory_reach(mi300x_node(), XCD, forwarding="ideal")
    assert r.forwarding == "ideal"
    rows = rows_of(r, XCD)
    assert rows["srv.dram"]["bandwidth"] == 126 * GB
    relayed = {r.names[m] for m, x in zip(r.memory, r.relayed, strict=True) if x}
    assert relayed == {"srv.dram"}
    tiers = [TIERS[k] for k in r.tiers.tier]
    assert dict(zip(tiers, r.tiers.relayed.tolist(), strict=True)) == {
        "local": False, "same-package": False, "peer": False, "host": True,
    }  # fmt: skip


def test_flat_package_stacks_are_local_to_its_chiplets() -> None:
    # Without I/O dies in the model, the package is the chiplet's die: its stacks are local.
    b = TopologyBuilder()
    b.add_node("g", "gpu")
    b.add_node("g.x", "chiplet", parent="g")
    b.add_node("g.h", "hbm", parent="g", capacity=GB)
    b.add_node("g.y", "chiplet", parent="g")
    b.add_node("g.y.h", "hbm", parent="g.y", capacity=GB)
    b.add_link("g.x", "g.h", bandwidth=GB)
    b.add_link("g.x", "g.y", bandwidth=GB)
    b.add_link("g.y", "g.y.h", bandwidth=GB)
    r = memory_reach(b.build(), "g.x")
    assert {k: v["tier"] for k, v in rows_of(r, "g.x").items()} == {
        "g.h": "local",
        "g.y.h": "same-package",  # the HBM of a sibling chiplet
    }


def test_staircase_and_capacity_within() -> None:
    r = memory_reach(mi300x_node(), XCD)
    steps = capacity_staircase(r)
    assert [s.latency for s in steps] == sorted(s.latency for s in steps)
    assert steps[0].latency == pytest.approx(130 * NS) and steps[0].capacity == 48 * GB
    assert steps[-1].capacity == pytest.approx(384 * GB + 1.5 * TB)
    caps = np.diff([0.0] + [s.capacity for s in steps])
    assert np.all(caps > 0)
    assert r.capacity_within(130 * NS).tolist() == [48 * GB]  # inclusive, to 1 part in 1e9
    assert r.capacity_within(200 * NS).tolist() == [192 * GB]
    # A budget gives the same rows as filtering the unbudgeted result.
    near = memory_reach(mi300x_node(), XCD, within=200 * NS)
    assert rows_of(near, XCD) == {
        k: v for k, v in rows_of(r, XCD).items() if v["latency"] <= 200 * NS
    }


# -- hand-worked: CXL pooling ----------------------------------------------------------------------


CXL_POOL = """
link cxl2_x16 { bandwidth = 63 GB/s, latency = 25 ns }
link ddr5     { bandwidth = 38.4 GB/s }
link eth400   { bandwidth = 400 Gb/s, latency = 600 ns }

def node host {
    cpu c
    dram mem { capacity = 512 GB, bandwidth = 307.2 GB/s, latency = 100 ns }
    nic nic { bandwidth = 400 Gb/s }
    connect c -- mem via ddr5 x8
    connect c -- nic via cxl2_x16
}

cluster rack {
    host n[2]
    cxl_switch sw { latency = 70 ns }
    cxl_memory pool[2] { capacity = 1 TB, bandwidth = 100 GB/s, latency = 100 ns }
    switch tor
    connect n[*].c -- sw via cxl2_x16
    connect sw -- pool[*] via cxl2_x16
    connect n[*].nic -- tor via eth400
}
"""


def test_cxl_pool_tiers_latency_and_shared_link() -> None:
    t = topodsl.loads(CXL_POOL)
    r = memory_reach(t, "kind:cpu")
    rows = rows_of(r, "rack.n0.c")
    assert rows["rack.n0.mem"] == {
        "tier": "local", "latency": pytest.approx(100 * NS), "bandwidth": 307.2 * GB,
        "capacity": 512 * GB, "hops": 1,
    }  # fmt: skip
    # CPU -> switch 25 ns + switch 70 ns + 25 ns + expander access 100 ns = 220 ns.
    pool = rows["rack.pool0"]
    assert pool["tier"] == "cxl" and pool["hops"] == 2
    assert pool["latency"] == pytest.approx(220 * NS, rel=1e-12)
    assert pool["bandwidth"] == 63 * GB  # the CPU's CXL x16, below the expander's 100 GB/s
    # Both expanders at once: not 2 x 63 GB/s. The CPU's own x16 carries 63 GB/s. The other
    # path inside the rack, through the other server's CPU, its NIC, the ToR and this server's
    # NIC (50 GB/s more), reaches the pool through the other CPU's port: the memory bound to
    # that CPU, not this one's CXL tier (the CXL binding rule).
    assert tiers_of(r, "rack.n0.c")["cxl"] == (2, 2 * TB, pytest.approx(220 * NS), 63 * GB)
    assert tiers_of(memory_reach(t, "rack.n0.c", forwarding="ideal"), "rack.n0.c")["cxl"][3] == (
        113 * GB
    )
    # The other server's DRAM is remote: over the network (NIC 50 GB/s) only. The CXL switch
    # does not route one host to another, for bandwidth (it gave 63 GB/s more) or latency
    # (25 + 70 + 25 + 100 ns through it): 25 + 600 + 600 + 25 ns over NICs and ToR, + 100 ns.
    remote = rows["rack.n1.mem"]
    assert remote["tier"] == "remote"
    assert remote["latency"] == pytest.approx((25 + 600 + 600 + 25 + 100) * NS, rel=1e-12)
    assert remote["bandwidth"] == 50 * GB
    assert [s.latency for s in capacity_staircase(r, t.index("rack.n0.c"))] == pytest.approx(
        [100 * NS, 220 * NS, 1350 * NS]
    )


def test_example_files_cxl_pool_and_mi300x() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "topologies"
    t = topodsl.load(root / "cxl_pool.topo")
    r = memory_reach(t, "pool_rack.host0.cpu0")
    # The pool sits in a server of its own with no compute: still the cxl tier, as the file's
    # design notes say: 8 x 512 GB at 250 ns, 63 GB/s through the socket's own x16 (its
    # neighbour's x16 reaches the memory bound to the neighbour: the CXL binding rule).
    assert tiers_of(r, "pool_rack.host0.cpu0")["cxl"] == (
        8, 8 * 512 * GB, pytest.approx(250 * NS), 63 * GB,
    )  # fmt: skip
    assert tiers_of(r, "pool_rack.host0.cpu0")["local"][3] == 307.2 * GB
    t = topodsl.load(root / "mi300x.topo")
    x = "server.gpu0.iod0.xcd0"
    tiers = tiers_of(memory_reach(t, x), x)
    assert (tiers["local"][0], tiers["same-package"][0]) == (2, 6)
    assert tiers["local"][1] == 48 * GB


def test_tier_rules() -> None:
    t = topodsl.loads(CXL_POOL)
    i = t.index
    assert tier_of(t, i("rack.n0.c"), i("rack.n0.mem")) == "local"
    assert tier_of(t, i("rack.n0.c"), i("rack.pool1")) == "cxl"
    assert tier_of(t, i("rack.n0.c"), i("rack.n1.mem")) == "remote"
    m = mi300x_node()
    x = m.index("srv.gpu0.iod1.xcd1")
    assert tier_of(m, x, m.index("srv.gpu0.iod1.hbm0")) == "local"
    assert tier_of(m, x, m.index("srv.gpu0.iod2.hbm1")) == "same-package"
    assert tier_of(m, m.index("srv.gpu0"), m.index("srv.gpu0.iod2.hbm1")) == "local"
    assert tier_of(m, x, m.index("srv.gpu1.iod1.hbm0")) == "peer"
    assert tier_of(m, m.index("srv.cpu"), m.index("srv.gpu1.iod1.hbm0")) == "peer"


def test_latency_counts_each_component_entered_once_not_the_start() -> None:
    b = TopologyBuilder()
    b.add_node("g", "gpu", latency=1000 * NS)  # the element's own latency never counts
    b.add_node("sw", "switch", latency=50 * NS)
    b.add_node("h", "gpu", latency=7 * NS)
    b.add_node("h.m", "hbm", parent="h", latency=90 * NS, capacity=GB)
    b.add_link("g", "sw", bandwidth=GB, latency=5 * NS)
    b.add_link("sw", "h", bandwidth=GB, latency=5 * NS)
    b.add_link("h", "h.m", bandwidth=GB, latency=1 * NS)
    r = memory_reach(b.build(), "g")
    assert float(r.latency[0]) == pytest.approx((5 + 50 + 5 + 7 + 1 + 90) * NS, rel=1e-12)
    assert int(r.hops[0]) == 3


def test_hops_are_the_fewest_links_among_equally_fast_paths() -> None:
    b = TopologyBuilder()
    for name in ("g", "a", "b", "c"):
        b.add_node(name, "switch" if name != "g" else "gpu")
    b.add_node("m", "dram", capacity=GB)
    # Zero latencies everywhere: g-a-b-c-m and g-c-m are equally fast; the shorter counts.
    for u, v in (("g", "a"), ("a", "b"), ("b", "c"), ("c", "m"), ("g", "c")):
        b.add_link(u, v, bandwidth=GB)
    r = memory_reach(b.build())
    assert (float(r.latency[0]), int(r.hops[0])) == (0.0, 2)


def test_memory_is_never_a_relay() -> None:
    b = TopologyBuilder()
    b.add_node("g", "gpu")
    b.add_node("m1", "dram", capacity=GB)
    b.add_node("m2", "dram", capacity=GB)
    b.add_link("g", "m1", bandwidth=GB)
    b.add_link("m1", "m2", bandwidth=GB)  # m2 hangs behind m1 only
    r = memory_reach(b.build())
    assert [r.names[m] for m in r.memory] == ["m1"]


# -- identical servers -----------------------------------------------------------------------------


POD = """
link nvlink4 { bandwidth = 25 GB/s, latency = 100 ns }
link hbm3 { bandwidth = 670 GB/s }
link pcie5 { bandwidth = 63 GB/s, latency = 300 ns }
link eth400 { bandwidth = 400 Gb/s, latency = 600 ns }

def gpu H100 {
    bandwidth = 3.35 TB/s
    hbm stack[5] { capacity = 16 GB, bandwidth = 670 GB/s, latency = 100 ns }
    connect self -- stack[*] via hbm3
}

def node DGX {
    H100 gpu[8]
    nvswitch nvs[4] { latency = 100 ns }
    nic nic[8] { bandwidth = 400 Gb/s, latency = 200 ns }
    cpu cpu[2]
    dram mem[2] { capacity = 1 TB, bandwidth = 300 GB/s, latency = 100 ns }
    connect gpu[*] -- nvs[*] via nvlink4 x4
    connect gpu[i] -- nic[i] via pcie5
    connect gpu[i] -- cpu[i / 4] via pcie5
    connect cpu[i] -- mem[i] via pcie5 x5
}

cluster pod {
    DGX node[4]
    switch leaf[8] { latency = 300 ns }
    connect node[*].nic[r] -- leaf[r] via eth400
}
"""


def test_identical_servers_are_computed_once_and_agree_with_the_oracle() -> None:
    t = topodsl.loads(POD)
    r = memory_reach(t, "kind:gpu", within=2e-6)
    # 32 GPUs, 8 distinct places in 4 identical servers; the budget keeps reach in a server.
    assert r.computed == 8
    for g in range(8):
        a, b = rows_of(r, f"pod.node0.gpu{g}"), rows_of(r, f"pod.node2.gpu{g}")
        assert {k.replace("node0", "node2"): v for k, v in a.items()} == b
    check_against_oracle(t, r, ["pod.node0.gpu0", "pod.node3.gpu6"])
    # Without a budget the reach leaves the server: each GPU is searched on its own.
    full = memory_reach(t, "pod.node[0..1].gpu[0..1]")
    assert full.computed == 4
    assert any(TIERS[c] == "remote" for c in full.tier)
    check_against_oracle(t, full, ["pod.node1.gpu1"])


def test_same_answer_when_servers_are_not_identical() -> None:
    # Make one server different: grouping must not copy across it.
    odd = POD.replace("DGX node[4]", "DGX node[3]\n    DGX odd").replace(
        "connect node[*].nic[r] -- leaf[r] via eth400",
        "connect node[*].nic[r] -- leaf[r] via eth400\n    connect odd.nic[r] -- leaf[r] via eth400"
        "\n    connect odd.gpu[0] -- odd.gpu[1] via pcie5",
    )
    t = topodsl.loads(odd)
    r = memory_reach(t, "kind:gpu", within=2e-6)
    assert r.computed == 16  # the odd server's GPUs are computed for themselves
    check_against_oracle(t, r, ["pod.node1.gpu0", "pod.odd.gpu0", "pod.odd.gpu1"])


def test_benchmark_cluster_is_grouped_and_a_huge_query_is_refused_quickly() -> None:
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.clusters import cluster_source

    t = topodsl.loads(cluster_source(1024))
    r = memory_reach(t, "kind:gpu", within=2e-6)
    # HBM of all 8 GPUs and both DRAMs of the server, computed once per place in a server.
    assert (r.computed, len(r)) == (8, 1024 * 42)
    check_against_oracle(t, r, ["c.su3.node17.gpu5"])
    big = topodsl.loads(cluster_source(10240))
    with pytest.raises(SolverError, match="latency budget"):
        memory_reach(big, "c.su0.node0.gpu0")


# -- the NetworkX oracle ---------------------------------------------------------------------------


def _ancestors(t, row: int) -> list[int]:
    out = [row]
    while t.nodes.parent[out[-1]] >= 0:
        out.append(int(t.nodes.parent[out[-1]]))
    return out


def _subtree(t, root: int) -> set[int]:
    if root < 0:
        return set(range(t.num_nodes))
    out, todo = {root}, [root]
    kids = t.children
    while todo:
        for k in kids[todo.pop()]:
            out.add(k)
            todo.append(k)
    return out


def _oracle_packages(t) -> dict[int, int]:
    """Rows inside a package that does not forward (a GPU or chiplet outside any other compute
    component, without relay = true), mapped to that package: the hardware rule, from the docs."""
    out = {}
    for r in range(t.num_nodes):
        chain = _ancestors(t, r)
        compute = [a for a in chain if ROLE_OF[t.kind_of(a)] == "compute"]
        if not compute:
            continue
        pkg = compute[-1]
        relay = t.nodes.extra.get(pkg, {}).get("relay")
        if t.kind_of(pkg) in ("gpu", "chiplet") and relay is not True:
            out[r] = pkg
    # Memory whose links all go into one such package is that package's.
    owners: dict[int, set] = {}
    for a, b in zip(t.links.src.tolist(), t.links.dst.tolist(), strict=True):
        owners.setdefault(a, set()).add(out.get(b))
        owners.setdefault(b, set()).add(out.get(a))
    for r, got in owners.items():
        if r not in out and ROLE_OF[t.kind_of(r)] == "memory" and len(got) == 1:
            (pkg,) = got
            if pkg is not None:
                out[r] = pkg
    return out


def _oracle_fabric(t) -> dict[int, int]:
    """Per row of an accelerator (a package above, its chiplets and memory) or NVSwitch outside
    any compute component: its fabric domain, a connected group of accelerators and NVSwitches
    over the links between them (docs/solvers.md)."""
    pkg = _oracle_packages(t)
    in_compute = {r for r in range(t.num_nodes)
                  if any(ROLE_OF[t.kind_of(a)] == "compute" for a in _ancestors(t, r))}  # fmt: skip
    switches = {r for r in range(t.num_nodes)
                if t.kind_of(r) == "nvswitch" and r not in in_compute}  # fmt: skip
    g = nx.Graph()
    g.add_nodes_from(("p", p) for p in set(pkg.values()))

    def vertex(r):
        return ("p", pkg[r]) if r in pkg else ("s", r) if r in switches else None

    for a, b in zip(t.links.src.tolist(), t.links.dst.tolist(), strict=True):
        if vertex(a) and vertex(b) and vertex(a) != vertex(b):
            g.add_edge(vertex(a), vertex(b))
    label = {v: i for i, c in enumerate(nx.connected_components(g)) for v in c}
    return {r: label[vertex(r)] for r in set(pkg) | switches if vertex(r) in label}


def _same_domain(t, s: int, mems: list[int]) -> tuple[set[int], list[int]] | None:
    """When ``s`` belongs to an accelerator: the rows of its fabric domain and which of
    ``mems`` belong to accelerators of that domain (traffic between those and ``s`` stays on
    the domain's rows); None when none of them does."""
    dom, pkg = _oracle_fabric(t), _oracle_packages(t)
    inside = [m for m in mems if m in pkg and s in pkg and dom.get(m) == dom.get(s)]
    if not inside:
        return None
    return {r for r, d in dom.items() if d == dom[s]}, inside


def oracle_two_commodities(t, rows, s: int, inside: list[int], outside: list[int], write: bool):
    """The flow between ``s`` and memories of its own fabric domain (``inside``, on the
    domain's rows only) and other memories (``outside``, anywhere in ``rows``) at once: two
    commodities sharing every capacity, one linear program. Memory to element unless
    ``write``."""
    from scipy.optimize import linprog

    n = t.nodes
    domain, _ = _same_domain(t, s, inside)
    g, vertex = oracle_graph(t, rows, set(inside) | set(outside) | {s})
    big = float(np.nansum(np.where(np.isfinite(n.bandwidth), n.bandwidth, 0)))
    big += float(t.links.bandwidth.sum()) + 1.0
    # A super-source or super-sink per commodity at the memories' end, one shared at the
    # element's (its own limit is one capacity for both).
    for k, group in enumerate((inside, outside)):
        for m in group:
            if write:
                cap = min(float(n.bandwidth[m]), float(n.write_bandwidth[m]), big)
                g.add_edge(vertex(m, "in"), ("end", k), capacity=cap)
            else:
                cap = min(float(n.bandwidth[m]), float(n.read_bandwidth[m]), big)
                g.add_edge(("end", k), vertex(m, "out"), capacity=cap)
    if write:
        cap = min(float(n.bandwidth[s]), float(n.read_bandwidth[s]), big)
        g.add_edge("own", vertex(s, "out"), capacity=cap)
    else:
        cap = min(float(n.bandwidth[s]), float(n.write_bandwidth[s]), big)
        g.add_edge(vertex(s, "in"), "own", capacity=cap)
    edges = list(g.edges(data="capacity"))
    verts = sorted({v for e in edges for v in e[:2] if v != "own" and v[0] != "end"}, key=repr)
    index = {v: i for i, v in enumerate(verts)}

    def allowed(u, v, k):
        if ("end", 1 - k) in (u, v):
            return False
        real = [x[0] for x in (u, v) if x != "own" and x[0] != "end"]
        return k == 1 or all(r in domain for r in real)  # commodity 0 on the domain's rows

    cols = [(j, k) for j, (u, v, _) in enumerate(edges) for k in range(2) if allowed(u, v, k)]
    A_eq, A_ub = np.zeros((2 * len(verts), len(cols))), np.zeros((len(edges), len(cols)))
    c = np.zeros(len(cols))
    for i, (j, k) in enumerate(cols):
        u, v, _ = edges[j]
        A_ub[j, i] = 1.0
        if u == "own" or (u != "own" and u[0] == "end"):
            c[i] = -1.0
        for x, sign in ((u, -1.0), (v, 1.0)):
            if x in index:
                A_eq[2 * index[x] + k, i] += sign
    b_ub = np.array([min(cap, big) for *_, cap in edges]) / big
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=np.zeros(len(A_eq)), method="highs")
    assert res.status == 0, res.message
    return float(-res.fun * big)


def oracle_graph(t, rows: set[int], ends: set[int] = frozenset()):
    """The forwarding model as a NetworkX graph of (row, state, side) vertices, written from the
    docs: a row in a sealed package has a native state ("N": traffic that started inside the
    package) and an inbound one ("I": traffic that came in from outside, which may end inside
    but never leave); a link inside the package joins like states, an external link arrives in
    "I" and leaves from "N", and "N" may turn into "I" at no cost. Memory never relays; a device
    limit splits each state into in and out. Arcs carry ``capacity`` and ``latency``."""
    n = t.nodes
    pkg = _oracle_packages(t)
    memory = {r for r in rows if ROLE_OF[t.kind_of(r)] in ("memory", "storage")}
    blocked = memory - set(ends)
    g = nx.DiGraph()

    def states(r):
        return ("N", "I") if r in pkg and r not in memory else ("T",)

    def v(r, state, side):
        if r in memory:
            return (r, "M", side)
        if not math.isfinite(n.bandwidth[r]):
            return (r, state, "")
        return (r, state, side)

    def add(a, b, cap, lat):
        if g.has_edge(a, b):
            g[a][b]["capacity"] += cap
            g[a][b]["latency"] = min(g[a][b]["latency"], lat)
        else:
            g.add_edge(a, b, capacity=cap, latency=lat)

    for r in rows:
        if r in memory:
            g.add_node(v(r, "M", "in"))
            g.add_node(v(r, "M", "out"))
            continue
        for st in states(r):
            if math.isfinite(n.bandwidth[r]):
                add(v(r, st, "in"), v(r, st, "out"), float(n.bandwidth[r]), 0.0)
        if len(states(r)) == 2:
            for side in ("in", "out"):
                add(v(r, "N", side), v(r, "I", side), math.inf, 0.0)
    L = t.links
    for e in range(t.num_links):
        a, b = int(L.src[e]), int(L.dst[e])
        if a not in rows or b not in rows or a == b or a in blocked or b in blocked:
            continue
        for u, w in ((a, b), (b, a)) if not L.simplex[e] else ((a, b),):
            cap, lat = float(L.bandwidth[e]), float(L.latency[e] + n.latency[w])
            inside = u in pkg and w in pkg and pkg[u] == pkg[w]
            if u in memory and w in memory:
                add(v(u, "M", "out"), v(w, "M", "in"), cap, lat)
            elif inside and u in memory:
                add(v(u, "M", "out"), v(w, "N", "in"), cap, lat)
            elif inside and w in memory:
                add(v(u, "I", "out"), v(w, "M", "in"), cap, lat)
            elif inside:
                for st in ("N", "I"):
                    add(v(u, st, "out"), v(w, st, "in"), cap, lat)
            else:
                tail = v(u, "M" if u in memory else ("N" if u in pkg else "T"), "out")
                head = v(w, "M" if w in memory else ("I" if w in pkg else "T"), "in")
                add(tail, head, cap, lat)
    return g, (
        lambda r, side: v(
            r, "M" if r in memory else ("N" if side == "out" else "I") if r in pkg else "T", side
        )
    )


def oracle_flow(t, rows: set[int], sources: list[int], sinks: list[int]) -> float:
    """Max flow with NetworkX inside ``rows`` under the hardware forwarding model, egress and
    ingress limits on the super arcs."""
    n = t.nodes
    big = float(np.nansum(np.where(np.isfinite(n.bandwidth), n.bandwidth, 0)))
    big += float(t.links.bandwidth.sum()) + 1.0
    g, vertex = oracle_graph(t, rows, set(sources) | set(sinks))
    for s in sources:
        cap = min(float(n.bandwidth[s]), float(n.read_bandwidth[s]), big)
        g.add_edge("S", vertex(s, "out"), capacity=cap)
    for s in sinks:
        cap = min(float(n.bandwidth[s]), float(n.write_bandwidth[s]), big)
        g.add_edge(vertex(s, "in"), "T", capacity=cap)
    for *_, d in g.edges(data=True):
        d["capacity"] = min(d["capacity"], big)
    return nx.maximum_flow_value(g, "S", "T")


def oracle_bandwidth(t, s: int, mems: list[int], write: bool = False) -> float:
    """Bandwidth by the documented definition: the flow inside the smallest component holding
    both ends in which anything flows (the whole topology last); memory to element unless
    ``write``."""
    chain = _ancestors(t, s)
    idx = 0
    for m in mems:
        anc = _ancestors(t, m)
        common = [i for i, r in enumerate(chain) if r in anc]
        idx = max(idx, common[0]) if common else len(chain)
    fabric = _same_domain(t, s, mems)
    for root in chain[idx:] + [-1]:
        rows = _subtree(t, root)
        if fabric is None:
            value = oracle_flow(t, rows, [s], mems) if write else oracle_flow(t, rows, mems, [s])
        elif len(fabric[1]) == len(mems):  # all of the domain: its rows alone carry it
            rows &= fabric[0]
            value = oracle_flow(t, rows, [s], mems) if write else oracle_flow(t, rows, mems, [s])
        else:
            outside = [m for m in mems if m not in fabric[1]]
            value = oracle_two_commodities(t, rows, s, fabric[1], outside, write)
        if value > 0 or root < 0:
            return value
    raise AssertionError


def oracle_latency(t, s: int) -> dict[int, float]:
    """Lowest latency from ``s`` to every memory, over the same forwarding model; to the
    memory of its own fabric domain over that domain's rows only."""
    everything = set(range(t.num_nodes))
    out: dict[int, float] = {}
    pkg = _oracle_packages(t)
    got = _same_domain(t, s, [s]) if s in pkg else None
    domain = got[0] if got else None
    for rows in (everything, domain):
        if rows is None:
            continue
        g, vertex = oracle_graph(t, rows, everything)
        start = vertex(s, "out")
        if start not in g:
            continue
        dist = nx.single_source_dijkstra_path_length(g, start, weight="latency")
        mine = {r for r in (domain or ()) if r in pkg}
        for (r, state, side), d in dist.items():
            if state == "M" and side == "in" and (rows is domain) == (r in mine):
                out[r] = min(out.get(r, math.inf), d)
    return out


def check_against_oracle(t, r, sample: list[str] | None = None) -> None:
    """Every row of the elements in ``sample`` (all when None) against NetworkX."""
    mem_kinds = {"hbm", "dram", "cxl_memory"}
    chosen = r.sources.tolist() if sample is None else [t.index(x) for x in sample]
    write = r.direction == "write"
    for s in chosen:
        dist = oracle_latency(t, s)
        expect = {
            m: d
            for m, d in dist.items()
            if t.kind_of(m) in mem_kinds and d <= r.within * (1 + 1e-9)
        }
        sl = r.rows_of(s)
        got = {int(r.memory[k]): k for k in range(sl.start, sl.stop)}
        assert set(got) == set(expect), t.nodes.ids[s]
        for m, k in got.items():
            assert float(r.latency[k]) == pytest.approx(expect[m], rel=1e-9, abs=1e-15)
            expect_bw = oracle_bandwidth(t, s, [m], write)
            assert float(r.bandwidth[k]) == pytest.approx(expect_bw, rel=1e-9)
        tt = r.tiers
        for i in np.flatnonzero(tt.source == s).tolist():
            mems = [m for m, k in got.items() if r.tier[k] == tt.tier[i]]
            expect_bw = oracle_bandwidth(t, s, mems, write)
            assert float(tt.bandwidth[i]) == pytest.approx(expect_bw, rel=1e-9)


def random_cluster(seed: int) -> topodsl.Topology:
    """Small random clusters: servers with GPUs (HBM children), CPUs with DRAM, switches and
    NICs, random limits, latencies and extra links, a few top-level switches and CXL memory."""
    rng = np.random.default_rng(seed)
    b = TopologyBuilder()
    b.add_node("c", "cluster")
    top = [f"c.sw{i}" for i in range(int(rng.integers(1, 3)))]
    for name in top:
        b.add_node(name, "switch", parent="c", latency=float(rng.integers(0, 3)) * 100 * NS)
    loose = "pool"
    b.add_node(loose, "cxl_memory", capacity=512 * GB, bandwidth=float(rng.integers(20, 90)) * GB)
    b.add_link(loose, top[0], bandwidth=63 * GB, latency=50 * NS)
    for n in range(int(rng.integers(2, 4))):
        node = f"c.n{n}"
        b.add_node(node, "node", parent="c")
        transit = [f"{node}.nvs", f"{node}.nic"]
        b.add_node(transit[0], "nvswitch", parent=node)
        b.add_node(transit[1], "nic", parent=node, bandwidth=float(rng.integers(10, 60)) * GB)
        b.add_link(transit[1], top[int(rng.integers(len(top)))], bandwidth=50 * GB,
                   latency=600 * NS)  # fmt: skip
        compute = []
        for g in range(int(rng.integers(1, 4))):
            gpu = f"{node}.gpu{g}"
            bw = float(rng.integers(100, 400)) * GB if rng.random() < 0.5 else None
            b.add_node(gpu, "gpu", parent=node, bandwidth=bw)
            compute.append(gpu)
            for k in range(int(rng.integers(1, 4))):
                hbm_bw = float(rng.integers(50, 200)) * GB
                b.add_node(f"{gpu}.h{k}", "hbm", parent=gpu, capacity=16 * GB,
                           bandwidth=hbm_bw, latency=100 * NS)  # fmt: skip
                b.add_link(gpu, f"{gpu}.h{k}", bandwidth=float(rng.integers(50, 300)) * GB)
            b.add_link(gpu, transit[0], bandwidth=float(rng.integers(20, 200)) * GB,
                       latency=float(rng.integers(0, 3)) * 100 * NS)  # fmt: skip
        cpu = f"{node}.cpu"
        b.add_node(cpu, "cpu", parent=node)
        compute.append(cpu)
        b.add_node(f"{node}.dram", "dram", parent=node, capacity=256 * GB, bandwidth=200 * GB)
        b.add_link(cpu, f"{node}.dram", bandwidth=float(rng.integers(50, 300)) * GB)
        if rng.random() < 0.5:  # a second DRAM reachable two ways
            b.add_node(f"{node}.dram2", "dram", parent=node, capacity=64 * GB)
            b.add_link(cpu, f"{node}.dram2", bandwidth=30 * GB)
            b.add_link(compute[0], f"{node}.dram2", bandwidth=20 * GB)
        b.add_link(cpu, transit[1], bandwidth=63 * GB, latency=300 * NS)
        for _ in range(int(rng.integers(0, 4))):
            u, v = rng.choice(compute + transit, size=2, replace=False)
            b.add_link(str(u), str(v), bandwidth=float(rng.integers(5, 80)) * GB,
                       latency=float(rng.integers(0, 5)) * 100 * NS,
                       simplex=bool(rng.random() < 0.3))  # fmt: skip
    return b.build()


@pytest.mark.parametrize("seed", range(12))
def test_random_clusters_match_the_networkx_oracle(seed: int) -> None:
    t = random_cluster(seed)
    check_against_oracle(t, memory_reach(t))
    check_against_oracle(t, memory_reach(t, within=1e-6))
    if seed % 3 == 0:
        check_against_oracle(t, memory_reach(t, direction="write"))


def test_deterministic() -> None:
    from topodsl.report.reach import reach_to_dict

    t = topodsl.loads(POD)
    a = json.dumps(reach_to_dict(memory_reach(t, "pod.node1.gpu[*]")))
    b = json.dumps(reach_to_dict(memory_reach(topodsl.loads(POD), "pod.node1.gpu[*]")))
    assert a == b


def test_bad_queries_raise_solver_errors() -> None:
    t = h100(None)
    with pytest.raises(SolverError, match="compute elements"):
        memory_reach(t, "g.stack0")
    with pytest.raises(SolverError, match="matches no component"):
        memory_reach(t, "nothing*")
    with pytest.raises(SolverError, match="budget"):
        memory_reach(t, within=-1.0)
    with pytest.raises(SolverError, match="direction"):
        memory_reach(t, direction="sideways")


# -- the command line ------------------------------------------------------------------------------


def run(*args: object) -> subprocess.CompletedProcess:
    return run_topodsl(*args)


@pytest.fixture
def cxl_file(tmp_path):
    p = tmp_path / "cxl.topo"
    p.write_text(CXL_POOL)
    return p


def test_cli_reach_json(cxl_file) -> None:
    r = run("analyze", "reach", cxl_file, "--from", "rack.n0.c", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["units"] == {"latency": "s", "bandwidth": "B/s", "capacity": "B"}
    first = data["rows"][0]
    assert {"from", "memory", "kind", "tier", "latency", "bandwidth", "capacity"} <= set(first)
    assert (first["memory"], first["tier"], first["capacity"]) == ("rack.n0.mem", "local", 512e9)
    assert sorted(row["tier"] for row in data["rows"]) == ["cxl", "cxl", "local", "remote"]
    lat = [row["latency"] for row in data["rows"]]
    assert lat == sorted(lat)  # nearest first
    assert data["tiers"][1] == {
        "from": "rack.n0.c",
        "tier": "cxl",
        "count": 2,
        "capacity": 2e12,
        "latency": pytest.approx(220e-9),
        "bandwidth": 63e9,
        "relayed": False,
    }  # fmt: skip  (the CPU's own x16: the CXL binding rule)
    assert data["within"] is None and data["forwarding"] == "hardware"
    assert not any(row["relayed"] for row in data["rows"])
    # The ideal ceiling routes host to host through the CXL switch: the other server's DRAM
    # gets 63 GB/s more and is nearer, and says so.
    r = run("analyze", "reach", cxl_file, "--from", "rack.n0.c", "--json", "--forwarding", "ideal")
    data = json.loads(r.stdout)
    remote = next(row for row in data["rows"] if row["memory"] == "rack.n1.mem")
    assert remote["bandwidth"] == 113e9 and remote["relayed"] is True
    assert remote["latency"] == pytest.approx(220e-9)


def test_cli_reach_text_and_budget(cxl_file) -> None:
    r = run("analyze", "reach", cxl_file, "--within", "150 ns")
    assert r.returncode == 0, r.stderr
    assert "within 150 ns" in r.stdout and "rack.n0.mem" in r.stdout
    assert "rack.pool0" not in r.stdout
    assert r.stderr == ""


def test_cli_reach_errors_exit_2(cxl_file) -> None:
    r = run("analyze", "reach", cxl_file, "--within", "3 GB")
    assert r.returncode == 2 and "expected a latency" in r.stderr and r.stdout == ""
    r = run("analyze", "reach", cxl_file, "--from", "rack.pool0")
    assert r.returncode == 2 and "compute elements" in r.stderr and "Traceback" not in r.stderr
    r = run("analyze", "reach", cxl_file, "--from", "kind:gpx")
    assert r.returncode == 2 and "did you mean" in r.stderr


def test_a_server_whose_gpu_relays_is_not_copied_from_its_twins() -> None:
    # Two servers built alike (no definitions, so no template tells them apart), but in one
    # GPU 0 relays: there GPU 1 reaches host DRAM through it; in the other it does not.
    b = TopologyBuilder()
    b.add_node("c", "cluster")
    for k, relay in ((0, None), (1, True)):
        n = f"c.n{k}"
        b.add_node(n, "node", parent="c")
        for g in range(2):
            b.add_node(f"{n}.g{g}", "gpu", parent=n, relay=relay if g == 0 else None)
            b.add_node(f"{n}.g{g}.h", "hbm", parent=f"{n}.g{g}", capacity=GB, latency=100 * NS)
            b.add_link(f"{n}.g{g}", f"{n}.g{g}.h", bandwidth=100 * GB)
        b.add_node(f"{n}.nvs", "nvswitch", parent=n)
        b.add_node(f"{n}.cpu", "cpu", parent=n)
        b.add_node(f"{n}.dram", "dram", parent=n, capacity=64 * GB, latency=100 * NS)
        for g in range(2):
            b.add_link(f"{n}.g{g}", f"{n}.nvs", bandwidth=50 * GB, latency=100 * NS)
        b.add_link(f"{n}.g0", f"{n}.cpu", bandwidth=30 * GB, latency=100 * NS)
        b.add_link(f"{n}.cpu", f"{n}.dram", bandwidth=100 * GB)
    t = b.build()
    r = memory_reach(t, "kind:gpu", within=2e-6)
    assert "c.n0.dram" not in rows_of(r, "c.n0.g1")
    assert rows_of(r, "c.n1.g1")["c.n1.dram"]["bandwidth"] == 30 * GB
    # Relaying counts against the strict hardware defaults: flagged.
    flagged = {(r.names[s], r.names[m]) for s, m, x in zip(r.source, r.memory, r.relayed,
                                                            strict=True) if x}  # fmt: skip
    assert flagged == {("c.n1.g1", "c.n1.dram")}
    check_against_oracle(t, r)
