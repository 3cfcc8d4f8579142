"""Elaboration: from source text to the node and link tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import topodsl
from topodsl.errors import ElaborationError, LimitExceeded, TopoError

LINKS = """
link nvlink4 { bandwidth = 25 GB/s, latency = 100 ns }
link eth400  { bandwidth = 400 Gb/s, latency = 1 us }
"""


def load(text: str, **kw) -> topodsl.Topology:
    return topodsl.loads(LINKS + text, file="t.topo", **kw)


def ids_of(t, rows) -> list[str]:
    return [t.nodes.ids[int(r)] for r in rows]


def link_pairs(t) -> list[tuple[str, str]]:
    ids = t.nodes.ids
    return [(ids[s], ids[d]) for s, d in zip(t.links.src, t.links.dst, strict=True)]


def test_nested_ids_kinds_and_parents() -> None:
    t = load("cluster pod { node n[2] { gpu g[2] { hbm h[1] { capacity = 80 GB } } } }")
    assert t.nodes.ids == [
        "pod", "pod.n0", "pod.n0.g0", "pod.n0.g0.h0", "pod.n0.g1", "pod.n0.g1.h0",
        "pod.n1", "pod.n1.g0", "pod.n1.g0.h0", "pod.n1.g1", "pod.n1.g1.h0",
    ]  # fmt: skip
    h = t.index("pod.n1.g0.h0")
    assert t.kind_of(h) == "hbm"
    assert t.nodes.ids[t.nodes.parent[h]] == "pod.n1.g0"
    assert t.nodes.parent[t.index("pod")] == -1
    assert t.nodes.capacity[h] == 80e9


def test_attributes_are_si_and_defaults_mean_no_limit() -> None:
    t = load(
        "cluster c { ssd s { capacity = 3.84 TB, read_bandwidth = 7 GB/s, "
        "write_bandwidth = 4 GB/s, latency = 80 us }\n nic n { bandwidth = 400 Gb/s }\n"
        ' gpu g { model = "H100 SXM5", flops = 989 TFLOP/s } }'
    )
    s, n, g = t.index("c.s"), t.index("c.n"), t.index("c.g")
    assert t.nodes.capacity[s] == 3.84e12
    assert (t.nodes.read_bandwidth[s], t.nodes.write_bandwidth[s]) == (7e9, 4e9)
    assert t.nodes.latency[s] == pytest.approx(80e-6)
    assert t.nodes.bandwidth[n] == 50e9
    assert np.isinf(t.nodes.bandwidth[s])
    assert t.attributes(g)["model"] == "H100 SXM5"
    assert t.attributes(g)["flops"] == 989e12


def test_ranges_are_inclusive_and_keep_their_indices() -> None:
    t = load("cluster c { rack r[2..4] }")
    assert t.nodes.ids == ["c", "c.r2", "c.r3", "c.r4"]


def test_one_to_one_by_index_and_lanes() -> None:
    t = load("node n { gpu g[4]\n nic k[4]\n connect g[i] -- k[i] via eth400 x2 }")
    assert link_pairs(t) == [(f"n.g{i}", f"n.k{i}") for i in range(4)]
    assert np.all(t.links.bandwidth == 100e9)
    assert np.all(t.links.lanes == 2)
    assert t.link_type_of(0) == "eth400"


def test_index_arithmetic_uses_whole_number_division() -> None:
    t = load("node n { gpu g[4]\n pcie_switch p[2]\n connect g[i] -- p[i / 2] via eth400 }")
    assert link_pairs(t) == [("n.g0", "n.p0"), ("n.g1", "n.p0"), ("n.g2", "n.p1"), ("n.g3", "n.p1")]


def test_stars_are_independent_all_to_all() -> None:
    t = load("node n { gpu g[3]\n nvswitch s[2]\n connect g[*] -- s[*] via nvlink4 x5 }")
    assert len(link_pairs(t)) == 6
    assert set(link_pairs(t)) == {(f"n.g{i}", f"n.s{j}") for i in range(3) for j in range(2)}
    assert np.all(t.links.bandwidth == 125e9)


def test_rail_pattern_shares_the_index_variable() -> None:
    t = load(
        "cluster c { node n[3] { nic k[2] }\n switch leaf[2]\n"
        " connect n[*].k[r] -- leaf[r] via eth400 }"
    )
    pairs = link_pairs(t)
    assert len(pairs) == 6
    assert all(a.endswith(f"k{b[-1]}") for a, b in pairs)


def test_ring_by_modulo_and_for_loop_chain() -> None:
    t = load(
        "cluster c { gpu g[4]\n connect g[i] -- g[(i + 1) % 4] via nvlink4\n"
        " switch s[3]\n for k in 0..1 { connect s[k] -> s[k + 1] via eth400 } }"
    )
    pairs = link_pairs(t)
    assert pairs[:4] == [("c.g0", "c.g1"), ("c.g1", "c.g2"), ("c.g2", "c.g3"), ("c.g3", "c.g0")]
    assert pairs[4:] == [("c.s0", "c.s1"), ("c.s1", "c.s2")]
    assert list(t.links.simplex) == [False] * 4 + [True] * 2


def test_self_links_a_component_to_its_children() -> None:
    t = load("node n { gpu g { hbm h[2] { capacity = 1 GB }\n connect self -- h[*] via nvlink4 } }")
    assert link_pairs(t) == [("n.g", "n.g.h0"), ("n.g", "n.g.h1")]


def test_link_block_overrides_type_values() -> None:
    t = load("node n { gpu a; gpu b\n connect a -- b via nvlink4 x2 { latency = 2 us } }")
    assert t.links.bandwidth[0] == 50e9 and t.links.latency[0] == pytest.approx(2e-6)
    t = load('node n { gpu a; gpu b\n connect a -- b { bandwidth = 10 GB/s, duplex = "half" } }')
    assert t.links.bandwidth[0] == 10e9 and t.links.half_duplex[0] and t.links.type[0] == -1


def test_definitions_with_parameters_defaults_and_overrides() -> None:
    t = load(
        "def gpu G(stacks = 2, cap = 16 GB) { bandwidth = 2 TB/s\n"
        " hbm h[stacks] { capacity = cap }\n connect self -- h[*] via nvlink4 }\n"
        "node n { G a\n G(stacks = 3, cap = 24 GB) b\n G c { bandwidth = 3 TB/s } }"
    )
    assert [i for i in t.nodes.ids if i.startswith("n.b.")] == ["n.b.h0", "n.b.h1", "n.b.h2"]
    assert t.nodes.capacity[t.index("n.b.h0")] == 24e9
    assert t.nodes.capacity[t.index("n.a.h1")] == 16e9
    assert t.nodes.bandwidth[t.index("n.a")] == 2e12
    assert t.nodes.bandwidth[t.index("n.c")] == 3e12
    # Same definition and arguments share a template; other arguments do not.
    tpl = t.nodes.template
    assert tpl[t.index("n.a")] != tpl[t.index("n.b")]


def test_identical_instances_share_a_template() -> None:
    t = load("def node S { gpu g[2] }\ncluster c { S s[3] }")
    rows = [t.index(f"c.s{i}") for i in range(3)]
    assert len({int(t.nodes.template[r]) for r in rows}) == 1
    # Every copy points at the statement that made it (line 5: LINKS takes lines 1-3).
    assert {t.span_of(r).line for r in rows} == {5}
    assert t.span_of(t.index("c.s1.g0")).line == 4


def test_constants_and_arithmetic() -> None:
    t = load(
        "const N = 2 ** 3\nconst BW = 1.8 TB/s / 18\n"
        "node n { gpu g[N / 2]\n nic k { bandwidth = BW * 2 } }"
    )
    assert len(t.rows_of_kind("gpu")) == 4
    assert t.nodes.bandwidth[t.index("n.k")] == pytest.approx(200e9)


def test_imports_are_relative_and_bring_declarations(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "links.topo").write_text(LINKS + "const RAILS = 2\n")
    (tmp_path / "parts" / "gpus.topo").write_text(
        'import "links.topo"\ndef gpu G { hbm h { capacity = 8 GB } ; '
        "connect self -- h via nvlink4 }\n"
    )
    main = tmp_path / "main.topo"
    main.write_text('import "parts/gpus.topo"\nnode n { G g[RAILS] }\n')
    t = topodsl.load(main)
    assert t.nodes.ids == ["n", "n.g0", "n.g0.h", "n.g1", "n.g1.h"]
    assert t.link_type_of(0) == "nvlink4"


def test_import_cycle_and_outside_root(tmp_path: Path) -> None:
    (tmp_path / "a.topo").write_text('import "b.topo"\n')
    (tmp_path / "b.topo").write_text('import "a.topo"\n')
    with pytest.raises(ElaborationError, match="import cycle"):
        topodsl.load(tmp_path / "a.topo")
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "shared.topo").write_text(LINKS)
    (inner / "m.topo").write_text('import "../shared.topo"\nnode n { gpu g }\n')
    with pytest.raises(ElaborationError, match="leaves the directory"):
        topodsl.load(inner / "m.topo")
    t = topodsl.load(inner / "m.topo", allow_import_outside=True)
    assert "nvlink4" in t.link_types


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("cluster c { gpu g[10**12] }", "would create 1,000,000,000,000 components"),
        ("node n { gpu g[100000]\n connect g[*] -- g[*] via nvlink4 }", "would make"),
    ],
)
def test_expansion_cap_fails_fast(source: str, message: str) -> None:
    with pytest.raises(LimitExceeded, match=message):
        load(source)


def test_a_number_past_the_whole_number_limit_is_an_error_at_its_place() -> None:
    with pytest.raises(ElaborationError, match="too large") as info:
        load("cluster c { gpu g[10**40] }")
    assert info.value.diagnostics[0].span.col == 19


def test_cap_is_configurable() -> None:
    with pytest.raises(LimitExceeded):
        load("cluster c { gpu g[100] }", max_nodes=50)
    assert load("cluster c { gpu g[100] }", max_nodes=200).num_nodes == 101


def test_errors_are_collected_together() -> None:
    with pytest.raises(TopoError) as info:
        load("cluster c { gpx a\n gpu b { bandwith = 1 TB/s }\n hbm h { capacity = 4 } }")
    assert len(info.value.diagnostics) == 3


def test_unconnected_compute_elements_warn_once_per_statement() -> None:
    t = load("cluster c { gpu g[100]\n cpu k }")
    texts = [w.render() for w in t.warnings]
    assert len(texts) == 2
    assert "c.g0 (and 99 more) is not connected" in texts[0]
    assert t.warnings[0].severity == "warning"


def test_networkx_view_has_documented_attributes() -> None:
    t = load(
        "node n { gpu a { bandwidth = 1 TB/s }; hbm h { capacity = 8 GB }\n"
        " connect a -- h via nvlink4 x4\n connect h -> a via eth400 }"
    )
    g = t.to_networkx()
    assert g.nodes["n.a"]["kind"] == "gpu" and g.nodes["n.a"]["bandwidth"] == 1e12
    assert g.nodes["n.h"]["capacity"] == 8e9 and g.nodes["n.h"]["parent"] == "n"
    assert g.number_of_edges() == 3  # two arcs for the duplex link, one for the simplex
    data = g.get_edge_data("n.a", "n.h")[0]
    assert data == {"bandwidth": 100e9, "latency": 1e-7, "type": "nvlink4", "lanes": 4.0, "link": 0}


def test_patterns_and_fabrics_record_what_they_built() -> None:
    t = load(
        "def node S { gpu g[4]\n connect ring(g[*]) via nvlink4 x2 }\n"
        "cluster c { S s[3]\n node n[4] { nic k[2] }\n"
        " fabric leaf_spine net { hosts = n[*].k[*], leaves = 2, spines = 2, link = eth400 }\n"
        " connect net.spine[0] -- s[0].g[0] via eth400 }"
    )
    ids = t.nodes.ids
    rings = [f for f in t.fabrics if f.generator == "ring"]
    assert len(rings) == 3
    for k, f in enumerate(rings):
        ends = {(ids[t.links.src[e]], ids[t.links.dst[e]]) for e in f.links}
        assert ends == {(f"c.s{k}.g{i}", f"c.s{k}.g{(i + 1) % 4}") for i in range(4)}
        assert np.all(t.links.bandwidth[f.links] == 50e9)
    (net,) = [f for f in t.fabrics if f.generator == "leaf_spine"]
    assert ids_of(t, net.switches) == ["c.net.leaf0", "c.net.leaf1", "c.net.spine0", "c.net.spine1"]
    assert ids_of(t, net.hosts)[:3] == ["c.n0.k0", "c.n0.k1", "c.n1.k0"]
    assert t.kind_of(t.index("c.net")) == "group"
    assert link_pairs(t)[-1] == ("c.net.spine0", "c.s0.g0")
    # 4 hosts per leaf at 50 GB/s over 2 spines, non-blocking: 100 GB/s per leaf-spine pair.
    up = [e for e in net.links if ids[t.links.dst[e]].startswith("c.net.spine")]
    assert len(up) == 4 and np.all(t.links.bandwidth[up] == 100e9)


def test_fabric_errors_are_located() -> None:
    with pytest.raises(ElaborationError, match="unknown fabric generator 'leaf_spin'"):
        load("cluster c { nic k[4]\n fabric leaf_spin f { hosts = k[*], link = eth400 } }")
    with pytest.raises(ElaborationError) as info:
        load("cluster c { gpu g[6]\n connect hypercube(g[*]) via nvlink4 }")
    assert info.value.diagnostics[0].span.line == 5


def test_diagnostics_name_imported_files_as_written(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "main.topo").write_text('import "parts/a.topo"\ncluster c { gpu g }\n')
    (tmp_path / "parts" / "a.topo").write_text('import "b.topo"\n')
    (tmp_path / "parts" / "b.topo").write_text("link l { bandwidth = 1 GB/s, latency = 3 GB }\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ElaborationError) as info:
        topodsl.load("main.topo")
    assert info.value.render().startswith("parts/b.topo:1:40: error: latency must be")


def test_fractional_lanes_and_the_whole_number_division_hint() -> None:
    t = load("node n { gpu a; gpu b\n connect a -- b via eth400 x(16.0 / 32) }")
    assert t.links.bandwidth[0] == 25e9 and t.links.lanes[0] == 0.5
    with pytest.raises(ElaborationError) as info:
        load("node n { gpu a; gpu b\n connect a -- b via eth400 x(16 / 32) }")
    text = info.value.render()
    assert "a lane count must be a positive number, got 0" in text
    assert "x(16.0 / 32)" in text


def test_a_broken_link_type_is_reported_once_not_at_every_use() -> None:
    with pytest.raises(ElaborationError) as info:
        topodsl.loads(
            "link l { bandwidth = 1 GB/s, latency = 3 GB }\n"
            "cluster c { gpu g[2]; connect g[0] -- g[1] via l; connect g[1] -> g[0] via l }"
        )
    assert len(info.value.diagnostics) == 1
    assert "latency must be" in info.value.diagnostics[0].message
