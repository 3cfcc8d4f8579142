"""The shipped example topologies: each passes `topodsl check` cleanly and has the figures its
comments promise, computed here in closed form from the published hardware numbers."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import deque
from functools import cache
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import topodsl
from topodsl.solvers.flow import max_flow

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"
EXAMPLES = sorted(TOPOLOGIES.glob("*.topo"))
GB, TB = 1e9, 1e12


@cache
def load(name: str) -> topodsl.Topology:
    return topodsl.load(TOPOLOGIES / f"{name}.topo")


def rows(t: topodsl.Topology, selector: str) -> np.ndarray:
    found = t.select(selector)
    assert len(found), f"{selector!r} selects nothing"
    return found


def links_of_type(t: topodsl.Topology, name: str) -> np.ndarray:
    """Boolean mask of the links of one type."""
    return t.links.type == t.link_type_names.index(name)


def incident(t: topodsl.Topology, row: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Mask of the links touching ``row`` (and in ``mask``)."""
    m = (t.links.src == row) | (t.links.dst == row)
    return m if mask is None else m & mask


def lanes_on(t: topodsl.Topology, row: int, mask: np.ndarray | None = None) -> float:
    return float(t.links.lanes[incident(t, row, mask)].sum())


def bandwidth_on(t: topodsl.Topology, row: int, mask: np.ndarray | None = None) -> float:
    """Per-direction bandwidth of the links touching ``row``."""
    return float(t.links.bandwidth[incident(t, row, mask)].sum())


def total(t: topodsl.Topology, selector: str, field: str) -> float:
    return float(getattr(t.nodes, field)[rows(t, selector)].sum())


def flow(t: topodsl.Topology, sources: str | np.ndarray, sinks: str | np.ndarray) -> float:
    s = rows(t, sources) if isinstance(sources, str) else sources
    d = rows(t, sinks) if isinstance(sinks, str) else sinks
    return max_flow(t, s, d).value


