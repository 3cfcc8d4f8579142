"""Diagrams and charts: rendered through real Graphviz (and matplotlib), the SVG parsed back.

What is checked: every box, cluster and label of the view appears in the SVG; links are
aggregated without losing or inventing bandwidth; collapsed views of large clusters stay small;
the highlighted cut is drawn and its figure captioned; output is identical byte for byte; the
CLI fails with a message, never a traceback.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from cli_support import run_topodsl
from hypothesis import given, settings
from hypothesis import strategies as st

import topodsl
from topodsl.errors import SolverError
from topodsl.natural import natural_key
from topodsl.render import Budget, RenderError, build_view, render, to_dot
from topodsl.render.chart import default_element
from topodsl.solvers.flow import max_flow
from topodsl.topology import TopologyBuilder
from topodsl.units import BANDWIDTH, format_quantity

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "topologies").glob("*.topo"))
SVG = "{http://www.w3.org/2000/svg}"


# -- topologies built in code -------------------------------------------------------------------


def add_server(b: TopologyBuilder, name: str, parent: str | None = None, gpus: int = 8) -> None:
    """A DGX-like server: GPUs with 5 HBM stacks, 4 NVSwitches, PCIe switches, NICs, CPUs."""
    b.add_node(name, "node", parent=parent)
    for g in range(gpus):
        gid = f"{name}.gpu{g}"
        b.add_node(gid, "gpu", parent=name, bandwidth=3.35e12)
        for s in range(5):
            b.add_node(f"{gid}.stack{s}", "hbm", parent=gid, capacity=16e9, bandwidth=670e9)
            b.add_link(gid, f"{gid}.stack{s}", bandwidth=670e9, type="hbm3")
    for s in range(4):
        b.add_node(f"{name}.nvs{s}", "nvswitch", parent=name, ports=64)
        for g in range(gpus):
            b.add_link(f"{name}.gpu{g}", f"{name}.nvs{s}", 100e9, type="nvlink4", lanes=4)
    b.add_node(f"{name}.cpu0", "cpu", parent=name)
    b.add_node(f"{name}.dram0", "dram", parent=name, capacity=1e12)
    b.add_link(f"{name}.cpu0", f"{name}.dram0", bandwidth=300e9, type="ddr5")
    for p in range(gpus // 2):
        b.add_node(f"{name}.pex{p}", "pcie_switch", parent=name)
        b.add_link(f"{name}.cpu0", f"{name}.pex{p}", bandwidth=64e9, type="pcie5")
    for g in range(gpus):
        b.add_node(f"{name}.nic{g}", "nic", parent=name, bandwidth=50e9)
        b.add_link(f"{name}.gpu{g}", f"{name}.pex{g // 2}", bandwidth=64e9, type="pcie5")
        b.add_link(f"{name}.nic{g}", f"{name}.pex{g // 2}", bandwidth=64e9, type="pcie5")


def server(gpus: int = 8):
    b = TopologyBuilder("server.topo")
    add_server(b, "srv", gpus=gpus)
    return b.build()


def rail_cluster(nodes: int = 32, leaves: int = 8, spines: int = 4, racks: int = 0):
    """Rail-optimised: NIC r of every server to leaf r; every leaf to every spine (x8)."""
    b = TopologyBuilder("rail.topo")
    b.add_node("pod", "pod")
    names = []
    for n in range(nodes):
        parent = "pod"
        if racks:
            parent = f"pod.rack{n % racks}"
            if parent not in b._index:
                b.add_node(parent, "rack", parent="pod")
        name = f"{parent}.node{n // racks if racks else n}"
        add_server(b, name, parent=parent)
        names.append(name)
    for r in range(leaves):
        b.add_node(f"pod.leaf{r}", "switch", parent="pod", ports=64)
    for s in range(spines):
        b.add_node(f"pod.spine{s}", "switch", parent="pod", ports=64)
    for name in names:
        for r in range(8):
            b.add_link(f"{name}.nic{r}", f"pod.leaf{r % leaves}", bandwidth=50e9, type="eth400")
    for r in range(leaves):
        for s in range(spines):
            b.add_link(f"pod.leaf{r}", f"pod.spine{s}", 400e9, type="eth400", lanes=8)
    return b.build()


# -- SVG reading ---------------------------------------------------------------------------------


def parse_svg(data: bytes) -> dict:
    """Nodes, clusters, edges (by SVG class) and all text of a Graphviz SVG."""
    root = ET.fromstring(data)
    out: dict = {"nodes": {}, "clusters": {}, "edges": [], "texts": []}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class", "").split()
        title = g.find(f"{SVG}title")
        name = title.text if title is not None else None
        texts = [t.text or "" for t in g.iter(f"{SVG}text")]
        if "node" in cls:
            out["nodes"][name] = {"class": cls, "texts": texts, "g": g}
        elif "cluster" in cls:
            out["clusters"][name] = {"class": cls, "texts": texts}
        elif "edge" in cls:
            strokes = {p.get("stroke") for p in g.iter(f"{SVG}path")}
            out["edges"].append({"class": cls, "texts": texts, "stroke": strokes, "title": name})
    out["texts"] = [t.text or "" for t in root.iter(f"{SVG}text")]
    return out


def svg_of(topo, tmp_path: Path, name: str = "out.svg", **kwargs) -> tuple[dict, object, bytes]:
    out = tmp_path / name
    view = render(topo, out, **kwargs)
    data = out.read_bytes()
    return parse_svg(data), view, data


def check_view_in_svg(svg: dict, view) -> None:
    """Every box, cluster and edge of the view is in the SVG with its label."""
    for box in view.boxes:
        assert box.key in svg["nodes"], box.key
        assert f"kind-{box.kind}" in svg["nodes"][box.key]["class"]
        first_line = svg["nodes"][box.key]["texts"][0]
        assert box.name in first_line or box.key in first_line
    for row in view.clusters:
        assert f"cluster_{view.topology.nodes.ids[row]}" in svg["clusters"]
    drawn_links = [e for e in svg["edges"] if "link" in e["class"]]
    assert len(drawn_links) == sum(1 for e in view.edges if not e.internal)
    # Every edge states its bandwidth, or shares its figure with an edge of its type labelled
    # "(each of N)", or belongs to a structure whose note states the figure of every link.
    labelled = {tuple(e["class"]) for e in drawn_links if any("each of" in t for t in e["texts"])}
    notes = " ".join(t for v in svg["nodes"].values() if "note" in v["class"] for t in v["texts"])
    for e in drawn_links:
        if any("B/s" in t for t in e["texts"]):
            continue
        link_type = next((c[5:] for c in e["class"] if c.startswith("type-")), "untyped")
        assert tuple(e["class"]) in labelled or f"each {link_type}" in notes, e
    assert "legend" in svg["nodes"]


# -- examples ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_renders_readably(path: Path, tmp_path: Path) -> None:
    topo = topodsl.load(path)
    svg, view, data = svg_of(topo, tmp_path)
    check_view_in_svg(svg, view)
    assert view.num_shapes <= Budget().max_shapes
    assert len(view.edges) <= Budget().max_edges
    assert any(path.name in t for t in svg["texts"])  # the caption names the file
    # Same file, same SVG.
    again = tmp_path / "again.svg"
    render(topodsl.load(path), again)
    assert again.read_bytes() == data


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_highlights_a_flow_cut(path: Path, tmp_path: Path) -> None:
    topo = topodsl.load(path)
    compute = topo.rows_of_role("compute")
    src = topo.nodes.ids[int(default_element(topo))]
    dst = topo.nodes.ids[int(compute[-1])]
    if src == dst:
        pytest.skip("one compute element only")
    spec = f"flow:{src}->{dst}"
    svg, view, _ = svg_of(topo, tmp_path, highlight=spec)
    value = max_flow(topo, [topo.index(src)], [topo.index(dst)]).value
    assert any(format_quantity(value, BANDWIDTH) in t for t in svg["texts"])
    result = max_flow(topo, [topo.index(src)], [topo.index(dst)])
    cut_links = [c.row for c in result.cut if c.element == "link"]
    drawn = {int(view.edge_of[r]) for r in cut_links if view.edge_of[r] >= 0}
    red = [e for e in svg["edges"] if "cut" in e["class"]]
    red_boxes = [n for n, v in svg["nodes"].items() if "cut" in v["class"]]
    assert len(red) >= min(len(drawn), 1) or red_boxes
    for e in red:
        assert "#d7191c" in e["stroke"]


def test_examples_exist() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"dgx_h100", "mi300x"} <= names


# -- views ---------------------------------------------------------------------------------------


def test_server_full_detail_with_gpu_clusters_and_folded_hbm(tmp_path: Path) -> None:
    topo = server()
    svg, view, _ = svg_of(topo, tmp_path)
    check_view_in_svg(svg, view)
    assert view.depth is None
    # A GPU is a cluster holding its own box and its HBM stacks, drawn once as "×5".
    assert "cluster_srv.gpu0" in svg["clusters"]
    assert "self" in svg["nodes"]["srv.gpu0"]["class"]
    stacks = svg["nodes"]["srv.gpu0.stack[0..4]"]
    assert "group" in stacks["class"] and any("×5" in t for t in stacks["texts"])
    # The four NVSwitch chips link the same GPUs: one fabric box, 16 lanes per GPU.
    assert "srv.nvs[0..3]" in svg["nodes"]
    nv = [e for e in view.edges if e.type == "nvlink4"]
    assert len(nv) == 8 and all(e.lanes == 16 and e.bandwidth == 400e9 for e in nv)


def test_parallel_links_are_one_edge_with_their_multiplicity() -> None:
    b = TopologyBuilder()
    b.add_node("a", "gpu")
    b.add_node("b", "gpu")
    for _ in range(3):
        b.add_link("a", "b", bandwidth=25e9, type="nvlink4")
    b.add_link("b", "a", bandwidth=50e9, type="nvlink4", lanes=2)
    b.add_link("a", "b", bandwidth=10e9, type="pcie")
    view = build_view(b.build())
    nv = [e for e in view.edges if e.type == "nvlink4"]
    assert len(nv) == 1 and nv[0].lanes == 5 and nv[0].links == 4 and nv[0].bandwidth == 125e9
    assert 'label="nvlink4 ×5\\n125 GB/s"' in to_dot(b.build())


def aggregation_invariants(topo, view) -> None:
    """No bandwidth lost or invented; every drawn link between its endpoints' boxes."""
    L = topo.links
    drawn = view.edge_of >= 0
    total = sum(e.bandwidth for e in view.edges)
    assert total == pytest.approx(float(L.bandwidth[drawn].sum()), rel=1e-12)
    for link in np.flatnonzero(drawn).tolist():
        e = view.edges[view.edge_of[link]]
        ends = {int(view.box_of[L.src[link]]), int(view.box_of[L.dst[link]])}
        assert ends == {e.tail, e.head}
    if view.focus is None:
        # A link between two different boxes is never dropped.
        a, b = view.box_of[L.src], view.box_of[L.dst]
        assert drawn[(a >= 0) & (b >= 0) & (a != b)].all()


