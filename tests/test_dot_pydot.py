"""Every DOT text topodsl writes, read back by an independent parser (pydot).

The renderer writes DOT itself (topodsl/render/diagram.py). Names and strings in it come from
files that arrive in pull requests: a component id in a node-link JSON file can be any text, a
``model`` string in a .topo file holds backslashes and angle brackets. A name that ended its
quoted id, or a label Graphviz took for HTML, would let a file add attributes of its own
(``image="/etc/passwd"`` reads a file from disk), merge two components into one box or stop
Graphviz reading. Here pydot parses what we write, and every box must come back as exactly one
node whose name and label are the component's text, with only the attributes we write; Graphviz
itself must see as many distinct nodes.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pydot
import pytest
from cli_support import REPO, run_topodsl

import topodsl
from topodsl.io import loads_json
from topodsl.render import diagram
from topodsl.render.graphviz import find_dot

#: Every attribute the renderer writes; anything else in a parsed graph was injected.
WRITTEN = {
    "bb", "class", "color", "dir", "fillcolor", "fixedsize", "fontcolor", "fontname",
    "fontsize", "height", "label", "labeljust", "labelloc", "lp", "margin", "outputorder",
    "pad", "penwidth", "peripheries", "pos", "rankdir", "shape", "splines", "style", "width",
}  # fmt: skip

_ESCAPE = re.compile(r'\\(\\|"|n|x[0-9a-f]{2})')


def unquote(text: str) -> str:
    """A DOT id or string as the renderer meant it: the inverse of its escaping, written
    independently here (``\\\\``, ``\\"``, ``\\n``, ``\\xNN``)."""
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        return text
    inner = text[1:-1]

    def one(m: re.Match) -> str:
        s = m.group(1)
        return {"\\": "\\", '"': '"', "n": "\n"}.get(s) or chr(int(s[1:], 16))

    return _ESCAPE.sub(one, inner)


def walk(graph: pydot.Dot):
    """Every (sub)graph of a parsed graph, the graph first."""
    yield graph
    for sub in graph.get_subgraphs():
        yield from walk(sub)


def parse(text: str) -> pydot.Dot:
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1, "pydot could not read the DOT text"
    return graphs[0]


def check_dot(text: str, view) -> dict[str, dict[str, str]]:
    """Parse ``text`` (the DOT of ``view``) and check it is the picture of ``view``: one node per
    box with the box's key and label, one edge per drawn edge between the right boxes, only the
    attributes the renderer writes. Returns the boxes' attributes by key."""
    g = parse(text)
    boxes: dict[str, dict[str, str]] = {}
    declared: set[str] = set()  # a name declared twice is one node to Graphviz
    edges = []
    for sub in walk(g):
        for key, value in sub.get_attributes().items():
            assert key in WRITTEN, f"graph attribute {key}={value} was not written by us"
        for node in sub.get_nodes():
            name = node.get_name()
            if name in ("node", "edge", "graph"):
                continue  # default-attribute statements
            attrs = {k: unquote(v) for k, v in node.get_attributes().items()}
            assert set(attrs) <= WRITTEN, f"node {name}: {set(attrs) - WRITTEN}"
            key = unquote(name)
            assert key not in declared, f"two nodes named {key!r}"
            declared.add(key)
            if attrs.get("class", "").startswith("box"):
                boxes[key] = attrs
        for e in sub.get_edges():
            assert set(e.get_attributes()) <= WRITTEN
            edges.append((unquote(e.get_source()), unquote(e.get_destination())))
    keys = {b.key for b in view.boxes}
    assert set(boxes) == keys and len(boxes) == len(view.boxes)
    assert all(a in keys and b in keys for a, b in edges)
    assert len(edges) == sum(1 for e in view.edges if not e.internal)
    for b in view.boxes:
        label = boxes[b.key]["label"]
        assert label.startswith(b.name) or label.startswith(b.key), (label, b.key)
    return boxes


def graphviz_node_names(text: str) -> list[str]:
    """The names of the nodes Graphviz itself reads from ``text``."""
    proc = subprocess.run(
        [find_dot(), "-Tjson"], input=text.encode(), capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return [o["name"] for o in json.loads(proc.stdout).get("objects", []) if "nodes" not in o]


# -- the shipped examples ------------------------------------------------------------------------

EXAMPLES = sorted(p.stem for p in (REPO / "topologies").glob("*.topo"))
# Whole-graph exports small enough for pydot's parser (it reads about 15 KB a second).
EXPORTS = ("dgx_h100",)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_diagram_reads_back(name: str) -> None:
    t = topodsl.load(REPO / "topologies" / f"{name}.topo")
    for kw in ({}, {"depth": 1}):
        text, view = diagram(t, **kw)
        check_dot(text, view)


@pytest.mark.parametrize("name", EXPORTS)
def test_whole_graph_exports_read_back(name: str) -> None:
    t = topodsl.load(REPO / "topologies" / f"{name}.topo")
    full = int(t.depth.max()) + 1
    text, view = diagram(t, depth=full, fold=False)
    boxes = check_dot(text, view)
    parents = set(t.nodes.parent.tolist())
    devices = {t.nodes.ids[r] for r in range(t.num_nodes) if r not in parents}
    assert devices <= set(boxes)
    r = run_topodsl("export", f"topologies/{name}.topo", "--format", "dot")
    assert r.returncode == 0 and r.stdout == text


def test_a_highlighted_cut_reads_back() -> None:
    t = topodsl.load(REPO / "topologies" / "dgx_h100.topo")
    text, view = diagram(t, highlight="bisection")
    boxes = check_dot(text, view)
    assert any("cut" in a["class"] for a in boxes.values()) or "cut" in text


# -- hostile names -------------------------------------------------------------------------------

HOSTILE = [
    'a" -- "b',  # ends the quoted id early
    "tail\\",  # a backslash that would escape the closing quote
    '\\"; x [image="/etc/passwd"]; "',
    '<x>, image="/etc/passwd", label=<y>',  # taken for an HTML label
    "<b>bold</b>",
    "two\nlines",
    "cr\rtab\tx",
    "\\N \\G \\l \\E \\T",  # Graphviz's label escapes
    "nul\x00one",  # Graphviz stops reading at a NUL ...
    "nul\x00two",  # ... which would make these two one box
    "} subgraph { graph",
    "-- -> ; = [ ] { }",
    "/* c */ // d",
    "# line",
    "legend",  # the names of the picture's own nodes
    "caption",
    "note:0",
    "_legend",
    "ü·GPU→∞",
    "\u202eright-to-left",
    'pos="1,2"',
    "splines=false",
    "x" * 3000,
    "node",  # DOT keywords, as names
    "edge",
    "graph",
    "subgraph",
    "strict",
    "digraph",
    "0",  # numerals and names starting with digits
    "1.5",
    "-2",
    "12gpu",
]


def _hostile_json(path: Path) -> None:
    nodes = [{"id": "sw", "kind": "switch"}]
    nodes += [{"id": i, "kind": "gpu", "model": i} for i in HOSTILE]
    links = [
        {"source": i, "target": "sw", "bandwidth": 5e10, "type": HOSTILE[k % len(HOSTILE)]}
        for k, i in enumerate(HOSTILE)
    ]
    doc = {"directed": False, "multigraph": True, "graph": {}, "nodes": nodes, "links": links}
    path.write_text(json.dumps(doc))


def test_hostile_ids_stay_names(tmp_path: Path) -> None:
    _hostile_json(tmp_path / "hostile.json")
    t = topodsl.load(tmp_path / "hostile.json")
    text, view = diagram(t, depth=None)
    assert "\x00" not in text
    boxes = check_dot(text, view)
    assert set(boxes) == set(HOSTILE) | {"sw"}
    for name in HOSTILE:
        assert boxes[name]["label"].startswith(name + "\n")
    # Graphviz reads as many distinct nodes: nothing merged, nothing added.
    names = graphviz_node_names(text)
    assert len(names) == len(set(names)) == len(HOSTILE) + 1 + 2  # with caption and legend
    r = run_topodsl("render", "hostile.json", "-o", "hostile.svg", cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    svg = (tmp_path / "hostile.svg").read_text()
    assert "/etc/passwd" not in svg.replace("image=&quot;/etc/passwd&quot;", "")
    assert "<image" not in svg


def test_hostile_model_strings_and_file_names(tmp_path: Path) -> None:
    name = "we<ird> \\N.topo"
    (tmp_path / name).write_text(
        "link l { bandwidth = 50 GB/s }\n"
        "node box {\n"
        '    model = "<x>, image=/etc/passwd, label=<y>"\n'
        '    gpu g[2] { model = "tail\\\\" }\n'
        '    switch legend { model = "\\N \\G" }\n'
        "    connect g[*] -- legend via l\n"
        "}\n"
    )
    t = topodsl.load(tmp_path / name)
    for kw in ({}, {"depth": 0}, {"highlight": "bisection"}):
        text, view = diagram(t, **kw)
        check_dot(text, view)
    r = run_topodsl("render", name, "-o", "out.svg", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "<image" not in (tmp_path / "out.svg").read_text()


def test_a_large_view_keeps_its_caption_lines(tmp_path: Path) -> None:
    # Beyond MAX_PLACED_SHAPES the caption is the graph's label, one left-justified line each.
    t = topodsl.load(REPO / "topologies" / "cluster_256.topo")
    full = int(t.depth.max()) + 1
    text, view = diagram(t, depth=full, fold=False)
    if view.num_shapes <= 2000:
        pytest.skip("the view is placed; its caption is an HTML label")
    (graph_line,) = [x for x in text.splitlines() if x.startswith("  graph [")]
    assert "\\\\l" not in graph_line and graph_line.count("\\l") >= 2


# -- pydot's place -------------------------------------------------------------------------------


def test_runtime_dependencies_are_used_at_run_time() -> None:
    """A runtime dependency is one every user needs: some module of topodsl imports it. pydot
    is the test suite's DOT parser, not a dependency of the renderer."""
    import tomllib

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    module_of = {"pymetis": "pymetis", "lark": "lark", "defusedxml": "defusedxml"}
    source = "\n".join(p.read_text() for p in (REPO / "topodsl").rglob("*.py"))
    for dep in meta["dependencies"]:
        name = re.split(r"[\[<>=!~ ;]", dep, maxsplit=1)[0].lower()
        module = module_of.get(name, name)
        assert re.search(rf"^\s*(import|from) {module}\b", source, re.MULTILINE), (
            f"{name} is a runtime dependency that no module imports"
        )
    assert not re.search(r"^\s*(import|from) pydot\b", source, re.MULTILINE)
    assert any(d.startswith("pydot") for d in meta["optional-dependencies"]["test"])


def test_a_folded_array_of_hostile_names_reads_back() -> None:
    # 200 identical devices named 'we"ird\\N<k>': drawn once at depth 0, as one quoted box.
    nodes = [{"id": "sw", "kind": "switch"}]
    nodes += [{"id": f'we"ird\\N{k}', "kind": "gpu"} for k in range(200)]
    links = [{"source": n["id"], "target": "sw", "bandwidth": 5e10} for n in nodes[1:]]
    doc = {"directed": False, "multigraph": True, "graph": {}, "nodes": nodes, "links": links}
    t = loads_json(json.dumps(doc))
    text, view = diagram(t, depth=0)
    assert [b.key for b in view.boxes] == ["sw", 'we"ird\\N[0..199]']
    check_dot(text, view)
    names = graphviz_node_names(text)
    assert len(names) == len(set(names)) == 2 + 2  # with caption and legend
