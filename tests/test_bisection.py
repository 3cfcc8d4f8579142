"""Bisection bandwidth: closed forms, invariants, oracles, and the command line."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
from itertools import combinations
from pathlib import Path

import networkx as nx
import numpy as np
import path_oracle
import pytest
from cli_support import run_topodsl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bisection_oracle import oracle_for

import topodsl
from topodsl.errors import SolverError
from topodsl.fabrics import plan_fabric
from topodsl.solvers.bisection import BisectionResult, bisection
from topodsl.solvers.certificates import hose as hose_module
from topodsl.solvers.flow import max_flow
from topodsl.topology import Topology, TopologyBuilder

REPO = Path(__file__).resolve().parent.parent
GB = 1e9
C = 10 * GB  # the link bandwidth of the closed-form cases


# -- builders -------------------------------------------------------------------------------------


def from_plan(generator: str, n: int, args: dict, bw: float = C, uplink: float | None = None):
    """A topology with the generator's links but no FabricInfo: only generic methods apply.
    The hosts route traffic between their links (relay = true), as the chips of a direct-connect
    fabric (a TPU-like torus) do."""
    plan = plan_fabric(generator, n, args)
    b = TopologyBuilder()
    for i in range(n):
        b.add_node(f"h{i}", "gpu", relay=True)
    for i in range(plan.num_switches):
        b.add_node(f"s{i}", "switch")
    name = [f"h{i}" for i in range(n)] + [f"s{i}" for i in range(plan.num_switches)]
    for a, c, lanes, tier in zip(plan.a, plan.b, plan.lanes, plan.tier, strict=True):
        base = bw if tier == 0 or uplink is None else uplink
        b.add_link(name[a], name[c], bandwidth=base * lanes)
    return b.build()


def from_source(body: str) -> Topology:
    """A topology through the language, with `link l` at 10 GB/s per lane."""
    return topodsl.loads("link l { bandwidth = 10 GB/s }\ncluster c {\n" + body + "\n}\n")


def star(n: int, bw: float = C, limit: float | None = None) -> Topology:
    b = TopologyBuilder()
    b.add_node("sw", "switch", bandwidth=limit)
    for i in range(n):
        b.add_node(f"g{i}", "gpu")
        b.add_link(f"g{i}", "sw", bandwidth=bw)
    return b.build()


def dgx_h100_nvlink() -> Topology:
    """8 H100s, 4 NVSwitch chips; each GPU's 18 NVLink4 links (25 GB/s) split 5/4/4/5."""
    b = TopologyBuilder()
    b.add_node("dgx", "node")
    for s in range(4):
        b.add_node(f"dgx.nvs{s}", "nvswitch", parent="dgx", ports=64)
    for g in range(8):
        b.add_node(f"dgx.gpu{g}", "gpu", parent="dgx")
        for s, lanes in enumerate((5, 4, 4, 5)):
            b.add_link(f"dgx.gpu{g}", f"dgx.nvs{s}", bandwidth=lanes * 25 * GB, lanes=lanes)
    return b.build()


def nvl72() -> Topology:
    """72 Blackwell GPUs, 18 NVLink switch chips; one 50 GB/s NVLink5 link per GPU per chip."""
    b = TopologyBuilder()
    b.add_node("rack", "rack")
    for s in range(18):
        b.add_node(f"rack.sw{s}", "nvswitch", parent="rack", ports=72)
    for g in range(72):
        b.add_node(f"rack.gpu{g}", "gpu", parent="rack")
        for s in range(18):
            b.add_link(f"rack.gpu{g}", f"rack.sw{s}", bandwidth=50 * GB)
    return b.build()


def check_result(t: Topology, r: BisectionResult, forwarding: str = "hardware") -> None:
    """Invariants every result must satisfy (``r`` computed under ``forwarding``)."""
    assert 0 <= r.lower_bound <= r.upper_bound
    assert r.exact == (r.lower_bound == r.upper_bound)
    a, b = r.half_rows
    assert abs(len(a) - len(b)) <= 1 and len(a) + len(b) == r.endpoints
    assert not set(a.tolist()) & set(b.tolist())
    assert math.fsum(c.bandwidth for c in r.cut) == pytest.approx(r.upper_bound, rel=1e-12)
    assert r.lower_bound <= r.bidirectional_lower_bound <= r.bidirectional_upper_bound
    if not (t.links.simplex.any() or t.links.half_duplex.any()):
        assert r.bidirectional_lower_bound == 2 * r.lower_bound
    assert r.bidirectional_upper_bound >= r.upper_bound
    if r.endpoints >= 2 and r.upper_bound > 0:
        # The value is the max flow between the witness halves (each endpoint with what is
        # inside it: a GPU package and its chiplets).
        f = max_flow(t, inside(t, a), inside(t, b), source_limit=np.inf, sink_limit=np.inf,
                     forwarding=forwarding)  # fmt: skip
        assert f.value == pytest.approx(r.upper_bound, rel=1e-9)


def inside(t: Topology, rows: np.ndarray) -> np.ndarray:
    """``rows`` and every component inside them."""
    chosen = np.zeros(t.num_nodes, dtype=bool)
    chosen[rows] = True
    for r in range(t.num_nodes):
        p = int(t.nodes.parent[r])
        while p >= 0 and not chosen[r]:
            chosen[r] = chosen[p]
            p = int(t.nodes.parent[p])
    return np.flatnonzero(chosen)


