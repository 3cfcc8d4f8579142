"""The flow core against NetworkX, its invariants, and the int32 hazard of scipy's max flow."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import maximum_flow

from topodsl.errors import SolverError
from topodsl.solvers.flow import (
    INT_LIMIT,
    TerminalCuts,
    build_network,
    flow_network,
    max_flow,
    prune_for_terminals,
    sorted_unique,
)
from topodsl.topology import Topology, TopologyBuilder

# -- random topologies ----------------------------------------------------------------------------


@st.composite
def topologies(draw, max_nodes: int = 9) -> Topology:
    """Small graphs with device limits, simplex links, parallel links and self-loops."""
    n = draw(st.integers(3, max_nodes))
    b = TopologyBuilder()
    for i in range(n):
        limited = draw(st.booleans()) and draw(st.booleans())
        bw = draw(st.integers(1, 40)) * 1e9 if limited else None
        b.add_node(f"v{i}", "switch", bandwidth=bw)
    for _ in range(draw(st.integers(1, 3 * n))):
        a = draw(st.integers(0, n - 1))
        c = draw(st.integers(0, n - 1))
        bw = draw(st.integers(0, 60)) * 1e9
        b.add_link(a, c, bandwidth=bw, simplex=draw(st.booleans()) and draw(st.booleans()))
    return b.build()


@st.composite
def flow_cases(draw):
    t = draw(topologies())
    n = t.num_nodes
    perm = draw(st.permutations(list(range(n))))
    k = draw(st.integers(1, n - 2))
    m = draw(st.integers(1, n - k))
    return t, np.array(perm[:k]), np.array(perm[k : k + m])


def oracle(t: Topology, sources, sinks, unlimited: bool = False) -> float:
    """Max flow built directly with NetworkX from the topology's definition (not the core)."""
    g = nx.DiGraph()
    bw = t.nodes.bandwidth

    def vin(r):
        return ("in", r) if np.isfinite(bw[r]) else ("v", r)

    def vout(r):
        return ("out", r) if np.isfinite(bw[r]) else ("v", r)

    def add(u, v, c):
        if u == v:
            return
        c0 = g[u][v]["capacity"] if g.has_edge(u, v) else 0.0
        g.add_edge(u, v, capacity=c0 + c)

    for r in range(t.num_nodes):
        if np.isfinite(bw[r]):
            add(("in", r), ("out", r), float(bw[r]))
    L = t.links
    for e in range(t.num_links):
        s, d, c = int(L.src[e]), int(L.dst[e]), float(L.bandwidth[e])
        add(vout(s), vin(d), c)
        if not L.simplex[e]:
            add(vout(d), vin(s), c)
    for s in sources:
        cap = math.inf if unlimited else float(min(bw[s], t.nodes.read_bandwidth[s]))
        g.add_edge("S", vout(s), **({} if math.isinf(cap) else {"capacity": cap}))
    for d in sinks:
        cap = math.inf if unlimited else float(min(bw[d], t.nodes.write_bandwidth[d]))
        g.add_edge(vin(d), "T", **({} if math.isinf(cap) else {"capacity": cap}))
    return nx.maximum_flow_value(g, "S", "T")


def assert_consistent(t: Topology, r) -> None:
    """Cut capacity = value; flows within capacity; conservation at every unsplit device."""
    assert r.cut_capacity == pytest.approx(r.value, rel=1e-9, abs=1e-3)
    L = t.links
    assert np.all(r.link_flow >= -1e-6)
    assert np.all(r.link_flow[:, 0] <= L.bandwidth * (1 + 1e-9) + 1e-3)
    assert np.all(r.link_flow[L.simplex, 1] == 0)
    for c in r.cut:
        assert c.bandwidth >= 0 and math.isfinite(c.bandwidth)


# -- against the oracle -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_cases())
def test_scipy_matches_networkx_oracle(case) -> None:
    t, sources, sinks = case
    try:
        expected = oracle(t, sources, sinks)
    except nx.NetworkXUnbounded:
        with pytest.raises(SolverError, match="unbounded"):
            max_flow(t, sources, sinks)
        return
    r = max_flow(t, sources, sinks)
    assert r.value == pytest.approx(expected, rel=1e-9, abs=1e-3)
    assert r.exact and r.resolution >= 1
    assert_consistent(t, r)
    r2 = max_flow(t, sources, sinks, backend="networkx")
    assert r2.value == pytest.approx(expected, rel=1e-9, abs=1e-3)
    assert r2.cut_capacity == pytest.approx(expected, rel=1e-9, abs=1e-3)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_cases(), st.data())
