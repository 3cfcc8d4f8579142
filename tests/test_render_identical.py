"""Identical members of an array drawn once (an explicit depth larger than a slide).

Folding must never hide a difference: a member that differs in one attribute, one link, one
name or the order of its parts is drawn on its own, and every figure of the folded view adds up
to the unfolded one.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from cli_support import REPO, run_topodsl
from test_dot_pydot import check_dot, graphviz_node_names

import topodsl
from topodsl.render import SLIDE, build_view, diagram, to_dot
from topodsl.render.graphviz import run_layout
from topodsl.render.view import _index_ranges
from topodsl.topology import TopologyBuilder

SERVERS = 200  # 200 server boxes at depth 1 unfolded: more than a slide (160 shapes)


def pod(odd=None, servers: int = SERVERS, leaves: int = 2):
    """A pod of servers (2 GPUs and 2 NICs each, NIC r to leaf r) and its leaves; ``odd``
    changes server 57."""
    b = TopologyBuilder("pod.topo")
    b.add_node("pod", "pod")
    for k in range(leaves):
        b.add_node(f"pod.leaf{k}", "switch", parent="pod", ports=64)
    for n in range(servers):
        s = f"pod.node{n}"
        b.add_node(s, "node", parent="pod")
        for g in range(2):
            bw = 1e12 if (odd == "attribute" and n == 57 and g == 1) else 3.35e12
            name = "gpuX" if (odd == "name" and n == 57 and g == 1) else f"gpu{g}"
            b.add_node(f"{s}.{name}", "gpu", parent=s, bandwidth=bw)
            b.add_node(f"{s}.nic{g}", "nic", parent=s, bandwidth=50e9)
            b.add_link(f"{s}.{name}", f"{s}.nic{g}", bandwidth=64e9, type="pcie5")
        if odd == "inner link" and n == 57:
            b.add_link(f"{s}.nic0", f"{s}.nic1", bandwidth=64e9, type="pcie5")
        for r in range(2):
            if odd == "missing link" and n == 57 and r == 1:
                continue
            leaf = (1 - r) if (odd == "crossed" and n == 57) else r % leaves
            b.add_link(f"{s}.nic{r}", f"pod.leaf{leaf}", bandwidth=50e9, type="eth400")
    return b.build()


def groups(view):
    return {b.key: len(b.rows) for b in view.boxes if b.form == "group"}


def test_identical_servers_are_drawn_once_with_their_links_counted() -> None:
    topo = pod()
    view = build_view(topo, depth=1)
    assert groups(view) == {f"pod.node[0..{SERVERS - 1}]": SERVERS}
    assert view.identical == (f"pod.node[0..{SERVERS - 1}]",) and view.folded == ()
    text = to_dot(topo, depth=1)
    label = f"{SERVERS} links × 50 GB/s = {SERVERS * 50 / 1000:g} TB/s"
    assert text.count(label) == 2  # to each leaf
    assert f"node[0..{SERVERS - 1}] ×{SERVERS}" in text
    assert "identical parts drawn once: pod.node[0..199]" in text
    assert "each: 2 gpu · 2 nic" in text


@pytest.mark.parametrize("odd", ["attribute", "name", "inner link", "missing link", "crossed"])
def test_a_member_that_differs_is_drawn_on_its_own(odd: str) -> None:
    topo = pod(odd)
    view = build_view(topo, depth=1)
    assert groups(view) == {f"pod.node[0..56,58..{SERVERS - 1}]": SERVERS - 1}
    assert "pod.node57" in {b.key for b in view.boxes if b.form == "collapsed"}


def test_folding_keeps_every_figure() -> None:
    for odd in (None, "missing link", "crossed"):
        topo = pod(odd)
        folded, plain = build_view(topo, depth=1), build_view(topo, depth=1, fold=False)
        assert len(folded.boxes) < len(plain.boxes)
        for v in (folded, plain):
            drawn = v.edge_of >= 0
            total = sum(e.bandwidth for e in v.edges)
            assert total == pytest.approx(float(topo.links.bandwidth[drawn].sum()), rel=1e-12)
            assert sum(e.links for e in v.edges) == int(drawn.sum())
        assert np.array_equal(folded.edge_of >= 0, plain.edge_of >= 0)
        # Every component is drawn in a box standing for it.
        for box in folded.boxes:
            for r in box.rows:
                assert folded.box_of[r] == folded.boxes.index(box)


def test_parts_listed_in_another_order_are_not_called_identical() -> None:
    b = TopologyBuilder()
    b.add_node("pod", "pod")
    b.add_node("pod.leaf", "switch", parent="pod")
    for n in range(SERVERS * 2):
        s = f"pod.node{n}"
        b.add_node(s, "node", parent="pod")
        parts = [("gpu0", "gpu"), ("nic0", "nic")]
        for name, kind in reversed(parts) if n == 3 else parts:
            b.add_node(f"{s}.{name}", kind, parent=s)
        b.add_link(f"{s}.gpu0", f"{s}.nic0", bandwidth=64e9)
        b.add_link(f"{s}.nic0", "pod.leaf", bandwidth=50e9)
    view = build_view(b.build(), depth=1)
    assert set(groups(view)) == {"pod.node[0..2,4..399]"}


def test_small_views_and_the_automatic_view_are_unchanged() -> None:
    small = pod(servers=20)
    assert build_view(small, depth=1).identical == ()
    assert build_view(pod()).identical == ()
    assert build_view(pod(), depth=1, fold=False).identical == ()


def test_folding_makes_other_arrays_identical_in_turn() -> None:
    # Once the servers are one box, the leaves each link only to it: drawn once too.
    b = TopologyBuilder()
    b.add_node("pod", "pod")
    for k in range(4):
        b.add_node(f"pod.leaf{k}", "switch", parent="pod")
    for n in range(SERVERS):
        b.add_node(f"pod.node{n}", "node", parent="pod")
        for r in range(4):
            b.add_node(f"pod.node{n}.nic{r}", "nic", parent=f"pod.node{n}")
            b.add_link(f"pod.node{n}.nic{r}", f"pod.leaf{r}", bandwidth=50e9, type="eth400")
    topo = b.build()
    view = build_view(topo, depth=1)
    assert groups(view) == {"pod.leaf[0..3]": 4, f"pod.node[0..{SERVERS - 1}]": SERVERS}
    (edge,) = view.edges
    assert edge.links == 4 * SERVERS and edge.each_bandwidth == (50e9, 50e9)


def test_folded_dot_reads_back_with_pydot_and_graphviz() -> None:
    topo = pod("missing link")
    text, view = diagram(topo, depth=1)
    check_dot(text, view)
    names = graphviz_node_names(text)
    assert len(names) == len(set(names)) == len(view.boxes) + 2  # with caption and legend
    assert run_layout(text, "svg").data.startswith(b"<?xml")


def test_same_input_same_bytes_in_a_fresh_process(tmp_path) -> None:
    from benchmarks.clusters import cluster_source

    (tmp_path / "c.topo").write_text(cluster_source(1024))
    outs = []
    for k in range(2):
        r = run_topodsl("render", "c.topo", "--depth", "2", "-o", f"c{k}.dot", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        outs.append((tmp_path / f"c{k}.dot").read_bytes())
    assert outs[0] == outs[1]
    text = outs[0].decode()
    assert "c.su0.node[0..31] ×32" not in text  # a box inside its cluster shows its own name
    assert "node[0..31] ×32" in text and "spine[8..31] ×24" in text
    # --no-fold draws every server.
    r = run_topodsl("render", "c.topo", "--depth", "2", "--no-fold", "-o", "n.dot", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "node[0..31]" not in (tmp_path / "n.dot").read_text()


def test_benchmark_cluster_at_depth_2_folds_every_server_array() -> None:
    from benchmarks.clusters import cluster_source

    topo = topodsl.loads(cluster_source(2048), file="c.topo")
    view = build_view(topo, depth=2)
    assert not SLIDE.fits(*_size(build_view(topo, depth=2, fold=False)))
    nodes = [b for b in view.boxes if b.kind == "node"]
    assert [b.key for b in nodes] == [f"c.su{k}.node[0..31]" for k in range(8)]
    assert all(len(b.rows) == 32 for b in nodes)
    assert sum(len(b.rows) for b in view.boxes if b.kind == "node") == 256


def _size(view) -> tuple[int, int]:
    return view.num_shapes, len(view.edges)


def test_index_ranges_never_hide_a_missing_member() -> None:
    assert _index_ranges([3]) == "3"
    assert _index_ranges([0, 1, 2, 5, 6, 7]) == "0..2,5..7"
    assert _index_ranges(list(range(0, 40, 2))) == "0..38 (20 of 39)"


def test_examples_at_every_explicit_depth_are_deterministic() -> None:
    code = (
        "import sys, topodsl; from topodsl.render import to_dot\n"
        "t = topodsl.load(sys.argv[1])\n"
        "sys.stdout.write(''.join(to_dot(t, depth=d) for d in range(4)))\n"
    )
    path = str(REPO / "topologies" / "cluster_256.topo")
    runs = [
        subprocess.run([sys.executable, "-c", code, path], capture_output=True, check=True).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and runs[0]


@pytest.mark.parametrize("seed", range(4))
def test_random_changes_are_never_folded_away(seed: int) -> None:
    """Random members changed each in their own way (a limit, a link's figure, a missing
    link, an extra part): every changed member is its own box, every unchanged one folded."""
    rng = np.random.default_rng(seed)
    servers = 180
    changed = {int(x): k for k, x in enumerate(rng.choice(servers, size=6, replace=False))}
    how = ["limit", "figure", "missing", "part", "model", "lanes"]
    b = TopologyBuilder("random.topo")
    b.add_node("pod", "pod")
    b.add_node("pod.leaf0", "switch", parent="pod")
    for n in range(servers):
        s, what = f"pod.node{n}", how[changed[n]] if n in changed else None
        b.add_node(s, "node", parent="pod")
        model = {"model": "X"} if what == "model" else {}
        b.add_node(f"{s}.gpu0", "gpu", parent=s, bandwidth=2e12 if what == "limit" else 3e12)
        b.add_node(f"{s}.nic0", "nic", parent=s, **model)
        if what == "part":
            b.add_node(f"{s}.ssd0", "ssd", parent=s)
        b.add_link(f"{s}.gpu0", f"{s}.nic0", bandwidth=64e9, lanes=2 if what == "lanes" else 1)
        if what != "missing":
            bw = 25e9 if what == "figure" else 50e9
            b.add_link(f"{s}.nic0", "pod.leaf0", bandwidth=bw, type="eth400")
    topo = b.build()
    view = build_view(topo, depth=1)
    for n in range(servers):
        box = view.boxes[view.box_of[topo.index(f"pod.node{n}")]]
        assert (box.form == "collapsed") == (n in changed), (n, box.key)
    assert sum(len(b.rows) for b in view.boxes if b.form == "group") == servers - len(changed)
    drawn = view.edge_of >= 0
    assert sum(e.bandwidth for e in view.edges) == pytest.approx(
        float(topo.links.bandwidth[drawn].sum()), rel=1e-12
    )
