"""Failure analysis: every case checked against a recomputation from scratch.

The oracle of this file never uses masks, pruning or symmetry: for each failure case it builds
a new topology without the failed links and components (``TopologyBuilder``), applies the
endpoint rule with NetworkX's connected components, and asks the solver (max flows with the
NetworkX backend) afresh. Hand-worked designs check the lost-endpoint rule, the assertions
``under failures(...)``, risk groups in the language, the command line and JSON.
"""

from __future__ import annotations

import itertools
import json
import math
import random

import networkx as nx
import numpy as np
import pytest
from cli_support import cli, invoke, run_topodsl
from rebuild import rebuilt_without

import topodsl
from topodsl.analyses import ArgumentError, run
from topodsl.check import check
from topodsl.errors import ElaborationError, TopoError
from topodsl.failures.candidates import CandidateError, select_candidates
from topodsl.failures.damage import damaged, lost_endpoints
from topodsl.failures.engine import _bridges, failure_analysis
from topodsl.failures.symmetry import Symmetry
from topodsl.select import SelectorError
from topodsl.select_links import link_names, select_links
from topodsl.solvers.flow import build_network, max_flow
from topodsl.solvers.forwarding import forwarding_plan
from topodsl.topology import TopologyBuilder

# A two-tier fabric: 4 servers of 2 GPUs (one NIC each) on 2 leaves, 2 spines.
FABRIC = """\
link l  { bandwidth = 50 GB/s }
link up { bandwidth = 100 GB/s }
cluster c {
    switch leaf[2]
    switch spine[2]
    node n[4] { gpu g[2]; nic x[2] { bandwidth = 50 GB/s }; connect g[i] -- x[i] via l }
    connect n[i].x[j] -- leaf[i / 2] via l
    connect leaf[*] -- spine[*] via up
}
"""


@pytest.fixture(scope="module")
def fabric() -> topodsl.Topology:
    return topodsl.loads(FABRIC, file="fabric.topo")


# -- link selectors ------------------------------------------------------------------------------


def test_link_selectors_by_type_end_and_tier(fabric) -> None:
    t = fabric
    up = select_links(t, "type:up")
    assert len(up) == 4 and set(t.link_type_of(e) for e in up) == {"up"}
    assert np.array_equal(select_links(t, "tier:1-2"), up)
    leaf0 = select_links(t, "end:c.leaf0")
    assert len(leaf0) == 4 + 2  # four NICs and two spines
    assert len(select_links(t, "type:up & end:c.leaf0")) == 2
    assert len(select_links(t, "type:up, end:c.n0.**")) == 4 + 2 + 2
    assert len(select_links(t, "*")) == t.num_links
    assert len(select_links(t, "tier:0-1")) == 8
    with pytest.raises(
        SelectorError, match="no link type 'upp' in this topology; did you mean 'up'"
    ):
        select_links(t, "type:upp")
    with pytest.raises(SelectorError, match="cannot read 'leaf' as links"):
        select_links(t, "leaf")


def test_parallel_links_get_a_rank_in_their_names() -> None:
    b = TopologyBuilder()
    for name in ("a", "b"):
        b.add_node(name, "switch")
    for _ in range(3):
        b.add_link("a", "b", 1.0)
    b.add_link("b", "a", 1.0, simplex=True)
    assert link_names(b.build(), np.arange(4)) == ["a -- b", "a -- b #2", "a -- b #3", "b -> a #4"]


def test_candidates_and_their_errors(fabric) -> None:
    c = select_candidates(fabric, links="type:up", devices="kind:switch")
    assert len(c) == 8 and c.kinds().count("device") == 4
    assert c.union((0, 4)) == ((fabric.index("c.leaf0"),), (int(c.links[0]),))
    with pytest.raises(CandidateError, match="no failure candidates"):
        select_candidates(fabric)
    with pytest.raises(CandidateError, match="matches no component"):
        select_candidates(fabric, devices="c.nothing*")
    with pytest.raises(CandidateError, match="names no risk group"):
        select_candidates(fabric, risks="*")


# -- the damaged topology ------------------------------------------------------------------------


