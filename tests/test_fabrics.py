"""Fabric generators: the structure they build, their errors, and their closed-form bisection."""

from __future__ import annotations

import math
import time
import tracemalloc
from collections import Counter
from itertools import combinations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from networkx.algorithms.flow import build_residual_network, edmonds_karp

import topodsl
from topodsl.fabrics import (
    GENERATORS,
    MAX_FABRIC_LINKS,
    closed_form_bisection,
    natural_split,
    plan_fabric,
)


def pairs(plan) -> list[tuple[int, int]]:
    return [tuple(sorted(p)) for p in zip(plan.a.tolist(), plan.b.tolist(), strict=True)]


def degrees(plan) -> Counter:
    return Counter(plan.a.tolist()) + Counter(plan.b.tolist())


def check_simple(plan, num_hosts: int) -> None:
    """No self-loop, no repeated pair, every index inside the plan's space."""
    size = num_hosts + plan.num_switches
    p = pairs(plan)
    assert all(a != b for a, b in p)
    assert len(set(p)) == len(p)
    if p:
        assert min(min(x) for x in p) >= 0 and max(max(x) for x in p) < size
    assert len(plan.lanes) == len(plan.tier) == len(plan.role) == plan.num_links
    assert plan.a.dtype == np.int64 and plan.lanes.dtype == np.float64
    assert plan.tier.dtype == np.int8


def brute_bisection(plan, num_hosts: int, capacity) -> float:
    """Minimum over every balanced host split of the min cut, by NetworkX (switches free).

    The network is symmetric, so for an even count host 0 stays in the first half; one residual
    network serves every split (only the source and sink arcs change).
    """
    g = nx.DiGraph()
    for a, b, r in zip(plan.a.tolist(), plan.b.tolist(), plan.role.tolist(), strict=True):
        c = capacity(plan.roles[r] if plan.roles else "link")
        for u, v in ((a, b), (b, a)):
            w = g[u][v]["capacity"] + c if g.has_edge(u, v) else c
            g.add_edge(u, v, capacity=w)
    hosts = list(range(num_hosts))
    for x in hosts:
        g.add_edge("S", x, capacity=1.0)
        g.add_edge(x, "T", capacity=1.0)
    R = build_residual_network(g, "capacity")
    big = R.graph["inf"]
    best = math.inf
    lo = num_hosts // 2
    firsts = (
        ({0, *rest} for rest in combinations(hosts[1:], lo - 1))
        if num_hosts % 2 == 0
        else (set(c) for c in combinations(hosts, lo))
    )
    for first in firsts:
        for x in hosts:
            R["S"][x]["capacity"] = big if x in first else 0
            R[x]["T"]["capacity"] = 0 if x in first else big
        best = min(best, edmonds_karp(g, "S", "T", residual=R).graph["flow_value"])
    return best


# -- patterns -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 16])
def test_ring(n: int) -> None:
    p = plan_fabric("ring", n, {})
    check_simple(p, n)
    assert p.num_links == {1: 0, 2: 1}.get(n, n)
    if n >= 3:
        assert set(degrees(p).values()) == {2}
    assert p.groups == ()


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_line(n: int) -> None:
    p = plan_fabric("line", n, {})
    check_simple(p, n)
    assert pairs(p) == [(i, i + 1) for i in range(n - 1)]


@pytest.mark.parametrize("dims", [(4,), (3, 4), (2, 2), (1, 5), (2, 3, 4), (4, 4, 4), (3, 1, 2)])
def test_mesh_links_are_grid_neighbours(dims: tuple[int, ...]) -> None:
    n = math.prod(dims)
    p = plan_fabric("mesh", n, {"dims": dims})
    check_simple(p, n)
    expected = nx.convert_node_labels_to_integers(nx.grid_graph(dim=list(dims[::-1])))
    assert p.num_links == expected.number_of_edges()
    coords = np.indices(dims).reshape(len(dims), -1).T  # row-major, last dimension fastest
    for a, b in pairs(p):
        assert np.abs(coords[a] - coords[b]).sum() == 1


