"""Data-path flows and the storage scenarios: hand-worked cases, invariants, NetworkX, the CLI."""

from __future__ import annotations

import json
import math
import subprocess

import networkx as nx
import numpy as np
import pytest
from cli_support import run_topodsl
from path_oracle import _oracle_domains, brute_force

import topodsl
from topodsl.errors import SolverError
from topodsl.solvers.dataflow import (
    checkpoint_drain,
    checkpoint_write,
    cxl_spill,
    data_flow,
    ingest,
    uniform_flow,
)
from topodsl.topology import TopologyBuilder

GB = 1e9


# -- hand-worked -----------------------------------------------------------------------------------


def test_nic_line_rate_below_its_pcie_link() -> None:
    b = TopologyBuilder()
    b.add_node("gpu", "gpu")
    b.add_node("nic", "nic", bandwidth=50 * GB)  # 400 Gb/s
    b.add_node("leaf", "switch")
    b.add_link("gpu", "nic", bandwidth=63 * GB, type="pcie5_x16")
    b.add_link("nic", "leaf", bandwidth=100 * GB, type="eth800")
    r = data_flow(b.build(), "gpu", "leaf", size=1e12)
    assert r.throughput == 50 * GB and r.time == 20.0
    (only,) = r.bottleneck
    assert (only.element, only.source, only.target, only.limit, only.share) == (
        "device", "nic", "nic", "bandwidth", 1.0,
    )  # fmt: skip
    use = {(u.source, u.target): u.utilisation for u in r.usage()}
    assert use[("gpu", "nic")] == pytest.approx(50 / 63)
    assert use[("nic", "nic")] == 1.0 and use[("nic", "leaf")] == 0.5


def ssd_behind_x4() -> topodsl.Topology:
    b = TopologyBuilder()
    b.add_node("gpu", "gpu")
    b.add_node("ssd", "ssd", read_bandwidth=14 * GB, write_bandwidth=4 * GB)
    b.add_link("gpu", "ssd", bandwidth=7.9 * GB, type="pcie4_x4")
    return b.build()


def test_ssd_write_speed_limits_checkpoints_but_not_reads() -> None:
    t = ssd_behind_x4()
    w = data_flow(t, "gpu", "ssd")
    assert w.throughput == 4 * GB
    assert [(c.source, c.limit) for c in w.bottleneck] == [("ssd", "write_bandwidth")]
    rd = data_flow(t, "ssd", "gpu")
    assert rd.throughput == 7.9 * GB
    assert [(c.element, c.source, c.target) for c in rd.bottleneck] == [("link", "ssd", "gpu")]


def test_two_paths_beat_either_alone() -> None:
    b = TopologyBuilder()
    for name in ("a", "x", "y", "z"):
        b.add_node(name, "switch")
    b.add_link("a", "x", bandwidth=50 * GB)
    b.add_link("x", "z", bandwidth=60 * GB)
    b.add_link("a", "y", bandwidth=30 * GB)
    b.add_link("y", "z", bandwidth=40 * GB)
    r = data_flow(b.build(), "a", "z")
    assert r.throughput == 80 * GB  # 50 via x + 30 via y; either alone gives at most 50
    assert sorted(c.bandwidth for c in r.bottleneck) == [30 * GB, 50 * GB]
    assert math.fsum(c.share for c in r.bottleneck) == pytest.approx(1.0)


def test_nothing_flows_gives_infinite_time() -> None:
    b = TopologyBuilder()
    b.add_node("a", "gpu")
    b.add_node("b", "gpu", bandwidth=GB)
    r = data_flow(b.build(), "a", "b", size=1e9)
    assert r.throughput == 0 and math.isinf(r.time)
    from topodsl.report.flow import flow_to_dict

    assert flow_to_dict(r)["time"] is None