def _random_topology(rng: random.Random, n: int = 7, extra: int = 5) -> TopologyBuilder:
    """A connected random graph of switches and GPUs with assorted capacities."""
    b = TopologyBuilder()
    kinds = ["gpu" if rng.random() < 0.4 else "switch" for _ in range(n)]
    for i, k in enumerate(kinds):
        bw = rng.choice([None, None, 30e9, 70e9])
        b.add_node(
            f"v{i}", k, bandwidth=bw, relay=True if k == "gpu" and rng.random() < 0.3 else None
        )
    edges = [(i, rng.randrange(i)) for i in range(1, n)]
    edges += [tuple(rng.sample(range(n), 2)) for _ in range(extra)]
    for a, c in edges:
        b.add_link(
            f"v{a}",
            f"v{c}",
            rng.choice([10e9, 20e9, 25e9, 40e9]),
            type="t",
            simplex=rng.random() < 0.1,
        )
    return b


@pytest.mark.parametrize("forwarding", ["hardware", "ideal"])
def test_a_masked_network_gives_the_max_flow_of_a_rebuilt_topology(forwarding) -> None:
    rng = random.Random(7)
    for _ in range(60):
        t = _random_topology(rng).build()
        e = rng.randrange(t.num_links)
        dead = [rng.randrange(t.num_nodes)] if rng.random() < 0.5 else []
        d = damaged(t, [e], dead)
        oracle = rebuilt_without(t, {e}, set(dead))
        s, k = rng.sample(range(t.num_nodes), 2)
        got = max_flow(d, [s], [k], forwarding=forwarding).value
        want = max_flow(oracle, [s], [k], forwarding=forwarding, backend="networkx").value
        assert got == pytest.approx(want, rel=1e-9, abs=1e-3)
        # The derived network is the original's, arcs of what failed taken out.
        assert len(build_network(d).tail) <= len(build_network(t).tail)


def test_a_damaged_copy_shares_the_original_rows(fabric) -> None:
    d = damaged(fabric, components=[fabric.index("c.n0")])
    assert d.nodes.ids is fabric.nodes.ids
    failed = [fabric.nodes.ids[r] for r in np.flatnonzero(d.failed)]
    assert failed == ["c.n0", "c.n0.g0", "c.n0.g1", "c.n0.x0", "c.n0.x1"]
    assert d.num_links == fabric.num_links - 4
    assert d.nodes.bandwidth[fabric.index("c.n0.x0")] == 0
    with pytest.raises(TypeError):
        damaged(d)


def test_bridges_are_links_whose_loss_disconnects() -> None:
    rng = random.Random(3)
    for _ in range(40):
        t = _random_topology(rng, n=8, extra=rng.randrange(4)).build()
        got = _bridges(t)
        g = nx.MultiGraph()
        L = t.links
        g.add_nodes_from(range(t.num_nodes))
        g.add_edges_from(
            (int(a), int(b), e) for e, (a, b) in enumerate(zip(L.src, L.dst, strict=True))
        )
        for e in range(t.num_links):
            h = g.copy()
            h.remove_edge(int(L.src[e]), int(L.dst[e]), key=e)
            assert got[e] == (not nx.has_path(h, int(L.src[e]), int(L.dst[e])))


# -- every case against the oracle ---------------------------------------------------------------


def _oracle_lost(t, failed_links, failed_rows, endpoints) -> set[int]:
    """The lost-endpoint rule, independently: NetworkX components before and after."""
    g0 = nx.Graph()
    g0.add_nodes_from(range(t.num_nodes))
    L = t.links
    g0.add_edges_from((int(a), int(b)) for a, b in zip(L.src, L.dst, strict=True))
    before = {v: k for k, comp in enumerate(nx.connected_components(g0)) for v in comp}
    g1 = nx.Graph()
    g1.add_nodes_from(r for r in range(t.num_nodes) if r not in failed_rows)
    for e, (a, b) in enumerate(zip(L.src.tolist(), L.dst.tolist(), strict=True)):
        if e not in failed_links and a not in failed_rows and b not in failed_rows:
            g1.add_edge(a, b)
    after = {v: k for k, comp in enumerate(nx.connected_components(g1)) for v in comp}
    lost = {e for e in endpoints if e in failed_rows}
    alive = [e for e in endpoints if e not in failed_rows]
    for group in {before[e] for e in alive}:
        members = [e for e in alive if before[e] == group]
        sizes: dict[int, int] = {}
        for e in members:
            sizes[after[e]] = sizes.get(after[e], 0) + 1
        best = max(sizes.values())
        lost |= {e for e in members if sizes[after[e]] < best}
    return lost


def _subtree(t, rows) -> set[int]:
    out = set(rows)
    for r in range(t.num_nodes):
        p = int(t.nodes.parent[r])
        while p >= 0:
            if p in out:
                out.add(r)
                break
            p = int(t.nodes.parent[p])
    return out


