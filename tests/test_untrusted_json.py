"""Hostile node-link JSON (issue 11): every diagnostic names the node or link, the key at
fault and its line:col; nothing invalid is accepted; nothing hangs or escapes as a traceback."""

from __future__ import annotations

import copy
import json
import re

import pytest

from topodsl.errors import ElaborationError
from topodsl.io import dumps_json, loads_json
from topodsl.solvers.reach import memory_reach
from topodsl.topology import TopologyBuilder

BASE = {
    "nodes": [
        {"id": "srv", "kind": "node"},
        {"id": "a", "kind": "gpu", "parent": "srv"},
        {"id": "b", "kind": "hbm", "parent": "srv", "capacity": 8e10},
    ],
    "links": [{"source": "a", "target": "b", "bandwidth": 1e9, "latency": 1e-7}],
}


def text_of(doc: object) -> str:
    return json.dumps(doc, indent=1)


def mutated(change) -> str:
    doc = copy.deepcopy(BASE)
    change(doc)
    return text_of(doc)


def diagnostics(text: str):
    with pytest.raises(ElaborationError) as info:
        loads_json(text, "g.json")
    assert "Traceback" not in info.value.render()
    return info.value.diagnostics


def where(text: str, needle: str) -> tuple[int, int]:
    """Line and column (1-based) of the first ``needle`` in ``text``."""
    k = text.index(needle)
    return text.count("\n", 0, k) + 1, k - (text.rfind("\n", 0, k) + 1) + 1


def test_the_base_document_loads() -> None:
    t = loads_json(text_of(BASE))
    assert t.num_nodes == 3 and t.num_links == 1


@pytest.mark.parametrize(
    ("change", "words", "value"),
    [
        (
            lambda d: d["nodes"][2].update(capacity=-5),
            ["node 'b'", "'capacity'", "zero or more"],
            "-5",
        ),
        (lambda d: d["links"][0].update(latency=-1), ["link 'a' -- 'b'", "'latency'"], "-1"),
        (
            lambda d: d["links"][0].update(bandwidth=-1e9),
            ["'bandwidth'", "positive"],
            "-1000000000.0",
        ),
        (lambda d: d["links"][0].update(lanes=-2), ["'lanes'", "positive"], "-2"),
        (lambda d: d["nodes"][1].update(ports=3000000000), ["node 'a'", "'ports'"], "3000000000"),
        (lambda d: d["nodes"][1].update(ports=2.5), ["'ports'", "whole number"], "2.5"),
        (lambda d: d["nodes"][1].update(kind=[1]), ["node 'a'", "'kind'"], "[\n"),
        (lambda d: d["nodes"][1].update(kind="gpx"), ["'kind'", "unknown kind, 'gpx'"], '"gpx"'),
        (lambda d: d["links"][0].update(type=[1]), ["'type'", "must be text"], "[\n"),
        (lambda d: d["links"][0].update(target="a"), ["linked to itself"], None),
        (lambda d: d["links"][0].update(target="zz"), ["'target'", "unknown node 'zz'"], '"zz"'),
        (lambda d: d["links"][0].update(target="srv"), ["a container"], None),
        (lambda d: d["links"][0].update(simplex="yes"), ["'simplex'"], '"yes"'),
        (lambda d: d["links"][0].update(duplex="quarter"), ["'duplex'"], '"quarter"'),
        (lambda d: d["links"][0].update(bandwidth=1e31), ["'bandwidth'", "limit of 1e30"], "1e+31"),
        (lambda d: d["nodes"][1].update(bandwidth=0), ["'bandwidth'", "positive"], "0"),
        (lambda d: d["nodes"][1].update(note={"a": 1}), ["'note'", "must be text"], "{"),
        (lambda d: d["links"][0].pop("bandwidth"), ["'bandwidth' is missing"], None),
        (lambda d: d.update(directed="yes"), ["'directed'", "true or false"], '"yes"'),
        (
            lambda d: d["nodes"][1].update(ports=0),
            ["node 'a'", "'ports'", "1 lanes are connected"],
            "0",
        ),
        (
            lambda d: (d.update(directed=True), d["links"][0].update(simplex=False)),
            ["'simplex'", "the graph is directed", "one-way"],
            "false",
        ),
        (
            lambda d: (d.update(directed=True), d["links"][0].update(duplex="half")),
            ["'duplex'", "the graph is directed", "one-way"],
            '"half"',
        ),
    ],
)
def test_each_bad_value_is_named_with_its_key_and_place(change, words, value) -> None:
    text = mutated(change)
    (d, *_) = diagnostics(text)
    for w in words:
        assert w in d.message, d.message
    assert (d.span.line, d.span.col) != (1, 1)
    if value is not None:
        key = next((w.strip("'") for w in words if re.fullmatch(r"'\w+'", w)), None)
        needle = f'"{key}": {value}' if key else value
        line, col = where(text, needle)
        assert (d.span.line, d.span.col) == (line, col + (len(needle) - len(value))), d.render()
    assert d.source_line is not None and "^" in d.render()