def test_bad_inputs_raise_solver_errors() -> None:
    t = ssd_behind_x4()
    with pytest.raises(SolverError, match="both source and sink"):
        data_flow(t, "gpu,ssd", "ssd")
    with pytest.raises(SolverError, match="matches no component"):
        data_flow(t, "nic*", "ssd")
    with pytest.raises(SolverError, match="positive"):
        data_flow(t, "gpu", "ssd", size=-5)
    with pytest.raises(SolverError, match="needs a size"):
        checkpoint_write(t, None)
    with pytest.raises(SolverError, match="even"):
        uniform_flow(t, "gpu", "ssd", even="both")


# -- invariants and the NetworkX oracle ------------------------------------------------------------


def random_network(seed: int) -> topodsl.Topology:
    rng = np.random.default_rng(seed)
    b = TopologyBuilder()
    kinds = ["gpu", "switch", "nic", "ssd", "cpu", "pcie_switch"]
    n = int(rng.integers(4, 12))
    for i in range(n):
        kind = str(rng.choice(kinds))
        attrs = {}
        if rng.random() < 0.4:
            attrs["bandwidth"] = float(rng.integers(1, 60)) * GB
        if kind == "ssd":
            attrs["read_bandwidth"] = float(rng.integers(1, 15)) * GB
            attrs["write_bandwidth"] = float(rng.integers(1, 10)) * GB
        b.add_node(f"v{i}", kind, **attrs)
    for _ in range(int(rng.integers(n, 3 * n))):
        u, v = rng.choice(n, size=2, replace=False)
        b.add_link(int(u), int(v), bandwidth=float(rng.integers(1, 80)) * GB,
                   simplex=bool(rng.random() < 0.2))  # fmt: skip
    return b.build()


def oracle(t, sources, sinks, src_cap=None, snk_cap=None, forwarding="hardware") -> float:
    """Max flow built independently in NetworkX: limited devices split in two, memory and storage
    split with nothing between (no transit), storage read and write limits on the super arcs.
    Under the hardware forwarding model a GPU (here always one with no members, linked only
    outside itself) does not relay either."""
    n, L = t.nodes, t.links
    g = nx.DiGraph()

    def ends_only(r):  # data starts or ends there, never passes through
        if forwarding == "hardware" and t.kind_of(r) == "gpu":
            return True
        return t.role_of(r) in ("memory", "storage")

    def vin(r):
        return ("in", r) if math.isfinite(n.bandwidth[r]) or ends_only(r) else r

    def vout(r):
        return ("out", r) if math.isfinite(n.bandwidth[r]) or ends_only(r) else r

    def add(u, v, c):
        c = min(c, 1e18)
        if g.has_edge(u, v):
            g[u][v]["capacity"] += c
        else:
            g.add_edge(u, v, capacity=c)

    for r in range(t.num_nodes):
        if math.isfinite(n.bandwidth[r]) and not ends_only(r):
            add(("in", r), ("out", r), float(n.bandwidth[r]))
    for e in range(t.num_links):
        u, v = int(L.src[e]), int(L.dst[e])
        add(vout(u), vin(v), float(L.bandwidth[e]))
        if not L.simplex[e]:
            add(vout(v), vin(u), float(L.bandwidth[e]))
    for i, s in enumerate(sources):
        cap = min(n.bandwidth[s], n.read_bandwidth[s]) if src_cap is None else src_cap[i]
        add("S", vout(s), float(cap))
    for i, s in enumerate(sinks):
        cap = min(n.bandwidth[s], n.write_bandwidth[s]) if snk_cap is None else snk_cap[i]
        add(vin(s), "T", float(cap))
    return nx.maximum_flow_value(g, "S", "T")


def _fabric_binds(t, S, T) -> bool:
    """Whether one fabric domain (as the forwarding tests' oracle derives it) holds both a
    source and a sink."""
    domains = _oracle_domains(t, "hardware")
    return bool({domains[r] for r in S.tolist() if r in domains}
                & {domains[r] for r in T.tolist() if r in domains})  # fmt: skip