def _oracle_flow(t, cands, case, sources, sinks, lost_mode, forwarding) -> float:
    comps, links = cands.union(case)
    failed_rows = _subtree(t, comps)
    failed_links = set(links)
    src, dst = list(sources), list(sinks)
    if lost_mode == "drop":
        gone = _oracle_lost(t, failed_links, failed_rows, sorted(set(src) | set(dst)))
        src = [s for s in src if s not in gone]
        dst = [s for s in dst if s not in gone]
        if not src or not dst:
            return 0.0
    oracle = rebuilt_without(t, failed_links, failed_rows)
    return max_flow(oracle, src, dst, forwarding=forwarding).value


def _brackets(lo: float, hi: float, want: float) -> bool:
    """Whether ``[lo, hi]`` holds ``want`` (to 1e-9 and a thousandth of a B/s)."""
    return lo <= want * (1 + 1e-9) + 1e-3 and want <= hi * (1 + 1e-9) + 1e-3


@pytest.mark.parametrize("lost", ["keep", "drop"])
@pytest.mark.parametrize("forwarding", ["hardware", "ideal"])
def test_every_failure_case_of_a_max_flow_is_the_recomputed_one(lost, forwarding) -> None:
    """Enumeration, pruning by the baseline's flow and by the single failure's flow, against
    a recomputation of every case from scratch."""
    rng = random.Random(len(lost) * 10 + len(forwarding))
    pruned = superset = 0
    for trial in range(10):
        t = _random_topology(rng, n=rng.randrange(5, 8), extra=3).build()
        ends = rng.sample(range(t.num_nodes), 3)
        sources, sinks = ends[:2], ends[2:]
        devices = [r for r in range(t.num_nodes) if r not in ends][:2]
        r = failure_analysis(
            t,
            "flow",
            {"sources": sources, "sinks": sinks},
            links="*",
            devices=devices or None,
            k=2,
            lost=lost,
            options={"forwarding": forwarding},
            keep_cases=True,
            jobs=1,
        )
        assert r.cases == len(r.case_list)
        for case, (lo, hi) in zip(r.case_list, r.case_values, strict=True):
            want = _oracle_flow(t, r.candidates, case, sources, sinks, lost, forwarding)
            assert _brackets(lo, hi, want), (trial, r.candidates.names(case), lo, hi, want)
        pruned += r.pruned
        superset += r.superset
    # Both prunings were exercised, and every pruned case checked.
    assert pruned > 20 and superset > 0


def _fabric_topology(rng: random.Random) -> topodsl.Topology:
    """GPUs with NVLinks between pairs and to an NVSwitch (fabric domains that one failed
    link can split or leave whole), PCIe switches and a network switch beside them."""
    b = TopologyBuilder()
    n_gpu = rng.randrange(3, 6)
    for i in range(n_gpu):
        b.add_node(f"g{i}", "gpu")
    b.add_node("nvs", "nvswitch")
    b.add_node("p0", "pcie_switch")
    b.add_node("p1", "pcie_switch")
    b.add_node("net", "switch")
    for i in range(n_gpu):
        if rng.random() < 0.6:
            b.add_link(f"g{i}", "nvs", rng.choice([50e9, 100e9]), type="nv")
        b.add_link(f"g{i}", f"p{i % 2}", rng.choice([20e9, 30e9]), type="pcie")
    for _ in range(rng.randrange(0, 3)):
        i, j = rng.sample(range(n_gpu), 2)
        b.add_link(f"g{i}", f"g{j}", rng.choice([25e9, 50e9]), type="nv")
    b.add_link("p0", "net", 40e9, type="up")
    b.add_link("p1", "net", 40e9, type="up")
    return b.build()


