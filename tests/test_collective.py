"""The collective solver: closed forms, hand-worked bounds and estimates, an independent linear
program as an oracle on random graphs, the traffic of each algorithm, NCCL's conventions and a
published measurement (topodsl/solvers/collective.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import topodsl
from topodsl.errors import SolverError
from topodsl.solvers.collective import (
    ALGORITHMS,
    OPS,
    Transfer,
    _Router,
    bus_factor,
    collective,
    traffic_matrix,
    transfers,
)
from topodsl.solvers.flow import flow_network
from topodsl.solvers.forwarding import forwarding_plan
from topodsl.topology import TopologyBuilder

GB, GiB = 1e9, 2**30
S = 8 * GB


def ring_of(n: int, bw: float = 100 * GB) -> topodsl.Topology:
    """n GPUs, each linked to its two neighbours (a physical ring)."""
    return topodsl.loads(f"link l {{ bandwidth = {bw / GB} GB/s }}\n"
                         f"cluster c {{ gpu g[{n}]; connect ring(g[*]) via l }}")  # fmt: skip


def star_of(n: int, bw: float = 100 * GB) -> topodsl.Topology:
    """n GPUs on one non-blocking switch."""
    return topodsl.loads(
        f"link l {{ bandwidth = {bw / GB} GB/s }}\n"
        f"cluster c {{ gpu g[{n}]; switch s; connect g[*] -- s via l }}"
    )


def gpus(t) -> np.ndarray:
    return t.select("kind:gpu")


def est(r, algorithm: str):
    return next(e for e in r.estimates if e.algorithm == algorithm)


# -- closed forms -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 8, 16])
def test_ring_all_reduce_on_a_non_blocking_switch_is_the_closed_form(n: int) -> None:
    t, B = star_of(n), 100 * GB
    r = collective(t, [gpus(t)], "allreduce", S)
    closed = 2 * (n - 1) / n * S / B
    assert est(r, "ring").bandwidth == pytest.approx(closed, rel=1e-6)
    assert r.lower_bound == pytest.approx(closed, rel=1e-9)  # the ring is optimal here
    assert r.busbw(est(r, "ring").time) == pytest.approx(B, rel=1e-6)
    # A double binary tree moves S/2 over each of its edges both ways; from 8 members on, a
    # member is inner in one tree (parent and two children) and a leaf in the other: 4 edges,
    # 2 S through its link: 2 S / B.
    if n >= 8:
        assert est(r, "tree").bandwidth == pytest.approx(2 * S / B, rel=1e-6)


@pytest.mark.parametrize("n", [3, 4, 6, 8])
def test_ring_all_reduce_on_a_physical_ring(n: int) -> None:
    t, B = ring_of(n), 100 * GB
    r = collective(t, [gpus(t)], "allreduce", S)
    # One direction of the ring: 2 (n-1) / n x S / B. Both directions at once, half each:
    # (n-1) / n x S / B, which is the bound (each member receives through two links).
    assert est(r, "ring").bandwidth == pytest.approx(2 * (n - 1) / n * S / B, rel=1e-6)
    assert est(r, "bidirectional_ring").bandwidth == pytest.approx((n - 1) / n * S / B, rel=1e-6)
    assert r.lower_bound == pytest.approx((n - 1) / n * S / B, rel=1e-9)
    assert r.best.algorithm == "bidirectional_ring"


@pytest.mark.parametrize("op", ["allgather", "reducescatter", "alltoall"])
def test_the_other_collectives_on_a_switch(op: str) -> None:
    n, B = 8, 100 * GB
    t = star_of(n, B)
    r = collective(t, [gpus(t)], op, S)
    closed = (n - 1) / n * S / B  # what each member must receive (or send) over its link
    assert r.lower_bound == pytest.approx(closed, rel=1e-9)
    assert r.best.bandwidth == pytest.approx(closed, rel=1e-6)
    assert r.busbw(r.best.time) == pytest.approx(B, rel=1e-6)


def test_send_recv_along_a_pipeline() -> None:
    t = topodsl.loads("link a { bandwidth = 50 GB/s }\nlink b { bandwidth = 20 GB/s }\n"
                      "cluster c { gpu g[3]; connect g[0] -- g[1] via a; "
                      "connect g[1] -- g[2] via b }")  # fmt: skip
    r = collective(t, [gpus(t)], "sendrecv", 10 * GB)
    assert r.lower_bound == pytest.approx(0.5)  # 10 GB over the 20 GB/s pair
    assert r.best.algorithm == "pipeline" and r.best.time == pytest.approx(0.5)
    assert r.busbw(0.5) == r.algbw(0.5) == 20 * GB


def test_hierarchical_all_reduce_worked_by_hand() -> None:
    # 2 servers of 4 GPUs: 100 GB/s each to the server's switch, 25 GB/s each to a leaf.
    t = topodsl.loads("""