def test_terminal_cuts_match_oracle_with_and_without_pruning(case, data) -> None:
    t, sources, sinks = case
    terms = np.concatenate([sources, sinks])
    first = np.isin(terms, sources)
    expected = oracle(t, sources, sinks, unlimited=True)
    if math.isinf(expected):
        return
    for keep in (None, prune_for_terminals(t, terms)):
        tc = TerminalCuts(t, terms, keep)
        cut = tc.cut(first)
        assert cut.value == pytest.approx(expected, rel=1e-9, abs=1e-3)
        assert cut.flow == pytest.approx(expected, rel=1e-9, abs=1e-3)
        assert tc.flow_value(first) == pytest.approx(expected, rel=1e-9, abs=1e-3)
        items = tc.cut_items(cut)
        assert math.fsum(c.bandwidth for c in items) == pytest.approx(cut.value)


def test_terminal_groups_move_together() -> None:
    # a0 and a1 are one group: the cut may not separate them.
    b = TopologyBuilder()
    for name in ("a0", "a1", "b0", "sw"):
        b.add_node(name, "gpu" if name != "sw" else "switch")
    b.add_link("a0", "a1", bandwidth=1e9)
    b.add_link("a1", "sw", bandwidth=10e9)
    b.add_link("sw", "b0", bandwidth=3e9)
    t = b.build()
    tc = TerminalCuts(t, [0, 1, 2], group=np.array([0, 0, 1]))
    assert tc.cut(np.array([True, False])).value == 3e9
    assert tc.cut(np.array([False, True])).value == 3e9


# -- examples with known answers ------------------------------------------------------------------


def test_device_limit_is_cut() -> None:
    b = TopologyBuilder()
    b.add_node("gpu", "gpu")
    b.add_node("nic", "nic", bandwidth=50e9)
    b.add_node("leaf", "switch")
    b.add_link("gpu", "nic", bandwidth=63e9, type="pcie5_x16")
    b.add_link("nic", "leaf", bandwidth=100e9)
    r = max_flow(b.build(), [0], [2])
    assert r.value == 50e9
    assert [(c.element, c.source) for c in r.cut] == [("device", "nic")]
    assert r.device_flow[1] == 50e9


def test_parallel_links_add_and_share_the_flow() -> None:
    b = TopologyBuilder()
    b.add_node("a", "gpu")
    b.add_node("b", "gpu")
    b.add_link("a", "b", bandwidth=30e9)
    b.add_link("a", "b", bandwidth=10e9)
    b.add_link("b", "a", bandwidth=5e9, simplex=True)
    r = max_flow(b.build(), [0], [1])
    assert r.value == 40e9
    assert r.link_flow[0, 0] == pytest.approx(30e9) and r.link_flow[1, 0] == pytest.approx(10e9)
    assert len(r.cut) == 2


def test_simplex_link_carries_one_way() -> None:
    b = TopologyBuilder()
    b.add_node("a", "gpu")
    b.add_node("b", "gpu")
    b.add_link("a", "b", bandwidth=30e9, simplex=True)
    t = b.build()
    assert max_flow(t, [0], [1]).value == 30e9
    assert max_flow(t, [1], [0]).value == 0.0
    assert not build_network(t).symmetric


def test_storage_read_and_write_limits() -> None:
    b = TopologyBuilder()
    b.add_node("ssd", "ssd", read_bandwidth=7e9, write_bandwidth=4e9)
    b.add_node("cpu", "cpu")
    b.add_link("ssd", "cpu", bandwidth=8e9)
    t = b.build()
    assert max_flow(t, [0], [1]).value == 7e9
    assert max_flow(t, [1], [0]).value == 4e9


def test_pruning_drops_dead_ends_and_unreachable_parts() -> None:
    b = TopologyBuilder()
    for name, kind in [("g0", "gpu"), ("g1", "gpu"), ("sw", "switch"), ("hbm", "hbm")]:
        b.add_node(name, kind)
    for name, kind in [("x", "switch"), ("y", "switch"), ("chain", "switch")]:
        b.add_node(name, kind)
    b.add_link("g0", "sw", bandwidth=1e9)
    b.add_link("g1", "sw", bandwidth=1e9)
    b.add_link("g0", "hbm", bandwidth=1e9)
    b.add_link("x", "y", bandwidth=1e9)  # not connected to any terminal
    b.add_link("sw", "chain", bandwidth=1e9)  # dead end reached through a switch
    b.add_link("chain", "chain", bandwidth=1e9)  # a self-loop does not make it a through path
    keep = prune_for_terminals(b.build(), [0, 1])
    assert keep.tolist() == [True, True, True, False, False, False, False]


