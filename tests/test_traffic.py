"""Routed throughput: closed forms, hand-worked cases, and an independent routing oracle.

The oracle routes with NetworkX: every shortest path of the forwarding model's network
(``all_shortest_paths``), each taken with the product of the equal splits along it; its loads
must be the solver's. The ceiling's linear program is checked against max flows (one pair:
they must agree) and against the cut bounds (never below it).
"""

from __future__ import annotations

import json
import random

import networkx as nx
import numpy as np
import pytest
from cli_support import cli, invoke
from rebuild import rebuilt_without

import topodsl
from topodsl.analyses import ArgumentError, run
from topodsl.check import check
from topodsl.failures.engine import failure_analysis
from topodsl.patterns import PatternError, demand_from_csv, make_demand
from topodsl.solvers.concurrent import concurrent_ceiling
from topodsl.solvers.flow import ARC_LINK, flow_network, max_flow
from topodsl.solvers.forwarding import forwarding_plan
from topodsl.solvers.routing import routed_traffic
from topodsl.solvers.traffic import traffic
from topodsl.topology import TopologyBuilder

C = 10e9  # the link bandwidth of the closed forms
GB = 1e9


def ring(n: int, extra: str = "") -> topodsl.Topology:
    return topodsl.loads(
        f"link l {{ bandwidth = 10 GB/s }}\ncluster c {{ switch s[{n}]; "
        f"connect ring(s[*]) via l {extra} }}"
    )