@pytest.mark.parametrize(
    ("raw", "key"),
    [("NaN", "capacity"), ("Infinity", "capacity"), ("-Infinity", "latency"),
     ("9" * 4300, "capacity"), ("9" * 400, "latency"), ("1e400", "capacity")],
)  # fmt: skip
def test_nan_infinity_and_huge_numbers_are_refused(raw: str, key: str) -> None:
    doc = copy.deepcopy(BASE)
    target = doc["nodes"][2] if key == "capacity" else doc["links"][0]
    target[key] = "@@"
    text = text_of(doc).replace('"@@"', raw)
    (d, *_) = diagnostics(text)
    assert f"'{key}'" in d.message and (d.span.line, d.span.col) == where(text, raw[:3])
    assert "Infinity" not in d.message or raw != "9" * 4300


def test_ports_infinity_is_refused() -> None:
    text = text_of(BASE).replace('"kind": "gpu",', '"kind": "gpu", "ports": Infinity,')
    (d, *_) = diagnostics(text)
    assert "'ports'" in d.message and "Infinity" in d.message


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({**BASE, "graph": "abc"}, "'graph' must be an object"),
        ({**BASE, "links": 1.5}, "'links' must be a list"),
        ({"nodes": "x"}, "'nodes' list"),
        ([1, 2], "an object with a 'nodes' list"),
        ({**BASE, "graph": {"link_types": {"l": {"bandwidth": "fast"}}}},
         "'bandwidth' must be a number"),
        ({**BASE, "graph": {"link_types": []}}, "'link_types' must be an object"),
    ],
)  # fmt: skip
def test_wrong_types_at_the_top_level_are_errors(doc, message: str) -> None:
    assert any(message in d.message for d in diagnostics(text_of(doc)))


def test_link_types_of_mixed_types_are_an_error_not_a_sort_failure() -> None:
    def change(d):
        d["links"].append(dict(d["links"][0], type="x"))
        d["links"][0]["type"] = 3

    (d, *_) = diagnostics(mutated(change))
    assert "'type' must be text, got 3" in d.message


def test_nesting_100000_deep_is_an_error_at_its_place() -> None:
    text = '{"nodes": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (d, *_) = diagnostics(text)
    assert "nests too deeply" in d.message and (d.span.line, d.span.col) == (1, 12)
    (d, *_) = diagnostics("[" * 100_000 + "]" * 100_000)
    assert "'nodes' list" in d.message


def test_a_4300_digit_integer_is_refused_by_length() -> None:
    text = mutated(lambda d: d["links"][0].update(bandwidth=1)).replace(
        '"bandwidth": 1', '"bandwidth": ' + "9" * 4300
    )
    (d, *_) = diagnostics(text)
    assert "4,300 digits" in d.message