@pytest.mark.parametrize("depth", [0, 1, 2, 3, None])
def test_depth_collapses_and_aggregates(depth) -> None:
    topo = rail_cluster(nodes=8)
    view = build_view(topo, depth=depth, fold=False)
    aggregation_invariants(topo, view)
    for box in view.boxes:
        if depth is not None:
            assert all(int(topo.depth[r]) <= depth for r in box.rows)
    if depth == 1:
        assert {b.key for b in view.boxes} >= {"pod.node0", "pod.leaf0", "pod.spine3"}
        e = [
            e
            for e in view.edges
            if {view.boxes[e.tail].key, view.boxes[e.head].key} == {"pod.node0", "pod.leaf3"}
        ]
        assert len(e) == 1 and e[0].bandwidth == 50e9


def test_large_cluster_auto_view_is_racks_and_spines(tmp_path: Path) -> None:
    topo = rail_cluster(nodes=128, racks=16)  # 1,024 GPUs
    svg, view, _ = svg_of(topo, tmp_path)
    check_view_in_svg(svg, view)
    shapes = len(svg["nodes"]) + len(svg["clusters"])
    assert shapes < 100, shapes
    assert view.auto and view.depth == 1
    aggregation_invariants(topo, view)
    # The caption says what was collapsed.
    assert any("collapsed below depth 1" in t for t in svg["texts"])