link nv { bandwidth = 100 GB/s }
link net { bandwidth = 25 GB/s }
cluster c {
    node n[2] { gpu g[4]; nvswitch s; connect g[*] -- s via nv }
    switch leaf
    connect n[*].g[*] -- leaf via net
}""")
    members = t.select("c.n*.g*")
    r = collective(t, [members], "allreduce", S)
    h = est(r, "hierarchical")
    # Reduce-scatter and all-gather inside each server: 3 steps of S/4 at 100 GB/s each way;
    # across servers: 4 rings of 2, 2 steps of S/8 at 25 GB/s. (The leaf path between two
    # GPUs of a server is 2 hops like the NVSwitch's, but the fabric rule keeps their peer
    # traffic on NVLink: the intra steps use the NVSwitch alone.)
    intra = 3 * (S / 4) / (100 * GB)
    inter = 2 * (S / 8) / (25 * GB)
    assert h.bandwidth == pytest.approx(2 * intra + inter, rel=1e-6)
    assert [p[1] for p in h.phases] == [3, 2, 3]
    assert r.lower_bound <= min(e.time for e in r.estimates)


def test_latency_terms_count_links_and_devices_entered() -> None:
    t = topodsl.loads("link l { bandwidth = 100 GB/s, latency = 1 us }\n"
                      "cluster c { gpu g[4]; switch s { latency = 200 ns }\n"
                      "connect g[*] -- s via l }")  # fmt: skip
    r = collective(t, [gpus(t)], "allgather", 4 * GB, algorithms=["ring"], overhead=1e-6)
    e = est(r, "ring")
    # 3 steps, each: two links and the switch entered (2.2 us) plus the 1 us overhead.
    assert e.latency == pytest.approx(3 * 3.2e-6)
    assert e.time == pytest.approx(e.latency + 3 * 1 * GB / (100 * GB))
    assert not any("latency" in n for n in r.notes)


def test_a_design_without_latencies_is_told_the_latency_term_is_zero() -> None:
    t = star_of(4)
    r = collective(t, [gpus(t)], "allgather", 4 * GB)
    assert all(e.latency == 0 for e in r.estimates)
    assert any("states a latency" in n for n in r.notes)
    r = collective(t, [gpus(t)], "allgather", 4 * GB, overhead=5e-6)
    assert not any("states a latency" in n for n in r.notes)


def test_groups_that_run_at_once_share_links() -> None:
    # Two pairs whose rings meet on one 10 GB/s link between two switches.
    t = topodsl.loads("""