def test_every_failure_case_under_the_fabric_rule_is_the_rebuilt_topologys() -> None:
    """The damaged copy builds its own forwarding plan: a failed NVLink can split a fabric
    domain (its peers then talk over PCIe), and pruning holds only while the path rules stay.
    Every case of K = 2 over every link, on random NVLink/NVSwitch/PCIe servers with mixed
    questions (a domain's members among the sources and the sinks, with others), against the
    max flow of the topology rebuilt from scratch without what failed."""
    rng = random.Random(2026)
    split = 0
    for trial in range(12):
        t = _fabric_topology(rng)
        plan = forwarding_plan(t)
        domains = len(np.unique(plan.domain[plan.member]))
        gpus = [int(r) for r in t.select("kind:gpu")]
        ends = rng.sample(gpus, 3)
        cut = rng.choice([1, 2])  # one source and two sinks, or two sources and one sink
        sources, sinks = ends[:cut], ends[cut:]
        r = failure_analysis(
            t,
            "flow",
            {"sources": sources, "sinks": sinks},
            links="*",
            k=2,
            lost="keep",
            keep_cases=True,
            jobs=1,
        )
        for case, (lo, hi) in zip(r.case_list, r.case_values, strict=True):
            want = _oracle_flow(t, r.candidates, case, sources, sinks, "keep", "hardware")
            assert _brackets(lo, hi, want), (trial, r.candidates.names(case), lo, hi, want)
            oracle = forwarding_plan(rebuilt_without(t, r.candidates.union(case)[1]))
            split += len(np.unique(oracle.domain[oracle.member])) > domains
    assert split > 20  # cases that split a domain were among those checked


# Three GPUs on one NVSwitch (one NVLink each) and one PCIe switch: one fabric domain.
NVLINK_DOMAIN = """\
link nv   { bandwidth = 100 GB/s }
link pcie { bandwidth = 30 GB/s }
cluster c {
    gpu g[3]
    nvswitch s
    pcie_switch p
    connect g[*] -- s via nv
    connect g[*] -- p via pcie
}
"""


def test_a_failed_nvlink_that_splits_the_domain_moves_the_peers_to_pcie() -> None:
    """By hand (docs/solvers.md, "Path rules"): healthy, g0 reads g1 over NVLink only, 100 GB/s
    (the fabric rule leaves PCIe out). With g0's NVLink failed, g0 is a domain of its own: the
    rule no longer binds g0 -> g1, which then goes over PCIe, 30 GB/s (not 0, what the
    original's domains would say). g2's NVLink carries nothing and g2 is no endpoint: pruned.
    A failed PCIe link carries nothing: pruned too."""
    t = topodsl.loads(NVLINK_DOMAIN)
    g0, g1 = t.index("c.g0"), t.index("c.g1")
    assert max_flow(t, [g0], [g1]).value == pytest.approx(100e9)
    r = failure_analysis(
        t, "flow", {"sources": "c.g0", "sinks": "c.g1"}, links="*", k=1, lost="keep",
        keep_cases=True, jobs=1,
    )  # fmt: skip
    got = {
        r.candidates.names(case)[0]: (lo / 1e9, hi / 1e9)
        for case, (lo, hi) in zip(r.case_list, r.case_values, strict=True)
    }
    assert got == {
        "c.g0 -- c.s": (30.0, 30.0),
        "c.g1 -- c.s": (30.0, 30.0),
        "c.g2 -- c.s": (100.0, 100.0),
        "c.g0 -- c.p": (100.0, 100.0),
        "c.g1 -- c.p": (100.0, 100.0),
        "c.g2 -- c.p": (100.0, 100.0),
    }
    assert (r.pruned, r.worst.lower / 1e9) == (4, 30.0)
    # The same figure from the damaged copy and from the topology rebuilt without the link.
    d = damaged(t, links=[0])
    assert d.keeps_network() and not d.keeps_rules()
    assert d.keeps_rules(endpoints=[t.index("c.g1"), t.index("c.g2")])
    assert max_flow(d, [g0], [g1]).value == pytest.approx(30e9)
    assert max_flow(rebuilt_without(t, {0}, set()), [g0], [g1]).value == pytest.approx(30e9)
    # Two failures: both of g0's links leave nothing; g0's and g1's NVLinks leave PCIe.
    r2 = failure_analysis(
        t, "flow", {"sources": "c.g0", "sinks": "c.g1"}, links="*", k=2, lost="keep",
        keep_cases=True, jobs=1,
    )  # fmt: skip
    pairs = {
        tuple(r2.candidates.names(case)): lo / 1e9
        for case, (lo, _) in zip(r2.case_list, r2.case_values, strict=True)
    }
    assert pairs[("c.g0 -- c.s", "c.g1 -- c.s")] == 30.0
    assert pairs[("c.g0 -- c.s", "c.g0 -- c.p")] == 0.0
    assert pairs[("c.g1 -- c.s", "c.g2 -- c.s")] == 30.0