def test_flat_cluster_folds_the_server_array() -> None:
    topo = rail_cluster(nodes=32)
    view = build_view(topo)
    assert view.folded == ("pod.node[0..31]",)
    group = next(b for b in view.boxes if b.form == "group")
    assert len(group.rows) == 32
    to_leaf = [
        e
        for e in view.edges
        if "pod.leaf0" in (view.boxes[e.head].key, view.boxes[e.tail].key)
        and e.type == "eth400"
        and e.lanes == 32
    ]
    assert len(to_leaf) == 1 and to_leaf[0].bandwidth == 32 * 50e9
    assert view.num_shapes <= Budget().max_shapes
    aggregation_invariants(topo, view)
    assert build_view(topo, fold=False).folded == ()


def test_focus_draws_one_server_and_its_neighbours(tmp_path: Path) -> None:
    topo = rail_cluster(nodes=8)
    svg, view, _ = svg_of(topo, tmp_path, focus="pod.node3")
    check_view_in_svg(svg, view)
    keys = {b.key for b in view.boxes}
    assert "pod.node3.gpu0" in keys and "pod.node3.nic7" in keys
    assert {f"pod.leaf{r}" for r in range(8)} <= keys
    assert not any(k.startswith(("pod.node2", "pod.spine")) for k in keys)
    for e in view.edges:  # no edge between two boxes outside the focus
        ends = [view.boxes[e.tail].key, view.boxes[e.head].key]
        assert any(k.startswith("pod.node3") for k in ends), ends
    assert any("focus on pod.node3" in t for t in svg["texts"])