# -- closed forms --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 6, 8, 10])
def test_ring_all_to_all_is_limited_by_the_bisection(n: int) -> None:
    t = ring(n)
    E = t.select("kind:switch")
    r = traffic(t, "all-to-all", E)
    # Every link direction carries n^2 / 8 units (distances 1 .. n/2 - 1 one way, the
    # antipode split both ways): r = 8c / n^2, and the bisection (two links, 2c per direction)
    # carries the (n/2)^2 pairs that cross it.
    assert r.routed.rate == pytest.approx(8 * C / n**2, rel=1e-12)
    bisection = run(t, "bisection", endpoints="kind:switch").value
    assert r.routed.rate * (n // 2) ** 2 == pytest.approx(bisection.lower, rel=1e-12)
    assert r.ceiling.upper == pytest.approx(r.routed.rate, rel=2e-6)  # ECMP is optimal here


def test_a_permutation_on_a_ring_gets_two_thirds_of_its_ceiling() -> None:
    """Shift by 2 on a 6-ring (a 1-D torus): shortest paths go one way, 2 flows per link:
    c/2. The best routing sends a third the long way (4 links): 2(1-x) = 4x, x = 1/3, load 4/3
    per unit: 3c/4. Efficiency 2/3."""
    t = ring(6)
    r = traffic(t, "shift:2", "kind:switch")
    assert r.routed.rate == pytest.approx(C / 2, rel=1e-12)
    assert r.ceiling.exact and r.ceiling.upper == pytest.approx(0.75 * C, rel=2e-6)
    lo, hi = r.efficiency
    assert lo == pytest.approx(2 / 3, rel=2e-6) and hi == pytest.approx(2 / 3, rel=2e-6)


def test_a_permutation_on_a_2d_torus_gets_three_quarters_of_its_ceiling() -> None:
    """4 x 4 torus, every chip to its diagonal neighbour (x+1, y+1). ECMP: two shortest
    paths, half each way; every +x and +y link carries 1 unit: c. The best routing also uses
    the long ways (3 hops back in a dimension): with alpha on (+x, +y), beta on each of the
    two mixed ways and gamma on (-x, -y), + links carry alpha + beta and - links 3 (beta +
    gamma); balanced at alpha + beta = 3 (beta + gamma) = c / lam with all four summing to 1:
    lam = 4c/3. Efficiency 3/4."""
    t = topodsl.loads(
        "link l { bandwidth = 10 GB/s }\ncluster c { switch s[16]; "
        "connect torus(s[*], 4, 4) via l }"
    )
    lines = [
        f"c.s{4 * x + y},c.s{4 * ((x + 1) % 4) + (y + 1) % 4}" for x in range(4) for y in range(4)
    ]
    r = traffic(t, demand_from_csv(t, "\n".join(lines)))
    assert r.routed.rate == pytest.approx(C, rel=1e-12)
    assert r.ceiling.upper == pytest.approx(4 * C / 3, rel=2e-6)


def leaf_spine(up_bandwidth: str) -> topodsl.Topology:
    return topodsl.loads(f"""
link l  {{ bandwidth = 10 GB/s }}
link up {{ bandwidth = {up_bandwidth} }}
cluster c {{
    node n[16] {{ gpu g; nic x; connect g -- x via l }}
    switch leaf[4]
    switch spine[2]
    connect n[i].x -- leaf[i / 4] via l
    connect leaf[*] -- spine[*] via up
}}""")


def test_all_to_all_on_a_non_blocking_fabric_reaches_the_ceiling() -> None:
    t = leaf_spine("20 GB/s")  # 4 hosts x 10 GB/s down, 2 spines x 20 GB/s up
    r = traffic(t, "all-to-all", "kind:gpu")
    assert r.routed.rate == pytest.approx(C / 15, rel=1e-12)  # each host link, 15 flows
    assert r.ceiling.exact and r.efficiency[1] == 1.0
    assert r.efficiency[0] == pytest.approx(1.0, rel=2e-6)


def test_a_2_to_1_oversubscribed_fabric_halves_cross_leaf_throughput() -> None:
    shift = "shift:4"  # host i of leaf a to host i of leaf a + 1: every flow crosses
    full = traffic(leaf_spine("20 GB/s"), shift, "kind:gpu")
    half = traffic(leaf_spine("10 GB/s"), shift, "kind:gpu")
    assert full.routed.rate == pytest.approx(C, rel=1e-12)
    assert half.routed.rate == pytest.approx(C / 2, rel=1e-12)
    assert half.ceiling.upper == pytest.approx(C / 2, rel=2e-6)


def test_a_fat_tree_from_the_generator_routes_all_to_all_at_its_ceiling() -> None:
    t = topodsl.loads("""
link l { bandwidth = 10 GB/s }
cluster c {
    node h[16] { gpu g; nic x; connect g -- x via l }
    fabric fat_tree ft { hosts = h[*].x, k = 4, link = l }
}""")
    r = traffic(t, "all-to-all", "kind:gpu")
    assert r.routed.rate == pytest.approx(C / 15, rel=1e-12)  # each host's own link
    assert r.ceiling.exact and r.efficiency[0] == pytest.approx(1.0, rel=2e-6)


# -- the model, by hand --------------------------------------------------------------------------


def _two_paths(relay: str = "") -> topodsl.Topology:
    """Two switches joined by a GPU (2 hops) and by a chain of two more switches (3 hops)."""
    return topodsl.loads(f"""
link l {{ bandwidth = 10 GB/s }}
cluster c {{
    nic h[2]
    switch a; switch b; switch p; switch q
    gpu g {{ {relay} }}
    connect h[0] -- a via l
    connect h[1] -- b via l
    connect a -- g via l
    connect g -- b via l
    connect a -- p via l
    connect p -- q via l
    connect q -- b via l
}}""")


def _link(t, a: str, b: str) -> int:
    L = t.links
    ia, ib = t.index(a), t.index(b)
    return next(e for e in range(t.num_links) if {int(L.src[e]), int(L.dst[e])} == {ia, ib})


@pytest.mark.parametrize(
    "relay, forwarding, through_gpu",
    [("", "hardware", False), ("relay = true", "hardware", True), ("", "ideal", True)],
)
def test_no_transit_through_a_gpu_unless_it_relays(relay, forwarding, through_gpu) -> None:
    t = _two_paths(relay)
    r = routed_traffic(t, make_demand(t, "all-to-all", t.select("c.h*")), forwarding=forwarding)
    on_gpu = r.link_load[_link(t, "c.a", "c.g")].sum()
    on_chain = r.link_load[_link(t, "c.p", "c.q")].sum()
    assert (on_gpu > 0, on_chain > 0) == (through_gpu, not through_gpu)
    assert r.rate == pytest.approx(C, rel=1e-12)


def test_peer_traffic_of_a_fabric_domain_routes_on_its_fabric_alone() -> None:
    """Two GPUs on one NVSwitch (5 GB/s each: a fabric domain) and on one network switch
    (10 GB/s each), a third GPU of another server on that switch (40 GB/s), all to all. Both
    paths between the peers are 2 hops, but the fabric rule keeps their traffic on NVLink
    (NCCL's P2P never spreads a peer copy over the network): ECMP routes it there alone, 5
    GB/s per pair (not 6.67 GB/s with half of it on the network, as without the rule), and
    the ceiling obeys the same rule (5 GB/s, not 7.5 GB/s with the peers' overflow on the
    network). The third GPU's pairs take the switch, never a peer GPU."""
    t = topodsl.loads("""
link nv { bandwidth = 5 GB/s }
link net { bandwidth = 10 GB/s }
link fat { bandwidth = 40 GB/s }
cluster c {
    node n { gpu g[2]; nvswitch s; connect g[*] -- s via nv }
    node m { gpu g }
    switch leaf
    connect n.g[*] -- leaf via net
    connect m.g -- leaf via fat
}""")
    r = traffic(t, "all-to-all", "kind:gpu")
    for g in ("c.n.g0", "c.n.g1"):
        assert r.routed.link_load[_link(t, g, "c.leaf")].tolist() == [1.0, 1.0]  # m.g's pairs
        assert r.routed.link_load[_link(t, g, "c.n.s")].tolist() == [1.0, 1.0]  # the peer's
    assert r.routed.rate == pytest.approx(5 * GB, rel=1e-12)
    assert r.ceiling.upper == pytest.approx(5 * GB, rel=1e-5)
    ideal = traffic(t, "all-to-all", "kind:gpu", forwarding="ideal")  # no domains
    assert ideal.routed.rate == pytest.approx(10 * GB / 1.5, rel=1e-12)
    assert ideal.ceiling.upper == pytest.approx(7.5 * GB, rel=1e-5)


def test_pairs_without_a_route_leave_every_flow_at_zero() -> None:
    t = topodsl.loads("""
link l { bandwidth = 10 GB/s }
cluster c { nic h[2]; switch a; switch b; gpu g
            connect h[0] -- a via l; connect h[1] -- b via l
            connect a -- g via l; connect g -- b via l }""")
    r = routed_traffic(t, make_demand(t, "all-to-all", t.select("c.h*")))
    assert r.unrouted == 2 and r.rate == 0.0 and r.bottleneck == ()
    assert (
        routed_traffic(t, make_demand(t, "all-to-all", t.select("c.h*")), forwarding="ideal").rate
        == C
    )


def test_half_duplex_and_one_way_links() -> None:
    def two(kind: str) -> topodsl.Topology:
        link = {"full": "", "half": ', duplex = "half"'}.get(kind, "")
        op = "->" if kind == "simplex" else "--"
        return topodsl.loads(
            f"link l {{ bandwidth = 10 GB/s{link} }}\n"
            f"cluster c {{ switch s[2]; connect s[0] {op} s[1] via l }}"
        )

    rate = {
        k: routed_traffic(t := two(k), make_demand(t, "all-to-all", t.select("c.s*"))).rate
        for k in ("full", "half")
    }
    assert rate == {"full": C, "half": C / 2}
    t = two("simplex")
    r = routed_traffic(t, make_demand(t, "all-to-all", t.select("c.s*")))
    assert r.unrouted == 1 and r.rate == 0.0
    assert routed_traffic(t, demand_from_csv(t, "c.s0,c.s1")).rate == C


def test_a_device_limit_caps_what_passes_through_it() -> None:
    t = topodsl.loads("""
link l { bandwidth = 10 GB/s }
cluster c { nic h[4]; switch s { bandwidth = 15 GB/s }; connect h[*] -- s via l }""")
    r = routed_traffic(t, make_demand(t, "shift:2", t.select("c.h*")))
    assert r.rate == pytest.approx(15e9 / 4, rel=1e-12)
    assert [b.element for b in r.bottleneck] == ["device"]


def test_latency_or_hops_choose_different_paths() -> None:
    t = topodsl.loads("""
link fast { bandwidth = 10 GB/s, latency = 100 ns }
link slow { bandwidth = 10 GB/s, latency = 5 us }
cluster c { nic h[2]; switch a; switch b; switch p; switch q
            connect h[0] -- a via fast; connect h[1] -- b via fast
            connect a -- b via slow
            connect a -- p via fast; connect p -- q via fast; connect q -- b via fast }""")
    d = make_demand(t, "all-to-all", t.select("c.h*"))
    direct = _link(t, "c.a", "c.b")
    hops = routed_traffic(t, d, metric="hops")
    latency = routed_traffic(t, d, metric="latency")
    assert hops.link_load[direct].sum() > 0 and latency.link_load[direct].sum() == 0


def test_max_min_fair_rates_fill_the_spare_capacity() -> None:
    """a -- b (20 GB/s) -- c (10 GB/s): a->c and b->c share b--c (5 each); a->b takes the rest
    of a--b: 15. The uniform rate is the smallest fair rate."""
    t = topodsl.loads("""
link l20 { bandwidth = 20 GB/s }
link l10 { bandwidth = 10 GB/s }
cluster c { switch a; switch b; switch c; connect a -- b via l20; connect b -- c via l10 }""")
    d = demand_from_csv(t, "c.a,c.c\nc.b,c.c\nc.a,c.b\n")
    r = routed_traffic(t, d, fair=True)
    by_pair = dict(zip(map(tuple, d.pairs().tolist()), r.fair.tolist(), strict=True))
    a, b, c = (list(d.endpoints).index(t.index(x)) for x in ("c.a", "c.b", "c.c"))
    assert by_pair == {(a, b): 15e9, (a, c): 5e9, (b, c): 5e9}
    assert r.rate == pytest.approx(r.fair.min(), rel=1e-12)


# -- an independent oracle -----------------------------------------------------------------------


def _random(rng: random.Random) -> topodsl.Topology:
    b = TopologyBuilder()
    n = rng.randrange(5, 9)
    for i in range(n):
        kind = "gpu" if rng.random() < 0.3 else "switch"
        b.add_node(
            f"v{i}",
            kind,
            bandwidth=rng.choice([None, None, 50e9]),
            relay=True if kind == "gpu" and rng.random() < 0.3 else None,
        )
    edges = [(i, rng.randrange(i)) for i in range(1, n)]
    edges += [tuple(rng.sample(range(n), 2)) for _ in range(rng.randrange(2, 6))]
    for a, c in edges:
        b.add_link(
            f"v{a}",
            f"v{c}",
            rng.choice([10e9, 20e9, 40e9]),
            latency=rng.choice([0.0, 1e-7, 2e-7]),
            half_duplex=rng.random() < 0.15,
            simplex=rng.random() < 0.1,
        )
    return b.build()


def _oracle_loads(t, demand, forwarding: str, metric: str):
    """Link and device loads per unit rate by NetworkX: every shortest path of the flow
    network, with the product of equal splits along it."""
    net = flow_network(t, forwarding)
    everywhere = _oracle_graph(t, net, metric, np.ones(len(net.tail), dtype=bool))
    # The fabric rule: a pair of one fabric domain's members routes on the domain's arcs.
    plan = forwarding_plan(t, forwarding)
    member = np.where(plan.member, plan.domain, -1)
    vdom = plan.domain[net.owner]
    on_fabric = (vdom[net.tail] >= 0) & (vdom[net.tail] == vdom[net.head])
    fabric = _oracle_graph(t, net, metric, on_fabric)
    L = t.links
    link_load = np.zeros((t.num_links, 2))
    device_load = np.zeros(t.num_nodes)
    for s, k in demand.pairs().tolist():
        a_row, b_row = int(demand.endpoints[s]), int(demand.endpoints[k])
        peers = member[a_row] >= 0 and member[a_row] == member[b_row]
        g, mult = fabric if peers else everywhere
        src, dst = int(net.vout[a_row]), int(net.vin[b_row])
        try:
            paths = list(nx.all_shortest_paths(g, src, dst, weight="weight"))
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return None
        fan: dict[int, int] = {}
        for u, v in {(p[i], p[i + 1]) for p in paths for i in range(len(p) - 1)}:
            fan[u] = fan.get(u, 0) + len(mult[(u, v)])
        # The probability of a vertex and of an arc, from the paths' split products.
        for p in paths:
            prob = 1.0
            for u, v in zip(p, p[1:], strict=False):
                prob *= len(mult[(u, v)]) / fan[u]
            # Each path is counted with its own probability; an arc's share of it is 1/mult.
            for u, v in zip(p, p[1:], strict=False):
                for a in mult[(u, v)]:
                    share = prob / len(mult[(u, v)])
                    if net.what[a] == ARC_LINK:
                        e = int(net.ref[a])
                        col = 0 if (net.forward[a] or L.half_duplex[e]) else 1
                        link_load[e, col] += share
                    elif net.what[a] == 1:
                        device_load[int(net.ref[a])] += share
    return link_load, device_load


def _oracle_graph(t, net, metric: str, allowed: np.ndarray):
    """The flow network's ``allowed`` arcs as a NetworkX graph weighted by ``metric``, and the
    parallel arcs behind each of its edges."""
    L = t.links
    g = nx.DiGraph()
    mult: dict[tuple[int, int], list[int]] = {}
    for a in range(len(net.tail)):
        if net.capacity[a] <= 0 or not allowed[a]:
            continue
        u, v = int(net.tail[a]), int(net.head[a])
        if net.what[a] == ARC_LINK:
            e = int(net.ref[a])
            w = (
                1
                if metric == "hops"
                else (round((L.latency[e] + t.nodes.latency[int(net.owner[v])]) * 1e12) * 4096 + 1)
            )
        else:
            w = 0
        if (u, v) in mult and g[u][v]["weight"] < w:
            continue
        if (u, v) in mult and g[u][v]["weight"] == w:
            mult[(u, v)].append(a)
            continue
        g.add_edge(u, v, weight=w)
        mult[(u, v)] = [a]
    return g, mult


@pytest.mark.parametrize("metric", ["hops", "latency"])
@pytest.mark.parametrize("forwarding", ["hardware", "ideal"])
def test_ecmp_loads_are_those_of_every_shortest_path(metric, forwarding) -> None:
    """The per-hop equal split makes a path's probability the product of its splits; the
    solver (one shortest-path DAG per sink) must give the loads of that enumeration."""
    rng = random.Random(len(metric) * 7 + len(forwarding))
    checked = 0
    while checked < 25:
        t = _random(rng)
        ends = np.array(sorted(rng.sample(range(t.num_nodes), 3)))
        d = make_demand(t, "all-to-all", ends)
        want = _oracle_loads(t, d, forwarding, metric)
        r = routed_traffic(t, d, forwarding=forwarding, metric=metric)
        if want is None:
            assert r.unrouted > 0 and r.rate == 0.0
            continue
        assert r.unrouted == 0
        np.testing.assert_allclose(r.link_load, want[0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(r.device_load, want[1], rtol=1e-9, atol=1e-12)
        checked += 1


@pytest.mark.parametrize("forwarding", ["hardware", "ideal"])
def test_the_ceiling_of_one_pair_is_its_max_flow_and_bounds_hold(forwarding) -> None:
    rng = random.Random(11 + len(forwarding))
    for _ in range(25):
        t = _random(rng)
        s, k = rng.sample(range(t.num_nodes), 2)
        one = demand_from_csv(t, f"{t.nodes.ids[s]},{t.nodes.ids[k]}")
        flow = max_flow(t, [s], [k], forwarding=forwarding, backend="networkx").value
        if flow == 0:
            continue
        c = concurrent_ceiling(t, one, forwarding=forwarding, method="lp")
        assert c.lower <= flow * (1 + 1e-9) and flow <= c.upper * (1 + 1e-9)
        ends = np.array(sorted(rng.sample(range(t.num_nodes), 4)))
        d = make_demand(t, "all-to-all", ends)
        routed = routed_traffic(t, d, forwarding=forwarding)
        lp = concurrent_ceiling(t, d, forwarding=forwarding, achieved=routed.rate, method="lp")
        cut = concurrent_ceiling(t, d, forwarding=forwarding, achieved=routed.rate, method="cut")
        assert routed.rate <= lp.upper and lp.lower <= cut.upper * (1 + 1e-6)


# -- patterns ------------------------------------------------------------------------------------


def test_patterns_pairs() -> None:
    t = topodsl.loads("cluster c { node n[3] { gpu g[2] } }")
    E = t.select("kind:gpu")
    a = make_demand(t, "permutation", E, seed=4)
    assert a.pairs().tolist() == make_demand(t, "permutation", E, seed=4).pairs().tolist()
    assert make_demand(t, "ring", E).num_pairs == 12
    rail = make_demand(t, "rail", E).pairs().tolist()
    assert rail == [
        [0, 2],
        [0, 4],
        [1, 3],
        [1, 5],
        [2, 0],
        [2, 4],
        [3, 1],
        [3, 5],
        [4, 0],
        [4, 2],
        [5, 1],
        [5, 3],
    ]
    with pytest.raises(PatternError, match="sends nothing"):
        make_demand(t, "shift:6", E)
    with pytest.raises(PatternError, match="unknown traffic pattern 'broadcast'"):
        make_demand(t, "broadcast", E)
    with pytest.raises(PatternError, match="csv:2: no component 'c.x'"):
        demand_from_csv(t, "c.n0.g0,c.n0.g1\nc.x,c.n0.g1", "csv")
    with pytest.raises(PatternError, match="csv:1: the weight must be a number >= 0"):
        demand_from_csv(t, "c.n0.g0,c.n0.g1,-2", "csv")


# -- the analysis through every front end --------------------------------------------------------


@pytest.fixture(scope="module")
def ring_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ring") / "ring.topo"
    path.write_text(
        "link l { bandwidth = 10 GB/s }\ncluster c { switch s[6]; connect ring(s[*]) via l }\n"
    )
    return str(path)


def test_analyze_traffic_json_and_text(ring_file, tmp_path) -> None:
    r = cli(f"analyze traffic {ring_file} --pattern shift:2 --between kind:switch --json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["figures"]["rate"]["value"] == 5e9 and doc["pairs"] == 6
    assert doc["ceiling"]["method"] == "linear program (HiGHS)"
    assert doc["bottleneck"][0]["from"] == "c.s0"
    matrix = tmp_path / "m.csv"
    matrix.write_text("source,target,weight\nc.s0,c.s3,1\nc.s3,c.s0,1\n")
    r = invoke("analyze", "traffic", ring_file, "--pattern", f"csv:{matrix}", "--fair")
    assert r.exit_code == 0, r.stderr
    assert "rate per flow, all at once:  20 GB/s per direction" in r.stdout
    bad = invoke("analyze", "traffic", ring_file, "--pattern", "csv:/nonexistent.csv")
    assert bad.exit_code == 2 and "cannot read the traffic matrix" in bad.stderr


def test_traffic_in_assertions_and_under_failures() -> None:
    t = ring(6)
    rs = check(
        t,
        [
            "traffic(all_to_all, between = kind:switch) >= 2 GB/s",
            'traffic("shift:2", between = kind:switch).efficiency >= 0.6',
            "traffic(between = kind:switch) >= 1 GB/s under failures(links = type:l)",
        ],
    ).results
    assert [r.status for r in rs] == ["pass", "pass", "pass"], [r.message() for r in rs]
    r = check(t, ['traffic("csv:m.csv", between = kind:switch) > 0 B/s'], raise_errors=False)
    assert "read on the command line only" in r.results[-1].diagnostics[0].message
    with pytest.raises(ArgumentError, match="unknown traffic pattern"):
        run(t, "traffic", pattern="broadcast", between="kind:switch")


def test_failures_of_routed_traffic_against_a_rerouting_from_scratch() -> None:
    """Pruning by the routed load: a link no route uses changes no route."""
    rng = random.Random(5)
    pruned = 0
    for _ in range(12):
        t = _random(rng)
        ends = np.array(sorted(rng.sample(range(t.num_nodes), 3)))
        r = failure_analysis(
            t, "traffic", {"between": ends}, links="*", lost="keep", keep_cases=True, jobs=1
        )
        pruned += r.pruned
        for case, (lo, hi) in zip(r.case_list, r.case_values, strict=True):
            (e,) = r.candidates.union(case)[1]
            again = rebuilt_without(t, [e])
            want = routed_traffic(again, make_demand(again, "all-to-all", ends)).rate
            assert lo == pytest.approx(want, rel=1e-9, abs=1e-6) and hi == lo
    assert pruned > 0


def test_the_two_way_cut_sees_a_nic_limit_shared_by_both_directions() -> None:
    t = topodsl.loads("""
link l { bandwidth = 10 GB/s }
cluster c {
    node n[8] { gpu g; nic x { bandwidth = 10 GB/s }; connect g -- x via l }
    switch leaf
    connect n[*].x -- leaf via l
}""")
    d = make_demand(t, "all-to-all", t.select("kind:gpu"))
    routed = routed_traffic(t, d)
    # The NIC's limit holds what it sends and what it receives: 2 x 7 r <= 10 GB/s.
    assert routed.rate == pytest.approx(C / 14, rel=1e-12)
    cut = concurrent_ceiling(t, d, achieved=routed.rate, method="cut")
    assert cut.upper == pytest.approx(C / 14, rel=1e-12) and "<->" in cut.sets
    lp = concurrent_ceiling(t, d, achieved=routed.rate, method="lp")
    assert lp.upper == pytest.approx(C / 14, rel=2e-6)