CHECKPOINT = FABRIC.replace(
    "    connect leaf[*] -- spine[*] via up\n}",
    """    connect leaf[*] -- spine[*] via up
    storage_node st { ssd d[2] { write_bandwidth = 20 GB/s }; nic y { bandwidth = 50 GB/s }
                      connect d[*] -- y via l }
    connect st.y -- spine[1] via up
}""",
)


def test_every_case_of_a_uniform_rate_is_the_recomputed_one() -> None:
    """Checkpoints (a uniform rate over every GPU): pruned by the flow at the rate."""
    from topodsl.solvers.dataflow import checkpoint_write

    t = topodsl.loads(CHECKPOINT)
    r = failure_analysis(
        t, "checkpoint", {"size": 1e12}, links="*", k=1, lost="keep", keep_cases=True, jobs=1
    )
    assert r.pruned > 0
    for case, (lo, hi) in zip(r.case_list, r.case_values, strict=True):
        comps, links = r.candidates.union(case)
        oracle = rebuilt_without(t, set(links), _subtree(t, comps))
        want = checkpoint_write(oracle, 1e12).legs[0].time
        if math.isinf(want):
            assert math.isinf(lo)
        else:
            assert lo <= want * (1 + 1e-6) and want <= hi * (1 + 1e-6)


def test_bisection_under_failures_against_exhaustive_bisection() -> None:
    """Bisection is not pruned (a failure can lower a split that is not the witness): every
    case is solved, and checked against every balanced split of the rebuilt topology."""
    t = topodsl.loads(FABRIC)
    r = failure_analysis(t, "bisection", {}, links="*", k=1, lost="keep", keep_cases=True, jobs=1)
    assert r.pruned == 0
    gpus = t.select("kind:gpu").tolist()
    for case, (lo, hi) in zip(r.case_list, r.case_values, strict=True):
        oracle = rebuilt_without(t, set(r.candidates.union(case)[1]), set())
        best = min(
            max_flow(
                oracle, list(half), [g for g in gpus if g not in half], backend="networkx"
            ).value
            for half in itertools.combinations(gpus, 4)
        )
        assert lo <= best * (1 + 1e-9) and best <= hi * (1 + 1e-9)


# -- symmetry ------------------------------------------------------------------------------------


SYMMETRIC = """\
link l  { bandwidth = 50 GB/s }
link up { bandwidth = 100 GB/s }
def node Server { gpu g[2]; nic x[2] { bandwidth = 50 GB/s }; connect g[i] -- x[i] via l }
cluster c {
    switch leaf[2]
    switch spine[2]
    Server n[4]
    connect n[i].x[j] -- leaf[i / 2] via l
    connect leaf[*] -- spine[*] via up
    EXTRA
}
"""


@pytest.mark.parametrize("extra", ["", "connect n[3].x[0] -- spine[0] via l"])
def test_symmetric_cases_have_the_figures_of_a_solve_each(extra) -> None:
    t = topodsl.loads(SYMMETRIC.replace("EXTRA", extra))
    params = {"sources": "c.n0.g*", "sinks": "c.n3.g*"}
    r = failure_analysis(t, "flow", params, links="*", k=1, lost="keep", keep_cases=True, jobs=1)
    assert r.symmetric and (r.distinct < r.cases or extra)
    for case, (lo, hi) in zip(r.case_list, r.case_values, strict=True):
        want = _oracle_flow(
            t, r.candidates, case, t.select("c.n0.g*"), t.select("c.n3.g*"), "keep", "hardware"
        )
        assert lo == pytest.approx(want, rel=1e-9) and hi == pytest.approx(want, rel=1e-9)


def test_a_transposition_is_verified_on_the_topology_not_assumed() -> None:
    t = topodsl.loads(SYMMETRIC.replace("EXTRA", "connect n[3].x[0] -- spine[0] via l"))
    s = Symmetry(t, [t.select("kind:gpu")])
    n = [t.index(f"c.n{k}") for k in range(4)]
    assert s.verify(n[0], n[1])  # wired alike
    assert not s.verify(n[0], n[3])  # n3 has one more link
    # A selection the swap does not keep in place forbids it.
    s2 = Symmetry(t, [t.select("c.n0.g*")])
    assert not s2.verify(n[0], n[1])
    g0, g1 = t.index("c.n0.g0"), t.index("c.n0.g1")
    assert s.canonical([g1], []) == ((g0,), ()) or not s.verify(g0, g1)


# -- the lost-endpoint rule ----------------------------------------------------------------------