def test_bad_focus_and_depth_are_errors_with_advice() -> None:
    topo = rail_cluster(nodes=2)
    with pytest.raises(SolverError, match="did you mean 'pod.node1'"):
        build_view(topo, focus="pod.node9")
    with pytest.raises(SolverError, match="depth"):
        build_view(topo, depth=-1)
    with pytest.raises(SolverError, match="flow:SOURCES->SINKS"):
        to_dot(topo, highlight="flow:kind:gpu")
    with pytest.raises(SolverError, match="unknown highlight"):
        to_dot(topo, highlight="bisekt")
    with pytest.raises(RenderError, match=r"\.svg"):
        render(topo, "x.jpeg")


def test_a_view_too_large_to_lay_out_is_refused(tmp_path: Path) -> None:
    topo = rail_cluster(nodes=16)
    with pytest.raises(RenderError, match="smaller --depth"):
        render(topo, tmp_path / "x.svg", depth=3, fold=False)
    view = render(topo, tmp_path / "x.dot", depth=3, fold=False)  # DOT is written anyway
    assert view.num_shapes > 1_000


def test_full_mesh_is_drawn_as_a_mesh_with_the_per_link_figure(tmp_path: Path) -> None:
    b = TopologyBuilder()
    for g in range(6):
        b.add_node(f"g{g}", "gpu")
    for i in range(6):
        for j in range(i + 1, 6):
            b.add_link(f"g{i}", f"g{j}", bandwidth=64e9, type="if_x16")
    svg, view, _ = svg_of(b.build(), tmp_path)
    chords = [e for e in svg["edges"] if "link" in e["class"]]
    assert len(chords) == 15  # every pair, drawn
    notes = [v for v in svg["nodes"].values() if "note" in v["class"]]
    assert len(notes) == 1
    assert " ".join(notes[0]["texts"]) == (
        "full mesh of 6 15 links, each if_x16, 64 GB/s per direction"
    )