@pytest.mark.parametrize(
    "parents",
    [{"a": "a"}, {"a": "b", "b": "a"}, {"srv": "b", "b": "srv", "a": "srv"}],
)
def test_parent_cycles_are_errors_not_hangs(parents: dict[str, str]) -> None:
    def change(d):
        for node in d["nodes"]:
            if node["id"] in parents:
                node["parent"] = parents[node["id"]]

    ds = diagnostics(mutated(change))
    assert any("cycle" in d.message for d in ds)


def test_negative_latency_never_reaches_reach() -> None:
    # It made memory reach loop for ever; now it is refused before any solver runs.
    (d, *_) = diagnostics(mutated(lambda d: d["links"][0].update(latency=-1e-9)))
    assert "'latency' must be zero or more" in d.message
    t = loads_json(text_of(BASE))
    assert len(memory_reach(t, t.select("a")).memory) == 1


def test_duplicate_ids_are_an_error_naming_both() -> None:
    text = mutated(lambda d: d["nodes"].append({"id": "a", "kind": "gpu"}))
    error, note = diagnostics(text)[:2]
    assert "used twice, by nodes[1] and nodes[3]" in error.message
    assert note.severity == "note" and "nodes[1]" in note.message
    assert note.span.line < error.span.line


def test_an_int_id_and_its_text_are_the_same_id() -> None:
    text = mutated(
        lambda d: d["nodes"].extend([{"id": 7, "kind": "gpu"}, {"id": "7", "kind": "gpu"}])
    )
    assert "used twice" in diagnostics(text)[0].message


def test_several_errors_are_reported_together() -> None:
    def change(d):
        d["nodes"][2]["capacity"] = -1
        d["links"][0]["latency"] = -1
        d["links"].append({"source": "a", "target": "a", "bandwidth": 1})

    ds = diagnostics(mutated(change))
    assert len(ds) == 2  # the link to 'b' is not reported again: b's own error says it all
    assert "capacity" in ds[0].message and "itself" in ds[1].message


def test_export_of_a_valid_document_round_trips_byte_for_byte() -> None:
    b = TopologyBuilder()
    b.add_node("n", "node")
    b.add_node("n.g", "gpu", parent="n", bandwidth=3e12)
    b.add_node("n.m", "hbm", parent="n", capacity=8e10)
    b.add_link("n.g", "n.m", bandwidth=1e12, latency=1e-7, lanes=2)
    text = dumps_json(b.build())
    assert dumps_json(loads_json(text)) == text


def test_single_line_documents_show_a_window_of_the_line() -> None:
    doc = copy.deepcopy(BASE)
    doc["nodes"] += [{"id": f"x{i}", "kind": "gpu"} for i in range(2000)]
    doc["nodes"][2]["capacity"] = -1
    d = diagnostics(json.dumps(doc))[0]
    shown = d.render().splitlines()[1]
    assert len(shown) < 140 and "capacity" in shown


# -- the column reader agrees with the element reader ------------------------------------------

VALID_CHANGES = [
    lambda d: None,
    lambda d: d["nodes"][1].update(bandwidth="inf", model="H100", serial=12, ok=True, note=None),
    lambda d: d["nodes"][2].update(meta={"bus": "0000:3b:00.0", "numa": 1}, ports=4),
    lambda d: d["nodes"].append({"id": "c", "kind": "gpu", "ports": -1, "latency": 0}),
    lambda d: d["links"][0].update(type="nvlink", lanes=18, simplex=True, meta={"cable": "x"}),
    lambda d: d["links"].append(
        {"source": "b", "target": "a", "bandwidth": 400, "duplex": "half", "type": None}
    ),
    lambda d: d["links"][0].update(meta={}),
    lambda d: d.update(graph={"link_types": {"nvlink": {"bandwidth": 5e10}}, "source": "x.topo"}),
    lambda d: d.update(edges=d.pop("links")),
    lambda d: d.update(directed=True),
    lambda d: (d.update(directed=True), d["links"][0].update(simplex=True)),
    lambda d: d.update(directed=None),
]