def test_a_gpu_behind_a_failed_leaf_is_dropped_or_its_share_goes_to_zero(fabric) -> None:
    t = fabric
    d = damaged(t, components=[t.index("c.leaf0")])
    gpus = t.select("kind:gpu")
    lost = lost_endpoints(d, gpus)
    assert [t.nodes.ids[g] for g in gpus[lost]] == ["c.n0.g0", "c.n0.g1", "c.n1.g0", "c.n1.g1"]
    common = dict(devices="c.leaf0", k=1, jobs=1)
    drop = failure_analysis(t, "bisection", {}, lost="drop", **common)
    keep = failure_analysis(t, "bisection", {}, lost="keep", **common)
    assert drop.worst.lost == 4 and drop.worst_range[0] == 100e9  # n2, n3: two NICs a side
    assert keep.worst_range[1] == 0.0  # a half of the GPUs is cut off


def test_lost_endpoints_that_leave_a_selection_empty_give_the_worst_figure(fabric) -> None:
    r = failure_analysis(
        fabric, "flow", {"sources": "c.n0.g*", "sinks": "c.n3.g*"}, devices="c.leaf0", jobs=1
    )
    assert r.worst.how == "empty" and r.worst.lower == 0.0
    assert "no sources left" in r.worst.notes[0]


# -- Monte Carlo ---------------------------------------------------------------------------------


def test_monte_carlo_is_seeded_and_its_intervals_hold_the_exact_figure(fabric) -> None:
    exact = failure_analysis(fabric, "bisection", {}, links="*", k=2, jobs=1)
    a = failure_analysis(fabric, "bisection", {}, links="*", k=2, samples=300, seed=5, jobs=1)
    b = failure_analysis(fabric, "bisection", {}, links="*", k=2, samples=300, seed=5, jobs=1)
    c = failure_analysis(fabric, "bisection", {}, links="*", k=2, samples=300, seed=6, jobs=1)
    assert a.mode == "monte carlo" and a.monte_carlo.samples == 300
    assert a.percentiles == b.percentiles and a.monte_carlo == b.monte_carlo
    assert a.monte_carlo != c.monte_carlo
    p50 = exact.distribution[-1].p50
    lo, hi = a.monte_carlo.p50_ci
    assert lo <= p50[0] and p50[1] <= hi
    assert a.worst_range[0] >= exact.worst_range[0]  # a sample never beats the true worst


def test_weighted_monte_carlo_fails_each_candidate_with_its_probability(fabric) -> None:
    r = failure_analysis(
        fabric,
        "count",
        {"components": "kind:gpu"},
        devices="kind:nic",
        probability=0.25,
        samples=2000,
        seed=1,
        jobs=1,
    )
    mc = r.monte_carlo
    assert mc.weighted and abs(mc.failures_per_sample - 8 * 0.25) < 0.15
    # A GPU goes with its one NIC: 2 GPUs lost per failed NIC on average.
    assert mc.mean == pytest.approx(8 - 8 * 0.25, abs=0.2)
    with pytest.raises(ArgumentError, match="lost must be one of drop, keep"):
        failure_analysis(
            fabric, "count", {"components": "kind:gpu"}, devices="kind:nic", lost="bogus"
        )


def test_too_many_cases_to_enumerate_ask_for_sampling(fabric) -> None:
    from topodsl.failures import engine

    old = engine.MAX_CASES
    engine.MAX_CASES = 10
    try:
        with pytest.raises(CandidateError, match="too many to enumerate.*samples = N"):
            failure_analysis(fabric, "count", {"components": "kind:gpu"}, links="*", k=2)
    finally:
        engine.MAX_CASES = old


def test_workers_give_the_same_result_as_one_process(fabric) -> None:
    question = {"sources": "c.n0.g*", "sinks": "c.n3.g*"}
    one, two = (
        failure_analysis(fabric, "flow", question, links="*", k=2, lost="keep", jobs=jobs)
        for jobs in (1, 2)
    )
    assert one.impact == two.impact and one.distribution == two.distribution


# -- assertions ----------------------------------------------------------------------------------