def test_folded_mesh_is_never_a_summed_loop(tmp_path: Path) -> None:
    """A folded array whose members link among themselves states how many links join them
    and the figure of one; no self-loop carries their sum."""
    b = TopologyBuilder("mesh.topo")
    b.add_node("n", "node")
    for g in range(8):
        b.add_node(f"n.g{g}", "gpu", parent="n")
    for i in range(8):
        for j in range(i + 1, 8):
            b.add_link(f"n.g{i}", f"n.g{j}", bandwidth=64e9, type="if_x16")
    svg, view, data = svg_of(b.build(), tmp_path, budget=Budget(max_shapes=2))
    assert view.folded == ("n.g[0..7]",)
    loops = [e for e in svg["edges"] if e["title"] and len(set(e["title"].split("--"))) == 1]
    assert loops == []
    box = svg["nodes"]["n.g[0..7]"]
    assert "among them: 28 links, each if_x16, 64 GB/s" in box["texts"]
    assert b"1.792 TB/s" not in data


def test_a_torus_is_drawn_as_a_grid(tmp_path: Path) -> None:
    topo = topodsl.loads(
        "link ici { bandwidth = 50 GB/s }\n"
        "cluster c { node host[16] { gpu g; nic x; connect g -- x { bandwidth = 64 GB/s } }\n"
        "  connect torus(host[*].x, 4, 4) via ici x2 }\n",
        file="torus.topo",
    )
    out = tmp_path / "torus.svg"
    view = render(topo, out, depth=1)
    svg = parse_svg(out.read_bytes())
    assert len(view.boxes) == 16
    notes = [" ".join(v["texts"]) for v in svg["nodes"].values() if "note" in v["class"]]
    assert notes == ["4 × 4 torus 32 links, each ici ×2, 100 GB/s per direction"]
    # Boxes on a 4 x 4 grid, in natural order row by row: 4 distinct x and 4 distinct y.
    from topodsl.render.diagram import diagram_dot

    text = diagram_dot(view)
    import re as _re

    pos = {
        m.group(1): tuple(map(float, m.group(2).split(",")))
        for m in _re.finditer(r'(?m)^\s*"(c\.host\d+)" \[.*?pos="([^"]+)"', text)
    }
    xs = sorted({round(x) for x, _ in pos.values()})
    ys = sorted({round(y) for _, y in pos.values()}, reverse=True)
    assert len(xs) == 4 and len(ys) == 4
    assert pos["c.host1"][0] > pos["c.host0"][0] and pos["c.host4"][1] < pos["c.host0"][1]
    assert (round(pos["c.host10"][0]), round(pos["c.host10"][1])) == (xs[2], ys[2])
    # Wrap-around links are dashed arcs.
    dashed = [e for e in svg["edges"] if "link" in e["class"]]
    assert len(dashed) == 32


def test_highlight_flow_marks_the_cut_red(tmp_path: Path) -> None:
    topo = server()
    # A link cut: the CPU reaches its DRAM through one 300 GB/s DDR5 link.
    svg, view, _ = svg_of(topo, tmp_path, highlight="flow:srv.cpu0->srv.dram0")
    red = [e for e in svg["edges"] if "cut" in e["class"]]
    assert len(red) == 1 and "#d7191c" in red[0]["stroke"]
    assert any("cut: 1 of 1 link" in t for t in red[0]["texts"])
    assert any("max flow srv.cpu0 → srv.dram0: 300 GB/s" in t for t in svg["texts"])
    # A device cut: the NIC's own 50 GB/s limit.
    svg, view, _ = svg_of(topo, tmp_path, highlight="flow:srv.gpu0->srv.nic5")
    assert max_flow(topo, [topo.index("srv.gpu0")], [topo.index("srv.nic5")]).value == 50e9
    red_boxes = [n for n, v in svg["nodes"].items() if "cut" in v["class"]]
    assert red_boxes == ["srv.nic5"]
    assert any("cut: device limit" in t for t in svg["nodes"]["srv.nic5"]["texts"])
    assert any("50 GB/s" in t and "1 device limit" in t for t in svg["texts"])