link fast { bandwidth = 100 GB/s }
link slow { bandwidth = 10 GB/s }
cluster c { gpu a[2]; gpu b[2]; switch x; switch y
    connect a[0] -- x via fast; connect b[0] -- x via fast
    connect a[1] -- y via fast; connect b[1] -- y via fast
    connect x -- y via slow }""")
    a, b = t.select("c.a*"), t.select("c.b*")
    alone = collective(t, [a], "allreduce", 10 * GB, algorithms=["ring"])
    both = collective(t, [a, b], "allreduce", 10 * GB, algorithms=["ring"])
    assert alone.best.bandwidth == pytest.approx(2 * 5 * GB / (10 * GB))
    assert both.best.bandwidth == pytest.approx(2 * alone.best.bandwidth)
    assert both.best.bottleneck[0].source in ("c.x", "c.y")
    # The joint cut between the switches proves it: 20 GB must cross a 10 GB/s cut each way.
    assert both.lower_bound == pytest.approx(2.0)
    assert any(c.kind == "cut" and c.group is None for c in both.certificates)


def test_in_network_reduction_drops_the_members_only_bound() -> None:
    t = star_of(8)
    members = collective(t, [gpus(t)], "allreduce", S)
    network = collective(t, [gpus(t)], "allreduce", S, network_reduction=True)
    assert members.lower_bound == pytest.approx(2 * 7 / 8 * S / (100 * GB))
    # With switches reducing, each member still sends S and receives S: S / B.
    assert network.lower_bound == pytest.approx(S / (100 * GB))
    assert not any(c.kind == "members" for c in network.certificates)
    assert any("combined at members" in n for n in members.notes)
    assert not any("combined at members" in n for n in network.notes)


def test_trivial_and_bad_questions() -> None:
    t = star_of(4)
    one = collective(t, [gpus(t)[:1]], "allreduce", S)
    assert one.lower_bound == 0 and one.estimates == () and "nothing to exchange" in one.notes[0]
    with pytest.raises(SolverError, match="unknown collective"):
        collective(t, [gpus(t)], "broadcast", S)
    with pytest.raises(SolverError, match="overlap"):
        collective(t, [gpus(t)[:2], gpus(t)[1:3]], "allreduce", S)
    with pytest.raises(SolverError, match="more than zero"):
        collective(t, [gpus(t)], "allreduce", 0.0)
    with pytest.raises(SolverError, match="unknown algorithm"):
        collective(t, [gpus(t)], "allreduce", S, algorithms=["magic"])
    cut = topodsl.loads("cluster c { gpu g[2] }")
    r = collective(cut, [gpus(cut)], "allreduce", S)
    assert r.lower_bound == math.inf  # no path: never


# -- traffic of each algorithm ----------------------------------------------------------------


def test_traffic_matrices_worked_by_hand() -> None:
    t = star_of(4)
    g = gpus(t).tolist()
    src, dst, amount = traffic_matrix(t, g, "allreduce", 4 * GB, "ring")
    assert list(zip(src.tolist(), dst.tolist(), strict=True)) == list(
        zip(g, g[1:] + g[:1], strict=True)
    )
    assert np.allclose(amount, 2 * 3 * 1 * GB)  # 2 (n-1) steps of S/n
    _, _, tree = traffic_matrix(t, g, "allreduce", 4 * GB, "tree")
    # Every edge of both trees (3 each) carries S/2 each way, once (pipelined); the mirror
    # tree reuses two pairs, which then carry S.
    assert tree.sum() == pytest.approx(2 * 3 * 2 * 2 * GB) and set(tree.tolist()) == {2e9, 4e9}
    _, _, direct = traffic_matrix(t, g, "alltoall", 4 * GB, "direct")
    assert len(direct) == 12 and np.allclose(direct, 1 * GB)
    with pytest.raises(SolverError, match="does not apply to alltoall"):
        transfers(t, g, "alltoall", 4 * GB, "ring")


def test_every_algorithm_names_the_operations_it_serves() -> None:
    assert set().union(*ALGORITHMS.values()) == set(OPS)


def test_nccl_bus_bandwidth_factors() -> None:
    assert bus_factor("allreduce", 8) == 2 * 7 / 8
    assert bus_factor("allgather", 8) == bus_factor("reducescatter", 8) == 7 / 8
    assert bus_factor("alltoall", 4) == 3 / 4 and bus_factor("sendrecv", 2) == 1.0


# -- a published figure ---------------------------------------------------------------------


def test_dgx_h100_all_reduce_against_astra_sim_s_measured_hgx_h100() -> None:
    """ASTRA-sim's validation on an HGX-H100 (astra-sim-docs, validation/hardware/
    gpu-validation-hgx-h100.md): NCCL ring all-reduce of 2 GiB on 8 H100 over 4 NVSwitches took
    about 10.1 ms on the hardware and 9.45 ms in ASTRA-sim (read from its chart; the page also
    notes 741 GB/s bidirectional achieved, 370.7 GB/s per direction). Our ring estimate uses
    the links' full 450 GB/s: 2 x 7/8 x 2 GiB / 450 GB/s = 8.35 ms, a bus bandwidth of 450 GB/s,
    below both as an ideal-bandwidth estimate must be. Under the fabric rule the peer traffic of
    the eight GPUs stays on NVLink (NCCL never splits a GPU-to-GPU transfer with PCIe peer to
    peer), so the proven bound is the same 8.35 ms (450 GB/s into each GPU, not 513 GB/s with
    PCIe): the ring is optimal here."""
    t = topodsl.load("topologies/dgx_h100.topo")
    r = collective(t, [t.select("kind:gpu")], "allreduce", 2 * GiB)
    ring = est(r, "ring")
    assert ring.time == pytest.approx(2 * 7 / 8 * 2 * GiB / 450e9, rel=1e-6)
    assert r.lower_bound == pytest.approx(2 * 7 / 8 * 2 * GiB / 450e9, rel=1e-6)
    assert r.lower_bound <= ring.time < 9.45e-3 < 10.1e-3
    measured_busbw = bus_factor("allreduce", 8) * 2 * GiB / 10.1e-3
    assert measured_busbw == pytest.approx(372e9, rel=0.01)
    assert measured_busbw / r.busbw(ring.time) == pytest.approx(0.83, abs=0.01)


# -- an independent oracle on random graphs ---------------------------------------------------


def random_topology(seed: int):
    """A few switches and GPUs; GPU-GPU links (NVLink) and, on one seed in three, an NVSwitch
    make fabric domains, whose peer traffic the fabric rule keeps on their fabric."""
    rng = np.random.default_rng(seed)
    b = TopologyBuilder()
    n_sw, n_gpu = int(rng.integers(1, 4)), int(rng.integers(3, 7))
    fabric_switch = seed % 3 == 1
    for k in range(n_sw):
        b.add_node(f"s{k}", "nvswitch" if fabric_switch and k == 0 else "switch")
    for i in range(n_gpu):
        b.add_node(f"g{i}", "gpu")
    for i in range(n_gpu):
        for k in rng.choice(n_sw, size=int(rng.integers(1, n_sw + 1)), replace=False).tolist():
            b.add_link(f"g{i}", f"s{k}", bandwidth=float(rng.integers(1, 9)) * 10e9)
    for k in range(n_sw - 1):
        b.add_link(f"s{k}", f"s{k + 1}", bandwidth=float(rng.integers(1, 9)) * 10e9)
    for _ in range(int(rng.integers(0, 3))):
        i, j = rng.choice(n_gpu, size=2, replace=False).tolist()
        b.add_link(f"g{i}", f"g{j}", bandwidth=float(rng.integers(1, 9)) * 10e9)
    return b.build(), rng


def best_concurrent_time(t, step: list[Transfer]) -> float:
    """The least time for every transfer of a step at once, any routing: a maximum concurrent
    multicommodity flow on the flow network (a linear program, independent of the solver)."""
    net = flow_network(t)
    arcs = np.flatnonzero(net.capacity > 0)
    na, nv, k = len(arcs), net.num_vertices, len(step)
    # The fabric rule, per transfer: between two accelerators of one fabric domain, only the
    # domain's arcs (both ends' components in the domain) may carry it.
    plan = forwarding_plan(t)
    member = np.where(plan.member, plan.domain, -1)
    vdom = plan.domain[net.owner]
    on_domain = vdom[net.tail[arcs]] == vdom[net.head[arcs]]
    upper = []
    for tr in step:
        d = member[tr.src]
        legal = on_domain & (vdom[net.tail[arcs]] == d) if d >= 0 and d == member[tr.dst] else None
        upper.append(np.ones(na) if legal is None else legal.astype(float))
    # Variables: flow of each transfer on each arc, then the rate multiplier lam.
    rows, cols, vals, b_eq = [], [], [], []
    r = 0
    for c, tr in enumerate(step):
        s, d = net.vout[tr.src], net.vin[tr.dst]
        for v in range(nv):
            out = np.flatnonzero(net.tail[arcs] == v)
            inc = np.flatnonzero(net.head[arcs] == v)
            rows += [r] * (len(out) + len(inc))
            cols += [c * na + a for a in out.tolist()] + [c * na + a for a in inc.tolist()]
            vals += [1.0] * len(out) + [-1.0] * len(inc)
            if v in (s, d):  # net out of s and into d is lam x bytes
                rows.append(r)
                cols.append(k * na)
                vals.append(-tr.bytes / 1e9 if v == s else tr.bytes / 1e9)
            b_eq.append(0.0)
            r += 1
    a_eq = sp.csr_array((vals, (rows, cols)), shape=(r, k * na + 1))
    cap_rows = np.tile(np.arange(na), k)
    a_ub = sp.csr_array((np.ones(k * na), (cap_rows, np.arange(k * na))), shape=(na, k * na + 1))
    cost = np.zeros(k * na + 1)
    cost[-1] = -1.0
    bounds = [(0, None if x else 0) for x in np.concatenate(upper)] + [(0, None)]
    res = linprog(cost, A_ub=a_ub, b_ub=net.capacity[arcs] / 1e9, A_eq=a_eq, b_eq=b_eq,
                  bounds=bounds, method="highs")  # fmt: skip
    assert res.status == 0
    lam = res.x[-1]
    return 1.0 / lam if lam > 0 else math.inf


@pytest.mark.parametrize("seed", range(40))
def test_bounds_never_beat_an_optimal_schedule_and_estimates_are_feasible(seed: int) -> None:
    t, rng = random_topology(seed)
    members = t.select("kind:gpu")
    members = rng.permutation(members)[: int(rng.integers(2, len(members) + 1))]
    router = _Router(t)
    for op in ("allreduce", "allgather", "alltoall"):
        r = collective(t, [members], op, 4 * GB)
        algorithm = "direct" if op != "allreduce" else "ring"
        phases = transfers(t, members, op, 4 * GB, algorithm)
        step = list(phases[0].transfers)
        best = best_concurrent_time(t, step)
        ours, _, _ = router.step(step)
        # Our routing is one schedule: never faster than the best routing of the step.
        assert ours >= best * (1 - 1e-6), (seed, op)
        # The best routing of this algorithm is an algorithm: the proven bound is below it.
        optimal_algorithm = best * (phases[0].steps if not phases[0].pipelined else 1)
        assert r.lower_bound <= optimal_algorithm * (1 + 1e-6), (seed, op, r.certificates[0])
        for e in r.estimates:
            assert r.lower_bound <= e.time * (1 + 1e-9), (seed, op, e.algorithm)


def _domains(t) -> list[tuple[int, ...]]:
    """The fabric domains of ``t`` as sets of member rows (its partition of the GPUs)."""
    p = forwarding_plan(t)
    rows = np.flatnonzero(p.member)
    return sorted(tuple(rows[p.domain[rows] == d].tolist()) for d in np.unique(p.domain[rows]))


def _with_link(t, a: int, b: int, bandwidth: float):
    b_ = TopologyBuilder()
    for row, node_id in enumerate(t.nodes.ids):
        b_.add_node(node_id, t.kind_of(row))
    L = t.links
    for e in range(t.num_links):
        b_.add_link(int(L.src[e]), int(L.dst[e]), bandwidth=float(L.bandwidth[e]))
    b_.add_link(a, b, bandwidth=bandwidth)
    return b_.build()


@pytest.mark.parametrize("seed", range(20))
def test_adding_a_link_that_changes_no_fabric_domain_never_raises_the_bound(seed: int) -> None:
    """The invariant under the fabric rule: a link that leaves every fabric domain as it was
    (a GPU to a network switch, a switch to a switch, an NVLink inside a domain) only adds
    paths every transfer may use, so no cut can grow smaller and the bound cannot rise. (A
    link that joins two domains can raise it, by design: see the next test.)"""
    t, rng = random_topology(seed)
    members = t.select("kind:gpu")
    before = collective(t, [members], "allreduce", 4 * GB).lower_bound
    domains = _domains(t)
    switches = t.select("kind:switch").tolist()  # network switches, not NVSwitches
    candidates = [(g, w) for g in members.tolist() for w in switches]
    candidates += [(v, w) for v in switches for w in switches if v < w]
    candidates += [(g, h) for d in domains for g in d for h in d if g < h]
    a, b = candidates[int(rng.integers(0, len(candidates)))]
    grown = _with_link(t, a, b, 40e9)
    assert _domains(grown) == domains
    after = collective(grown, [members], "allreduce", 4 * GB).lower_bound
    assert after <= before * (1 + 1e-9)


def test_an_nvlink_that_joins_two_gpus_keeps_their_peer_traffic_on_it() -> None:
    """Two GPUs on a 100 GB/s switch all-reduce 8 GB in 2 x 1/2 x 8 GB / 100 GB/s = 80 ms. An
    NVLink of 10 GB/s between them makes them one fabric domain: their peer traffic then takes
    the NVLink only (as NCCL's P2P over NVLink does), 800 ms, and the bound rises with it."""
    t = star_of(2)
    g = gpus(t)
    before = collective(t, [g], "allreduce", S)
    assert before.lower_bound == pytest.approx(S / (100 * GB))
    after = collective(_with_link(t, int(g[0]), int(g[1]), 10 * GB), [g], "allreduce", S)
    assert after.lower_bound == pytest.approx(S / (10 * GB))
    assert after.best.time == pytest.approx(S / (10 * GB))


def test_a_question_too_large_is_refused_with_advice(monkeypatch) -> None:
    import topodsl.solvers.collective as c

    t = star_of(8)
    monkeypatch.setattr(c, "MAX_WORK", 8 * (t.num_nodes + t.num_links) - 1)
    with pytest.raises(SolverError, match="ask about one group"):
        collective(t, [gpus(t)], "allreduce", S)
    collective(t, [gpus(t)[:4]], "allreduce", S)  # fewer members: answered
