"""The side-by-side benchmark (benchmarks/compare.py) on tiny Clos fabrics: every encoding of the
fabric gives the closed-form answer. NetGraph is checked only where it is installed (in this
interpreter or in the benchmark's own venv); it is never a test dependency.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import topodsl
from topodsl.select import pattern_regex, select
from topodsl.topology import TopologyBuilder

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import compare  # noqa: E402

TINY = [
    compare.Clos(pods=2, leaves=2, hosts=2, spines=2, cores=1),  # core tier is the bottleneck
    compare.Clos(pods=2, leaves=2, hosts=8, spines=1, cores=4),  # leaf uplinks are
    compare.Clos(pods=4, leaves=3, hosts=2, spines=2, cores=3, host_gbps=25.0),  # host links
    compare.Clos(pods=2),  # the benchmark's own shape, 1024 endpoints
]


def closed_form_gbps(c: compare.Clos) -> float:
    """The bisection flow counted by hand: the source half's narrowest tier."""
    west = c.pods // 2
    hosts = west * c.leaves * c.hosts * c.host_gbps
    leaf_up = west * c.leaves * c.spines * c.fabric_gbps
    spine_up = west * c.spines * c.cores * c.fabric_gbps
    return min(hosts, leaf_up, spine_up)


@pytest.mark.parametrize("c", TINY, ids=lambda c: f"{c.pods}x{c.leaves}x{c.hosts}")
def test_topodsl_explicit_matches_closed_form(c):
    topo = topodsl.loads(compare.topodsl_source(c))
    src, dst = compare.topodsl_selectors(c, fabric=False)
    s, d = topo.select(src), topo.select(dst)
    assert len(s) == len(d) == c.endpoints // 2
    value = topodsl.max_flow(topo, s, d).value * 8 / 1e9
    assert value == pytest.approx(closed_form_gbps(c), rel=1e-12)
    assert compare.agrees(value, c.expected_gbps())


@pytest.mark.parametrize("c", TINY, ids=lambda c: f"{c.pods}x{c.leaves}x{c.hosts}")
def test_topodsl_clos3_matches_explicit(c):
    if not compare.has_clos3():
        pytest.skip("this topodsl has no clos3 generator")
    explicit = topodsl.loads(compare.topodsl_source(c))
    fabric = topodsl.loads(compare.topodsl_fabric_source(c))
    assert fabric.num_links == explicit.num_links
    src, dst = compare.topodsl_selectors(c, fabric=True)
    value = topodsl.max_flow(fabric, fabric.select(src), fabric.select(dst)).value * 8 / 1e9
    assert value == pytest.approx(closed_form_gbps(c), rel=1e-12)


@pytest.mark.parametrize("c", TINY[:3], ids=lambda c: f"{c.pods}x{c.leaves}x{c.hosts}")
def test_networkx_script_matches_closed_form(c, tmp_path):
    path = tmp_path / "clos_networkx.py"
    path.write_text(compare.networkx_script(c))
    spec = importlib.util.spec_from_file_location("clos_networkx_test", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    g = script.build_graph()
    # hosts, leaves, spines, cores, plus S and T; two arcs per link plus one per host to S or T
    switches = c.pods * (c.leaves + c.spines) + c.cores
    assert g.number_of_nodes() == c.endpoints + switches + 2
    links = c.endpoints + c.pods * c.leaves * c.spines + c.pods * c.spines * c.cores
    assert g.number_of_edges() == 2 * links + c.endpoints
    assert script.answer(g) == pytest.approx(closed_form_gbps(c), rel=1e-12)


def _netgraph_python() -> str | None:
    if importlib.util.find_spec("ngraph") is not None:
        return sys.executable
    py = compare.netgraph_python()
    return str(py) if py is not None else None


@pytest.mark.parametrize("c", TINY[:3], ids=lambda c: f"{c.pods}x{c.leaves}x{c.hosts}")
def test_netgraph_scenario_matches_closed_form(c, tmp_path):
    py = _netgraph_python()
    if py is None:
        pytest.skip("NetGraph is not installed (benchmarks/compare.py --install-netgraph)")
    path = tmp_path / "clos.yaml"
    path.write_text(compare.netgraph_scenario(c))
    out = subprocess.run(
        [py, str(REPO / "benchmarks" / "compare.py"), "--run", "netgraph", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    import json

    row = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["nodes"] == c.endpoints + c.pods * (c.leaves + c.spines) + c.cores
    assert row["value_gbps"] == pytest.approx(closed_form_gbps(c), rel=1e-12)


def test_every_tool_agrees_through_the_script(tmp_path):
    """One round of the real comparison on the smallest size: the script itself checks that
    every answer equals the closed form and exits non-zero otherwise."""
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "compare.py"),
            "--sizes",
            "1024",
            "--repeats",
            "1",
            "--out",
            str(tmp_path),
            "--tools",
            "topodsl",
            "networkx",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "25600" in out.stdout
    assert "topodsl vs networkx" in out.stdout


def test_disagreement_is_detected():
    assert compare.agrees(25600.0, 25600.0 * (1 + 1e-12))
    assert not compare.agrees(25600.0, 25600.0 * (1 + 1e-6))


# -- the selector fast path the comparison relies on (node[0..51199] over 100k ids) ----------


def _ids_topology() -> tuple[list[str], object]:
    b = TopologyBuilder()
    b.add_node("c", "cluster")
    for p in range(13):
        b.add_node(f"c.pod{p}", "pod", parent="c")
        for h in range(12):
            b.add_node(f"c.pod{p}.host{h}", "nic", parent=f"c.pod{p}")
    t = b.build()
    return list(t.nodes.ids), t


@pytest.mark.parametrize(
    "pattern",
    [
        "c.pod[0..5].host[*]",
        "c.pod[3..12].host[2..10]",
        "c.pod[10..10].host[0..0]",
        "c.pod[1..3]",
        "c.pod[2..4].**",
        "**.host[1..11]",
        "c.pod*[1..3].host1",  # a range next to a wildcard: the exact regex decides
        "c.pod[1..2]*.host[3..4]",
        "c.pod[0..100000].host[5]",
    ],
)
def test_range_selection_equals_the_exact_regex(pattern):
    ids, t = _ids_topology()
    rx = pattern_regex(pattern)
    expected = [i for i, s in enumerate(ids) if rx.fullmatch(s)]
    assert select(t, pattern).tolist() == expected


def test_range_selection_keeps_its_errors():
    from topodsl.select import SelectorError

    _, t = _ids_topology()
    with pytest.raises(SelectorError, match="empty range"):
        select(t, "c.pod[5..2].host[*]")
    with pytest.raises(SelectorError, match="too wide"):
        select(t, "c.pod[0..200000]")
    assert select(t, "c.pod[20..30].host[*]").tolist() == []
    assert np.array_equal(select(t, "c.pod[0..12].host[0..11]"), select(t, "c.pod[*].host[*]"))