# -- the int32 hazard -----------------------------------------------------------------------------


def test_scipy_backend_hazard_is_real() -> None:
    """Why the core scales and checks: scipy answers 0 for int64 capacities, without a word."""
    g = sp.csr_array(
        (np.array([3_000_000_000, 3_000_000_000], dtype=np.int64), ([0, 1], [1, 2])),
        shape=(3, 3),
    )
    assert maximum_flow(g, 0, 2).flow_value == 0


def _chain(*caps: float, limits: dict | None = None) -> Topology:
    b = TopologyBuilder()
    for i in range(len(caps) + 1):
        b.add_node(f"v{i}", "switch", bandwidth=(limits or {}).get(i))
    for i, c in enumerate(caps):
        b.add_link(i, i + 1, bandwidth=c)
    return b.build()


@pytest.mark.parametrize(
    "caps",
    [
        (5e12,),  # one arc far above 2**31 B/s
        (900e9, 900e9, 450e9),
        (3 * 2**31, 2**33),  # not multiples of a power of ten above 1
        (1e15, 1e15, 7e14),
    ],
)
def test_capacities_beyond_int32_are_exact(caps) -> None:
    t = _chain(*caps)
    r = max_flow(t, [0], [len(caps)])
    assert r.value == min(caps)
    assert r.exact and r.cut_capacity == min(caps)


def test_sums_beyond_int32_are_exact() -> None:
    # 3000 parallel paths of 1 TB/s: the answer, 3 PB/s, is 1.4e6 times 2**31 B/s.
    b = TopologyBuilder()
    b.add_node("s", "switch")
    b.add_node("t", "switch")
    for i in range(3000):
        b.add_node(f"m{i}", "switch")
        b.add_link("s", f"m{i}", bandwidth=1e12)
        b.add_link(f"m{i}", "t", bandwidth=1e12 + 1e9 * (i % 3))
    r = max_flow(b.build(), [0], [1])
    assert r.value == 3000 * 1e12 and r.exact


def test_mixed_whole_capacities_stay_exact_at_scale() -> None:
    # A 7.5 GB/s path beside a 2 EB/s one: keeping the total in int32 needs a unit of at least
    # 1.9 GB/s, and no power of ten that large divides 7.5 GB/s; their common divisor does.
    b = TopologyBuilder()
    for name in ("s", "m0", "m1", "t"):
        b.add_node(name, "switch")
    b.add_link("s", "m0", bandwidth=7.5e9)
    b.add_link("m0", "t", bandwidth=4e18)
    b.add_link("s", "m1", bandwidth=2e18)
    b.add_link("m1", "t", bandwidth=4e18)
    t = b.build()
    r = max_flow(t, [0], [3])
    assert r.exact and r.resolution == 2.5e9
    assert r.value == 2e18 + 7.5e9


def test_awkward_capacities_are_refined_to_the_true_cut() -> None:
    # Thirds of a TB/s cannot be expressed in a power-of-ten unit once the total is this large:
    # phase 0 rounds them down, the refinement phases close the gap to the true cut.
    third = 1e12 / 3
    b = TopologyBuilder()
    b.add_node("s", "switch")
    b.add_node("t", "switch")
    for i in range(4000):
        b.add_node(f"m{i}", "switch")
        b.add_link("s", f"m{i}", bandwidth=third)
        b.add_link(f"m{i}", "t", bandwidth=1e13)
    r = max_flow(b.build(), [0], [1])
    truth = math.fsum([third] * 4000)
    assert r.exact
    assert r.value == truth == r.upper
    assert r.lower <= r.upper and r.upper - r.lower <= 1e-13 * truth


def test_a_tiny_bottleneck_between_huge_links_is_exact() -> None:
    # A 1.5 B/s bottleneck between 1 PB/s links: phase 0 rounds it to nothing, phase 1 finds it.
    t = _chain(1e15, 1.5, 1e15)
    r = max_flow(t, [0], [3])
    assert r.exact and r.value == 1.5
    assert [(c.source, c.target) for c in r.cut] == [("v1", "v2")]


def test_ten_petabytes_next_to_a_millibyte() -> None:
    # Issue 10: capacities 19 orders of magnitude apart, once in the middle of a chain and
    # once at its end: exactly 0.001 B/s, not "between 0 and 0.001", and no refusal.
    for caps in ((1e16, 1e-3, 1e16), (1e16, 1e16, 1e-3), (1e-3, 1e16)):
        r = max_flow(_chain(*caps), [0], [len(caps)])
        assert r.exact and r.value == 1e-3, caps
        assert r.lower == pytest.approx(1e-3, rel=1e-12)


