"""The additive domain certificate (topodsl.solvers.certificates.domains) on hand-worked cases,
against brute force over every balanced split under the fabric rule, and its matching lemma
against brute force over small bipartite graphs."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import topodsl
from topodsl.solvers.bisection import _Bisector, bisection, resolve_endpoints
from topodsl.solvers.certificates import cross_domain_matching
from topodsl.solvers.flow import max_flow
from topodsl.topology import TopologyBuilder

GB = 1e9
REPO = Path(__file__).resolve().parent.parent


def boxes(sizes: list[int], nvlink: float = 450 * GB, nic: float = 50 * GB, leaves: int = 1):
    """Boxes of ``sizes`` GPUs, each box's GPUs on one NVSwitch (a box of 1: a lone GPU), every
    GPU behind its own NIC (device limit ``nic``) on leaf ``j % leaves``, the leaves on one
    spine with links of 1 TB/s."""
    b = TopologyBuilder()
    b.add_node("spine", "switch")
    for j in range(leaves):
        b.add_node(f"leaf{j}", "switch")
        b.add_link(f"leaf{j}", "spine", bandwidth=1000 * GB)
    for i, k in enumerate(sizes):
        if k > 1:
            b.add_node(f"b{i}.nvs", "nvswitch")
        for j in range(k):
            g = f"b{i}.g{j}"
            b.add_node(g, "gpu")
            if k > 1:
                b.add_link(g, f"b{i}.nvs", bandwidth=nvlink)
            b.add_node(f"b{i}.nic{j}", "nic", bandwidth=nic)
            b.add_link(g, f"b{i}.nic{j}", bandwidth=64 * GB)
            b.add_link(f"b{i}.nic{j}", f"leaf{j % leaves}", bandwidth=100 * GB)
    return b.build()


def through_bound(t, ends=None) -> tuple[float, bool]:
    solver = _Bisector(t, resolve_endpoints(t, ends), "scipy", "hardware")
    if solver.tc._fabric is None:  # every endpoint in one domain: each cut exact by the rule
        return np.inf, False
    value, _ = solver.through_domains()
    return value, solver._whole_possible


def splits(n: int):
    for first in combinations(range(n), n // 2):
        mask = np.zeros(n, dtype=bool)
        mask[list(first)] = True
        yield mask


def rule_figure(t, ends: np.ndarray, first: np.ndarray) -> float:
    """The flow core's figure for one split (an upper bound on it when a linear program
    decided): the truth under the fabric rule that every lower bound must stay under."""
    r = max_flow(t, ends[first], ends[~first], source_limit=np.inf, sink_limit=np.inf)
    return r.upper if np.isfinite(r.upper) else r.value


def domain_of(t, ends: np.ndarray) -> np.ndarray:
    from topodsl.solvers.forwarding import forwarding_plan

    plan = forwarding_plan(t, "hardware")
    return np.where(plan.member[ends], plan.domain[ends], -1 - np.arange(len(ends)))


# -- hand-worked --------------------------------------------------------------------------------


def test_two_dgx_like_boxes_on_one_leaf() -> None:
    # 16 GPUs, two NVSwitch domains of 8. A split through a box carries the network's 50 GB/s
    # per GPU (its NIC) for 8 cross-domain pairs plus one GPU's 450 GB/s of NVLink: 850 GB/s.
    # Whole boxes: 8 NICs, 400 GB/s, the bisection.
    t = boxes([8, 8])
    value, whole = through_bound(t)
    assert value == pytest.approx(8 * 50 * GB + 450 * GB) and whole
    r = bisection(t, exhaustive_limit=0)
    assert r.exact and r.lower_bound == pytest.approx(400 * GB)
    # The network share alone (400 GB/s) already reaches the whole-box bound, so the fabric
    # share is not measured: the note says it comes on top.
    notes = " ".join(b.note for b in r.lower_bounds)
    assert "splits separating a fabric domain's endpoints carry at least 400 GB/s" in notes
    assert "fabric share, on 2 domains, comes on top" in notes


def test_a_domain_larger_than_half_the_endpoints() -> None:
    # 7 GPUs on one NVSwitch and 3 alone, 10 endpoints: no balanced split keeps the domain
    # whole, and only 3 cross-domain pairs can cross (k_max = 7 binds): 3 x 50 + 450 GB/s.
    # Brute force: the cheapest split sends 5 of the domain and receives 2 of it (900 GB/s of
    # NVLink) with the 3 lone GPUs (150 GB/s over their NICs): 1050 GB/s.
    t = boxes([7, 1, 1, 1])
    value, whole = through_bound(t)
    assert value == pytest.approx(600 * GB) and not whole
    heuristic = bisection(t, exhaustive_limit=0)
    assert heuristic.lower_bound == pytest.approx(600 * GB)
    assert heuristic.lower_method == "domains split"
    exact = bisection(t)
    assert exact.exact and exact.upper_bound == pytest.approx(1050 * GB)


def test_lone_gpus_only_need_the_network_share() -> None:
    # One domain of 2 among 8 endpoints: k_max = 2, all 4 pairs cross: 4 x 50 + 450.
    t = boxes([2, 1, 1, 1, 1, 1, 1])
    assert through_bound(t)[0] == pytest.approx(4 * 50 * GB + 450 * GB)


def test_the_benchmark_cluster_is_exact_again() -> None:
    from benchmarks.clusters import cluster_source

    text = cluster_source(1024)
    module = topodsl.parse(text, "c.topo")
    t = topodsl.elaborate(module, texts={module.file: text})
    r = bisection(t)
    assert r.exact and r.lower_bound == pytest.approx(25.6e12)


def test_cluster_256_gpus_bisection_is_8_tb_exact() -> None:
    t = topodsl.load(REPO / "topologies" / "cluster_256.topo")
    r = bisection(t, "pod.node*.gpu*")
    assert r.exact and r.lower_bound == pytest.approx(8e12)
    value, _ = through_bound(t, "pod.node*.gpu*")
    assert value == pytest.approx(128 * 62.5 * GB + 450 * GB)


# -- the matching lemma ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_cross_domain_matching_against_brute_force(seed: int) -> None:
    # Every balanced split of random domain labels: the largest matching of cross-domain
    # pairs (NetworkX's Hopcroft-Karp) is min(n // 2, n - k_max), whatever the split.
    rng = np.random.default_rng(seed)
    for _ in range(25):
        n = int(rng.integers(2, 11))
        labels = rng.integers(0, int(rng.integers(1, n + 1)), size=n)
        k_max = int(np.bincount(labels).max())
        for first in splits(n):
            a, b = np.flatnonzero(first), np.flatnonzero(~first)
            g = nx.Graph()
            g.add_nodes_from(("a", int(i)) for i in a)
            g.add_nodes_from(("b", int(j)) for j in b)
            g.add_edges_from(
                (("a", int(i)), ("b", int(j))) for i in a for j in b if labels[i] != labels[j]
            )
            top = [("a", int(i)) for i in a]
            size = len(nx.bipartite.hopcroft_karp_matching(g, top_nodes=top)) // 2
            assert size == cross_domain_matching(n, k_max), (labels, first)


# -- against brute force --------------------------------------------------------------------------


def random_domains(rng: np.random.Generator):
    """A small random cluster: 2-3 fabric domains of 2-4 GPUs (an NVSwitch star or direct
    NVLinks), maybe a lone GPU, GPUs on NICs or straight on 1-2 leaves, leaves on a spine,
    sometimes a GPU-to-GPU link across two domains (a fabric link: it joins them into one);
    at most 8 endpoints."""
    b = TopologyBuilder()
    leaves = int(rng.integers(1, 3))
    b.add_node("spine", "switch", bandwidth=int(rng.integers(20, 400)) * GB)
    for j in range(leaves):
        b.add_node(f"leaf{j}", "switch")
        b.add_link(f"leaf{j}", "spine", bandwidth=int(rng.integers(10, 200)) * GB)
    gpus: list[str] = []
    sizes = [int(rng.integers(2, 5)) for _ in range(int(rng.integers(2, 4)))]
    if rng.random() < 0.4:
        sizes.append(1)
    while sum(sizes) > 8:
        sizes.pop()
    for i, k in enumerate(sizes):
        star = rng.random() < 0.5
        if star and k > 1:
            b.add_node(f"d{i}.nvs", "nvswitch", bandwidth=int(rng.integers(20, 900)) * GB)
        mine = []
        for j in range(k):
            g = f"d{i}.g{j}"
            b.add_node(g, "gpu")
            mine.append(g)
            if star and k > 1:
                b.add_link(g, f"d{i}.nvs", bandwidth=int(rng.integers(10, 450)) * GB)
            leaf = f"leaf{int(rng.integers(0, leaves))}"
            if rng.random() < 0.5:
                b.add_node(f"d{i}.nic{j}", "nic", bandwidth=int(rng.integers(5, 60)) * GB)
                b.add_link(g, f"d{i}.nic{j}", bandwidth=int(rng.integers(5, 80)) * GB)
                b.add_link(f"d{i}.nic{j}", leaf, bandwidth=int(rng.integers(5, 80)) * GB)
            else:
                b.add_link(g, leaf, bandwidth=int(rng.integers(5, 80)) * GB)
        if not star:
            for x, y in combinations(mine, 2):
                if rng.random() < 0.7:
                    b.add_link(x, y, bandwidth=int(rng.integers(10, 200)) * GB)
        gpus += mine
    for _ in range(int(rng.integers(0, 3))):
        x, y = rng.choice(len(gpus), size=2, replace=False)
        b.add_link(gpus[x], gpus[y], bandwidth=int(rng.integers(1, 40)) * GB,
                   simplex=bool(rng.random() < 0.2))  # fmt: skip
    return b.build()


@pytest.mark.parametrize("case", range(2))
def test_the_certificate_against_every_split(case: int) -> None:
    # Every lower bound of the heuristic path (no exhaustive search) is at most the least
    # figure over every balanced split under the fabric rule; the additive certificate is at
    # most the least over the splits separating a domain; every upper bound is a real split.
    rng = np.random.default_rng(900 + case)
    checked = 0
    for _ in range(16):
        t = random_domains(rng)
        ends = resolve_endpoints(t, None)
        label = domain_of(t, ends)
        figures, through = [], []
        for first in splits(len(ends)):
            for f in (first, ~first):
                v = rule_figure(t, ends, f)
                figures.append(v)
                a, b = set(label[f].tolist()), set(label[~f].tolist())
                if a & b:
                    through.append(v)
        truth = min(figures)
        r = bisection(t, exhaustive_limit=0)
        for bound in r.lower_bounds:
            assert bound.value <= truth * (1 + 1e-9) + 1e-3, (bound, truth)
        assert r.lower_bound <= truth * (1 + 1e-9) + 1e-3
        assert r.upper_bound >= truth * (1 - 1e-9) - 1e-3
        value, _ = through_bound(t)
        if through and np.isfinite(value):
            assert value <= min(through) * (1 + 1e-9) + 1e-3, (value, min(through))
            checked += 1
    assert checked >= 6


def test_adding_a_network_link_never_lowers_the_certificate() -> None:
    # Monotone in the network: a faster NIC can only raise the network share.
    slow, fast = boxes([4, 4], nic=25 * GB), boxes([4, 4], nic=50 * GB)
    assert through_bound(fast)[0] > through_bound(slow)[0]
    assert through_bound(slow)[0] == pytest.approx(4 * 25 * GB + 450 * GB)