def test_assertions_under_failures_name_the_failure_set(fabric) -> None:
    rs = check(
        fabric,
        [
            "bisection(kind:gpu) >= 150 GB/s under failures(links = type:up, k = 1)",
            "bisection(kind:gpu) >= 100 GB/s under failures(links = type:up, k = 1)",
            "bisection(kind:gpu) / 2 >= 50 GB/s under failures(links = type:up)",
            "flow(c.n[0].g[*] -> c.n[3].g[*]) >= 1 B/s under failures(links = type:up, k = 2)",
            "count(kind:gpu) >= 8 under failures(devices = c.n[*].x[0], lost = keep)",
        ],
    ).results
    assert [r.status for r in rs] == ["fail", "pass", "pass", "fail", "pass"]
    assert rs[0].notes[0] == "worst case: c.leaf0 -- c.spine0 failed"
    assert rs[0].measured.lower == 100e9 and rs[0].cut
    assert rs[3].notes[0] == "worst case: c.leaf0 -- c.spine0, c.leaf0 -- c.spine1 failed"


def test_a_condition_reads_its_selectors_from_the_assertions_component() -> None:
    t = topodsl.loads(
        RACKS.replace(
            "risk cables",
            "assert bisection() >= 100 GB/s under "
            'failures(risks = "rack[*].pdu", links = "end:spine[0]")\n'
            "    risk cables",
        )
    )
    (r,) = check(t).results
    assert r.status == "pass", r.message()
    assert "of 2 links, 2 risk groups failed" in r.notes[-1]


def test_a_bad_condition_is_an_input_error_at_its_place(fabric) -> None:
    bad = {
        "bisection() >= 1 B/s under failures(links = type:up, samples = 10)": "takes no 'samples'",
        "1 B/s >= 0 B/s under failures(links = type:up)": "the assertion calls no analysis",
        "bisection() >= 1 B/s under outages(links = type:up)": "unknown condition 'outages'",
        "failures(links = type:up) >= 1 B/s": "is a condition, not a figure",
        "bisection() >= 1 B/s under failures(links = type:upp)": "no link type 'upp'",
    }
    for text, message in bad.items():
        r = check(fabric, [text], raise_errors=False).results[-1]
        assert r.status == "error" and message in r.diagnostics[0].message, (text, r.message())


# -- risk groups ---------------------------------------------------------------------------------


RACKS = """\
link l  { bandwidth = 50 GB/s }
link up { bandwidth = 100 GB/s }
def pod Rack {
    node n[2] { gpu g[2]; nic x[2] { bandwidth = 50 GB/s }; connect g[i] -- x[i] via l }
    switch tor
    connect n[*].x[*] -- tor via l
    risk pdu { members = n[*], tor; probability = 0.001 }
}
cluster c {
    Rack rack[2]
    switch spine[2]
    connect rack[*].tor -- spine[*] via up
    risk tray { members = rack[0].tor -- spine[*] }
    risk batch { members = type:up; probability = 0.01 }
    risk cables { links = "end:c.rack1.tor & type:l" }
}
"""


def test_risk_groups_one_per_instance_with_their_members() -> None:
    t = topodsl.loads(RACKS)
    groups = {g.name: g for g in t.risks}
    assert list(groups) == ["c.tray", "c.batch", "c.cables", "c.rack0.pdu", "c.rack1.pdu"]
    pdu = groups["c.rack1.pdu"]
    assert [t.nodes.ids[r] for r in pdu.components] == ["c.rack1.n0", "c.rack1.n1", "c.rack1.tor"]
    assert pdu.probability == 0.001 and len(groups["c.tray"].links) == 2
    assert len(groups["c.batch"].links) == 4 and len(groups["c.cables"].links) == 4
    r = failure_analysis(t, "bisection", {}, risks="c.rack*.pdu", jobs=1)
    assert r.worst_range == (100e9, 100e9) and r.distinct == 1  # two racks, alike


@pytest.mark.parametrize(
    "body, message",
    [
        ("risk tor { members = tor }", "risk group 'c.tor' has the id of a component"),
        ("risk a { members = tor }; risk a { members = tor }", "declared twice"),
        ("risk a { probability = 0.1 }", "has no members"),
        ("risk a { members = tor; weight = 2 }", "has no attribute 'weight'"),
        ("risk a { members = tor; probability = 2 }", "a plain number from 0 to 1"),
        ("risk a { members = nothing[*] }", "matches no component"),
        ("risk a { members = tor -> tor }", "write the links between two selections as a -- b"),
    ],
)
def test_risk_group_errors_point_at_the_source(body: str, message: str) -> None:
    text = f"link l {{ bandwidth = 1 GB/s }}\ncluster c {{ switch tor\n  {body} }}\n"
    with pytest.raises(ElaborationError) as e:
        topodsl.loads(text, file="risk.topo")
    rendered = e.value.render()
    assert message in rendered and "risk.topo:3:" in rendered, rendered