def _same_topology(a, b) -> None:
    import numpy as np

    for table in ("nodes", "links"):
        ta, tb = getattr(a, table), getattr(b, table)
        for name, value in vars(ta).items():
            other = getattr(tb, name)
            if isinstance(value, np.ndarray):
                assert value.dtype == other.dtype and np.array_equal(value, other), name
            else:
                assert value == other and list(map(type, value)) == list(map(type, other)), name
    assert a.link_type_names == b.link_type_names and a.link_types == b.link_types
    assert a.source == b.source and dumps_json(a) == dumps_json(b)


@pytest.mark.parametrize("change", VALID_CHANGES)
def test_the_column_reader_gives_what_the_element_reader_gives(change) -> None:
    from topodsl.io import _read_columns, _read_elements

    text = mutated(change)
    fast = _read_columns(text, "g.json", 10**6)
    assert fast is not None, "a valid file is read by columns"
    _same_topology(fast[0], _read_elements(text, "g.json", 10**6)[0])


def test_the_column_reader_reads_every_example_as_the_element_reader_does() -> None:
    from pathlib import Path

    from topodsl import load
    from topodsl.io import _read_columns, _read_elements

    root = Path(__file__).parent.parent
    for path in sorted([*root.glob("topologies/*.topo"), *root.glob("tests/golden/ok/*.topo")]):
        text = dumps_json(load(path))
        fast = _read_columns(text, "g.json", 10**7)
        assert fast is not None, path
        _same_topology(fast[0], _read_elements(text, "g.json", 10**7)[0])


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["nodes"][1].update(serial=10**30),
        lambda d: d["nodes"][1].update(meta={"x": -(10**29)}),
        lambda d: d["nodes"][0].update(parent="a"),
        lambda d: d["nodes"][1].update(id=7),
        lambda d: d["nodes"][1].update(latency=None),
        lambda d: d["links"][0].update(bandwidth=10**30),
        lambda d: d["links"][0].update(bandwidth="inf"),
        lambda d: d["links"][0].update(target="srv"),
        lambda d: d["nodes"][1].update(ports=10**25),  # past int64 (found by the fuzz test)
    ],
)
def test_the_column_reader_leaves_the_unusual_to_the_element_reader(change) -> None:
    from topodsl.io import _read_columns

    assert _read_columns(mutated(change), "g.json", 10**6) is None


def test_the_column_reader_leaves_infinity_literals_to_the_element_reader() -> None:
    from topodsl.io import _read_columns

    text = mutated(lambda d: None).replace("1000000000.0", "Infinity")
    assert _read_columns(text, "g.json", 10**6) is None
    assert _read_columns(text.replace("Infinity", "1e999"), "g.json", 10**6) is None


# -- "directed": true is NetworkX's DiGraph, whose links are one-way ---------------------------


def _switch_pair(directed: bool, both_ways: bool) -> str:
    import networkx as nx

    g = nx.DiGraph() if directed else nx.Graph()
    g.add_node("g0", kind="gpu")
    g.add_node("g1", kind="gpu")
    g.add_node("sw", kind="switch")
    for gpu in ("g0", "g1"):
        g.add_edge(gpu, "sw", bandwidth=5e10)
        if directed and both_ways:
            g.add_edge("sw", gpu, bandwidth=5e10)
    return json.dumps(nx.node_link_data(g, edges="links"))


def test_a_directed_graph_s_links_are_one_way() -> None:
    from topodsl.solvers.bisection import bisection

    # Read as undirected, the DiGraph's two arcs per cable would be two full-duplex links:
    # 100 GB/s each way where the hardware has 50.
    two_way = loads_json(_switch_pair(directed=True, both_ways=True))
    assert two_way.links.simplex.all()
    undirected = loads_json(_switch_pair(directed=False, both_ways=False))
    assert not undirected.links.simplex.any()
    assert bisection(two_way).upper_bound == bisection(undirected).upper_bound == 5e10
    # Only g0 -> sw -> ... and g1 -> sw exist: nothing reaches either GPU.
    assert bisection(loads_json(_switch_pair(directed=True, both_ways=False))).upper_bound == 0