def test_highlight_bisection(tmp_path: Path) -> None:
    pytest.importorskip("topodsl.solvers.bisection")
    topo = rail_cluster(nodes=4)
    svg, _, _ = svg_of(topo, tmp_path, highlight="bisection")
    r = __import__("topodsl.solvers.bisection", fromlist=["x"]).bisection(topo)
    assert any(
        "bisection bandwidth" in t and format_quantity(r.upper_bound, BANDWIDTH) in t
        for t in svg["texts"]
    )
    red = [e for e in svg["edges"] if "cut" in e["class"]]
    red += [n for n, v in svg["nodes"].items() if "cut" in v["class"]]
    assert red


def test_output_is_deterministic_in_every_format(tmp_path: Path) -> None:
    topo = rail_cluster(nodes=4)
    for suffix in (".svg", ".png", ".pdf", ".dot"):
        a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        render(topo, a, highlight="flow:pod.node0.gpu0->pod.node3.gpu7")
        if suffix == ".pdf":
            time.sleep(1.1)  # a PDF that embedded the time of day would now differ
        render(rail_cluster(nodes=4), b, highlight="flow:pod.node0.gpu0->pod.node3.gpu7")
        assert a.read_bytes() == b.read_bytes(), suffix
        assert a.stat().st_size > 100


@st.composite
def random_topologies(draw):
    """Random containment trees with random links, arrays included."""
    b = TopologyBuilder()
    kinds = ["gpu", "hbm", "switch", "nic", "cpu"]
    rows: list[str] = []
    containers: list[str] = []
    for i in range(draw(st.integers(1, 4))):
        name = f"r{i}"
        b.add_node(name, "rack")
        containers.append(name)
        rows.append(name)
    for _ in range(draw(st.integers(1, 30))):
        parent = draw(st.sampled_from(containers + rows))
        kind = draw(st.sampled_from(kinds + ["node"]))
        name = f"{parent}.x{len(rows)}"
        b.add_node(name, kind, parent=parent)
        rows.append(name)
        if kind == "node":
            containers.append(name)
    for _ in range(draw(st.integers(0, 40))):
        a, c = draw(st.sampled_from(rows)), draw(st.sampled_from(rows))
        if a != c:
            b.add_link(
                a,
                c,
                bandwidth=draw(st.sampled_from([1e9, 25e9, 50e9])),
                type=draw(st.sampled_from(["x", "y", None])),
                lanes=draw(st.sampled_from([1, 2, 4])),
            )
    return b.build()


@settings(max_examples=60, deadline=None)
@given(
    random_topologies(),
    st.sampled_from([None, 0, 1, 2]),
    st.booleans(),
    st.sampled_from([None, Budget(6, 6), Budget(20, 10)]),
)
def test_views_never_lose_bandwidth(topo, depth, fold, budget) -> None:
    view = build_view(topo, depth=depth, fold=fold, budget=budget)
    aggregation_invariants(topo, view)
    # Every component is drawn, or inside something drawn (focus aside).
    drawn_or_cluster = (view.box_of >= 0) | np.isin(np.arange(topo.num_nodes), view.clusters)
    assert drawn_or_cluster.all()
    assert to_dot(topo, depth=depth, fold=fold, budget=budget) == to_dot(
        topo, depth=depth, fold=fold, budget=budget
    )


# -- charts --------------------------------------------------------------------------------------