def test_risk_groups_survive_json_export_and_import(tmp_path) -> None:
    from topodsl.io import dumps_json, loads_json

    t = topodsl.loads(RACKS)
    text = dumps_json(t)
    back = loads_json(text)
    assert [
        (g.name, g.components.tolist(), g.links.tolist(), g.probability) for g in back.risks
    ] == [(g.name, g.components.tolist(), g.links.tolist(), g.probability) for g in t.risks]
    assert dumps_json(back) == text
    doc = json.loads(text)
    doc["graph"]["risks"][0]["links"] = [10**6]
    with pytest.raises(TopoError, match="out of range"):
        loads_json(json.dumps(doc))


# -- the command line and JSON -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fabric_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("fabric") / "fabric.topo"
    path.write_text(FABRIC)
    return str(path)


def test_the_json_interface_scripts_rely_on(fabric_file) -> None:
    r = cli(f"analyze failures {fabric_file} --analysis bisection --links type:up --k 1 --json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["baseline"]["value"] == 200e9 and doc["worst"]["value"] == 100e9
    assert doc["worst"]["failed"] == ["c.leaf0 -- c.spine0"] and doc["worst"]["cut"]
    assert list(doc)[:3] == ["analysis", "parameters", "figures"]
    # leaf0's two uplinks are alike (the spines are), and so are leaf1's.
    assert doc["cases"] == {
        "total": 4,
        "classes": 2,
        "solved": 2,
        "pruned": 0,
        "pruned_by_a_single_failure": 0,
        "symmetry": True,
    }


def test_the_interface_in_a_real_process(fabric_file) -> None:
    r = run_topodsl(
        "analyze",
        "failures",
        fabric_file,
        "--analysis",
        "bisection",
        "--links",
        "type:up",
        "--json",
    )
    assert r.returncode == 0 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert (doc["baseline"]["value"], doc["worst"]["value"]) == (200e9, 100e9)
    bad = run_topodsl(
        "analyze", "failures", fabric_file, "--analysis", "bisection", "--links", "type:upp"
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert "no link type 'upp' in this topology; did you mean 'up'?" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_wrapped_analysis_takes_its_own_options(fabric_file) -> None:
    a = cli(
        f"analyze failures {fabric_file} --analysis flow --from c.n0.g* --to "
        f"c.n3.g* --devices kind:switch --k 2 --json"
    )
    b = cli(
        f"analyze failures {fabric_file} --analysis flow:from=c.n0.g*,to=c.n3.g* "
        f"--devices kind:switch --k 2 --json --jobs 2"
    )
    assert a.exit_code == 0 and a.stdout == b.stdout
    text = cli(
        f"analyze failures {fabric_file} --analysis flow --from c.n0.g* --to "
        f"c.n3.g* --devices kind:switch"
    )
    assert "worst:    0 B/s per direction when c.leaf0 fails" in text.stdout
    bad = invoke("analyze", "failures", fabric_file, "--analysis", "flow", "--form", "x")
    assert bad.exit_code == 2 and "flow takes no option '--form'" in bad.stderr
    bad = invoke("analyze", "failures", fabric_file, "--analysis", "bisection")
    assert bad.exit_code == 2 and "no failure candidates" in bad.stderr


def test_diff_compares_designs_under_failures() -> None:
    from topodsl.diff import diff_topologies

    old = topodsl.loads(FABRIC)
    new = topodsl.loads(
        FABRIC.replace("link up { bandwidth = 100 GB/s }", "link up { bandwidth = 50 GB/s }")
    )
    d = diff_topologies(
        old, new, bisection=False, analyses=["failures:analysis=bisection,links=type:up"]
    )
    worst = next(r for r in d.rows if r.name.endswith("under failures(links = type:up, k = 1)"))
    assert (worst.old.lower, worst.new.lower) == (100e9, 50e9)
    assert any(row is worst for row, _ in d.regressions())


def test_run_names_what_it_cannot_take(fabric) -> None:
    with pytest.raises(ArgumentError, match="'failures' is not one of count, capacity"):
        run(fabric, "failures", analysis="failures", links="*")
    with pytest.raises(ArgumentError, match="flow\\(\\) takes no parameter 'form'"):
        run(fabric, "failures", analysis="flow", form="x", links="*")
    with pytest.raises(ArgumentError, match="k must be a whole number"):
        run(fabric, "failures", analysis="bisection", links="*", k=1.5)