def endpoints(t, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    perm = rng.permutation(t.num_nodes)
    k = int(rng.integers(1, max(2, t.num_nodes // 2)))
    return np.sort(perm[:k]), np.sort(perm[k : k + int(rng.integers(1, t.num_nodes - k + 1))])


@pytest.mark.parametrize("seed", range(40))
def test_random_flows_match_networkx_and_keep_the_invariants(seed: int) -> None:
    t = random_network(seed)
    S, T = endpoints(t, seed)
    ideal = data_flow(t, S, T, forwarding="ideal")
    assert ideal.throughput == pytest.approx(
        oracle(t, S.tolist(), T.tolist(), forwarding="ideal"), rel=1e-9, abs=1.0
    )
    r = data_flow(t, S, T)
    expected = oracle(t, S.tolist(), T.tolist())
    if _fabric_binds(t, S, T):
        # GPUs linked to each other form a fabric domain, and this question has sources and
        # sinks in one: the path oracle of the forwarding tests, which knows the fabric rule.
        expected = brute_force(t, S.tolist(), T.tolist())
    assert r.throughput == pytest.approx(expected, rel=1e-9, abs=1.0)
    # The ideal ceiling is never below the hardware figure; what it adds is relayed by GPUs
    # or crosses out of a fabric domain and back (which the fabric rule excludes).
    assert ideal.throughput >= r.throughput - 1.0
    gain = ideal.relay_gain + r.fabric_excluded
    assert gain == pytest.approx(ideal.throughput - r.throughput, abs=1.0)
    assert bool(r.fabric) or r.fabric_excluded == 0
    assert set(ideal.relays) <= {t.nodes.ids[g] for g in t.rows_of_kind("gpu")}
    assert bool(ideal.relays) == (ideal.relay_gain > 1.0)
    assert r.relay_gain == 0 and r.relays == ()
    # Max flow = min cut.
    assert math.fsum(c.bandwidth for c in r.bottleneck) == pytest.approx(r.throughput, abs=1.0)
    # No link or device above its capacity.
    for u in r.usage():
        assert u.utilisation <= 1 + 1e-9
    # Conservation at every component that is no endpoint.
    L = t.links
    net = np.zeros(t.num_nodes)
    np.add.at(net, L.dst, r.flow.link_flow[:, 0] - r.flow.link_flow[:, 1])
    np.add.at(net, L.src, r.flow.link_flow[:, 1] - r.flow.link_flow[:, 0])
    inner = np.setdiff1d(np.arange(t.num_nodes), np.concatenate([S, T]))
    assert np.allclose(net[inner], 0.0, atol=1.0)
    # Adding a link never lowers the throughput: always in the ideal model, and under the
    # hardware model while the link leaves the fabric domains as they were (a GPU-GPU link
    # that completes a domain binds its peer traffic to the fabric, by design).
    b = TopologyBuilder()
    for i in range(t.num_nodes):
        b.add_node(t.nodes.ids[i], t.kind_of(i), **{
            k: v for k, v in t.attributes(i).items() if k not in ("kind", "parent")
        })  # fmt: skip
    for e in range(t.num_links):
        b.add_link(int(L.src[e]), int(L.dst[e]), float(L.bandwidth[e]), simplex=bool(L.simplex[e]))
    b.add_link(int(S[0]), int(T[-1]), 5 * GB)
    more = b.build()
    assert data_flow(more, S, T, forwarding="ideal").throughput >= ideal.throughput - 1.0
    from topodsl.solvers.forwarding import forwarding_plan

    if np.array_equal(forwarding_plan(t).domain, forwarding_plan(more).domain):
        assert data_flow(more, S, T).throughput >= r.throughput


def oracle_uniform(t, sources, sinks, even: str) -> float:
    """The uniform rate by bisection on NetworkX max flows (to one part in 1e9)."""
    ends = sources if even == "sources" else sinks
    n = t.nodes
    own = [
        min(n.bandwidth[r], n.read_bandwidth[r] if even == "sources" else n.write_bandwidth[r])
        for r in ends
    ]
    free = oracle(t, sources, sinks)
    lo, hi = 0.0, free / len(ends)

    def feasible(rate: float) -> bool:
        caps = [min(o, rate) for o in own]
        kw = {"src_cap": caps} if even == "sources" else {"snk_cap": caps}
        return oracle(t, sources, sinks, **kw) >= len(ends) * rate * (1 - 1e-12)

    if feasible(hi):
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if feasible(mid) else (lo, mid)
    return lo


@pytest.mark.parametrize("seed", range(25))
def test_uniform_rate_matches_bisection_on_networkx(seed: int) -> None:
    t = random_network(seed)
    S, T = endpoints(t, seed)
    for even in ("sources", "sinks"):
        u = uniform_flow(t, S, T, even=even)
        best = oracle_uniform(t, S.tolist(), T.tolist(), even)
        assert u.rate <= best * (1 + 1e-9) + 1.0
        assert u.rate_bound >= best * (1 - 1e-9) - 1.0
        assert u.rate == pytest.approx(best, rel=1e-6, abs=1.0)
        assert u.total <= u.max_throughput * (1 + 1e-12) + 1.0
        assert 0 <= u.behind <= u.endpoints


def test_uniform_rate_with_an_uneven_share_is_exactly_bracketed() -> None:
    # Three GPUs share 10 GB/s: 3.333... GB/s each, not a round number.
    b = TopologyBuilder()
    b.add_node("sw", "switch")
    b.add_node("ssd", "ssd", write_bandwidth=10 * GB)
    b.add_link("sw", "ssd", bandwidth=100 * GB)
    for g in range(3):
        b.add_node(f"g{g}", "gpu")
        b.add_link(f"g{g}", "sw", bandwidth=63 * GB)
    u = uniform_flow(b.build(), "kind:gpu", "ssd")
    assert u.rate <= 10 * GB / 3 <= u.rate_bound
    assert u.rate == pytest.approx(10 * GB / 3, rel=1e-7)
    assert u.behind == 3
    assert [(x.source, x.limit) for x in u.bottleneck] == [("ssd", "write_bandwidth")]


# -- scenarios on a storage cluster ----------------------------------------------------------------

STORAGE = """
link pcie5_x16 { bandwidth = 63 GB/s }
link pcie4_x4  { bandwidth = 7.9 GB/s }
link eth400    { bandwidth = 400 Gb/s, latency = 600 ns }
link sas3      { bandwidth = 1.2 GB/s }

def node gpu_server {
    gpu gpu[4]
    nic nic[2] { bandwidth = 400 Gb/s }
    pcie_switch pex[2]
    connect gpu[i] -- pex[i / 2] via pcie5_x16
    connect nic[i] -- pex[i] via pcie5_x16
}

def storage_node flash {
    cpu cpu
    nic nic { bandwidth = 400 Gb/s }
    ssd ssd[8] { capacity = 7.68 TB, read_bandwidth = 7 GB/s, write_bandwidth = 4 GB/s }
    connect nic -- cpu via pcie5_x16
    connect ssd[*] -- cpu via pcie4_x4
}

def storage_node disks {
    cpu cpu
    nic nic { bandwidth = 200 Gb/s }
    hdd hdd[12] { capacity = 24 TB, read_bandwidth = 0.28 GB/s, write_bandwidth = 0.26 GB/s }
    connect nic -- cpu via pcie5_x16
    connect hdd[*] -- cpu via sas3
}

cluster dc {
    gpu_server srv[4]
    flash fl[2]
    disks hd[2]
    switch leaf
    connect srv[*].nic[*] -- leaf via eth400
    connect fl[*].nic -- leaf via eth400
    connect hd[*].nic -- leaf via eth400
}
"""


@pytest.fixture(scope="module")
def dc() -> topodsl.Topology:
    return topodsl.loads(STORAGE)


def test_checkpoint_is_limited_by_ssd_writes(dc) -> None:
    (leg,) = checkpoint_write(dc, 2e12).legs
    u = leg.uniform
    # 16 GPUs -> 16 SSDs: 16 x 4 GB/s of writes, below 2 x 50 GB/s of storage NICs.
    assert (u.endpoints, u.rate, u.total, u.max_throughput) == (16, 4 * GB, 64 * GB, 64 * GB)
    assert leg.time == pytest.approx(2e12 / 64e9)  # 31.25 s
    assert {b.limit for b in u.bottleneck} == {"write_bandwidth"} and len(u.bottleneck) == 16


def test_ingest_rate_per_gpu(dc) -> None:
    (leg,) = ingest(dc, size=1e13).legs
    u = leg.uniform
    # Flash: 16 x 7 GB/s of reads behind 2 x 50 GB/s NICs; disks: 24 x 0.28 GB/s.
    total = 100 * GB + 24 * 0.28 * GB
    assert u.total == pytest.approx(total) and u.rate == pytest.approx(total / 16)
    assert u.behind == 16
    nics = [b for b in u.bottleneck if b.kind == "nic"]
    assert len(nics) == 2 and nics[0].share == pytest.approx(50 * GB / total)
    assert leg.time == pytest.approx(1e13 / total)


def test_drain_is_limited_by_hdd_writes(dc) -> None:
    (leg,) = checkpoint_drain(dc, 1e13).legs
    u = leg.uniform
    assert u.total == pytest.approx(24 * 0.26 * GB)  # 6.24 GB/s into 24 drives
    assert u.rate == pytest.approx(24 * 0.26 * GB / 16)  # per SSD
    assert leg.time == pytest.approx(1e13 / (24 * 0.26 * GB))


def test_spill_both_ways() -> None:
    t = topodsl.loads(
        """
        link pcie5_x16 { bandwidth = 63 GB/s }
        link cxl2_x16 { bandwidth = 63 GB/s }
        node box {
            gpu g[2]
            cpu c
            cxl_switch sw
            cxl_memory m[2] { capacity = 256 GB, bandwidth = 40 GB/s }
            connect g[*] -- c via pcie5_x16
            connect c -- sw via cxl2_x16
            connect sw -- m[*] via cxl2_x16
        }
        """
    )
    r = cxl_spill(t, size=126e9)
    spill, fetch = r.legs
    for leg in (spill, fetch):
        assert leg.uniform.rate == 31.5 * GB  # both GPUs behind one CXL x16
        assert leg.time == pytest.approx(2.0)
        assert [(b.source, b.target) for b in leg.uniform.bottleneck] in (
            [("box.c", "box.sw")],
            [("box.sw", "box.c")],
        )
    assert (spill.label, fetch.label) == ("spill", "fetch")


# -- the command line ------------------------------------------------------------------------------


def run(*args: object) -> subprocess.CompletedProcess:
    return run_topodsl(*args)


@pytest.fixture
def dc_file(tmp_path):
    p = tmp_path / "dc.topo"
    p.write_text(STORAGE)
    return p


def test_cli_flow_json(dc_file) -> None:
    r = run("analyze", "flow", dc_file, "--from", "dc.srv[*].gpu[*]", "--to", "dc.fl[*].ssd[*]",
            "--size", "2TB", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["throughput"] == 64e9 and data["time"] == pytest.approx(31.25)
    item = data["cut"][0]
    assert {"from", "to", "bandwidth"} <= set(item)
    assert item["element"] == "device" and item["from"] == item["to"]
    assert item["limit"] == "write_bandwidth"
    assert data["links_total"] >= len(data["links"]) > 0


def test_cli_flow_text(dc_file) -> None:
    r = run("analyze", "flow", dc_file, "--from", "kind:ssd", "--to", "kind:gpu")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("max flow from 16 sources to 16 sinks: 100 GB/s")
    assert "bottleneck (minimum cut, 2 elements, 100 GB/s)" in r.stdout
    assert "    2  dc.fl*.nic  nic bandwidth  50 GB/s  100 GB/s        100.0%" in r.stdout
    assert r.stderr == ""


def test_cli_scenarios(dc_file) -> None:
    r = run("analyze", "checkpoint", dc_file, "--size", "2 TB", "--json")
    assert r.returncode == 0, r.stderr
    leg = json.loads(r.stdout)["legs"][0]
    assert leg["time"] == pytest.approx(31.25) and leg["rate"] == 4e9
    r = run("analyze", "ingest", dc_file)
    assert r.returncode == 0 and "each of 16 sinks receives 6.67 GB/s" in r.stdout
    r = run("analyze", "drain", dc_file, "--size", "10TB")
    assert r.returncode == 0 and "time with equal shares: 1603 s (26.7 min)" in r.stdout


def test_cli_errors_exit_2(dc_file) -> None:
    r = run("analyze", "flow", dc_file, "--from", "kind:gpu", "--to", "kind:gpu")
    assert r.returncode == 2 and "both source and sink" in r.stderr and r.stdout == ""
    r = run("analyze", "flow", dc_file, "--from", "kind:gpu", "--to", "nothing.here")
    assert r.returncode == 2 and "matches no component" in r.stderr
    r = run("analyze", "flow", dc_file, "--from", "kind:gpu", "--to", "kind:ssd", "--size", "5s")
    assert r.returncode == 2 and "expected a size" in r.stderr
    r = run("analyze", "checkpoint", dc_file)
    assert r.returncode == 2 and "--size" in r.stderr
    r = run("analyze", "spill", dc_file)
    assert r.returncode == 2 and "kind:cxl_memory" in r.stderr and "Traceback" not in r.stderr


def test_checkpoint_targets_the_storage_tier_not_node_local_nvme() -> None:
    # Two GPU servers with a local NVMe drive each, and a flash node on the network: the
    # checkpoint goes to the flash node's SSDs. Node-local drives are written only when named.
    text = """
    link pcie { bandwidth = 63 GB/s }
    link nvme_x4 { bandwidth = 15.8 GB/s }
    link eth { bandwidth = 400 Gb/s }
    def node Server {
        gpu g
        nic n { bandwidth = 400 Gb/s }
        ssd local { write_bandwidth = 4 GB/s }
        pcie_switch pex
        connect g -- pex via pcie
        connect n -- pex via pcie
        connect local -- pex via nvme_x4
    }
    cluster c {
        Server s[2]
        storage_node flash {
            cpu c
            nic n { bandwidth = 400 Gb/s }
            ssd d[2] { write_bandwidth = 5 GB/s }
            connect d[*] -- c via nvme_x4
            connect n -- c via pcie
        }
        switch tor
        connect s[*].n -- tor via eth
        connect flash.n -- tor via eth
    }
    """
    t = topodsl.loads(text)
    (leg,) = checkpoint_write(t, 1e12).legs
    assert leg.sinks == "kind:ssd & in:storage_node"
    # 2 GPUs into the flash node's 2 x 5 GB/s of writes.
    assert leg.uniform.total == 10 * GB
    # Every SSD, the local drives included, would add 2 x 4 GB/s.
    (every,) = checkpoint_write(t, 1e12, sinks="kind:ssd").legs
    assert every.uniform.total == 18 * GB
    with pytest.raises(SolverError, match="no SSD in a storage node; to use node-local"):
        checkpoint_write(
            topodsl.loads("cluster c { gpu g; ssd d; connect g -- d { bandwidth = 1 GB/s } }"), 1e12
        )