def test_reach_chart(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("topodsl.solvers.reach")
    from topodsl.render.chart import render_reach

    b = TopologyBuilder("reach.topo")
    b.add_node("c", "cpu")
    b.add_node("near", "dram", capacity=64e9, latency=1e-7, bandwidth=1e11)
    b.add_node("far", "cxl_memory", capacity=256e9, latency=2.5e-7, bandwidth=1e11)
    b.add_link("c", "near", bandwidth=1e11)
    b.add_link("c", "far", bandwidth=6.3e10)
    topo = b.build()
    out = tmp_path / "reach.svg"
    stairs = render_reach(topo, out)
    assert [s.capacity for s in stairs] == [(64e9, 320e9)]
    root = ET.fromstring(out.read_bytes())
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "+64 GB" in text and "+256 GB" in text and "memory reach" in text
    again = tmp_path / "again.svg"
    render_reach(topo, again)
    assert again.read_bytes() == out.read_bytes()


# -- the command line ----------------------------------------------------------------------------


def run(*args: object, env_extra: dict | None = None, code: str | None = None):
    return run_topodsl(*args, env_extra=env_extra, code=code, timeout=300)


SMALL = """\
link nvlink4 { bandwidth = 25 GB/s, latency = 100 ns }
node srv {
    gpu gpu[4] { bandwidth = 3 TB/s }
    nvswitch nvs[2]
    connect gpu[*] -- nvs[*] via nvlink4 x4
}
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.topo"
    path.write_text(SMALL)
    return path


def test_cli_render_svg_and_dot(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.svg"
    r = run("render", small, "-o", out, "--highlight", "flow:srv.gpu0->srv.gpu1")
    assert r.returncode == 0, r.stderr
    assert "d.svg" in r.stdout and r.stderr == ""
    svg = parse_svg(out.read_bytes())
    assert "srv.gpu0" in svg["nodes"] and "cluster_srv" in svg["clusters"]
    r = run("render", "diagram", small, "-o", tmp_path / "d.dot", "--depth", "0")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "d.dot").read_text().startswith("graph topology {")


def test_cli_missing_graphviz_says_how_to_install(small: Path, tmp_path: Path) -> None:
    r = run("render", small, "-o", tmp_path / "d.svg", env_extra={"TOPODSL_DOT": "/nope/dot"})
    assert r.returncode == 2
    assert "Graphviz" in r.stderr and "apt-get install graphviz" in r.stderr
    assert "Traceback" not in r.stderr
    r = run("render", small, "-o", tmp_path / "d.dot", env_extra={"TOPODSL_DOT": "/nope/dot"})
    assert r.returncode == 0, r.stderr  # DOT needs no Graphviz


@pytest.mark.parametrize(
    "args, message",
    [
        (["--focus", "srv.gpu9"], "did you mean"),
        (["--highlight", "flow:srv.gpu0"], "flow:SOURCES->SINKS"),
        (["--highlight", "flow:nothing*->srv.gpu1"], "matches no component"),
        (["--depth", "-1"], "-1"),
    ],
)
def test_cli_bad_input_exits_2(small: Path, tmp_path: Path, args, message) -> None:
    r = run("render", small, "-o", tmp_path / "d.svg", *args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr


def test_cli_bad_output_suffix(small: Path, tmp_path: Path) -> None:
    r = run("render", small, "-o", tmp_path / "d.gif")
    assert r.returncode == 2 and ".svg" in r.stderr and "Traceback" not in r.stderr


def test_cli_reach_chart(small: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("topodsl.solvers.reach")
    b = tmp_path / "mem.topo"
    b.write_text(
        "link ddr { bandwidth = 300 GB/s, latency = 20 ns }\n"
        "node n { cpu c\n dram d[2] { capacity = 64 GB, latency = 80 ns }\n"
        " connect c -- d[*] via ddr }\n"
    )
    out = tmp_path / "reach.png"
    r = run("render", "reach", b, "-o", out, "--from", "n.c")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_cli_reach_without_matplotlib_says_how_to_install(small: Path, tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.argv = ['topodsl'] + sys.argv[1:];"
        "from topodsl.cli import main; main()"
    )
    r = run("render", "reach", small, "-o", tmp_path / "r.svg", code=code)
    assert r.returncode == 2
    assert "matplotlib" in r.stderr and "topodsl[charts]" in r.stderr
    assert "Traceback" not in r.stderr


def test_rendering_the_largest_example_takes_seconds(tmp_path: Path) -> None:
    largest = max(EXAMPLES, key=lambda p: topodsl.load(p).num_links)
    topo = topodsl.load(largest)
    t0 = time.perf_counter()
    render(topo, tmp_path / "largest.svg")
    assert time.perf_counter() - t0 < 20.0


# -- every file at every depth; Graphviz's warnings and failures ---------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_renders_at_every_depth(path: Path, tmp_path: Path) -> None:
    topo = topodsl.load(path)
    for depth in range(int(topo.depth.max()) + 2):
        out = tmp_path / f"d{depth}.svg"
        view = render(topo, out, depth=depth)
        assert view.num_shapes <= 200, (depth, view.num_shapes)
        svg = parse_svg(out.read_bytes())
        assert len([n for n in svg["nodes"] if not n.startswith(("note:", "caption"))]) > 1
        assert not [n for n in view.notes if "could not route" in n], view.notes


def test_every_docs_example_renders(tmp_path: Path) -> None:
    from test_docs_examples import doc_blocks

    blocks = [b for b in doc_blocks() if b.kind == "ok"]
    files = [b for b in doc_blocks() if b.kind == "file"]
    for name in {b.name for b in files}:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    for b in files:
        (tmp_path / b.name).write_text(b.text)
    assert len(blocks) > 10
    for k, block in enumerate(blocks):
        src = tmp_path / f"example{k}.topo"
        src.write_text(block.text)
        topo = topodsl.load(src)
        for depth in (None, *range(int(topo.depth.max()) + 1)):
            render(topo, tmp_path / f"example{k}_{depth}.svg", depth=depth)


FAKE_NEATO = """#!/bin/sh
# A Graphviz whose curved-edge routing fails the way 2.43's does on some graphs.
input=$(cat)
case "$input" in
  *'splines="true"'*) echo "Error: lost n0 n1 edge" >&2; exit 1 ;;