@pytest.mark.parametrize("dims", [(5,), (3, 4), (2, 4), (2, 2), (2, 2, 2), (4, 4, 4), (1, 3)])
def test_torus_wraps_once(dims: tuple[int, ...]) -> None:
    n = math.prod(dims)
    p = plan_fabric("torus", n, {"dims": dims})
    check_simple(p, n)
    # A dimension of 3 or more is a ring; of 2, one link (not two); of 1, none.
    per_dim = [n if d >= 3 else (n // 2 if d == 2 else 0) for d in dims]
    assert p.num_links == sum(per_dim)
    deg = sum(2 if d >= 3 else (1 if d == 2 else 0) for d in dims)
    assert set(degrees(p).values()) <= {deg}
    assert len(degrees(p)) == (n if deg else 0)


@pytest.mark.parametrize("m", [0, 1, 3, 5])
def test_hypercube(m: int) -> None:
    n = 2**m
    p = plan_fabric("hypercube", n, {})
    check_simple(p, n)
    assert p.num_links == m * n // 2
    for a, b in pairs(p):
        assert bin(a ^ b).count("1") == 1


@pytest.mark.parametrize("n", [1, 2, 6])
def test_full_mesh(n: int) -> None:
    p = plan_fabric("full_mesh", n, {})
    check_simple(p, n)
    assert sorted(pairs(p)) == list(combinations(range(n), 2))


# -- switch fabrics ---------------------------------------------------------------------------


@pytest.mark.parametrize("k, hosts", [(2, 2), (4, 16), (4, 10), (6, 54), (8, 128)])
def test_fat_tree(k: int, hosts: int) -> None:
    p = plan_fabric("fat_tree", hosts, {"k": k})
    check_simple(p, hosts)
    half = k // 2
    assert p.groups == (("edge", k * half), ("agg", k * half), ("core", half * half))
    deg = degrees(p)
    edge0 = hosts
    agg0 = edge0 + k * half
    core0 = agg0 + k * half
    # Hosts k/2 per edge switch, in order.
    for h in range(hosts):
        assert (h, edge0 + h // half) in pairs(p)
        assert deg[h] == 1
    # Every agg and core has k links up/down; every edge k/2 up.
    for a in range(agg0, core0):
        assert deg[a] == k
    for c in range(core0, core0 + half * half):
        assert deg[c] == k  # one agg in each of the k pods
    # agg[p*k/2 + m] reaches core[m*k/2 + c].
    up = {(a, b) for a, b in pairs(p) if a >= agg0 and a < core0}
    assert (agg0 + 0, core0 + 0) in up
    if k >= 4:
        assert (agg0 + 1, core0 + half) in up
    assert p.num_links == hosts + k**3 // 2
    assert set(p.tier[p.role == 0].tolist()) == {0} and set(p.tier[p.role > 0].tolist()) == {1}


@pytest.mark.parametrize(
    "hosts, leaves, spines, over, lanes",
    [(16, 4, 2, 1, 2.0), (16, 4, 2, 2, 1.0), (96, 8, 4, 3, 1.0), (32, 4, 4, 4, 0.5)],
)
def test_leaf_spine_lanes_match_oversubscription(hosts, leaves, spines, over, lanes) -> None:
    p = plan_fabric(
        "leaf_spine", hosts, {"leaves": leaves, "spines": spines, "oversubscription": over}
    )
    check_simple(p, hosts)
    up = p.lanes[p.tier == 1]
    assert len(up) == leaves * spines
    assert np.allclose(up, lanes)
    h = hosts // leaves
    # Leaf uplink capacity = downlink capacity / oversubscription (in link bandwidths).
    assert math.isclose(spines * lanes, h / over)
    for x in range(hosts):
        assert (x, hosts + x // h) in pairs(p)


def test_leaf_spine_uplink_type_and_explicit_uplinks() -> None:
    args = {"leaves": 2, "spines": 2, "link_bandwidth": 50e9, "uplink_bandwidth": 100e9}
    p = plan_fabric("leaf_spine", 8, args)
    # 4 hosts x 50 GB/s down = 2 spines x lanes x 100 GB/s up.
    assert np.allclose(p.lanes[p.tier == 1], 1.0)
    p = plan_fabric("leaf_spine", 8, {"leaves": 2, "spines": 2, "uplinks": 3})
    assert np.allclose(p.lanes[p.tier == 1], 3.0)
    assert p.params["uplinks"] == 3.0


def test_clos3() -> None:
    args = {
        "pods": 2,
        "leaves": 2,
        "spines": 2,
        "cores": 4,
        "oversubscription": 2,
        "spine_oversubscription": 2,
    }
    p = plan_fabric("clos3", 16, args)
    check_simple(p, 16)
    assert p.groups == (("leaf", 4), ("spine", 4), ("core", 4))
    ls = p.role == 1
    sc = p.role == 2
    assert ls.sum() == 2 * 2 * 2 and sc.sum() == 4 * 4
    # 4 hosts per leaf, 2:1 over 2 spines: 1 lane; spine down 2 leaves x 1 lane, 2:1 over 4.
    assert np.allclose(p.lanes[ls], 1.0) and np.allclose(p.lanes[sc], 0.25)
    # Leaves only reach the spines of their own pod.
    for a, b in zip(p.a[ls].tolist(), p.b[ls].tolist(), strict=True):
        assert (a - 16) // 2 == (b - 20) // 2


@pytest.mark.parametrize("g, a, p_", [(4, 2, 1), (6, 4, 2), (9, 4, 1), (2, 1, 3)])
def test_dragonfly_one_global_link_per_group_pair(g: int, a: int, p_: int) -> None:
    n = g * a * p_
    p = plan_fabric("dragonfly", n, {"groups": g, "routers": a})
    check_simple(p, n)
    group_of = lambda r: (r - n) // a  # noqa: E731
    glob = [
        (group_of(x), group_of(y)) for x, y in zip(p.a[p.role == 2], p.b[p.role == 2], strict=True)
    ]
    assert sorted(tuple(sorted(x)) for x in glob) == list(combinations(range(g), 2))
    local = list(zip(p.a[p.role == 1].tolist(), p.b[p.role == 1].tolist(), strict=True))
    assert len(local) == g * a * (a - 1) // 2
    assert all(group_of(x) == group_of(y) for x, y in local)
    # Round robin: a router holds ceil((g-1)/a) global links at most.
    per_router = Counter(p.a[p.role == 2].tolist()) + Counter(p.b[p.role == 2].tolist())
    assert max(per_router.values(), default=0) == -(-(g - 1) // a)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "generator, hosts, args, message",
    [
        ("hypercube", 12, {}, "power-of-two number of hosts, got 12 (8 or 16 would do)"),
        ("fat_tree", 8, {"k": 5}, "fat_tree needs an even k, got 5"),
        ("fat_tree", 17, {"k": 4}, "holds at most k^3/4 = 16 hosts, got 17; use k = 6"),
        ("mesh", 10, {"dims": (3, 3)}, "3 x 3 hold 9 hosts but 10 were given"),
        ("torus", 8, {"dims": (2, 0)}, "dimension must be at least 1"),
        ("mesh", 4, {}, "mesh needs dims"),
        ("leaf_spine", 10, {"leaves": 4, "spines": 2}, "10 hosts do not divide over 4 leaves"),
        ("leaf_spine", 8, {"leaves": 4, "spine": 2}, "did you mean 'spines'?"),
        ("leaf_spine", 8, {"leaves": 4, "spines": 2, "oversubscription": 0}, "positive"),
        ("ring", 4, {"dims": (2, 2)}, "ring takes no dimensions"),
        ("fatt_ree", 4, {}, "did you mean 'fat_tree'?"),
        ("dragonfly", 36, {"groups": 9, "routers": 2, "global_ports": 2}, "global_ports to 4"),
        ("clos3", 10, {"pods": 2, "leaves": 2, "spines": 1, "cores": 1}, "multiple of 4"),
        ("ring", 0, {}, "must be at least 1"),
        ("fat_tree", 4, {"k": 2.5}, "whole number"),
    ],
)
def test_errors_say_what_to_change(generator, hosts, args, message) -> None:
    with pytest.raises(ValueError) as e:
        plan_fabric(generator, hosts, args)
    assert message in str(e.value)


@pytest.mark.parametrize(
    "generator, hosts, args",
    [
        ("full_mesh", 20_000, {}),
        ("fat_tree", 10, {"k": 1000}),
        ("leaf_spine", 4000, {"leaves": 4000, "spines": 4000}),
        ("torus", 16_000_000, {"dims": (4000, 4000)}),
    ],
)
def test_size_cap_is_checked_before_allocating(generator, hosts, args) -> None:
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="more than the cap of 10,000,000"):
        plan_fabric(generator, hosts, args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0
    assert peak < 8 * 2**20
    assert MAX_FABRIC_LINKS == 10_000_000


def test_generators_table_lists_settings() -> None:
    assert set(GENERATORS) == {
        "ring",
        "line",
        "mesh",
        "torus",
        "hypercube",
        "full_mesh",
        "fat_tree",
        "leaf_spine",
        "clos3",
        "dragonfly",
    }
    assert GENERATORS["leaf_spine"].signature() == (
        "leaves, spines, oversubscription = 1, uplinks (optional)"
    )
    assert not GENERATORS["ring"].creates_switches and GENERATORS["clos3"].creates_switches


@settings(max_examples=40, deadline=None)
@given(
    dims=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    wrap=st.booleans(),
)
def test_grid_links_match_networkx(dims: list[int], wrap: bool) -> None:
    n = math.prod(dims)
    p = plan_fabric("torus" if wrap else "mesh", n, {"dims": tuple(dims)})
    check_simple(p, n)
    g = nx.Graph(nx.grid_graph(dim=dims[::-1], periodic=wrap))
    g.remove_edges_from(list(nx.selfloop_edges(g)))  # NetworkX wraps a dimension of 1 onto itself
    assert p.num_links == g.number_of_edges()


# -- closed-form bisection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "generator, n, args, exact",
    [
        ("ring", 2, {}, 1),
        ("ring", 5, {}, 2),
        ("ring", 8, {}, 2),
        ("line", 7, {}, 1),
        ("mesh", 16, {"dims": (4, 4)}, 4),
        ("mesh", 24, {"dims": (2, 3, 4)}, 6),
        ("torus", 16, {"dims": (4, 4)}, 8),
        ("torus", 64, {"dims": (4, 4, 4)}, 32),
        ("torus", 8, {"dims": (2, 4)}, 4),
        ("torus", 8, {"dims": (2, 2, 2)}, 4),
        ("hypercube", 32, {}, 16),
        ("full_mesh", 6, {}, 9),
        ("full_mesh", 7, {}, 12),
        ("fat_tree", 16, {"k": 4}, 8),  # k^3/8 host links
        ("fat_tree", 54, {"k": 6}, 27),
        ("fat_tree", 128, {"k": 8}, 64),
        ("leaf_spine", 16, {"leaves": 4, "spines": 2, "oversubscription": 2}, 4),
        ("leaf_spine", 96, {"leaves": 8, "spines": 4, "oversubscription": 3}, 16),
        (
            "clos3",
            32,
            {"pods": 2, "leaves": 2, "spines": 2, "cores": 2, "spine_oversubscription": 4},
            4,
        ),
    ],
)
def test_closed_forms(generator, n, args, exact) -> None:
    plan = plan_fabric(generator, n, args)
    cf = closed_form_bisection(generator, n, plan.params)
    assert cf.exact == pytest.approx(exact)
    assert cf.lower == pytest.approx(exact)
    assert cf.host_rate > 0


def role_capacities(plan, ratios: dict[str, float]) -> dict[str, float]:
    """Each role's link capacity in host-link units: its lanes, times ``ratios`` if given."""
    caps = {"link": 1.0, "host": 1.0}
    for role in plan.roles:
        if role not in caps:
            lanes = plan.lanes[plan.role == plan.roles.index(role)]
            caps[role] = (float(lanes.min()) if len(lanes) else 1.0) * ratios.get(role, 1.0)
    return caps


def table_exact(generator: str, n: int, params, caps) -> float | None:
    """The "exact bisection" column of the closed-form table in docs/solvers.md, as code."""
    c = caps.get("host", 1.0)
    if generator == "ring":
        return 1.0 if n == 2 else 2.0
    if generator == "line":
        return 1.0
    if generator in ("mesh", "torus"):
        dims = tuple(params["dims"])
        d = max(dims)
        if generator == "torus" and all(x <= 2 for x in dims):
            return n / 2
        if d % 2:
            return None
        return 2 * n / d if generator == "torus" and d >= 4 else n / d
    if generator == "hypercube":
        return n / 2
    if generator == "full_mesh":
        return float((n // 2) * (n - n // 2))
    if generator == "fat_tree":
        r = min(c, caps["edge-agg"], caps["agg-core"])
        full = n == params["k"] ** 3 // 4
        return (n // 2) * r if full or c <= min(caps["edge-agg"], caps["agg-core"]) else None
    if generator == "leaf_spine":
        L, S, h, w = params["leaves"], params["spines"], n / params["leaves"], caps["leaf-spine"]
        return min(
            abs(h * la - side) * c + S * w * min(la, L - la)
            for side in (n // 2, n - n // 2)
            for la in range(L + 1)
        )
    if generator == "clos3":
        L, S, C, h = (params[k] for k in ("leaves", "spines", "cores", "hosts_per_leaf"))
        r = min(c, S * caps["leaf-spine"] / h, S * C * caps["spine-core"] / (L * h))
        return (n // 2) * r if params["pods"] % 2 == 0 and n % 2 == 0 else None
    if generator == "dragonfly":
        g, a, p = params["groups"], params["routers"], params["hosts_per_router"]
        per_router = sorted((g - 1) // a + (i < (g - 1) % a) for i in range(a))
        binds = caps["global"] / (a * p) ** 2 <= c / (n - 1)
        if a > 1:
            binds &= caps["global"] / (a * p) ** 2 <= caps["local"] / (
                p * p * (1 + a * sum(per_router[-2:]))
            )
        return (g // 2) ** 2 * caps["global"] if g % 2 == 0 and binds else None
    raise AssertionError(generator)


TABLE_CASES = [
    *[("ring", n, {}, {}) for n in (2, 3, 4, 5, 6, 7, 8)],
    *[("line", n, {}, {}) for n in (2, 3, 6, 7)],
    *[
        (gen, int(np.prod(dims)), {"dims": dims}, {})
        for gen in ("mesh", "torus")
        for dims in [(2, 2), (2, 3), (3, 3), (2, 4), (3, 4), (4, 2), (2, 2, 2), (1, 4), (2, 5)]
    ],
    *[("hypercube", n, {}, {}) for n in (2, 4, 8)],
    *[("full_mesh", n, {}, {}) for n in (2, 5, 6, 7)],
    *[
        ("fat_tree", n, {"k": k}, ratios)
        for k, n in [(2, 2), (4, 4), (4, 8), (4, 10), (4, 12)]
        for ratios in ({}, {"edge-agg": 0.5}, {"agg-core": 0.5})
    ],
    *[
        ("leaf_spine", n, {"leaves": L, "spines": S, "oversubscription": o}, ratios)
        for n, L, S, o in [(8, 2, 2, 1), (12, 3, 2, 2), (9, 3, 2, 1), (10, 2, 3, 2), (12, 4, 2, 3)]
        for ratios in ({}, {"leaf-spine": 0.5})
    ],
    *[
        (
            "clos3",
            n,
            {"pods": P, "leaves": L, "spines": S, "cores": C, "oversubscription": o},
            ratios,
        )
        for n, P, L, S, C, o in [(8, 2, 2, 1, 1, 1), (8, 2, 2, 1, 2, 2), (12, 3, 2, 1, 1, 1)]
        for ratios in ({}, {"leaf-spine": 0.5}, {"spine-core": 0.5})
    ],
    *[
        ("dragonfly", g * a * p, {"groups": g, "routers": a, "local_lanes": ll}, ratios)
        for g, a, p in [(2, 2, 1), (3, 2, 1), (4, 1, 1), (4, 2, 1), (4, 3, 1), (2, 3, 2)]
        for ll in (1, 2)
        for ratios in ({}, {"global": 0.5})
    ],
]


@pytest.mark.parametrize("generator, n, args, ratios", TABLE_CASES)
def test_closed_forms_and_the_docs_table_against_brute_force(generator, n, args, ratios) -> None:
    # Every balanced split measured by NetworkX: the certificate never exceeds it, and the
    # exact figure (the solver's and the docs table's, where they give one) equals it.
    plan = plan_fabric(generator, n, args)
    caps = role_capacities(plan, ratios)
    cf = closed_form_bisection(generator, n, plan.params, caps)
    truth = brute_bisection(plan, n, lambda r: caps[r])
    assert cf.lower <= truth + 1e-9
    if cf.exact is not None:
        assert cf.exact == pytest.approx(truth)
    table = table_exact(generator, n, plan.params, caps)
    if table is not None:
        assert table == pytest.approx(truth)


def test_dragonfly_with_local_links_as_fast_as_global_ones() -> None:
    # 4 groups of 2 routers, one host each, every link alike: a split that cuts across the
    # groups beats half the groups, (4/2)^2 = 4 global links. The bisection is 3 links.
    plan = plan_fabric("dragonfly", 8, {"groups": 4, "routers": 2})
    caps = role_capacities(plan, {})
    assert brute_bisection(plan, 8, lambda r: caps[r]) == 3.0
    cf = closed_form_bisection("dragonfly", 8, plan.params, caps)
    assert cf.exact is None and cf.lower == pytest.approx(16 / 7)
    assert table_exact("dragonfly", 8, plan.params, caps) is None


@pytest.mark.parametrize("g", [2, 4, 6, 8])
def test_dragonfly_even_groups_closed_form(g: int) -> None:
    # Two local lanes keep the local links off the critical path: the global links bind.
    n = g * 4 * 2
    args = {"groups": g, "routers": 4, "local_lanes": 2}
    plan = plan_fabric("dragonfly", n, args)
    cf = closed_form_bisection("dragonfly", n, plan.params)
    assert cf.exact == pytest.approx((g // 2) ** 2)
    assert cf.lower == pytest.approx((g // 2) ** 2)


def test_closed_form_in_bytes_per_second() -> None:
    plan = plan_fabric("fat_tree", 16, {"k": 4})
    cf = closed_form_bisection(
        "fat_tree", 16, plan.params, {"host": 50e9, "edge-agg": 50e9, "agg-core": 25e9}
    )
    # The thinner core layer binds: 8 host pairs x 25 GB/s.
    assert cf.lower == 8 * 25e9 and cf.exact == 8 * 25e9


@pytest.mark.parametrize(
    "generator, n, args",
    [
        ("ring", 8, {}),
        ("mesh", 16, {"dims": (2, 8)}),
        ("torus", 24, {"dims": (4, 6)}),
        ("fat_tree", 16, {"k": 4}),
        ("dragonfly", 16, {"groups": 4, "routers": 2}),
    ],
)
def test_natural_split_is_balanced(generator, n, args) -> None:
    plan = plan_fabric(generator, n, args)
    side = natural_split(generator, n, plan.params)
    assert side.sum() == n // 2


# -- through the language -----------------------------------------------------------------------


def test_fabric_through_source_records_its_plan() -> None:
    t = topodsl.loads(
        """
link eth400 { bandwidth = 400 Gb/s }
link eth800 { bandwidth = 800 Gb/s }
cluster c {
    nic n[16]
    fabric leaf_spine net { hosts = n[*], leaves = 4, spines = 2, link = eth400,
                            uplink = eth800, oversubscription = 2 }
}
"""
    )
    (info,) = t.fabrics
    assert info.generator == "leaf_spine"
    assert len(info.hosts) == 16 and len(info.switches) == 6 and len(info.links) == 16 + 8
    up = [e for e in info.links.tolist() if t.link_type_of(e) == "eth800"]
    assert len(up) == 8
    # 4 hosts x 50 GB/s / 2:1 = 100 GB/s per leaf over 2 spines at 100 GB/s: half a lane each.
    assert np.allclose(t.links.lanes[up], 0.5) and np.allclose(t.links.bandwidth[up], 50e9)
    keep = {k: v for k, v in info.params.items() if k in GENERATORS["leaf_spine"].args}
    again = plan_fabric("leaf_spine", 16, keep)
    assert again.params == info.params


def test_pattern_through_source() -> None:
    t = topodsl.loads(
        """
link l { bandwidth = 25 GB/s }
cluster c {
    gpu g[12]
    connect torus(g[*], 3, 4) via l
}
"""
    )
    (info,) = t.fabrics
    assert info.generator == "torus" and tuple(info.params["dims"]) == (3, 4)
    assert t.num_links == 24


def test_generator_error_through_source_points_at_the_generator() -> None:
    with pytest.raises(topodsl.TopoError) as e:
        topodsl.loads(
            """
link l { bandwidth = 25 GB/s }
cluster c {
    gpu g[12]
    connect hypercube(g[*]) via l
}
"""
        )
    text = str(e.value)
    assert "hypercube needs a power-of-two number of hosts, got 12" in text
    assert "^" in text
