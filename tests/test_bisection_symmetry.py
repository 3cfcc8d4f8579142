"""The hose certificate routed once per orbit of hubs (certificates/symmetry.py).

The orbit-averaged loads must be the loads of routing hub by hub, exactly (up to rounding), on
symmetric networks (where orbits save the work) and asymmetric ones (where they must not change
anything); every generator must be a verified automorphism; and tori and fat trees read from
JSON, which carry no fabric record, must still come out exact.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topodsl.io import loads_json
from topodsl.solvers import bisection as bisection_module
from topodsl.solvers.bisection import bisection
from topodsl.solvers.certificates import hose as hose_module
from topodsl.solvers.certificates import symmetry
from topodsl.topology import TopologyBuilder

GB = 1e9


def switch_torus(dims, host_bw=100 * GB, bw=12.5 * GB, odd=None):
    """A torus of switches, each with one GPU; ``odd`` (a link index) gets a different
    bandwidth, which breaks the symmetry."""
    b = TopologyBuilder()
    coords = list(itertools.product(*[range(d) for d in dims]))

    def name(c):
        return "_".join(map(str, c))

    for c in coords:
        b.add_node(f"h{name(c)}", "gpu")
        b.add_node(f"r{name(c)}", "switch")
        b.add_link(f"h{name(c)}", f"r{name(c)}", bandwidth=host_bw)
    i = 0
    for c in coords:
        for axis, d in enumerate(dims):
            if d > 2 or c[axis] == 0:
                n = list(c)
                n[axis] = (n[axis] + 1) % d
                b.add_link(f"r{name(c)}", f"r{name(n)}", bandwidth=bw * (3 if i == odd else 1))
                i += 1
    return b.build()


def fat_tree(k, bw=12.5 * GB):
    """A k-ary fat tree of switches and GPUs, as another tool would write it."""
    b = TopologyBuilder()
    h = k // 2
    for c in range(h * h):
        b.add_node(f"core{c}", "switch")
    for p in range(k):
        for a in range(h):
            b.add_node(f"p{p}.agg{a}", "switch")
            for c in range(h):
                b.add_link(f"p{p}.agg{a}", f"core{a * h + c}", bandwidth=bw)
        for e in range(h):
            b.add_node(f"p{p}.edge{e}", "switch")
            for a in range(h):
                b.add_link(f"p{p}.edge{e}", f"p{p}.agg{a}", bandwidth=bw)
            for x in range(h):
                b.add_node(f"p{p}.edge{e}.h{x}", "gpu")
                b.add_link(f"p{p}.edge{e}.h{x}", f"p{p}.edge{e}", bandwidth=bw)
    return b.build()


def solver_for(t):
    E = bisection_module.resolve_endpoints(t, None)
    return bisection_module._Bisector(t, E, "scipy", "hardware")


def rates(t, monkeypatch, use_symmetry: bool):
    """The hose rate of every hub set, routed hub by hub (no one-pass shortcut)."""
    s = solver_for(t)
    with monkeypatch.context() as m:
        m.setattr(hose_module, "_equidistant_gather", lambda *a, **k: None)
        if not use_symmetry:
            m.setattr(hose_module, "hub_orbits", lambda *a, **k: None)
        out = []
        for hubs in bisection_module._hub_sets(s.t, s.cn, s.transit_rows(), s.from_endpoints()):
            r = s.hose_rate(hubs, slow=True, max_work=np.inf)
            out.append((hubs.name, r.rate, r.all_pairs))
    return out


CASES = {
    "torus 6x6": lambda: switch_torus((6, 6)),
    "torus 5x4": lambda: switch_torus((5, 4)),
    "torus 4x4x3": lambda: switch_torus((4, 4, 3)),
    "torus 2x3x4": lambda: switch_torus((2, 3, 4)),
    "torus 6x6, one link faster": lambda: switch_torus((6, 6), odd=7),
    "fat tree k=4": lambda: fat_tree(4),
    "fat tree k=6": lambda: fat_tree(6),
}


@pytest.mark.parametrize("case", list(CASES))
def test_orbit_routing_equals_hub_by_hub_routing(case, monkeypatch) -> None:
    t = CASES[case]()
    fast, slow = rates(t, monkeypatch, True), rates(t, monkeypatch, False)
    assert [f[0] for f in fast] == [s[0] for s in slow]
    for (name, r1, p1), (_, r2, p2) in zip(fast, slow, strict=True):
        assert r1 == pytest.approx(r2, rel=1e-9), name
        assert (p1 is None) == (p2 is None)
        if p1 is not None:
            assert p1 == pytest.approx(p2, rel=1e-9), name


def test_a_torus_has_one_hub_orbit_and_a_broken_one_has_more() -> None:
    s = solver_for(switch_torus((6, 6)))
    hubs = next(iter(bisection_module._hub_sets(s.t, s.cn, s.transit_rows(), s.from_endpoints())))
    o = symmetry.hub_orbits(s.cn, hubs.vout)
    assert o is not None and o.num_hub_orbits == 1
    s = solver_for(switch_torus((6, 6), odd=7))
    hubs = next(iter(bisection_module._hub_sets(s.t, s.cn, s.transit_rows(), s.from_endpoints())))
    o = symmetry.hub_orbits(s.cn, hubs.vout)
    assert o is None or o.num_hub_orbits > 1


def test_fat_tree_cores_of_one_group_are_twins() -> None:
    s = solver_for(fat_tree(8))
    sets = list(bisection_module._hub_sets(s.t, s.cn, s.transit_rows(), s.from_endpoints()))
    cores = sets[0]
    assert len(cores) == 16
    o = symmetry.hub_orbits(s.cn, cores.vout)
    assert o is not None and o.num_hub_orbits <= 4  # at most one routing per core group


def test_verify_rejects_what_is_not_an_automorphism() -> None:
    s = solver_for(switch_torus((6, 6), odd=7))
    cn = s.cn
    hubs = np.arange(cn.n, cn.num_vertices)
    assert symmetry.verify(cn, np.arange(cn.num_vertices), hubs) is not None  # the identity
    # Swapping an endpoint with a switch, two switches whose links differ, or a map that is
    # not a permutation: all refused.
    swap = np.arange(cn.num_vertices)
    swap[[0, cn.n]] = swap[[cn.n, 0]]
    assert symmetry.verify(cn, swap, hubs) is None
    odd = np.flatnonzero(cn.capacity > 13 * GB)
    u = int(cn.tail[odd[0]])
    plain = int(cn.tail[np.flatnonzero((cn.capacity < 13 * GB) & (cn.tail >= cn.n))[0]])
    swap = np.arange(cn.num_vertices)
    swap[[u, plain]] = swap[[plain, u]]
    assert symmetry.verify(cn, swap, hubs) is None
    assert symmetry.verify(cn, np.zeros(cn.num_vertices, dtype=np.int64), hubs) is None
    # A rotation of the symmetric torus is one.
    s = solver_for(switch_torus((6, 6)))
    o = symmetry.hub_orbits(s.cn, np.arange(s.cn.n, s.cn.num_vertices))
    assert o is not None and o.generators >= 1


def test_twin_hash_collisions_are_caught(monkeypatch) -> None:
    # A twin hash that groups everything alike: the cycle it gives is checked and refused, and
    # the orbits fall back to what individualisation proves (or none).
    s = solver_for(switch_torus((6, 6), odd=7))
    monkeypatch.setattr(symmetry, "_twins", lambda cn, colour: colour)
    o = symmetry.hub_orbits(s.cn, np.arange(s.cn.n, s.cn.num_vertices))
    fast = o.num_hub_orbits if o is not None else None
    assert fast is None or fast > 1


def json_text(t) -> str:
    from topodsl.io import dumps_json

    return dumps_json(t)


@pytest.mark.parametrize(
    "make, value",
    [
        (lambda: switch_torus((16, 16)), 2 * 16 * 12.5 * GB),
        (lambda: switch_torus((8, 8, 8)), 2 * 64 * 12.5 * GB),
        (lambda: fat_tree(16), 16**3 / 8 * 12.5 * GB),
    ],
)
def test_json_tori_and_fat_trees_come_out_exact_by_hose(make, value) -> None:
    t = loads_json(json_text(make()))
    r = bisection(t)
    assert r.exact and r.lower_method == "hose"
    assert r.upper_bound == pytest.approx(value, rel=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(2, 5), min_size=1, max_size=3),
    st.integers(-1, 30),
    st.sampled_from([1.0, 2.0, 8.0]),
)
def test_orbit_routing_is_hub_by_hub_routing_on_random_tori(dims, odd, host) -> None:
    if np.prod(dims) < 3:
        return
    t = switch_torus(tuple(dims), host_bw=host * 12.5 * GB, odd=odd)
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = rates(t, mp, True), rates(t, mp, False)
    for (name, r1, _), (_, r2, _) in zip(fast, slow, strict=True):
        assert r1 == pytest.approx(r2, rel=1e-9), (name, dims, odd)


def test_json_round_trip_of_the_benchmark_torus_is_exact() -> None:
    # The benchmark's own generator (string ids, no fabric record).
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_json_bisection import torus_json

    t = loads_json(torus_json((6, 6, 6)))
    r = bisection(t)
    assert r.exact and r.lower_method == "hose"
    assert json.loads(torus_json((3, 3)))["nodes"][0]["id"] == "h0_0"


def test_orbits_keep_the_sets_they_are_told_to_keep() -> None:
    # Where traffic ends may be vertices of their own (the domain certificate's receivers):
    # every map must keep them. Keeping one switch fixed leaves it an orbit of its own.
    s = solver_for(switch_torus((6, 6)))
    hubs = np.arange(s.cn.n, s.cn.num_vertices)
    o = symmetry.hub_orbits(s.cn, hubs, keep=(hubs[:1],))
    if o is not None:
        assert np.count_nonzero(o.hub_orbit == o.hub_orbit[0]) == 1