def typed_subgraph_bisection(t: topodsl.Topology, endpoints: np.ndarray, type_name: str) -> float:
    """Exact bisection of ``endpoints`` over links of one type only, by trying every balanced
    split with networkx max flow (small domains only): an oracle independent of the solvers."""
    mask = links_of_type(t, type_name)
    g = nx.DiGraph()
    for s, d, bw in zip(t.links.src[mask], t.links.dst[mask], t.links.bandwidth[mask], strict=True):
        for a, b in ((int(s), int(d)), (int(d), int(s))):
            cap = g.edges[a, b]["capacity"] + bw if g.has_edge(a, b) else bw
            g.add_edge(a, b, capacity=float(cap))
    ends = [int(e) for e in endpoints]
    best = np.inf
    for half in itertools.combinations(ends[1:], len(ends) // 2 - 1):
        left = {ends[0], *half}
        h = g.copy()
        for e in ends:
            if e in left:
                h.add_edge("S", e)  # no capacity attribute: unbounded
            else:
                h.add_edge(e, "T")
        best = min(best, nx.maximum_flow_value(h, "S", "T"))
    return best


# -- every example ----------------------------------------------------------------------------


def test_the_examples_are_there() -> None:
    names = {p.stem for p in EXAMPLES}
    assert names == {
        "dgx_h100",
        "mi300x",
        "gb200_nvl72",
        "cxl_pool",
        "storage_cluster",
        "cluster_256",
        "small_pod",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_loads_without_warnings(path: Path) -> None:
    t = topodsl.load(path)
    assert [w.render() for w in t.warnings] == []
    assert t.num_nodes > 0 and t.num_links > 0


def test_topodsl_check_passes_on_every_example() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "topodsl", "check", *map(str, EXAMPLES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.count(": ok (") == len(EXAMPLES)


@pytest.mark.parametrize(
    "path", sorted((TOPOLOGIES / "parts").glob("*.topo")), ids=lambda p: p.stem
)
def test_parts_hold_declarations_only(path: Path) -> None:
    # An imported file contributes definitions, link types and constants; a parts file that
    # built something would make every importer warn.
    t = topodsl.load(path)
    assert t.num_nodes == 0
    assert [w.message for w in t.warnings] == ["the file declares no components"]


# -- DGX H100 ---------------------------------------------------------------------------------


def test_dgx_h100_counts_and_capacities() -> None:
    t = load("dgx_h100")
    assert len(rows(t, "kind:gpu")) == 8
    assert len(rows(t, "dgx.gpu*.stack*")) == 8 * 5
    assert total(t, "kind:hbm", "capacity") == pytest.approx(8 * 80 * GB)
    assert total(t, "dgx.gpu0.stack*", "bandwidth") == pytest.approx(3.35 * TB)
    assert total(t, "kind:dram", "capacity") == pytest.approx(2 * TB)
    assert total(t, "kind:ssd", "capacity") == pytest.approx(8 * 3.84 * TB)
    assert len(rows(t, "kind:nvswitch")) == 4
    assert len(rows(t, "kind:pcie_switch")) == 4
    compute_nics = rows(t, "dgx.nic*")
    assert len(compute_nics) == 8
    assert set(t.nodes.bandwidth[compute_nics]) == {400e9 / 8}
    assert len(rows(t, "dgx.snic*")) == 2


def test_dgx_h100_nvlink_per_gpu_and_split() -> None:
    t = load("dgx_h100")
    nv = links_of_type(t, "nvlink4")
    assert nv.sum() == 8 * 4  # each GPU to each switch, lanes bundled
    for g in rows(t, "kind:gpu"):
        assert lanes_on(t, g, nv) == 18
        assert bandwidth_on(t, g, nv) == pytest.approx(18 * 25 * GB)  # 450 GB/s
    # 5/4/4/5 lanes per GPU make 40/32/32/40 ports used on the four chips.
    used = [lanes_on(t, s, nv) for s in rows(t, "kind:nvswitch")]
    assert used == [40, 32, 32, 40]


def test_dgx_h100_nvlink_bisection_is_1_8_tb_per_direction() -> None:
    t = load("dgx_h100")
    gpus = rows(t, "kind:gpu")
    # Every balanced split of the 8 GPUs over NVLink alone: 4 x 18 x 25 GB/s.
    assert typed_subgraph_bisection(t, gpus, "nvlink4") == pytest.approx(1.8 * TB)
    # Over the whole server the PCIe tree is a path too (GPUs 0-3 to 4-7 through CPU 0, UPI
    # and CPU 1: 2 x 63 GB/s more), but it leaves the NVLink domain and comes back: the
    # fabric rule leaves it out, the ideal ceiling counts it.
    assert flow(t, gpus[:4], gpus[4:]) == pytest.approx(1.8 * TB)
    ideal = max_flow(t, gpus[:4], gpus[4:], forwarding="ideal").value
    assert ideal == pytest.approx(1.8 * TB + 2 * 63 * GB)


def test_dgx_h100_scale_out_injection() -> None:
    t = load("dgx_h100")
    # Each GPU reaches its own NIC over the shared PCIe switch: 8 x 50 GB/s in all.
    assert flow(t, "kind:gpu", "dgx.nic*") == pytest.approx(8 * 400e9 / 8)


# -- AMD MI300X -------------------------------------------------------------------------------


def test_mi300x_chiplets_and_hbm() -> None:
    t = load("mi300x")
    assert len(rows(t, "kind:gpu")) == 8
    assert len(rows(t, "server.gpu*.iod*")) == 8 * 4
    assert len(rows(t, "server.gpu*.iod*.xcd*")) == 8 * 8
    assert len(rows(t, "kind:hbm")) == 8 * 8
    assert total(t, "kind:hbm", "capacity") == pytest.approx(8 * 192 * GB)
    assert total(t, "server.gpu0.**.stack*", "bandwidth") == pytest.approx(8 * 662.4 * GB)
    # Containment: an XCD and its local stacks share their IOD parent.
    xcd = t.index("server.gpu3.iod2.xcd1")
    assert t.nodes.ids[t.nodes.parent[xcd]] == "server.gpu3.iod2"


def test_mi300x_infinity_fabric_is_fully_connected() -> None:
    t = load("mi300x")
    ifl = links_of_type(t, "if_x16")
    assert ifl.sum() == 8 * 7 // 2
    gpu_of = {r: t.nodes.ids[r].split(".")[1] for r in rows(t, "server.gpu*.iod*")}
    pairs = {
        frozenset((gpu_of[int(s)], gpu_of[int(d)]))
        for s, d in zip(t.links.src[ifl], t.links.dst[ifl], strict=True)
    }
    assert pairs == {frozenset((f"gpu{i}", f"gpu{j}")) for i in range(8) for j in range(i)}
    for g in range(8):
        iods = rows(t, f"server.gpu{g}.iod*")
        per_iod = [lanes_on(t, r, ifl) for r in iods]
        host = [lanes_on(t, r, links_of_type(t, "pcie5_x16")) for r in iods]
        assert sum(per_iod) == 7  # 7 x 64 GB/s = 448 GB/s per GPU per direction
        assert [a + b for a, b in zip(per_iod, host, strict=True)] == [2, 2, 2, 2]


def test_mi300x_bisection() -> None:
    t = load("mi300x")
    halves = [rows(t, f"server.gpu[{a}..{b}].iod*") for a, b in ((0, 3), (4, 7))]
    # (8/2)^2 = 16 pairs cross, one x16 each. The host path (two x16 into CPU 0) leaves the
    # GPUs' Infinity Fabric domain: the fabric rule keeps peer traffic off it.
    assert flow(t, *halves) == pytest.approx(16 * 64 * GB)


def test_mi300x_memory_tiers_by_hops() -> None:
    t = load("mi300x")
    adj: dict[int, list[int]] = {}
    for s, d in zip(t.links.src.tolist(), t.links.dst.tolist(), strict=True):
        adj.setdefault(s, []).append(d)
        adj.setdefault(d, []).append(s)
    start = t.index("server.gpu0.iod0.xcd0")
    dist = {start: 0}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for v in adj[u]:
            if v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    hops = {k: {dist[t.index(f"server.gpu0.iod{k}.stack{s}")] for s in range(2)} for k in range(4)}
    # local stacks: xcd -> iod -> stack; one IF-AP edge further for the neighbours, two for the
    # diagonal IOD.
    assert hops == {0: {2}, 1: {3}, 2: {3}, 3: {4}}
    # Bandwidth: one XCD reads its local pair at the stacks' full 2 x 662.4 GB/s.
    local = rows(t, "server.gpu0.iod0.stack*")
    assert flow(t, np.array([start]), local) == pytest.approx(2 * 662.4 * GB)


# -- GB200 NVL72 ------------------------------------------------------------------------------


def test_gb200_counts_and_memory() -> None:
    t = load("gb200_nvl72")
    assert len(rows(t, "kind:gpu")) == 72
    assert len(rows(t, "kind:cpu")) == 36
    assert len(rows(t, "nvl72.tray*")) == 18
    assert len(rows(t, "kind:nvswitch")) == 18
    assert total(t, "kind:hbm", "capacity") == pytest.approx(72 * 186 * GB)
    assert total(t, "kind:dram", "capacity") == pytest.approx(36 * 480 * GB)


def test_gb200_nvlink_links_and_ports() -> None:
    t = load("gb200_nvl72")
    nv = links_of_type(t, "nvlink5")
    assert nv.sum() == 72 * 18
    for g in rows(t, "kind:gpu"):
        assert bandwidth_on(t, g, nv) == pytest.approx(18 * 50 * GB)  # 900 GB/s
    for chip in rows(t, "kind:nvswitch"):
        assert lanes_on(t, chip, nv) == 72  # one link from each GPU: all 72 ports
    # "130 TB/s" is the total injection both ways: 72 x 18 x 50 GB/s x 2.
    assert float(t.links.bandwidth[nv].sum()) * 2 == pytest.approx(129.6 * TB)


def test_gb200_bisection_is_32_4_tb_per_direction() -> None:
    t = load("gb200_nvl72")
    gpus = rows(t, "kind:gpu")
    expected = 36 * 18 * 50 * GB
    assert flow(t, gpus[:36], gpus[36:]) == pytest.approx(expected)  # trays 0-8 vs 9-17
    # Any other balanced split is no smaller (one that cuts a superchip adds C2C paths).
    rng = np.random.default_rng(7)
    for _ in range(3):
        perm = rng.permutation(gpus)
        assert flow(t, perm[:36], perm[36:]) >= expected * (1 - 1e-9)


# -- CXL memory pool --------------------------------------------------------------------------


def test_cxl_pool_capacity_bandwidth_and_latency() -> None:
    t = load("cxl_pool")
    expanders = rows(t, "kind:cxl_memory")
    assert len(expanders) == 8
    assert total(t, "kind:cxl_memory", "capacity") == pytest.approx(8 * 512 * GB)
    assert len(rows(t, "kind:gpu")) == 2 * 4
    # All four sockets into the pool: 4 x 63 GB/s, less than the expanders' 8 x 63 GB/s.
    assert flow(t, "kind:cpu", expanders) == pytest.approx(4 * 63 * GB)
    assert flow(t, "kind:cxl_switch", expanders) == pytest.approx(8 * 63 * GB)
    # One socket: its own x16 (its neighbour's x16 reaches the neighbour's memory: the CXL
    # binding rule).
    assert flow(t, "pool_rack.host0.cpu0", expanders) == pytest.approx(63 * GB)
    # Pooled load latency: switch 80 ns + expander 170 ns = 250 ns, against 100 ns local.
    vcs = rows(t, "kind:cxl_switch")
    assert len(vcs) == 4
    assert t.nodes.latency[vcs[0]] + t.nodes.latency[expanders[0]] == pytest.approx(250e-9)
    assert t.nodes.latency[t.index("pool_rack.host0.mem0")] == pytest.approx(100e-9)
    # 4 host ports and 8 expander ports: the 16 x16 ports of a 256-lane switch, less 4.
    ports = sum(lanes_on(t, v) for v in vcs) - 4 * 8 + 8
    assert ports == 12 <= 16


def test_cxl_pool_hosts_reach_the_pool_but_not_each_other() -> None:
    from topodsl.solvers.reach import memory_reach

    t = load("cxl_pool")
    r = memory_reach(t, [t.index("pool_rack.host0.cpu0")])
    latency = {r.names[m]: float(lat) for m, lat in zip(r.memory, r.latency, strict=True)}
    assert latency["pool_rack.host0.mem0"] == pytest.approx(100e-9)
    assert all(latency[f"pool_rack.pool.exp{k}"] == pytest.approx(250e-9) for k in range(8))
    # Virtual CXL switches route a host only to the expanders, never to the other host.
    assert not any(name.startswith("pool_rack.host1") for name in latency)


# -- storage cluster --------------------------------------------------------------------------


def test_storage_cluster_tiers() -> None:
    t = load("storage_cluster")
    flash_ssds = rows(t, "store.flash*.ssd*")
    hdds = rows(t, "kind:hdd")
    assert len(flash_ssds) == 8 * 24 and len(hdds) == 4 * 60
    assert total(t, "store.flash*.ssd*", "capacity") == pytest.approx(8 * 24 * 15.36 * TB)
    assert total(t, "kind:hdd", "capacity") == pytest.approx(4 * 60 * 24 * TB)
    leaves = rows(t, "store.leaf*")
    # Flash is NIC bound: 8 nodes x 2 x 50 GB/s (the drives could read 2.5 TB/s).
    assert flow(t, flash_ssds, leaves) == pytest.approx(8 * 2 * 50 * GB)
    # HDD is drive bound: 240 x 285 MB/s.
    assert flow(t, hdds, leaves) == pytest.approx(240 * 0.285 * GB)
    # Writing to the flash tier is capped by the drives' write speed per node: 24 x 6.6 GB/s
    # exceeds the NICs, so the network still bounds it.
    assert flow(t, leaves, flash_ssds) == pytest.approx(8 * 2 * 50 * GB)
    # The clients ingest through their two storage NICs each.
    assert flow(t, flash_ssds, "store.client*.snic*") == pytest.approx(4 * 2 * 50 * GB)


def test_storage_cluster_leaves_are_non_blocking() -> None:
    t = load("storage_cluster")
    spine_links = np.isin(t.links.dst, rows(t, "store.spine*"))
    for leaf in rows(t, "store.leaf*"):
        down = bandwidth_on(t, leaf, ~spine_links)
        up = bandwidth_on(t, leaf, spine_links)
        assert down == pytest.approx(12 * 50 * GB + 4 * 25 * GB)
        assert up == pytest.approx(2 * 8 * 50 * GB) and up >= down


# -- 256-GPU cluster --------------------------------------------------------------------------


def test_cluster_256_counts() -> None:
    t = load("cluster_256")
    assert len(rows(t, "kind:gpu")) == 256
    assert len(rows(t, "pod.node*")) == 32
    assert total(t, "kind:hbm", "capacity") == pytest.approx(256 * 80 * GB)
    nv = links_of_type(t, "nvlink4")
    for g in rows(t, "pod.node[0..1].gpu*"):
        assert bandwidth_on(t, g, nv) == pytest.approx(450 * GB)
    assert len(rows(t, "pod.store*")) == 8


def test_cluster_256_is_rail_optimised_and_non_blocking() -> None:
    t = load("cluster_256")
    ids = t.nodes.ids
    ib = links_of_type(t, "ndr400")
    for r, leaf in enumerate(rows(t, "pod.leaf*")):
        ends = {ids[int(s)] for s in t.links.src[incident(t, leaf, ib)]}
        assert {e for e in ends if ".nic" in e} == {f"pod.node{n}.nic{r}" for n in range(32)}
        assert lanes_on(t, leaf, ib) == 64 == t.nodes.ports[leaf]
        up = incident(t, leaf, ib & np.isin(t.links.dst, rows(t, "pod.spine*")))
        assert float(t.links.bandwidth[up].sum()) == pytest.approx(32 * 50 * GB)  # = down
    for spine in rows(t, "pod.spine*"):
        assert lanes_on(t, spine, ib) == 64 == t.nodes.ports[spine]


def test_cluster_256_compute_fabric_bisection() -> None:
    t = load("cluster_256")
    # 128 GPUs' NICs to the other 128 at full line rate: 128 x 50 GB/s = 6.4 TB/s.
    assert flow(t, "pod.node[0..15].nic*", "pod.node[16..31].nic*") == pytest.approx(6.4 * TB)


def test_cluster_256_storage_fabric() -> None:
    t = load("cluster_256")
    sleaves = rows(t, "pod.sleaf*")
    for s in sleaves:
        assert lanes_on(t, s) == 32 + 8 + 4  # servers, flash nodes, HDD nodes
    # 8 flash nodes serve 800 GB/s; the servers could take 32 x 2 x 50 = 3.2 TB/s (4:1).
    assert flow(t, "pod.store*.ssd*", sleaves) == pytest.approx(800 * GB)
    assert flow(t, sleaves, "pod.node*.snic*") == pytest.approx(3.2 * TB)