def brute_force(t: Topology, endpoints: np.ndarray) -> float:
    """Minimum over every ordered balanced split of the NetworkX min cut (nothing shared)."""
    n = len(endpoints)
    g = nx.DiGraph()
    bw = t.nodes.bandwidth

    def vin(r):
        return ("in", r) if np.isfinite(bw[r]) else r

    def vout(r):
        return ("out", r) if np.isfinite(bw[r]) else r

    def add(u, v, c):
        if u != v:
            g.add_edge(u, v, capacity=(g[u][v]["capacity"] if g.has_edge(u, v) else 0.0) + c)

    for r in range(t.num_nodes):
        g.add_node(vin(r))
        g.add_node(vout(r))
        if np.isfinite(bw[r]):
            add(("in", r), ("out", r), float(bw[r]))
    L = t.links
    for e in range(t.num_links):
        s, d, c = int(L.src[e]), int(L.dst[e]), float(L.bandwidth[e])
        add(vout(s), vin(d), c)
        if not L.simplex[e]:
            add(vout(d), vin(s), c)
    best = math.inf
    rows = endpoints.tolist()
    for size in {n // 2, n - n // 2}:
        for first in combinations(rows, size):
            h = g.copy()
            for x in first:
                h.add_edge("S", vout(x))
            for x in set(rows) - set(first):
                h.add_edge(vin(x), "T")
            best = min(best, nx.minimum_cut_value(h, "S", "T"))
    return best


# -- closed forms ---------------------------------------------------------------------------------

PATTERNS = [
    # (pattern, hosts, dims, bisection in links)
    ("ring", 4, (), 2),
    ("ring", 7, (), 2),
    ("ring", 40, (), 2),
    ("line", 5, (), 1),
    ("line", 30, (), 1),
    ("mesh", 16, (4, 4), 4),  # N / d_max
    ("mesh", 48, (6, 8), 6),
    ("mesh", 32, (2, 4, 4), 8),
    ("mesh", 96, (4, 4, 6), 16),
    ("torus", 16, (4, 4), 8),  # 2 N / d_max
    ("torus", 48, (6, 8), 12),
    ("torus", 64, (4, 4, 4), 32),
    ("torus", 48, (2, 4, 6), 16),
    ("hypercube", 8, (), 4),  # N / 2
    ("hypercube", 32, (), 16),
    ("hypercube", 128, (), 64),
    ("full_mesh", 6, (), 9),  # floor(n/2) ceil(n/2)
    ("full_mesh", 9, (), 20),
    ("full_mesh", 20, (), 100),
]


@pytest.mark.parametrize("pattern, n, dims, links", PATTERNS)
def test_patterns_through_the_language_are_exact(pattern, n, dims, links) -> None:
    extra = "".join(f", {d}" for d in dims)
    t = from_source(f"gpu g[{n}]\nconnect {pattern}(g[*]{extra}) via l")
    r = bisection(t)
    check_result(t, r)
    assert r.upper_bound == pytest.approx(links * C)
    assert r.exact


@pytest.mark.parametrize("pattern, n, dims, links", PATTERNS)
def test_patterns_built_by_hand(pattern, n, dims, links) -> None:
    args = {"dims": dims} if dims else {}
    t = from_plan(pattern, n, args)
    r = bisection(t)
    check_result(t, r)
    assert r.upper_bound == pytest.approx(links * C)


@pytest.mark.parametrize(
    "pattern, n, dims",
    [
        ("ring", 4, ()),
        ("ring", 16, ()),
        ("ring", 40, ()),
        ("torus", 4, (2, 2)),
        ("torus", 16, (4, 4)),
        ("torus", 40, (4, 10)),
        ("hypercube", 4, ()),
        ("hypercube", 16, ()),
        ("full_mesh", 4, ()),
        ("full_mesh", 16, ()),
        ("full_mesh", 40, ()),
    ],
)
def test_generic_certificates_meet_on_symmetric_patterns(pattern: str, n: int, dims) -> None:
    # Without the generator's closed form, hose routing through the endpoints still proves it.
    t = from_plan(pattern, n, {"dims": dims} if dims else {})
    r = bisection(t, exhaustive_limit=0)
    check_result(t, r)
    assert r.exact


@pytest.mark.parametrize("n", [5, 16, 64])
def test_single_non_blocking_switch(n: int) -> None:
    t = star(n)
    r = bisection(t, exhaustive_limit=0)
    check_result(t, r)
    assert r.exact and r.upper_bound == (n // 2) * C


def test_a_switch_limit_is_cut_when_it_is_cheaper() -> None:
    t = star(16, limit=35 * GB)
    r = bisection(t, exhaustive_limit=0)
    check_result(t, r)
    assert r.exact and r.upper_bound == 35 * GB
    assert [c.element for c in r.cut] == ["device"]
    assert r.cut[0].source == "sw"


@pytest.mark.parametrize("k", [4, 6, 8])
def test_fat_tree_bisection_is_k_cubed_over_8_host_links(k: int) -> None:
    n = k**3 // 4
    t = from_source(f"gpu g[{n}]\nfabric fat_tree net {{ hosts = g[*], k = {k}, link = l }}")
    r = bisection(t)
    check_result(t, r)
    assert r.exact and r.upper_bound == k**3 // 8 * C
    bare = from_plan("fat_tree", n, {"k": k})
    r = bisection(bare)
    check_result(bare, r)
    assert r.exact and r.upper_bound == k**3 // 8 * C


LEAF_SPINE = [
    # hosts, leaves, spines, oversubscription, bisection in host links
    (16, 4, 2, 2, 4),
    (96, 8, 4, 3, 16),
    (64, 8, 8, 1, 32),
    (128, 4, 4, 4, 16),
]


@pytest.mark.parametrize("n, leaves, spines, over, links", LEAF_SPINE)
def test_leaf_spine_with_oversubscription(n, leaves, spines, over, links) -> None:
    fab = f"leaf_spine net {{ hosts = g[*], leaves = {leaves}, spines = {spines}, link = l, "
    fab += f"oversubscription = {over} }}"
    t = from_source(f"gpu g[{n}]\nfabric {fab}")
    r = bisection(t)
    check_result(t, r)
    assert r.exact and r.upper_bound == pytest.approx(links * C)
    args = {"leaves": leaves, "spines": spines, "oversubscription": over}
    bare = from_plan("leaf_spine", n, args)
    r = bisection(bare)
    check_result(bare, r)
    assert r.exact and r.upper_bound == pytest.approx(links * C)


CLOS3 = [
    # hosts, pods, leaves, spines, cores, leaf and spine oversubscription, bisection in links
    (128, 4, 4, 2, 4, 2, 2, 16),  # the core layer binds: half the pods' uplinks
    (64, 2, 4, 2, 2, 1, 1, 32),  # non-blocking: half the host links
    (64, 2, 2, 4, 4, 4, 1, 8),  # the leaf uplinks bind
]


@pytest.mark.parametrize("n, pods, leaves, spines, cores, o1, o2, links", CLOS3)
def test_three_tier_clos(n, pods, leaves, spines, cores, o1, o2, links) -> None:
    fab = (
        f"clos3 net {{ hosts = g[*], pods = {pods}, leaves = {leaves}, spines = {spines}, "
        f"cores = {cores}, link = l, oversubscription = {o1}, spine_oversubscription = {o2} }}"
    )
    t = from_source(f"gpu g[{n}]\nfabric {fab}")
    r = bisection(t)
    check_result(t, r)
    assert r.exact and r.upper_bound == pytest.approx(links * C)
    args = {
        "pods": pods,
        "leaves": leaves,
        "spines": spines,
        "cores": cores,
        "oversubscription": o1,
        "spine_oversubscription": o2,
    }
    bare = from_plan("clos3", n, args)
    r = bisection(bare)
    check_result(bare, r)
    assert r.exact and r.upper_bound == pytest.approx(links * C)


@pytest.mark.parametrize("groups", [2, 4, 6, 8])
def test_dragonfly_even_groups(groups: int) -> None:
    # Half the groups on each side: (g/2)^2 global links; local links doubled so they do not bind.
    n = groups * 4 * 2
    fab = f"dragonfly net {{ hosts = g[*], groups = {groups}, routers = 4, link = l, "
    fab += "local_lanes = 2 }"
    t = from_source(f"gpu g[{n}]\nfabric {fab}")
    r = bisection(t)
    check_result(t, r)
    assert r.exact and r.upper_bound == (groups // 2) ** 2 * C
    bare = from_plan("dragonfly", n, {"groups": groups, "routers": 4, "local_lanes": 2})
    r = bisection(bare)
    check_result(bare, r)
    assert r.upper_bound == (groups // 2) ** 2 * C


def test_dgx_h100_is_1_8_tb_s_per_direction() -> None:
    t = dgx_h100_nvlink()
    r = bisection(t)
    check_result(t, r)
    assert r.exact and r.upper_bound == pytest.approx(1.8e12)  # 4 GPUs x 18 x 25 GB/s
    assert r.bidirectional_upper_bound == pytest.approx(3.6e12)
    # Not the vendor's 7.2 TB/s "aggregate": that is 8 GPUs x 900 GB/s, both directions.
    assert pytest.approx(7.2e12) == 8 * 18 * 25 * GB * 2
    r = bisection(t, exhaustive_limit=0)  # the certificates alone reach it too
    check_result(t, r)
    assert r.exact and r.upper_bound == pytest.approx(1.8e12)


def test_gb200_nvl72_is_32_4_tb_s_per_direction() -> None:
    t = nvl72()
    r = bisection(t)
    check_result(t, r)
    assert r.exact and r.upper_bound == pytest.approx(32.4e12)  # 36 GPUs x 18 x 50 GB/s
    assert r.bidirectional_upper_bound == pytest.approx(64.8e12)
    # Not the vendor's 130 TB/s: 72 GPUs x 1.8 TB/s of total injection, both directions.
    assert pytest.approx(129.6e12) == 72 * 18 * 50 * GB * 2


def test_example_topologies() -> None:
    dgx = topodsl.load(REPO / "topologies" / "dgx_h100.topo")
    r = bisection(dgx)
    check_result(dgx, r)
    assert r.exact and r.upper_bound >= 1.8e12  # NVLink, plus PCIe through the CPUs
    nvl = topodsl.load(REPO / "topologies" / "gb200_nvl72.topo")
    r = bisection(nvl)
    check_result(nvl, r)
    assert r.exact and r.upper_bound == pytest.approx(32.4e12)


# -- invariants and oracles -----------------------------------------------------------------------


@st.composite
def small_graphs(draw, max_endpoints: int = 7):
    n = draw(st.integers(2, max_endpoints))
    m = draw(st.integers(0, 4))
    b = TopologyBuilder()
    for i in range(n):
        b.add_node(f"g{i}", "gpu")
    for j in range(m):
        limited = draw(st.booleans()) and draw(st.booleans())
        b.add_node(f"s{j}", "switch", bandwidth=draw(st.integers(1, 30)) * GB if limited else None)
    total = n + m
    for _ in range(draw(st.integers(1, 3 * total))):
        a = draw(st.integers(0, total - 1))
        c = draw(st.integers(0, total - 1))
        if a == c:
            continue
        simplex = draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans())
        b.add_link(a, c, bandwidth=draw(st.integers(1, 40)) * GB, simplex=simplex)
    return b.build()


SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(small_graphs())
def test_exhaustive_matches_networkx_brute_force(t: Topology) -> None:
    # The brute force lets every switch carry every path: the ideal model (GPUs linked to each
    # other form a fabric domain, whose peer traffic the hardware model keeps on its fabric;
    # see test_the_fabric_rule_against_every_path).
    r = bisection(t, forwarding="ideal")
    check_result(t, r, "ideal")
    assert r.exact
    assert r.upper_bound == pytest.approx(brute_force(t, t.rows_of_kind("gpu")), abs=1e-3)


@SLOW
@given(small_graphs())
def test_certificates_never_exceed_the_true_bisection(t: Topology) -> None:
    # exhaustive_limit=0 forces the heuristic path: candidates, star, hose, METIS, spectral.
    truth = brute_force(t, t.rows_of_kind("gpu"))
    r = bisection(t, exhaustive_limit=0, forwarding="ideal")
    check_result(t, r, "ideal")
    assert r.lower_bound <= truth * (1 + 1e-9) + 1e-3
    assert r.upper_bound >= truth * (1 - 1e-9) - 1e-3
    for b in r.lower_bounds:
        assert b.value <= truth * (1 + 1e-9) + 1e-3, b


@SLOW
@given(small_graphs(), st.data())
def test_adding_a_link_or_bandwidth_never_lowers_either_bound(t: Topology, data) -> None:
    # Under the ideal model: with the fabric rule a new link between two GPUs may join their
    # fabric domains, and their peer traffic then keeps to the fabric (a lower figure).
    before = bisection(t, forwarding="ideal")
    n = t.num_nodes
    b = TopologyBuilder()
    for row in range(n):
        b.add_node(t.nodes.ids[row], t.kind_of(row), bandwidth=float(t.nodes.bandwidth[row]))
    L = t.links
    raise_row = data.draw(st.integers(-1, max(t.num_links - 1, -1)))
    for e in range(t.num_links):
        bw = float(L.bandwidth[e]) * (2.0 if e == raise_row else 1.0)
        b.add_link(int(L.src[e]), int(L.dst[e]), bandwidth=bw, simplex=bool(L.simplex[e]))
    if raise_row < 0:
        x = data.draw(st.integers(0, n - 1))
        y = data.draw(st.integers(0, n - 1).filter(lambda v: v != x))
        b.add_link(x, y, bandwidth=data.draw(st.integers(1, 40)) * GB)
    after = bisection(b.build(), forwarding="ideal")
    assert after.lower_bound >= before.lower_bound * (1 - 1e-12)
    assert after.upper_bound >= before.upper_bound * (1 - 1e-12)


def test_the_fabric_rule_against_every_path() -> None:
    # GPUs linked to each other form a fabric domain (docs/solvers.md): traffic between two of
    # its GPUs may not leave the domain through a switch and come back. Every balanced split
    # by the path oracle of the forwarding tests (every simple path that obeys the rules, one
    # linear program); every bound of both solver paths against it.
    rng = np.random.default_rng(21)
    checked = mixed = 0
    while checked < 40:
        n, m = int(rng.integers(3, 6)), int(rng.integers(1, 3))
        b = TopologyBuilder()
        for i in range(n):
            b.add_node(f"g{i}", "gpu")
        for j in range(m):
            b.add_node(f"s{j}", "switch", bandwidth=int(rng.integers(1, 30)) * GB
                       if rng.random() < 0.3 else None)  # fmt: skip
        for _ in range(int(rng.integers(n, n + 5))):
            x, y = rng.choice(n + m, size=2, replace=False)
            b.add_link(int(x), int(y), bandwidth=int(rng.integers(1, 40)) * GB)
        if rng.random() < 0.5:  # a directly linked clique: a domain the fabric joins pairwise
            k = int(rng.integers(2, n + 1))
            for x, y in combinations(range(k), 2):
                b.add_link(x, y, bandwidth=int(rng.integers(1, 40)) * GB)
        t = b.build()
        ends = t.rows_of_kind("gpu").tolist()
        truth = min(
            path_oracle.brute_force(t, list(first), [e for e in ends if e not in first])
            for size in {n // 2, n - n // 2}
            for first in combinations(ends, size)
        )
        ideal = bisection(t, forwarding="ideal").upper_bound
        checked += 1
        mixed += truth < ideal * (1 - 1e-9)
        for r in (bisection(t), bisection(t, exhaustive_limit=0)):
            check_result(t, r)
            assert r.lower_bound <= truth * (1 + 1e-9) + 1e-3, (r.lower_bounds, truth)
            assert all(x.value <= truth * (1 + 1e-9) + 1e-3 for x in r.lower_bounds)
            assert r.upper_bound >= truth * (1 - 1e-9) - 1e-3
        assert bisection(t).exact
    assert mixed >= 4  # the rule binds on 4 of these 40


@pytest.mark.parametrize("factor", [1.0, 1.5, 2.0, 4.0])
def test_raising_uplink_bandwidth_on_a_large_fabric(factor: float) -> None:
    base = bisection(from_plan("leaf_spine", 96, {"leaves": 8, "spines": 4, "oversubscription": 3}))
    more = bisection(
        from_plan(
            "leaf_spine",
            96,
            {"leaves": 8, "spines": 4, "oversubscription": 3},
            uplink=C * factor,
        )
    )
    assert more.lower_bound >= base.lower_bound and more.upper_bound >= base.upper_bound
    assert more.exact and more.upper_bound == pytest.approx(min(16 * C * factor, 48 * C))


def test_adding_a_link_to_a_torus() -> None:
    t = from_plan("torus", 64, {"dims": (4, 4, 4)})
    r0 = bisection(t)
    b = TopologyBuilder()
    for row in range(t.num_nodes):
        b.add_node(t.nodes.ids[row], "gpu")
    for e in range(t.num_links):
        b.add_link(int(t.links.src[e]), int(t.links.dst[e]), bandwidth=float(t.links.bandwidth[e]))
    b.add_link("h0", "h63", bandwidth=C)
    r1 = bisection(b.build())
    assert r1.lower_bound >= r0.lower_bound and r1.upper_bound >= r0.upper_bound


def test_misleading_names_do_not_hide_the_cheapest_cut() -> None:
    # 8 groups of 8 GPUs on a fat switch each; the groups form a ring in the order
    # 0 4 1 5 2 6 3 7, so splitting by name (node0-3 | node4-7) cuts all 8 ring links while
    # the cheapest split ({0, 4, 1, 5} | {2, 6, 3, 7}) cuts 2.
    b = TopologyBuilder()
    for g in range(8):
        b.add_node(f"node{g}", "node")
        b.add_node(f"node{g}.sw", "nvswitch", parent=f"node{g}")
        for i in range(8):
            b.add_node(f"node{g}.gpu{i}", "gpu", parent=f"node{g}")
            b.add_link(f"node{g}.gpu{i}", f"node{g}.sw", bandwidth=1e12)
    order = [0, 4, 1, 5, 2, 6, 3, 7]
    for k in range(8):
        b.add_link(f"node{order[k]}.sw", f"node{order[(k + 1) % 8]}.sw", bandwidth=C)
    t = b.build()
    r = bisection(t)
    check_result(t, r)
    assert r.upper_bound == 2 * C and r.exact
    groups = {tuple(sorted({h.split(".")[0] for h in half})) for half in r.halves}
    assert all(len(g) == 4 for g in groups)
    hierarchy = [u for u in r.upper_bounds if u.method == "hierarchy"]
    assert hierarchy and hierarchy[0].value == 8 * C  # what the names would have given


# -- memory does not relay; definitions at the edges ---------------------------------------------


def ring_with_expanders(order: list[int], heads: int = 2, pooled: bool = False) -> Topology:
    """A ring of GPUs (10 GB/s links, in ``order``) with CXL expanders of 64 GB/s per head:
    seven two-headed ones joining GPUs half the ring apart, or one pooled expander on all."""
    b = TopologyBuilder()
    n = len(order)
    for i in range(n):
        b.add_node(f"g{i}", "gpu")
    ring = [f"g{i}" for i in order]
    for k in range(n):
        b.add_link(ring[k], ring[(k + 1) % n], bandwidth=C)
    if pooled:
        b.add_node("pool", "cxl_memory")
        for g in ring:
            b.add_link("pool", g, bandwidth=64 * GB)
        return b.build()
    for j in range(n // 2):
        b.add_node(f"m{j}", "cxl_memory")
        b.add_link(f"m{j}", ring[2 * j], bandwidth=64 * GB)
        b.add_link(f"m{j}", ring[(2 * j + n // 2) % n], bandwidth=64 * GB)
    return b.build()


def test_two_headed_expanders_do_not_relay_in_any_certificate() -> None:
    # 15 GPUs in a ring, 7 two-headed expanders across it. Memory carries no transit, so the
    # bisection is that of the ring: two links, 20 GB/s. The spectral bound used to prove
    # more (27.5 GB/s here) and METIS, misled by the expanders, found only 40 GB/s cuts.
    t = ring_with_expanders(list(np.random.default_rng(0).permutation(15)))
    r = bisection(t, exhaustive_limit=0)
    check_result(t, r)
    assert r.exact and r.upper_bound == pytest.approx(2 * C)
    assert all(b.value <= 2 * C * (1 + 1e-9) for b in r.lower_bounds), r.lower_bounds
    assert any(u.method.startswith("metis") and u.value == 2 * C for u in r.upper_bounds)
    # The same on 9 GPUs and 4 expanders, by brute force over every balanced split.
    t = ring_with_expanders(list(np.random.default_rng(1).permutation(9)))
    assert min(oracle_for(t, t.rows_of_kind("gpu")).all_cuts().values()) == 2 * C
    r = bisection(t, exhaustive_limit=0)
    assert r.exact and r.upper_bound == 2 * C


def test_a_pooled_expander_is_no_switch() -> None:
    # 16 GPUs in a ring and one expander linked to all of them: the star bound used to count
    # the expander as an unlimited switch (80 GB/s) and stopped with "bounds contradict".
    t = ring_with_expanders(list(range(16)), pooled=True)
    r = bisection(t, exhaustive_limit=0)
    check_result(t, r)
    assert r.exact and r.upper_bound == 2 * C
    assert not any(b.method == "star" for b in r.lower_bounds)


def test_the_smaller_half_may_receive() -> None:
    # Three endpoints, one-way links: a sends 10 GB/s to b and to c, each sends 1 GB/s back;
    # b and c share 100 GB/s. Bisection is the minimum over every balanced split *and* both
    # directions: {b, c} -> {a} carries only 2 GB/s (the larger half sending).
    b = TopologyBuilder()
    for name in "abc":
        b.add_node(name, "gpu")
    for x in "bc":
        b.add_link("a", x, bandwidth=10 * GB, simplex=True)
        b.add_link(x, "a", bandwidth=1 * GB, simplex=True)
    b.add_link("b", "c", bandwidth=100 * GB)
    t = b.build()
    for limit in (14, 0):
        r = bisection(t, exhaustive_limit=limit)
        check_result(t, r)
        assert r.exact and r.upper_bound == 2 * GB
        assert sorted(r.halves[0]) == ["b", "c"] and r.halves[1] == ("a",)
        assert r.bidirectional_upper_bound == 22 * GB  # 2 one way, 20 the other


def test_past_the_hose_budget_a_sampled_hub_set_still_proves_a_bound(monkeypatch) -> None:
    # A 16 x 16 torus read without its fabric record (as from NetworkX JSON): only Valiant
    # routing through the endpoints applies, hub by hub. With the budget below one pass per
    # endpoint, a sample of the endpoints serves as hubs: weaker, never silently 0. (The
    # torus's symmetry would route one hub for all: switched off here, tested on its own.)
    from topodsl import io
    from topodsl.solvers import bisection as bisection_module
    from topodsl.solvers.certificates import hose

    t = io.loads_json(io.dumps_json(from_plan("torus", 256, {"dims": (16, 16)})))
    monkeypatch.setattr(hose, "hub_orbits", lambda *args, **kwargs: None)
    monkeypatch.setattr(bisection_module, "_HOSE_BUDGET", 1e5)
    monkeypatch.setattr(bisection_module, "_SAMPLED_HOSE_BUDGET", 4e4)
    monkeypatch.setattr(bisection_module, "_SPECTRAL_MAX_ENDPOINTS", 10)
    r = bisection(t)
    check_result(t, r)
    assert r.upper_bound == 32 * C  # 2 N / d_max links
    assert r.lower_method == "hose (sampled hubs)"
    assert 0 < r.lower_bound <= r.upper_bound
    (used,) = [b for b in r.lower_bounds if b.method == "hose (sampled hubs)"]
    assert "sampled from 256 endpoints (Valiant routing)" in used.note


def test_one_way_links() -> None:
    # A one-way ring: whichever way the halves face, one arc crosses.
    b = TopologyBuilder()
    for i in range(8):
        b.add_node(f"g{i}", "gpu")
    for i in range(8):
        b.add_link(f"g{i}", f"g{(i + 1) % 8}", bandwidth=C, simplex=True)
    t = b.build()
    r = bisection(t)
    check_result(t, r)
    assert r.exact and r.upper_bound == C and r.bidirectional_upper_bound == 2 * C
    assert bisection(t, exhaustive_limit=0).upper_bound == C


def test_chiplet_packages_are_bisected_whole() -> None:
    # 4 GPU packages of 2 I/O dies each; the package rows have no links of their own.
    b = TopologyBuilder()
    for g in range(4):
        b.add_node(f"gpu{g}", "gpu")
        for d in range(2):
            b.add_node(f"gpu{g}.iod{d}", "chiplet", parent=f"gpu{g}")
        b.add_link(f"gpu{g}.iod0", f"gpu{g}.iod1", bandwidth=1e12)
    for i, j in combinations(range(4), 2):
        b.add_link(f"gpu{i}.iod{j % 2}", f"gpu{j}.iod{i % 2}", bandwidth=64 * GB)
    t = b.build()
    r = bisection(t)
    check_result(t, r)
    assert r.exact and r.upper_bound == 4 * 64 * GB
    assert sorted(r.halves[0] + r.halves[1]) == ["gpu0", "gpu1", "gpu2", "gpu3"]
    assert len(r.halves[0]) == 2


def mi300x_iods() -> tuple[Topology, np.ndarray]:
    """topologies/mi300x.topo with its 32 I/O dies as the endpoints."""
    t = topodsl.load(REPO / "topologies" / "mi300x.topo")
    ids = t.nodes.ids
    iods = [r for r in range(t.num_nodes) if ids[r].count(".") == 2 and ".iod" in ids[r]]
    return t, np.array(iods)


def test_mi300x_io_dies_bisect_at_1_024_tb_s() -> None:
    # By hand: a split through a package cuts at least 2 x 1.2 TB/s of its Infinity Fabric AP
    # (the 2 x 2 mesh of I/O dies: 2.4 TB/s for two dies a side, 2.7 TB/s for one die against
    # three). A split keeping the 8 packages whole, 4 against 4, cuts 4 x 4 = 16 of the x16
    # links of 64 GB/s (the GPUs are fully connected and do not relay): 1.024 TB/s. The host
    # would add at least 126 GB/s (with both GPUs of each PCIe switch on one side, the two
    # 63 GB/s uplinks of one socket), but those paths leave the xGMI domain and come back,
    # which the fabric rule forbids: 1.15 TB/s with it off (`ideal`).
    t, ends = mi300x_iods()
    assert len(ends) == 32
    truth = 16 * 64 * GB
    for limit in (None, 0):
        kwargs = {} if limit is None else {"exhaustive_limit": limit}
        r = bisection(t, ends, **kwargs)
        check_result(t, r)
        assert r.exact and r.upper_bound == pytest.approx(truth, rel=1e-12), r.lower_bounds
        assert r.lower_bounds[0].method == "packages whole or separated"
        # The layered network is reversible (a package's two layers swap), so both ways at once
        # carry twice one way.
        assert r.bidirectional_lower_bound == pytest.approx(2 * truth, rel=1e-12)
    # Under `ideal` packages forward, so the package certificate does not apply: the best
    # split found is 1.15 TB/s and the spectral bound proves 1.031 TB/s.
    ideal = bisection(t, ends, forwarding="ideal")
    assert ideal.upper_bound == pytest.approx(truth + 2 * 63 * GB, rel=1e-12)
    assert ideal.lower_bound <= ideal.upper_bound
    sockets = ({f"gpu{g}" for g in range(4)}, {f"gpu{g}" for g in range(4, 8)})
    assert {h.split(".")[1] for h in ideal.halves[0]} in sockets


def two_die_packages(inner: float, outer: float) -> Topology:
    """Two GPU packages of two dies each, the dies of a package joined at ``inner``, and each
    die joined to both dies of the other package at ``outer``."""
    b = TopologyBuilder()
    for g in range(2):
        b.add_node(f"p{g}", "gpu")
        for d in range(2):
            b.add_node(f"p{g}.d{d}", "chiplet", parent=f"p{g}")
        b.add_link(f"p{g}.d0", f"p{g}.d1", bandwidth=inner)
    for d, e in combinations(range(4), 2):
        if d // 2 == 0 and e // 2 == 1:
            b.add_link(f"p0.d{d % 2}", f"p1.d{e % 2}", bandwidth=outer)
    return b.build()


@pytest.mark.parametrize(
    "inner, outer, truth",
    [
        # Packages whole: the four outer links, 4 x 10 = 40 GB/s.
        (100 * GB, 10 * GB, 40 * GB),
        # Through both packages: {p0.d0, p1.d0} | {p0.d1, p1.d1} cuts both inner links
        # (2 x 5) and the two outer links d0-d1 across (2 x 10): 30 GB/s.
        (5 * GB, 10 * GB, 30 * GB),
    ],
)
def test_splits_through_a_package_are_bounded(inner: float, outer: float, truth: float) -> None:
    t = two_die_packages(inner, outer)
    ends = t.rows_of_kind("chiplet")
    assert min(oracle_for(t, ends, "hardware").all_cuts().values()) == pytest.approx(truth)
    r = bisection(t, ends, exhaustive_limit=0)
    check_result(t, r)
    assert r.exact and r.upper_bound == pytest.approx(truth, rel=1e-9)
    assert any(b.method == "packages whole or separated" for b in r.lower_bounds)


def test_a_host_turning_traffic_round_counts_its_link_once_both_ways() -> None:
    # g0 and g1 sit on a CXL switch's device side, a CPU alone on its host side. Peer traffic
    # goes up to the CPU's root port and back down (device -> host -> device): one way carries
    # 20 GB/s, using the CPU's link in both directions, so both ways at once share those 20.
    b = TopologyBuilder()
    b.add_node("sw", "cxl_switch")
    b.add_node("cpu", "cpu")
    b.add_link("cpu", "sw", bandwidth=20 * GB)
    for g in ("g0", "g1"):
        b.add_node(g, "gpu")
        b.add_link(g, "sw", bandwidth=50 * GB)
    t = b.build()
    r = bisection(t)
    assert r.exact and r.upper_bound == 20 * GB
    assert r.bidirectional_lower_bound == 20 * GB, r.bidirectional_lower_method
    assert "one way only" in r.bidirectional_lower_method
    assert bisection(t, forwarding="ideal").bidirectional_lower_bound == 100 * GB


def test_a_gpu_is_no_switch_to_any_certificate() -> None:
    # a, b, c, d reach each other through GPU r (which does not relay) and by a-b and c-d
    # directly: {a, b} | {c, d} is cut for free. The star bound, which read raw links, used to
    # take r for a switch and prove 20 GB/s ("bounds contradict ... this is a bug").
    b = TopologyBuilder()
    for g in "abcdr":
        b.add_node(g, "gpu")
    for g in "abcd":
        b.add_link(g, "r", bandwidth=10 * GB)
    b.add_link("a", "b", bandwidth=1 * GB)
    b.add_link("c", "d", bandwidth=1 * GB)
    t = b.build()
    ends = np.array([t.index(g) for g in "abcd"])
    for limit in (None, 0):
        kwargs = {} if limit is None else {"exhaustive_limit": limit}
        r = bisection(t, ends, **kwargs)
        assert r.exact and r.upper_bound == 0.0
        assert all(x.value == 0.0 for x in r.lower_bounds)
    # With r relaying, {a, b} | {c, d} sends 2 x 10 GB/s through it.
    assert bisection(t, ends, forwarding="ideal").upper_bound == 20 * GB


def test_private_links_carry_a_fabric_certificate_to_the_endpoints() -> None:
    # GPUs reach the fabric through their own NIC: the leaf-spine closed form still applies.
    t = topodsl.loads(
        """
link pcie { bandwidth = 63 GB/s }
link eth { bandwidth = 400 Gb/s }
cluster c {
    gpu g[32]
    nic n[32] { bandwidth = 400 Gb/s }
    connect g[i] -- n[i] via pcie
    fabric leaf_spine net { hosts = n[*], leaves = 4, spines = 4, link = eth,
                            oversubscription = 2 }
}
"""
    )
    r = bisection(t)
    check_result(t, r)
    assert r.exact and r.upper_bound == pytest.approx(16 * 25 * GB)
    assert any(b.method.startswith("fabric net") for b in r.lower_bounds)


def test_a_modified_fabric_loses_its_closed_form() -> None:
    t = from_source("gpu g[16]\nfabric fat_tree net { hosts = g[*], k = 4, link = l }")
    (info,) = t.fabrics
    broken = dataclasses.replace(info, links=info.links[:-1])
    t2 = dataclasses.replace(t, fabrics=(broken,))
    r = bisection(t2)
    assert not any(b.method.startswith("fabric") for b in r.lower_bounds)
    assert r.exact and r.upper_bound == 8 * C  # the generic certificates still prove it


def test_fabric_certificate_scales_for_device_limits() -> None:
    t = from_source(
        "gpu g[8]\nfabric leaf_spine net { hosts = g[*], leaves = 2, spines = 2, link = l }"
    )
    # Limit each spine to 15 GB/s, below the 40 GB/s its links could carry.
    bw = t.nodes.bandwidth.copy()
    (info,) = t.fabrics
    bw[info.switches[-2:]] = 15 * GB
    t2 = dataclasses.replace(t, nodes=dataclasses.replace(t.nodes, bandwidth=bw))
    truth = bisection(t2).upper_bound  # 8 endpoints: exhaustive, exact
    r = bisection(t2, exhaustive_limit=0)
    check_result(t2, r)
    assert r.lower_bound <= truth and r.upper_bound >= truth
    assert truth == 30 * GB


def test_hose_one_pass_equals_hub_by_hub(monkeypatch) -> None:
    # The hose machinery itself, under the ideal model: with GPUs in NVLink domains the fabric
    # rule caps the generic certificates (docs/solvers.md, "Fabric domains whole or separated").
    from benchmarks.clusters import cluster_source

    t = topodsl.loads(cluster_source(1024))
    fast = bisection(t, exhaustive_limit=0, forwarding="ideal")
    monkeypatch.setattr(hose_module, "_equidistant_gather", lambda *a, **k: None)
    slow = bisection(t, exhaustive_limit=0, forwarding="ideal")
    hose = lambda r: max(b.value for b in r.lower_bounds if b.method == "hose")  # noqa: E731
    assert hose(fast) == pytest.approx(hose(slow), rel=1e-12)
    assert fast.exact and fast.upper_bound == pytest.approx(512 * 50 * GB)


def test_networkx_backend_agrees() -> None:
    for t in (star(9), from_plan("torus", 16, {"dims": (4, 4)}), dgx_h100_nvlink()):
        a = bisection(t)
        b = bisection(t, backend="networkx")
        assert a.upper_bound == pytest.approx(b.upper_bound)
        assert a.lower_bound == pytest.approx(b.lower_bound)


# -- endpoints ------------------------------------------------------------------------------------


def test_endpoint_forms_agree() -> None:
    t = dgx_h100_nvlink()
    rows = t.rows_of_kind("gpu")
    by_default = bisection(t)
    for endpoints in ("kind:gpu", "dgx.gpu*", [t.nodes.ids[r] for r in rows], rows):
        assert bisection(t, endpoints).upper_bound == by_default.upper_bound


def test_endpoint_errors() -> None:
    b = TopologyBuilder()
    b.add_node("cpu", "cpu")
    t = b.build()
    with pytest.raises(SolverError, match="no gpu to bisect"):
        bisection(t)
    with pytest.raises(SolverError, match="matches no component"):
        bisection(t, "nothing*")
    with pytest.raises(SolverError, match="unknown max-flow backend"):
        bisection(dgx_h100_nvlink(), backend="ortools")


def test_forwarding_models_are_named() -> None:
    # Eight GPUs on one switch: switches forward under either model, so both agree.
    t = star(8)
    assert bisection(t, forwarding="ideal").upper_bound == bisection(t).upper_bound == 4 * C
    with pytest.raises(SolverError, match="unknown forwarding model 'magic'"):
        bisection(t, forwarding="magic")
    try:
        hardware = bisection(t, forwarding="hardware")
    except SolverError as e:  # a flow core without the model says so rather than guess
        assert "no 'hardware' forwarding model" in str(e)
    else:
        assert hardware.exact and hardware.upper_bound == 4 * C


def test_one_endpoint_has_nothing_to_cut() -> None:
    r = bisection(star(1))
    assert r.exact and r.upper_bound == 0 and r.endpoints == 1


def test_disconnected_halves_bisect_for_free() -> None:
    b = TopologyBuilder()
    for i in range(6):
        b.add_node(f"g{i}", "gpu")
    for i, j in [(0, 1), (1, 2), (3, 4), (4, 5)]:
        b.add_link(i, j, bandwidth=C)
    r = bisection(b.build(), exhaustive_limit=0)
    assert r.exact and r.upper_bound == 0.0


# -- command line ---------------------------------------------------------------------------------


def run(*args: object) -> subprocess.CompletedProcess:
    return run_topodsl(*args)


@pytest.fixture(scope="module")
def ring_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bisection") / "ring.topo"
    path.write_text(
        "link nvlink4 { bandwidth = 25 GB/s }\n"
        "cluster c {\n    gpu g[8]\n    cpu host\n    connect ring(g[*]) via nvlink4\n}\n",
        encoding="utf-8",
    )
    return path


def test_cli_text_report(ring_file: Path) -> None:
    r = run("analyze", "bisection", ring_file)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "bisection bandwidth over 8 endpoints: 50 GB/s per direction (exact)" in out
    assert "bidirectional (both, summed)       100 GB/s" in out
    assert "c.g0" in out and "nvlink4" in out


def test_cli_json(ring_file: Path) -> None:
    r = run("analyze", "bisection", ring_file, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["endpoints"] == 8
    assert d["lower_bound"] == d["upper_bound"] == 50e9 and d["exact"] is True
    assert d["unit"] == "B/s per direction"
    assert d["bidirectional"] == {
        "lower_bound": 100e9,
        "upper_bound": 100e9,
        "lower_method": "2 x lower bound",
    }
    assert len(d["cut"]) == 2
    assert all({"from", "to", "bandwidth"} <= set(c) for c in d["cut"])
    assert sum(c["bandwidth"] for c in d["cut"]) == d["upper_bound"]
    assert sorted(d["halves"][0] + d["halves"][1]) == [f"c.g{i}" for i in range(8)]
    again = run("analyze", "bisection", ring_file, "--json")
    assert again.stdout == r.stdout  # byte for byte


def test_cli_endpoints_option(ring_file: Path) -> None:
    r = run("analyze", "bisection", ring_file, "--endpoints", "c.g[0..3]", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    # g0..g3 split in two: one link between them. The way round passes through g4..g7, GPUs
    # that do not relay; with the ideal forwarding model it adds a second link's worth.
    assert d["endpoints"] == 4 and d["upper_bound"] == 25e9
    r = run("analyze", "bisection", ring_file, "--endpoints", "c.g[0..3]", "--json",
            "--forwarding", "ideal")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["upper_bound"] == 50e9


@pytest.mark.parametrize(
    "args, message",
    [
        (["--endpoints", "nothing*"], "matches no component"),
        (["--endpoints", "kind:gpx"], "did you mean 'gpu'?"),
        (["--endpoints", "kind:cpu"], None),
    ],
)
def test_cli_errors_exit_2(ring_file: Path, args, message) -> None:
    r = run("analyze", "bisection", ring_file, *args)
    if message is None:  # a valid selection of one endpoint
        assert r.returncode == 0 and "over 1 endpoints: 0 B/s" in r.stdout
        return
    assert r.returncode == 2 and r.stdout == ""
    assert message in r.stderr and "Traceback" not in r.stderr


def test_cli_missing_file_and_no_gpus(tmp_path: Path) -> None:
    r = run("analyze", "bisection", tmp_path / "none.topo")
    assert r.returncode == 2 and "no such file" in r.stderr
    f = tmp_path / "cpus.topo"
    f.write_text("cluster c { cpu x[2] }\n", encoding="utf-8")
    r = run("analyze", "bisection", f)
    assert r.returncode == 2 and "no gpu to bisect" in r.stderr and "Traceback" not in r.stderr


# -- memory does not relay in any certificate ----------------------------------------------------


@pytest.mark.parametrize("pooled", [False, True])
def test_no_certificate_routes_through_memory(pooled: bool) -> None:
    # Memory carries no transit, so the bisection is the ring's: two links, 20 GB/s. The
    # spectral bound used to prove 27.5 GB/s on the two-headed expanders (its Laplacian let the
    # expanders carry current) and the star bound 512 GB/s on the pooled one ("bounds contradict").
    n = 16 if pooled else 15
    t = ring_with_expanders(list(np.random.default_rng(0).permutation(n)), pooled=pooled)
    r = bisection(t, exhaustive_limit=0)
    check_result(t, r)
    assert r.upper_bound == pytest.approx(2 * C)
    assert all(b.value <= 2 * C * (1 + 1e-9) for b in r.lower_bounds), r.lower_bounds


def test_a_gpu_that_is_no_endpoint_is_no_switch_to_the_star_bound() -> None:
    # Four endpoint GPUs each linked only to a fifth GPU, which is not an endpoint: GPUs do not
    # relay, so no endpoint reaches another and the bisection is 0 (the star bound used to take
    # the fifth GPU for a switch and prove 20 GB/s).
    b = TopologyBuilder()
    for i in range(5):
        b.add_node(f"g{i}", "gpu")
    for i in range(4):
        b.add_link(f"g{i}", "g4", bandwidth=C)
    t = b.build()
    r = bisection(t, t.rows_of_kind("gpu")[:4])
    assert r.lower_bound == 0 and r.upper_bound == 0