esac
echo "Warning: Unable to reclaim box space in spline routing for edge" >&2
printf '%s' "$input" | "{real}" -n2 "$@"
"""


def fake_graphviz(tmp_path: Path) -> Path:
    import os
    import shutil as sh

    folder = tmp_path / "graphviz"
    folder.mkdir()
    os.symlink(sh.which("dot"), folder / "dot")
    neato = folder / "neato"
    neato.write_text(FAKE_NEATO.replace("{real}", sh.which("neato")))
    neato.chmod(0o755)
    return folder / "dot"


def test_a_routing_failure_falls_back_and_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOPODSL_DOT", str(fake_graphviz(tmp_path)))
    out = tmp_path / "server.svg"
    view = render(server(), out)
    svg = parse_svg(out.read_bytes())
    check_view_in_svg(svg, view)  # drawn all the same, every box and edge
    assert view.notes[0] == "Unable to reclaim box space in spline routing for edge"
    assert any(
        "could not route curved edges (Error: lost n0 n1 edge)" in n and "straight segments" in n
        for n in view.notes
    )


def test_cli_prints_graphviz_warnings_as_warnings(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    env = {"TOPODSL_DOT": str(fake_graphviz(tmp_path))}
    r = run_topodsl("render", str(small), "-o", str(out), env_extra=env)
    assert r.returncode == 0, r.stderr
    assert "warning: Graphviz: Unable to reclaim box space" in r.stderr
    assert "Traceback" not in r.stderr and out.read_bytes().startswith(b"\x89PNG")


def test_names_are_in_natural_order(tmp_path: Path) -> None:
    b = TopologyBuilder("n.topo")
    b.add_node("c", "cluster")
    for i in (10, 2, 0, 12, 1):
        b.add_node(f"c.host{i}", "gpu", parent="c")
        b.add_node(f"c.disk{i}", "ssd", parent="c", capacity=1e12)
        b.add_link(f"c.host{i}", f"c.disk{i}", bandwidth=1e9, type="pcie")
    view = build_view(b.build(), fold=False)
    hosts = [x.key for x in view.boxes if x.kind == "gpu"]
    assert hosts == ["c.host0", "c.host1", "c.host2", "c.host10", "c.host12"]
    from topodsl.render.html import page_data

    ids = [n["id"] for n in page_data(b.build())["nodes"]]
    assert ids == sorted(ids, key=natural_key) and ids.index("c.disk2") < ids.index("c.disk10")