def test_one_byte_above_a_terabyte_is_not_rounded_away() -> None:
    # 1e12 + 1 B/s next to capacities that force a coarse unit: reported exactly.
    b = TopologyBuilder()
    for name in ("s", "m", "t", "x"):
        b.add_node(name, "switch")
    b.add_link("s", "m", bandwidth=1e12 + 1)
    b.add_link("m", "t", bandwidth=3e15 / 7)
    b.add_link("s", "x", bandwidth=3e15 / 7)
    b.add_link("x", "t", bandwidth=1e-3)
    r = max_flow(b.build(), [0], [2])
    assert r.value == 1e12 + 1 + 1e-3 and r.exact
    assert r.lower <= r.value <= r.upper


def test_pcie_encoded_feeds_of_32_nics_give_exactly_3200_gbps() -> None:
    # Issue 10: 32 NICs of 100 Gb/s, each fed over PCIe 32 GB/s x 128/130: the NICs' line
    # rate is the whole cut, 32 x 12.5 GB/s = 400 GB/s = 3200 Gb/s, exactly.
    b = TopologyBuilder()
    b.add_node("host", "switch")
    for i in range(32):
        b.add_node(f"gpu{i}", "gpu")
        b.add_node(f"nic{i}", "nic", bandwidth=100e9 / 8)
        b.add_link(f"gpu{i}", f"nic{i}", bandwidth=32e9 * 128 / 130)
        b.add_link(f"nic{i}", "host", bandwidth=400e9)
    t = b.build()
    gpus = t.select("gpu*")
    nics = t.select("nic*")
    r = max_flow(t, gpus, nics)
    assert r.exact and r.value == 400e9
    assert all(c.element == "device" and c.bandwidth == 12.5e9 for c in r.cut)
    r = max_flow(t, gpus, [t.index("host")])
    assert r.exact and r.value == 400e9


def test_int_limit_constant() -> None:
    assert INT_LIMIT == 2**31 - 1


# -- errors and helpers ---------------------------------------------------------------------------


def test_errors() -> None:
    t = _chain(1e9, 1e9)
    with pytest.raises(SolverError, match="source selection is empty"):
        max_flow(t, [], [1])
    with pytest.raises(SolverError, match="both source and sink"):
        max_flow(t, [0, 1], [1])
    with pytest.raises(SolverError, match="unknown max-flow backend"):
        max_flow(t, [0], [2], backend="ortools")
    b = TopologyBuilder()
    b.add_node("a", "switch")
    b.add_node("b", "switch")
    b.add_link("a", "b", bandwidth=math.inf)
    with pytest.raises(SolverError, match="unbounded"):
        max_flow(b.build(), [0], [1])


def test_network_is_cached_per_topology() -> None:
    t = _chain(1e9, limits={0: 5e9})
    assert flow_network(t) is flow_network(t)
    assert flow_network(t).num_vertices == 3


@given(st.lists(st.integers(-5, 5)))
def test_sorted_unique_matches_numpy(values) -> None:
    a = np.array(values, dtype=np.int64)
    u, inv = sorted_unique(a, return_inverse=True)
    assert u.tolist() == np.unique(a).tolist()
    assert np.array_equal(u[inv], a)
    assert sorted_unique(a).tolist() == np.unique(a).tolist()


def test_no_flow_passes_through_a_memory_or_storage_device() -> None:
    # Two hosts share a two-headed CXL expander and an SSD on a dual-port link: neither is a
    # path from one host to the other, though both can be read or written by each.
    b = TopologyBuilder()
    for name, kind in (("h0", "cpu"), ("h1", "cpu"), ("m", "cxl_memory"), ("s", "ssd")):
        b.add_node(name, kind)
    for dev in ("m", "s"):
        b.add_link("h0", dev, bandwidth=63e9)
        b.add_link("h1", dev, bandwidth=63e9)
    t = b.build()
    assert max_flow(t, [t.index("h0")], [t.index("h1")]).value == 0
    assert max_flow(t, [t.index("h0")], [t.index("m")]).value == 63e9
    assert max_flow(t, [t.index("m")], [t.index("h1")]).value == 63e9
    both = max_flow(t, [t.index("h0"), t.index("h1")], [t.index("m"), t.index("s")])
    assert both.value == 4 * 63e9
